"""PRIM's coverage, density and mass as `sim discover` reports them, by hand counts and against
the EMA Workbench's own numbers on the same data (issue 28).

Coverage = share of the cases of interest inside the box; density = share of the box's runs
that are cases; mass = share of all runs inside the box (Bryant & Lempert 2010).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sim.discovery import prim_analysis


def _planted(n: int = 800, seed: int = 8):
    """Three parameters; the outcome has probability 0.8 where a > 0.6 and b < 0.5, else 0.1."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(0, 1, size=(n, 3)), columns=["a", "b", "c"])
    y = rng.uniform(size=n) < np.where((x["a"] > 0.6) & (x["b"] < 0.5), 0.8, 0.1)
    return x, y


def _workbench_box(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        return prim.Prim(x, y.astype(int), mass_min=0.05).find_box()


def _inside(x, limits: dict[str, tuple[float, float]]) -> np.ndarray:
    keep = np.ones(len(x), bool)
    for name, (low, high) in limits.items():
        keep &= (x[name].to_numpy() >= low) & (x[name].to_numpy() <= high)
    return keep


def _hand(y: np.ndarray, inside: np.ndarray) -> dict:
    return {"coverage": y[inside].sum() / y.sum(), "density": y[inside].sum() / inside.sum(),
            "mass": inside.sum() / len(y), "runs": int(inside.sum())}


def test_every_box_of_the_trajectory_by_hand_counts_and_as_the_workbench_reports_it():
    x, y = _planted()
    found = prim_analysis(x, y)
    box = _workbench_box(x, y)
    traj = box.peeling_trajectory
    assert len(found["trajectory"]) == len(traj) > 3
    for t, (i, r) in zip(found["trajectory"], traj.iterrows(), strict=True):
        assert t["box"] == i
        # the Workbench's own numbers, as reported
        assert (t["coverage"], t["density"], t["mass"], t["restricted"], t["runs"]) == (
            r["coverage"], r["density"], r["mass"], r["res_dim"], r["n"])
        # and what the definitions say, counted by hand in the box's limits
        lims = box.box_lims[i]
        inside = _inside(x, {n: (lims[n].iloc[0], lims[n].iloc[1]) for n in x.columns})
        hand = _hand(y, inside)
        assert t["coverage"] == pytest.approx(hand["coverage"], rel=1e-12)
        assert t["density"] == pytest.approx(hand["density"], rel=1e-12)
        assert t["mass"] == pytest.approx(hand["mass"], rel=1e-12)
        assert t["runs"] == hand["runs"]
    first = found["trajectory"][0]
    assert (first["coverage"], first["mass"], first["runs"]) == (1.0, 1.0, len(y))
    assert first["density"] == pytest.approx(y.mean(), rel=1e-12)


def test_the_chosen_box_and_its_significant_box_by_hand_counts():
    """The chosen box is the densest with coverage >= min_coverage; its limits (reported per
    restricted parameter) hold exactly the runs its numbers count, and the box of significant
    limits only is counted the same way."""
    x, y = _planted()
    found = prim_analysis(x, y, min_coverage=0.5)
    traj = found["trajectory"]
    eligible = [t for t in traj if t["coverage"] >= 0.5]
    best = max(eligible, key=lambda t: (t["density"], t["coverage"]))
    assert found["chosen"] == best["box"]
    chosen = traj[found["chosen"]]
    limits = {b["parameter"]: (b["low"], b["high"]) for b in found["box"]}
    assert set(limits) | set(found["unrestricted"]) == {"a", "b", "c"}
    hand = _hand(y, _inside(x, limits))
    assert chosen["coverage"] == pytest.approx(hand["coverage"], rel=1e-12)
    assert chosen["density"] == pytest.approx(hand["density"], rel=1e-12)
    assert chosen["mass"] == pytest.approx(hand["mass"], rel=1e-12)
    assert chosen["runs"] == hand["runs"]
    significant = {}
    for b in found["box"]:
        low = b["low"] if b["low_significant"] else -np.inf
        high = b["high"] if b["high_significant"] else np.inf
        significant[b["parameter"]] = (low, high)
    assert any(b["significant"] for b in found["box"])
    hand = _hand(y, _inside(x, significant))
    s = found["significant_box"]
    assert s["coverage"] == pytest.approx(hand["coverage"], rel=1e-12)
    assert s["density"] == pytest.approx(hand["density"], rel=1e-12)
    assert s["runs"] == hand["runs"]
    # coverage, density and mass are three different numbers here: none stands in for another
    assert len({round(chosen["coverage"], 6), round(chosen["density"], 6),
                round(chosen["mass"], 6)}) == 3



# --------------------------------------------------------------------------- exact edges


class _Box:
    """A stand-in for the Workbench's box: a trajectory, limits and quasi-p values written
    by hand, so values can sit exactly on the edges the command compares with."""

    def __init__(self, trajectory, limits, full, p_values):
        self.peeling_trajectory = pd.DataFrame(
            trajectory, columns=["coverage", "density", "mass", "res_dim", "n"])
        self.box_lims = [full] + [limits] * (len(trajectory) - 1)
        self.p_values = [{}] + [p_values] * (len(trajectory) - 1)


def _scripted_prim(monkeypatch, box):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    class Prim:
        def __init__(self, x, y, mass_min):
            assert mass_min == 0.05 and y.dtype.kind == "i"

        def find_box(self):
            return box

    monkeypatch.setattr(prim, "Prim", Prim)


#: ten runs: a numeric parameter with runs exactly on the box's limits (0.2 and 0.8), one
#: restricted without significance (b), one whose upper limit is significant but holds every
#: run (f), levers' options (c, e, g, h: categories, as discover_folder makes them; c first,
#: so a's limits narrow what c kept) and one left free (d)
EDGES_X = pd.DataFrame({
    "c": pd.Categorical(["x", "y", "z", "x", "y", "z", "x", "y", "x", "z"]),
    "a": [0.0, 0.2, 0.2, 0.5, 0.8, 0.8, 1.0, 0.5, 0.3, 0.2],
    "b": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.6, 0.5, 0.4],
    "d": np.linspace(0, 1, 10),
    "e": pd.Categorical(["p", "p", "q", "p", "p", "q", "p", "p", "q", "p"]),
    "f": np.linspace(0, 1, 10),
    "g": pd.Categorical(["u", "v"] * 5),
    "h": pd.Categorical(["m", "n"] * 5)})
