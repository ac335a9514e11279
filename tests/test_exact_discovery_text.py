"""Exact behaviour of what ``sim discover`` prints, writes and draws (``sim/discovery.py``,
issue 28): the --where parser's every answer, the target, CART's leaves on data whose tree is
known, the command on a sweep folder written here by hand (no simulation), the terminal
summary, the report's HTML section and the two figures, all against texts and numbers written
out. PRIM's own numbers are test_exact_discovery.py's. These are the tests
``scripts/mutation.py`` runs the module's mutants against.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.colors import to_rgba

from sim import discovery
from sim.discovery import (
    box_figure,
    box_rule,
    cart_analysis,
    discover_folder,
    discovery_html,
    format_discovery,
    leaf_rule,
    parse_where,
    target,
    tradeoff_figure,
)
from sim.errors import UsageError

COLUMNS = ["losses.a", "rung.a~b.max", "day.agreement"]
RUNGS = ["calm", "armed", "war"]


# --------------------------------------------------------------------------- --where


@pytest.mark.parametrize(("text", "expected"), [
    ("losses.a>=50", ("losses.a", ">=", 50.0, None)),
    ("  losses.a <= -2.5  ", ("losses.a", "<=", -2.5, None)),
    ("losses.a==1e3", ("losses.a", "==", 1000.0, None)),
    ("losses.a != 0", ("losses.a", "!=", 0.0, None)),
    ("losses.a>7", ("losses.a", ">", 7.0, None)),
    ("losses.a<7", ("losses.a", "<", 7.0, None)),
    ("rung.a~b.max >= war", ("rung.a~b.max", ">=", None, "war")),
    ("rung.a~b.max<armed", ("rung.a~b.max", "<", None, "armed")),
    ("day.agreement happened", ("day.agreement", "happened", None, None)),
    ("day.agreement   never ", ("day.agreement", "never", None, None)),
])
def test_a_where_condition_is_parsed(text, expected):
    cond = parse_where(text, COLUMNS, RUNGS)
    assert (cond.indicator, cond.op, cond.value, cond.rung) == expected


def _refused(text, columns=COLUMNS):
    with pytest.raises(UsageError) as excinfo:
        parse_where(text, columns, RUNGS)
    return str(excinfo.value)


FORM = ("write INDICATOR OP VALUE with OP one of >= > <= < == != (e.g. 'losses.a>=50'), or "
        "'INDICATOR happened|never'")


@pytest.mark.parametrize("text", ["", "   ", ">=5", "losses.a", "losses.a>=", "losses.a >= ",
                                  "losses.a=>50", "losses.a happened now", "losses.ahappened",
                                  "losses.a=5", "(losses.a)>=5"])
def test_a_where_of_another_form_is_refused(text):
    assert _refused(text) == f"--where '{text.strip()}': {FORM}"


def test_where_refusals_name_what_is_wrong():
    assert _refused("losses.b>=50") == ("--where 'losses.b>=50': the sweep has no indicator "
                                        "'losses.b'; did you mean 'losses.a'? (the columns of "
                                        "sweep.parquet are the indicators)")
    assert _refused("abcdef>=1", ["abcxyz"]) == (  # half the characters in common: a hint
        "--where 'abcdef>=1': the sweep has no indicator 'abcdef'; did you mean 'abcxyz'? (the "
        "columns of sweep.parquet are the indicators)")
    assert _refused("zzzz>=50") == ("--where 'zzzz>=50': the sweep has no indicator 'zzzz' (the "
                                    "columns of sweep.parquet are the indicators)")
    assert _refused("losses.a>=lots") == "--where 'losses.a>=lots': 'lots' is not a number"
    assert _refused("rung.a~b.max>=peace") == ("--where 'rung.a~b.max>=peace': 'peace' is not a "
                                               "number or a rung (calm, armed, war)")
    assert _refused("losses.a>=war") == "--where 'losses.a>=war': 'war' is not a number"
    assert _refused("losses.a>=nan") == ("--where 'losses.a>=nan': the value must be a finite "
                                         "number")
    assert _refused("losses.a>=-inf") == ("--where 'losses.a>=-inf': the value must be a finite "
                                          "number")
    long_value = "x" * 40
    assert _refused(f"losses.a>={long_value}") == (
        f"--where 'losses.a>={long_value}': '{'x' * 27}...' is not a number")


def test_long_where_texts_are_echoed_cut_and_refused():
    text = "losses.a>=" + "1" * 491  # 501 characters
    assert _refused(text) == (f"--where '{text[:57]}...': longer than 500 characters; a "
                              "condition is one INDICATOR OP VALUE")
    fits = "losses.a>=" + "0" * 489 + "1"  # 500: read
    assert parse_where(fits, COLUMNS, RUNGS).value == 1.0
    name = "q" * 61
    assert _refused(f"{name}>=1") == (f"--where '{name[:57]}...': the sweep has no indicator "
                                      f"'{name[:57]}...' (the columns of sweep.parquet are the "
                                      "indicators)")
    exactly = "q" * 60
    assert _refused(f"{exactly}>=1").startswith(f"--where '{exactly[:57]}...': the sweep has no "
                                                f"indicator '{exactly}' (")
    columns = ["a" * 201]
    assert _refused("a" * 201 + "b>=1", columns).endswith(
        "(the columns of sweep.parquet are the indicators)")  # too long to look up: no hint
    assert "did you mean" in _refused("a" * 199 + "b>=1", ["a" * 199 + "c"])
    assert "did you mean" not in _refused("a" * 200 + "b>=1", ["a" * 200 + "c"])


def test_split_where_scans_name_operator_and_value():
    split = discovery._split_where
    assert split("a.b~c-d_e>=1") == ("a.b~c-d_e", ">=", "1")
    assert split("a >= 1") == ("a", ">=", "1")
    assert split("a\thappened") == ("a", "happened", "")
    assert split("a happened") == ("a", "happened", "")
    assert split("a happenedx") is None
    assert split("a>happened") == ("a", ">", "happened")
    assert split("a !") is None
    assert discovery._shown("  abc  ") == "abc"
    assert discovery._shown("x" * 61) == "x" * 57 + "..."
    assert discovery._shown("x" * 60) == "x" * 60
    assert discovery._shown("abcdef", 5) == "ab..."


# --------------------------------------------------------------------------- the target


RUNS = {"run": np.arange(4), "point": np.zeros(4), "replication": np.arange(4),
        "param.x": np.ones(4), "outcome.war": np.array([1, 0, 1, 1]),
        "outcome.split": np.array([0, 0, 0, 1]), "losses.a": np.array([10.0, 60.0, np.nan, 50.0]),
        "rung.a~b.max": np.array([0.0, 2.0, 1.0, 2.0])}


def test_the_target_is_an_outcome_flag_or_a_condition():
    label, y = target(RUNS, outcome="war", where=None, rungs=RUNGS)
    assert label == "war" and y.dtype == bool and y.tolist() == [True, False, True, True]
    label, y = target(RUNS, outcome=None, where=" losses.a>=50 ", rungs=RUNGS)
    assert label == "losses.a>=50" and y.tolist() == [False, True, False, True]
    label, y = target(RUNS, outcome=None, where="rung.a~b.max>=war", rungs=RUNGS)
    assert y.tolist() == [False, True, False, True]
    for where in ("run>=1", "point>=0", "replication>=1", "param.x>=0", "outcome.war>=1"):
        with pytest.raises(UsageError, match="the sweep has no indicator"):
            target(RUNS, outcome=None, where=where, rungs=RUNGS)


def test_a_sweep_with_levers_has_no_indicator_in_its_tags():
    """A sweep with levers tags its runs with the replication, the policy's name and each
    lever's value: none is an indicator to condition on, and their text does not stop a
    condition on one."""
    runs = {**RUNS, "rep": np.arange(4), "policy": np.array(["a", "a", "b", "b"], object),
            "lever.shield": np.array(["later", "later", "day0", "day0"], object),
            "lever.dose": np.array([0.5, 0.5, 2.0, 2.0])}
    label, y = target(runs, outcome=None, where="losses.a>=50", rungs=RUNGS)
    assert (label, y.tolist()) == ("losses.a>=50", [False, True, False, True])
    for where in ("rep>=1", "policy>=0", "lever.dose>=1", "lever.shield>=0"):
        with pytest.raises(UsageError, match="the sweep has no indicator"):
            target(runs, outcome=None, where=where, rungs=RUNGS)


def test_a_wrong_target_is_refused_in_one_line():
    for outcome, where in ((None, None), ("war", "losses.a>=1")):
        with pytest.raises(UsageError) as excinfo:
            target(RUNS, outcome=outcome, where=where, rungs=RUNGS)
        assert str(excinfo.value) == "discover: give either --outcome NAME or --where CONDITION"
    with pytest.raises(UsageError) as excinfo:
        target(RUNS, outcome="wars", where=None, rungs=RUNGS)
    assert str(excinfo.value) == ("--outcome: no outcome 'wars' in this sweep; did you mean "
                                  "'war'? (outcomes: split, war)")
    with pytest.raises(UsageError) as excinfo:  # half the characters in common: a hint
        target({"outcome.abcxyz": np.ones(2)}, outcome="abcdef", where=None, rungs=RUNGS)
    assert str(excinfo.value) == ("--outcome: no outcome 'abcdef' in this sweep; did you mean "
                                  "'abcxyz'? (outcomes: abcxyz)")
    with pytest.raises(UsageError) as excinfo:
        target(RUNS, outcome="zzzzz", where=None, rungs=RUNGS)
    assert str(excinfo.value) == ("--outcome: no outcome 'zzzzz' in this sweep (outcomes: "
                                  "split, war)")


# --------------------------------------------------------------------------- CART


def test_cart_finds_the_cut_of_a_step_and_describes_its_leaves():
    """y = (b > 0.5) exactly: one split on b halfway between 0.49 and 0.51, two pure leaves;
    a is noise the tree never uses."""
    b = np.round(np.linspace(0.01, 0.99, 50), 2)
    x = pd.DataFrame({"a": np.linspace(0, 1, 50)[::-1], "b": b})
    y = b > 0.5
    got = cart_analysis(x, y)
    cut = float((b[b <= 0.5].max() + b[b > 0.5].min()) / 2)
    assert got["depth"] == 3
    assert got["leaves"] == [
        {"limits": {"b": {"low": pytest.approx(cut), "high": None}}, "runs": int(y.sum()),
         "density": 1.0, "coverage": 1.0},
        {"limits": {"b": {"low": None, "high": pytest.approx(cut)}}, "runs": int((~y).sum()),
         "density": 0.0, "coverage": 0.0}]
    assert got["rules"].splitlines()[0] == f"|--- b <= {cut:.2f}"
    assert "class" in got["rules"] and "weights" not in got["rules"]


def test_cart_is_reproducible_among_tied_parameters():
    """Three copies of one parameter split the runs equally well: the tree's fixed random
    state picks the same one every time (here 'b', as scikit-learn's random_state=0 does;
    random_state=1 picks 'a')."""
    v = np.linspace(0, 1, 40)
    x = pd.DataFrame({"a": v, "b": v, "c": v})
    assert [list(leaf["limits"]) for leaf in cart_analysis(x, v > 0.5)["leaves"]] == [["b"],
                                                                                       ["b"]]


def test_cart_with_one_case_covers_it_all():
    x = pd.DataFrame({"a": np.linspace(0, 1, 40)})
    y = np.zeros(40, bool)
    y[-1] = True
    leaves = cart_analysis(x, y)["leaves"]
    assert sum(leaf["coverage"] for leaf in leaves) == 1.0
    assert leaves[0]["coverage"] == 1.0


def test_cart_nests_limits_and_keeps_a_tree_readable():
    """y = a > 0.5 and b > 0.5 on a 10 x 10 grid: the densest leaf is the corner, bounded
    below on both; no leaf smaller than 5% of the runs, no deeper than 3."""
    g = (np.arange(10) + 0.5) / 10
    a, b = np.meshgrid(g, g, indexing="ij")
    x = pd.DataFrame({"a": a.ravel(), "b": b.ravel()})
    y = (x["a"].to_numpy() > 0.5) & (x["b"].to_numpy() > 0.5)
    got = cart_analysis(x, y)
    top = got["leaves"][0]
    assert top["density"] == 1.0 and top["coverage"] == 1.0 and top["runs"] == 25
    assert top["limits"] == {"a": {"low": pytest.approx(0.5), "high": None},
                             "b": {"low": pytest.approx(0.5), "high": None}}
    assert sum(leaf["runs"] for leaf in got["leaves"]) == 100
    assert all(leaf["runs"] >= 5 for leaf in got["leaves"])
    assert [leaf["density"] for leaf in got["leaves"]] == sorted(
        (leaf["density"] for leaf in got["leaves"]), reverse=True)


def test_cart_with_a_noisy_outcome_has_mixed_leaves_and_shares_of_the_cases():
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"a": rng.uniform(size=400), "b": rng.uniform(size=400)})
    y = rng.uniform(size=400) < np.where(x["a"] > 0.6, 0.7, 0.1)
    got = cart_analysis(x, y)
    for leaf in got["leaves"]:
        inside = np.ones(400, bool)
        for name, lim in leaf["limits"].items():
            if lim["low"] is not None:
                inside &= x[name].to_numpy() > lim["low"]
            if lim["high"] is not None:
                inside &= x[name].to_numpy() <= lim["high"]
        assert leaf["runs"] == int(inside.sum()) >= 20  # 5% of 400
        assert leaf["density"] == pytest.approx(y[inside].mean())
        assert leaf["coverage"] == pytest.approx(y[inside].sum() / y.sum())
    assert sum(leaf["coverage"] for leaf in got["leaves"]) == pytest.approx(1.0)
    assert max(len(leaf["limits"]) for leaf in got["leaves"]) <= 3
    # depth 3: the deepest splits have three bars in the rules, their classes four
    assert max(line.count("|") for line in got["rules"].splitlines()) == 4


# --------------------------------------------------------------------------- the command


def _folder(tmp_path, n=240, seed=5, resolved=True):
    """A sweep folder written by hand: two parameters, the outcome where a > 0.6."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    war = rng.uniform(size=n) < np.where(a > 0.6, 0.85, 0.05)
    folder = tmp_path / "sweep"
    folder.mkdir(parents=True)
    (folder / "design.json").write_text(json.dumps({"problem": {"names": ["a", "b"]}}))
    pq.write_table(pa.table({"run": np.arange(n), "point": np.arange(n),
                             "param.a": a, "param.b": b, "outcome.war": war,
                             "outcome.never": np.zeros(n, bool),
                             "rung.x~y.max": np.where(war, 2.0, 0.0),
                             "losses.x": np.r_[99.0, np.where(war, 80.0, 5.0)[1:]]}),
                   folder / "sweep.parquet")
    if resolved:
        (folder / "scenario.resolved.yaml").write_text(
            "ladder:\n  rungs:\n    calm: {}\n    armed: {}\n    war: {}\n")
    x = pd.DataFrame({"a": a, "b": b})
    return folder, x, war


