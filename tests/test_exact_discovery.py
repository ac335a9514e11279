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