EDGES_Y = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 0], bool)
#: the Workbench keeps a lever's options as the same set in both rows of a box's limits
EDGES_FULL = pd.DataFrame({"c": [{"x", "y", "z"}] * 2, "a": [0.0, 1.0], "b": [0.1, 0.7],
                           "d": [0.0, 1.0], "e": [{"p", "q"}] * 2, "f": [0.0, 1.0],
                           "g": [{"u", "v"}] * 2, "h": [{"m", "n"}] * 2})
EDGES_LIMITS = pd.DataFrame({"c": [{"x", "y"}] * 2, "a": [0.2, 0.8], "b": [0.2, 0.6],
                             "d": [0.0, 1.0], "e": [{"p"}] * 2, "f": [0.0, 1.0],
                             "g": [{"u", "v"}] * 2, "h": [{"m"}] * 2})
#: quasi-p values exactly at the edges: 0.05 (significant: <= 0.05) and 0 (a value, not
#: "not moved", which is -1); h's 0.3 is not significant, g was not moved
EDGES_P = {"c": [0.05, -1.0], "a": [0.05, 0.0], "b": [-1.0, 0.2], "e": [0.0, -1.0],
           "f": [-1.0, 0.05], "g": [-1.0, -1.0], "h": [0.3, -1.0]}