def test_the_command_analyses_and_writes_its_json_and_figures(tmp_path):
    folder, x, y = _folder(tmp_path)
    result = discover_folder(folder, outcome="war", min_coverage=0.4)
    prim = discovery.prim_analysis(x, y, 0.4)
    cart = cart_analysis(x, y)
    assert result == {"target": "war", "kind": "outcome", "runs": 240, "cases": int(y.sum()),
                      "base_rate": float(y.mean()), "parameters": ["a", "b"], "prim": prim,
                      "cart": cart}
    assert json.loads((folder / "discovery.json").read_text()) == json.loads(
        json.dumps(result))
    for name in ("discovery_tradeoff.png", "discovery_box.png"):
        assert (folder / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert discover_folder(folder, outcome="war")["prim"]["min_coverage"] == 0.5


def test_the_command_on_a_condition_and_a_rung(tmp_path):
    folder, _, y = _folder(tmp_path)
    result = discover_folder(folder, where="rung.x~y.max>=war", write=False)
    assert (result["target"], result["kind"], result["cases"]) == ("rung.x~y.max>=war",
                                                                   "condition", int(y.sum()))
    assert not (folder / "discovery.json").exists()
    result = discover_folder(folder, where="losses.x>50", write=False)
    assert result["cases"] == int(y[1:].sum()) + 1
    result = discover_folder(folder, where="losses.x>=99", write=False)  # one case: analysed
    assert result["cases"] == 1 and "prim" in result and "cart" in result
    assert result["prim"]["significant_box"]["coverage"] in (0.0, 1.0)  # of the one case
    plain, _, _ = _folder(tmp_path / "b", resolved=False)
    with pytest.raises(UsageError, match=r"not a number \(rungs: none\)|not a number"):
        discover_folder(plain, where="rung.x~y.max>=war", write=False)


def test_nothing_to_discover_is_said_and_nothing_drawn(tmp_path):
    folder, _, _ = _folder(tmp_path)
    result = discover_folder(folder, outcome="never")
    assert result == {"target": "never", "kind": "outcome", "runs": 240, "cases": 0,
                      "base_rate": 0.0, "parameters": ["a", "b"],
                      "note": "'never' is false in every run: nothing to discover (widen the "
                              "ranges or choose another target)"}
    assert not (folder / "figures").exists()
    result = discover_folder(folder, where="losses.x>=0", write=False)
    assert result["note"] == ("'losses.x>=0' is true in every run: nothing to discover (widen "
                              "the ranges or choose another target)")


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.01])
def test_a_coverage_outside_zero_to_one_is_refused(tmp_path, coverage):
    folder, _, _ = _folder(tmp_path)
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, outcome="war", min_coverage=coverage)
    assert str(excinfo.value) == f"--min-coverage must be in (0, 1], not {coverage}"


def test_a_full_coverage_is_accepted(tmp_path):
    folder, _, _ = _folder(tmp_path)
    assert discover_folder(folder, outcome="war", min_coverage=1.0, write=False)["prim"][
        "min_coverage"] == 1.0


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path):
    folder, _, _ = _folder(tmp_path)
    (folder / "design.json").write_text(json.dumps({"problem": {}}))
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, outcome="war")
    assert str(excinfo.value) == f"{folder}: cannot read the sweep's design.json ('names')"
    (folder / "design.json").write_text(json.dumps([1]))
    with pytest.raises(UsageError, match=r"cannot read the sweep's design\.json"):
        discover_folder(folder, outcome="war")
    (folder / "design.json").write_text(json.dumps({"problem": {"names": ["a", "c", "d"]}}))
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, outcome="war")
    assert str(excinfo.value) == f"{folder}/sweep.parquet has no column param.c"


def test_a_resolved_scenario_without_a_ladder_gives_no_rungs(tmp_path):
    folder, _, _ = _folder(tmp_path)
    (folder / "scenario.resolved.yaml").write_text("ladder:\n")
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, where="rung.x~y.max>=war", write=False)
    assert str(excinfo.value) == ("--where 'rung.x~y.max>=war': 'war' is not a number or a rung "
                                  "()")
    (folder / "scenario.resolved.yaml").write_text("ladder:\n  rungs:\n")
    with pytest.raises(UsageError, match=r"or a rung \(\)"):
        discover_folder(folder, where="rung.x~y.max>=war", write=False)
    (folder / "scenario.resolved.yaml").write_text("name: x\n")
    with pytest.raises(UsageError, match=r"or a rung \(\)"):
        discover_folder(folder, where="rung.x~y.max>=war", write=False)