def _options(name, values, options, qp, significant):
    return {"parameter": name, "categorical": True, "values": values,
            "range_values": options, "low": None, "high": None, "range_low": None,
            "range_high": None, "qp_low": qp, "qp_high": None, "low_significant": significant,
            "high_significant": False, "significant": significant}


def test_prims_box_at_its_exact_edges(monkeypatch):
    """A box covering exactly --min-coverage is eligible; a quasi-p of exactly 0.05 is
    significant and one of 0 is a value; runs exactly on a significant limit are inside."""
    trajectory = [[1.0, 0.5, 1.0, 0, 10], [0.6, 0.75, 0.4, 4, 4], [0.4, 1.0, 0.2, 4, 2]]
    _scripted_prim(monkeypatch, _Box(trajectory, EDGES_LIMITS, EDGES_FULL, EDGES_P))
    got = prim_analysis(EDGES_X, EDGES_Y, min_coverage=0.6)
    assert got["chosen"] == 1  # coverage 0.6 >= 0.6; box 2 (density 1) covers too little
    assert got["trajectory"][1] == {"box": 1, "coverage": 0.6, "density": 0.75, "mass": 0.4,
                                    "restricted": 4, "runs": 4}
    assert got["unrestricted"] == ["d"] and got["min_coverage"] == 0.6
    assert got["box"] == [
        _options("c", ["x", "y"], ["x", "y", "z"], 0.05, True),
        {"parameter": "a", "low": 0.2, "high": 0.8, "range_low": 0.0, "range_high": 1.0,
         "qp_low": 0.05, "qp_high": 0.0, "low_significant": True, "high_significant": True,
         "significant": True},
        {"parameter": "b", "low": 0.2, "high": 0.6, "range_low": 0.1, "range_high": 0.7,
         "qp_low": None, "qp_high": 0.2, "low_significant": False,
         "high_significant": False, "significant": False},
        _options("e", ["p"], ["p", "q"], 0.0, True),
        {"parameter": "f", "low": 0.0, "high": 1.0, "range_low": 0.0, "range_high": 1.0,
         "qp_low": None, "qp_high": 0.05, "low_significant": False, "high_significant": True,
         "significant": True},
        _options("g", ["u", "v"], ["u", "v"], None, False),
        _options("h", ["m"], ["m", "n"], 0.3, False)]
    # inside c in {x, y} (runs 0, 1, 3, 4, 6, 7, 8), a in [0.2, 0.8] (1, 3, 4, 7, 8: 1 and 4
    # on the limits), e = p (1, 3, 4, 7) and f <= 1 (all): 4 runs, 3 of the 5 cases
    # (0, 1, 4, 6, 7)
    assert got["significant_box"] == {"coverage": 0.6, "density": 0.75, "runs": 4}


def test_prims_densest_box_on_a_tie_is_the_one_covering_more(monkeypatch):
    trajectory = [[1.0, 0.5, 1.0, 0, 10], [0.8, 0.75, 0.4, 1, 4], [0.9, 0.75, 0.5, 1, 5],
                  [0.85, 0.75, 0.45, 1, 4]]
    _scripted_prim(monkeypatch, _Box(trajectory, EDGES_LIMITS, EDGES_FULL, EDGES_P))
    assert prim_analysis(EDGES_X, EDGES_Y, min_coverage=0.5)["chosen"] == 2


def test_prims_box_of_a_single_case(monkeypatch):
    """One case of interest: the significant box's coverage is of that one case (1.0 when it
    is inside, here run 1 on a's lower limit)."""
    y = np.zeros(10, bool)
    y[1] = True
    trajectory = [[1.0, 0.1, 1.0, 0, 10], [1.0, 0.25, 0.4, 4, 4]]
    _scripted_prim(monkeypatch, _Box(trajectory, EDGES_LIMITS, EDGES_FULL, EDGES_P))
    got = prim_analysis(EDGES_X, y, min_coverage=0.5)
    assert got["significant_box"] == {"coverage": 1.0, "density": 0.25, "runs": 4}