# --------------------------------------------------------------------------- the texts


def _box(name, low, high, qp_low, qp_high, low_sig, high_sig, range_=(0.0, 1.0)):
    return {"parameter": name, "low": low, "high": high, "range_low": range_[0],
            "range_high": range_[1], "qp_low": qp_low, "qp_high": qp_high,
            "low_significant": low_sig, "high_significant": high_sig,
            "significant": low_sig or high_sig}


def _result(boxes=None, unrestricted=("c",), boxes_on_trajectory=20):
    trajectory = [{"box": i, "coverage": 1 - i / 40, "density": 0.2 + i / 40,
                   "mass": 1 - i / 25, "restricted": min(i, 2), "runs": 500 - 20 * i}
                  for i in range(boxes_on_trajectory)]
    boxes = boxes if boxes is not None else [
        _box("alpha", 0.61234, 1.0, 1.2e-9, None, True, False),
        _box("beta_long_name", 0.0, 0.45678, 0.3, 0.0123, False, True, (-1.0, 2.0))]
    return {"target": "war & <peace>", "kind": "outcome", "runs": 500, "cases": 123,
            "base_rate": 0.246, "parameters": ["alpha", "beta_long_name", "c"],
            "prim": {"trajectory": trajectory, "chosen": 7, "box": boxes,
                     "unrestricted": list(unrestricted), "min_coverage": 0.5,
                     "significant_box": {"coverage": 0.81234, "density": 0.45678,
                                         "runs": 211}},
            "cart": {"depth": 3, "rules": "|--- a", "leaves": [
                {"limits": {"alpha": {"low": 0.6123, "high": None},
                            "beta_long_name": {"low": -0.5, "high": 0.25}},
                 "runs": 150, "density": 0.71, "coverage": 0.6},
                {"limits": {"alpha": {"low": None, "high": 0.6123}}, "runs": 300,
                 "density": 0.1, "coverage": 0.3},
                {"limits": {}, "runs": 40, "density": 0.05, "coverage": 0.02},
                {"limits": {}, "runs": 10, "density": 0.0, "coverage": 0.0}]}}


def test_the_terminal_summary_as_printed():
    assert format_discovery(_result()).split("\n") == [
        "target: war & <peace>  (123 of 500 runs, base rate 24.6%)",
        "",
        "PRIM: 20 boxes on the peeling trajectory; chosen box 7 (densest with coverage >= 50%):",
        "  coverage 82.5%, density 37.5% (360 runs, mass 72.0%)",
        "  alpha           0.6123 .. 1   (swept 0 .. 1; quasi-p low 1.2e-09)",
        "  beta_long_name  0 .. 0.4568   (swept -1 .. 2; quasi-p low 0.3 (not significant), "
        "high 0.012)",
        "  unrestricted: c",
        "  on its significant limits only: alpha >= 0.6123 and beta_long_name <= 0.4568: "
        "coverage 81.2%, density 45.7% (211 runs)",
        "",
        "trade-off (coverage, density) along the trajectory:",
        "  0: 100%/20%  2: 95%/25%  4: 90%/30%  6: 85%/35%  8: 80%/40%  10: 75%/45%  "
        "12: 70%/50%  14: 65%/55%  16: 60%/60%  18: 55%/65%  19: 52%/68%",
        "",
        "CART (depth 3): densest leaf alpha > 0.6123 and beta_long_name in (-0.5, 0.25]: "
        "density 71.0%, coverage 60.0% (150 runs)"]


def test_the_terminal_summary_of_short_names_few_boxes_and_no_unrestricted():
    result = _result(boxes=[_box("a", 0.2, 0.9, 0.01, 0.02, True, True)], unrestricted=(),
                     boxes_on_trajectory=9)
    lines = format_discovery(result).split("\n")
    assert lines[4] == "  a          0.2 .. 0.9   (swept 0 .. 1; quasi-p low 0.01, high 0.02)"
    assert not any(line.startswith("  unrestricted") for line in lines)
    assert lines[5] == ("  on its significant limits only: 0.2 <= a <= 0.9: coverage 81.2%, "
                        "density 45.7% (211 runs)")
    assert lines[8] == ("  0: 100%/20%  1: 98%/22%  2: 95%/25%  3: 92%/28%  4: 90%/30%  "
                        "5: 88%/32%  6: 85%/35%  7: 82%/38%  8: 80%/40%")
    result = _result(boxes_on_trajectory=8)
    assert format_discovery(result).split("\n")[10] == (
        "  0: 100%/20%  1: 98%/22%  2: 95%/25%  3: 92%/28%  4: 90%/30%  5: 88%/32%  "
        "6: 85%/35%  7: 82%/38%")


def test_the_summary_of_nothing_to_discover_is_its_note():
    result = {"target": "war", "runs": 10, "cases": 0, "base_rate": 0.0, "note": "nothing"}
    assert format_discovery(result) == "target: war  (0 of 10 runs, base rate 0.0%)\nnothing"


def test_rules_of_leaves_and_boxes():
    assert leaf_rule({}) == "all runs"
    assert leaf_rule({"a": {"low": None, "high": 0.123456}, "b": {"low": 2.0, "high": None},
                      "c": {"low": 1.0, "high": 3.5}}) == (
        "a <= 0.1235 and b > 2 and c in (1, 3.5]")
    assert box_rule({"box": [_box("a", 0.1, 0.9, 0.5, 0.5, False, False)]}) == (
        "no significant limit")
    assert box_rule({"box": [_box("a", 0.123456, 0.9, 0.01, 0.5, True, False),
                             _box("b", 0.1, 0.987654, 0.5, 0.01, False, True),
                             _box("c", 0.2, 0.3, 0.01, 0.01, True, True)]}) == (
        "a >= 0.1235 and b <= 0.9877 and 0.2 <= c <= 0.3")
    qp = discovery._qp_text
    assert qp(_box("a", 0, 1, None, None, False, False)) == "none"
    assert qp(_box("a", 0, 1, 0.04, None, True, False)) == "low 0.04"
    assert qp(_box("a", 0, 1, None, 0.2, False, False)) == "high 0.2 (not significant)"
    assert qp(_box("a", 0, 1, 1.234e-5, 0.06, True, False)) == (
        "low 1.2e-05, high 0.06 (not significant)")


def test_the_reports_html_section_as_written():
    page = discovery_html(_result())
    assert page == (
        "<h2>Scenario discovery: war &amp; &lt;peace&gt;</h2>"
        "<p>123 of 500 runs (base rate 24.6%).</p>"
        "<p>PRIM (Bryant &amp; Lempert 2010), box 7 of 20 on the peeling trajectory: coverage "
        "82.5%, density 37.5% (the outcome's share of the runs inside the box).</p>"
        "<table><tr><th>parameter</th><th>box</th><th>swept</th><th>quasi-p of each moved "
        "limit</th></tr>"
        "<tr><td><code>alpha</code></td><td class=num>0.6123 – 1</td><td class=num>0 – 1</td>"
        "<td class=num>low 1.2e-09</td></tr>"
        "<tr><td><code>beta_long_name</code></td><td class=num>0 – 0.4568</td><td class=num>"
        "-1 – 2</td><td class=num>low 0.3 (not significant), high 0.012</td></tr></table>"
        "<p>On its significant limits only, <b>alpha &gt;= 0.6123 and beta_long_name &lt;= "
        "0.4568</b>: coverage 81.2%, density 45.7% (211 runs).</p>"
        "<p>CART tree, densest leaves:</p><ul>"
        "<li>alpha &gt; 0.6123 and beta_long_name in (-0.5, 0.25]: density 71.0%, coverage "
        "60.0% (150 runs)</li>"
        "<li>alpha &lt;= 0.6123: density 10.0%, coverage 30.0% (300 runs)</li>"
        "<li>all runs: density 5.0%, coverage 2.0% (40 runs)</li></ul>")


def test_the_html_of_nothing_to_discover_and_of_a_missing_tree():
    assert discovery_html({"target": "<w>", "note": "a & b"}) == (
        "<h2>Scenario discovery: &lt;w&gt;</h2><p>0 of 0 runs (base rate 0.0%).</p>"
        "<p>a &amp; b</p>")
    assert discovery_html({}) == ("<h2>Scenario discovery: </h2><p>0 of 0 runs (base rate "
                                  "0.0%).</p><p></p>")
    result = _result()
    del result["cart"]
    assert discovery_html(result).endswith("(211 runs).</p>")
    result["cart"] = {"leaves": []}
    assert discovery_html(result).endswith("(211 runs).</p>")


# --------------------------------------------------------------------------- the figures


def test_the_tradeoff_figure_draws_the_trajectory_and_rings_the_chosen_box():
    result = _result(boxes_on_trajectory=9)
    fig = tradeoff_figure(result)
    assert tuple(fig.get_size_inches()) == (6.0, 4.5)
    ax, bar = fig.axes
    traj = result["prim"]["trajectory"]
    cov = [100 * t["coverage"] for t in traj]
    den = [100 * t["density"] for t in traj]
    line, base = ax.lines
    assert line.get_xdata().tolist() == pytest.approx(cov)
    assert line.get_ydata().tolist() == pytest.approx(den)
    assert (line.get_color(), line.get_linewidth(), line.get_zorder()) == ("#999999", 0.8, 1)
    dots, ring = ax.collections
    np.testing.assert_allclose(dots.get_offsets(), np.column_stack([cov, den]), rtol=1e-12)
    assert dots.get_array().tolist() == [0, 1, 2, 2, 2, 2, 2, 2, 2]
    assert dots.get_cmap().name == "viridis" and dots.get_sizes().tolist() == [18]
    assert dots.get_zorder() == 2
    assert bar.get_ylabel() == "restricted parameters"
    assert bar.get_yticks().tolist() == [0, 1, 2]
    assert bar.get_ylim() == (0, 2)  # the bar's scale is the dots' (0 to 2 restricted)
    c = result["prim"]["trajectory"][7]
    np.testing.assert_allclose(ring.get_offsets(), [[100 * c["coverage"], 100 * c["density"]]],
                               rtol=1e-12)
    assert ring.get_sizes().tolist() == [120] and ring.get_zorder() == 3
    assert ring.get_facecolor().size == 0 or ring.get_facecolor()[0][3] == 0
    assert ring.get_edgecolor()[0].tolist() == pytest.approx(list(to_rgba("#D55E00")))
    assert ring.get_linewidth()[0] == 2
    base = ax.lines[1]
    assert list(base.get_ydata()) == pytest.approx([24.6, 24.6])
    assert (base.get_color(), base.get_linestyle(), base.get_linewidth()) == ("grey", ":", 1)
    assert ax.get_xlabel() == "coverage (% of the cases of interest inside the box)"
    assert ax.get_ylabel() == "density (% of runs in the box with it)"
    assert ax.get_title() == "PRIM peeling trajectory: war & <peace>"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["chosen box 7", "base rate 25%"]
    assert legend.get_texts()[0].get_fontsize() == 8 and legend._loc == 3  # lower left


def _box_result(names, unrestricted=()):
    result = _result(boxes=[_box(n, 0.2 + 0.1 * i, 0.8, 0.01, 0.01, True, True)
                            for i, n in enumerate(names)], unrestricted=unrestricted,
                     boxes_on_trajectory=9)
    return result


def test_the_box_figure_draws_each_pair_with_the_boxs_limits():
    rng = np.random.default_rng(2)
    x = pd.DataFrame({"a": np.repeat([0.1, 0.5, 0.9], 4), "b": np.tile([0.3, 0.7], 6),
                      "c": rng.uniform(size=12)})
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1], bool)
    result = _box_result(["a", "b"], unrestricted=["c"])
    fig = box_figure(result, x, y)
    assert tuple(fig.get_size_inches()) == pytest.approx((4.2 * 3, 3.8))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels] == [("a", "b"), ("a", "c"),
                                                                     ("b", "c")]
    assert panels[0].xaxis.label.get_fontsize() == 8 and panels[0].yaxis.label.get_fontsize() == 8
    # a x b: design points are the (a, b, c) rows here (c differs), so 12 dots; the share of
    # each with the outcome, in percent
    dots = panels[0].collections[0]
    assert len(dots.get_offsets()) == 12
    assert sorted(dots.get_array().tolist()) == sorted((100 * y.astype(float)).tolist())
    assert dots.get_cmap().name == "cividis" and dots.norm.vmin == 0 and dots.norm.vmax == 100
    assert dots.get_sizes().tolist() == [14]
    (rect,) = panels[0].patches
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == pytest.approx(
        (0.2, 0.3, 0.6, 0.5))
    assert rect.get_fill() is False and rect.get_linewidth() == 2
    assert rect.get_edgecolor() == pytest.approx(to_rgba("#D55E00"))
    # a x c: c is unrestricted, its limits the sweep's range of c
    (rect,) = panels[1].patches
    assert (rect.get_y(), rect.get_height()) == pytest.approx((x["c"].min(),
                                                               x["c"].max() - x["c"].min()))
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert bars[0].get_ylabel() == "P(war & <peace>) at the point (%)"
    assert bars[0].get_ylim() == (0, 100)  # the bar's scale is the dots' (0 to 100%)
    assert fig._suptitle.get_text() == ("PRIM box for war & <peace>: coverage 82%, density 38%")
    assert fig._suptitle.get_fontweight() == "bold"


def test_the_box_figure_averages_design_points_and_hides_spare_panels():
    x = pd.DataFrame({"a": np.repeat([0.1, 0.5], 4), "b": np.repeat([0.3, 0.7], 4)})
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0], bool)
    fig = box_figure(_box_result(["a", "b"]), x, y)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 1 and tuple(fig.get_size_inches()) == pytest.approx((4.2, 3.8))
    dots = panels[0].collections[0]
    assert dots.get_offsets().tolist() == [[0.1, 0.3], [0.5, 0.7]]
    assert dots.get_array().tolist() == [50.0, 25.0]
    assert (dots.norm.vmin, dots.norm.vmax) == (0, 100)  # the scale is 0-100%, not the data's
    assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
    two_free = _box_result(["a"], unrestricted=["b"])
    two_free["prim"]["unrestricted"] = ["b", "c"]
    grid = pd.DataFrame({"a": [0.1, 0.9, 0.5], "b": [1.0, 3.0, 2.0], "c": [5.0, 7.0, 6.0]})
    fig = box_figure(two_free, grid, np.array([1, 0, 1], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels][2] == ("b", "c")
    (rect,) = panels[2].patches  # neither restricted: the sweep's ranges of both
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (1.0, 5.0,
                                                                                 2.0, 2.0)
    many = pd.DataFrame({n: np.linspace(0, 1, 6) for n in "abcde"})
    fig = box_figure(_box_result(["a", "b", "c", "d"], unrestricted=["e"]), many,
                     np.array([1, 0, 1, 0, 1, 0], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 and all(ax.get_visible() for ax in panels)  # the first 6 of 10
    assert tuple(fig.get_size_inches()) == pytest.approx((12.6, 7.6))
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels][-2:] == [("b", "c"),
                                                                          ("b", "d")]
    five = _box_result(["a", "b", "c"], unrestricted=[])
    fig = box_figure(five, many[["a", "b", "c"]], np.array([1, 0, 1, 0, 1, 0], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_visible() for ax in panels] == [True, True, True]
    four = _box_result(["a", "b", "c", "d"], unrestricted=[])
    fig = box_figure(four, many[["a", "b", "c", "d"]], np.array([1, 0, 1, 0, 1, 0], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_visible() for ax in panels] == [True] * 6
    one = _box_result(["a"])
    fig = box_figure(one, many[["a"]], np.array([1, 0, 1, 0, 1, 0], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels] == [("a", "a")]
    assert math.isclose(fig.get_size_inches()[0], 4.2)


def test_prims_box_entries_are_the_workbenchs_limits_and_quasi_p_values():
    """Each restricted parameter's entry against the EMA Workbench's own box on the same data:
    its limits, the full range, the quasi-p of each limit moved (-1: not moved), which are
    significant (<= 0.05), and the box kept on those limits only, counted here."""
    from tests.test_exact_discovery import _planted, _workbench_box

    x, y = _planted()
    x = x.assign(d=np.round(x["c"], 1))  # a fourth parameter
    got = discovery.prim_analysis(x, y, 0.5)
    box = _workbench_box(x, y)
    chosen = got["chosen"]
    limits, full, pvals = box.box_lims[chosen], box.box_lims[0], box.p_values[chosen]
    names = [b["parameter"] for b in got["box"]]
    assert names == [n for n in x.columns if n in pvals]
    assert got["unrestricted"] == [n for n in x.columns if n not in pvals]
    keep = np.ones(len(y), bool)
    for b in got["box"]:
        n = b["parameter"]
        qp = [float(v) if float(v) >= 0 else None for v in pvals[n]]
        low_sig = qp[0] is not None and qp[0] <= 0.05
        high_sig = qp[1] is not None and qp[1] <= 0.05
        assert b == {"parameter": n, "low": float(limits[n].iloc[0]),
                     "high": float(limits[n].iloc[1]), "range_low": float(full[n].iloc[0]),
                     "range_high": float(full[n].iloc[1]), "qp_low": qp[0], "qp_high": qp[1],
                     "low_significant": low_sig, "high_significant": high_sig,
                     "significant": low_sig or high_sig}
        if low_sig:
            keep &= x[n].to_numpy() >= b["low"]
        if high_sig:
            keep &= x[n].to_numpy() <= b["high"]
    assert got["significant_box"] == {"coverage": y[keep].sum() / y.sum(),
                                      "density": y[keep].mean(), "runs": int(keep.sum())}
    assert any(b["low_significant"] for b in got["box"]) and got["unrestricted"]


# --------------------------------------------------------------------------- levers


def _cat(name, values, options, qp, significant):
    """A categorical lever's entry of PRIM's box (prim_analysis writes them so)."""
    return {"parameter": name, "categorical": True, "values": values, "range_values": options,
            "low": None, "high": None, "range_low": None, "range_high": None, "qp_low": qp,
            "qp_high": None, "low_significant": significant, "high_significant": False,
            "significant": significant}


def _lever_result():
    result = _result(boxes=[
        _box("alpha", 0.61234, 1.0, 1.2e-9, None, True, False),
        _cat("lever.shield", ["day0"], ["day0", "later"], 0.003, True),
        _cat("lever.offer", ["a", "<b>"], ["a", "<b>", "c"], 0.2, False),
        _cat("lever.x", ["p"], ["p", "q"], None, False)])
    result["cart"]["leaves"][0]["limits"] = {
        "lever.shield=day0": {"low": 0.5, "high": None},
        "lever.offer=a": {"low": None, "high": 0.5},
        "lever.k=a=b": {"low": 0.5, "high": None},
        "x=y": {"low": 0.1, "high": 0.9}}
    return result


def test_cart_splits_a_levers_options_as_named_zero_one_columns():
    """The tree splits numbers: a lever's options become one 0/1 column each, named
    ``lever=option``; the outcome is exactly shield = later, so one split at 0.5 on one of
    them separates it."""
    x = pd.DataFrame({"a": np.linspace(0, 1, 40),
                      "lever.shield": pd.Categorical(["later", "day0"] * 20)})
    y = np.array(["later", "day0"] * 20) == "later"
    got = cart_analysis(x, y)
    (name,) = {n for leaf in got["leaves"] for n in leaf["limits"]}
    assert name in ("lever.shield=later", "lever.shield=day0")
    assert f"|--- {name} <= 0.50" in got["rules"]
    assert [(leaf["density"], leaf["coverage"], leaf["runs"]) for leaf in got["leaves"]] == [
        (1.0, 1.0, 20), (0.0, 0.0, 20)]
    side = {"low": 0.5, "high": None} if name.endswith("later") else {"low": None,
                                                                       "high": 0.5}
    assert got["leaves"][0]["limits"] == {name: side}
    assert leaf_rule(got["leaves"][0]["limits"]) in ("lever.shield == later",
                                                     "lever.shield != day0")


def test_a_levers_options_in_the_rules_and_quasi_p():
    """A lever's entry keeps a subset of its options; its rule names them, and only when its
    quasi-p is significant; a CART leaf on a lever's 0/1 column reads == or != the option."""
    result = _lever_result()
    assert box_rule(result["prim"]) == "alpha >= 0.6123 and lever.shield in {day0}"
    assert box_rule({"box": [_cat("lever.x", ["p"], ["p", "q"], 0.3, False)]}) == (
        "no significant limit")
    qp = discovery._qp_text
    assert [qp(b) for b in result["prim"]["box"][1:]] == [
        "0.003", "0.2 (not significant)", "none"]
    assert leaf_rule(result["cart"]["leaves"][0]["limits"]) == (
        "lever.shield == day0 and lever.offer != a and lever.k == a=b and x=y in (0.1, 0.9]")


def test_the_terminal_summary_of_a_box_with_levers():
    lines = format_discovery(_lever_result()).split("\n")
    assert lines[4:9] == [
        "  alpha         0.6123 .. 1   (swept 0 .. 1; quasi-p low 1.2e-09)",
        "  lever.shield  in {day0}   (options day0, later; quasi-p 0.003)",
        "  lever.offer   in {a, <b>}   (options a, <b>, c; quasi-p 0.2 (not significant))",
        "  lever.x       in {p}   (options p, q; quasi-p none)",
        "  unrestricted: c"]
    assert lines[9].startswith("  on its significant limits only: alpha >= 0.6123 and "
                               "lever.shield in {day0}: coverage")
    assert lines[-1].startswith("CART (depth 3): densest leaf lever.shield == day0 and ")


def test_the_reports_html_of_a_box_with_levers():
    page = discovery_html(_lever_result())
    assert ("<tr><td><code>lever.shield</code></td><td class=num>day0</td><td class=num>"
            "day0, later</td><td class=num>0.003</td></tr>"
            "<tr><td><code>lever.offer</code></td><td class=num>a, &lt;b&gt;</td><td "
            "class=num>a, &lt;b&gt;, c</td><td class=num>0.2 (not significant)</td></tr>"
            "<tr><td><code>lever.x</code></td><td class=num>p</td><td class=num>p, q</td>"
            "<td class=num>none</td></tr></table>") in page
    assert "<b>alpha &gt;= 0.6123 and lever.shield in {day0}</b>" in page
    assert "<li>lever.shield == day0 and lever.offer != a and lever.k == a=b and " in page


def _lever_folder(tmp_path, params=("a", "b"), n=240):
    """A sweep folder with levers, written by hand: a categorical (shield) and a numeric
    (dose) lever; war mostly where a > 0.6 and the shield is deployed later."""
    rng = np.random.default_rng(9)
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    shield = np.where(np.arange(n) % 2 == 0, "later", "day0").astype(object)
    dose = np.where(np.arange(n) % 3 == 0, 2.0, 0.5)
    war = rng.uniform(size=n) < np.where((a > 0.6) & (shield == "later"), 0.9, 0.05)
    folder = tmp_path / "levers"
    folder.mkdir()
    (folder / "design.json").write_text(json.dumps({
        "problem": {"names": list(params)},
        "levers": [{"name": "shield", "kind": "categorical"},
                   {"name": "dose", "kind": "numeric"}]}))
    columns = {"run": np.arange(n), "param.a": a, "param.b": b,
               "lever.shield": pa.array(shield.tolist(), pa.string()), "lever.dose": dose,
               "outcome.war": war}
    pq.write_table(pa.table(columns), folder / "sweep.parquet")
    x = pd.DataFrame({p: {"a": a, "b": b}[p] for p in params})
    x["lever.shield"] = pd.Categorical(shield.astype(str))
    x["lever.dose"] = dose
    return folder, x, war


def test_the_command_takes_levers_as_inputs(tmp_path):
    """A categorical lever is a column of categories, a numeric one of numbers: PRIM and
    CART get them beside the uncertainties."""
    folder, x, y = _lever_folder(tmp_path)
    result = discover_folder(folder, outcome="war", min_coverage=0.4)
    assert result["parameters"] == ["a", "b", "lever.shield", "lever.dose"]
    assert result["prim"] == discovery.prim_analysis(x, y, 0.4)
    assert result["cart"] == cart_analysis(x, y)
    shield = [b for b in result["prim"]["box"] if b["parameter"] == "lever.shield"]
    assert shield and shield[0]["categorical"] and shield[0]["values"] == ["later"]
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "discovery_box.png", "discovery_tradeoff.png"]


def test_a_sweep_of_a_categorical_lever_alone_draws_no_box(tmp_path):
    """No pair of numbers to draw: the trade-off figure only."""
    folder, _, _ = _lever_folder(tmp_path, params=())
    design = json.loads((folder / "design.json").read_text())
    design["levers"] = design["levers"][:1]
    (folder / "design.json").write_text(json.dumps(design))
    result = discover_folder(folder, outcome="war")
    assert result["parameters"] == ["lever.shield"]
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "discovery_tradeoff.png"]


@pytest.mark.parametrize(("levers", "message"), [
    ({"shield": "categorical"}, "{folder}: the sweep's design.json lists no levers it can read"),
    ([{"name": "shield"}], "{folder}: a lever of design.json has no name or kind"),
    (["shield"], "{folder}: a lever of design.json has no name or kind"),
    ([{"name": "sheild", "kind": "categorical"}],
     "{folder}/sweep.parquet has no column lever.sheild"),
])
def test_levers_the_sweep_cannot_have_are_refused(tmp_path, levers, message):
    folder, _, _ = _lever_folder(tmp_path)
    design = json.loads((folder / "design.json").read_text())
    design["levers"] = levers
    (folder / "design.json").write_text(json.dumps(design))
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, outcome="war", write=False)
    assert str(excinfo.value) == message.format(folder=folder)


def test_a_sweep_without_levers_or_uncertainties_is_refused(tmp_path):
    folder, _, _ = _lever_folder(tmp_path, params=())
    design = json.loads((folder / "design.json").read_text())
    design["levers"] = None  # (a sweep without levers writes none)
    (folder / "design.json").write_text(json.dumps(design))
    with pytest.raises(UsageError) as excinfo:
        discover_folder(folder, outcome="war", write=False)
    assert str(excinfo.value) == (f"{folder}: the sweep varied nothing (no uncertainties, no "
                                  "levers)")


def test_the_box_figures_colour_bar_spans_every_panel():
    """Six pairs on two rows: the colour bar beside the grid runs from the lowest panel's
    bottom to the highest's top (not beside the last panel only)."""
    many = pd.DataFrame({n: np.linspace(0, 1, 6) for n in "abcd"})
    fig = box_figure(_box_result(["a", "b", "c", "d"], unrestricted=[]), many,
                     np.array([1, 0, 1, 0, 1, 0], bool))
    fig.draw_without_rendering()  # the constrained layout places the axes when drawn
    panels = [ax.get_position() for ax in fig.axes if ax.get_label() != "<colorbar>"]
    (bar,) = [ax.get_position() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len({round(p.y0, 6) for p in panels}) == 2  # two rows
    assert bar.y0 == pytest.approx(min(p.y0 for p in panels), abs=1e-9)
    assert bar.y1 == pytest.approx(max(p.y1 for p in panels), abs=1e-9)


def test_the_box_figure_draws_the_numbers_and_leaves_the_levers_options_out():
    """A lever's options are no axis: the pairs are of the numeric inputs, and a box entry
    of a lever (no low or high) limits no rectangle."""
    x = pd.DataFrame({"a": np.linspace(0, 1, 6), "b": np.linspace(2, 3, 6),
                      "lever.shield": pd.Categorical(["day0", "later"] * 3)})
    result = _result(boxes=[_box("a", 0.2, 0.8, 0.01, 0.01, True, True),
                            _cat("lever.shield", ["day0"], ["day0", "later"], 0.01, True)],
                     unrestricted=["b"], boxes_on_trajectory=9)
    fig = box_figure(result, x, np.array([1, 0, 1, 0, 1, 0], bool))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels] == [("a", "b")]
    (rect,) = panels[0].patches
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == pytest.approx(
        (0.2, 2.0, 0.6, 1.0))


def test_the_summary_lists_every_option_unrestricted_input_and_every_second_box():
    """Two options of a significant lever and two unrestricted inputs are comma-separated;
    16 boxes on the trajectory show every second one (16 // 8) and the last."""
    result = _result(boxes=[_cat("lever.offer", ["a", "b"], ["a", "b", "c"], 0.01, True)],
                     unrestricted=("c", "d"), boxes_on_trajectory=16)
    assert box_rule(result["prim"]) == "lever.offer in {a, b}"
    lines = format_discovery(result).split("\n")
    assert lines[5] == "  unrestricted: c, d"
    assert lines[9] == ("  0: 100%/20%  2: 95%/25%  4: 90%/30%  6: 85%/35%  8: 80%/40%  "
                        "10: 75%/45%  12: 70%/50%  14: 65%/55%  15: 62%/57%")  # 0.575 prints 57%
