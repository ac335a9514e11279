"""Scenario discovery (sim discover): PRIM finds a planted region, the target parsing is
strict, and the command line writes discovery.json, figures and a report section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.cli import main
from sim.discovery import box_rule, cart_analysis, parse_where, prim_analysis, target
from sim.errors import UsageError

from .conftest import FICTIONAL


def _planted(n: int = 4000, seed: int = 3):
    """Four parameters; the outcome has probability 0.85 where a > 0.7 and b < 0.4, else 0.05."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(0, 1, size=(n, 4)), columns=["a", "b", "c", "d"])
    inside = (x["a"] > 0.7) & (x["b"] < 0.4)
    y = rng.uniform(size=n) < np.where(inside, 0.85, 0.05)
    return x, y, inside.to_numpy()


def test_prim_recovers_a_planted_box_and_only_its_parameters():
    x, y, _inside = _planted()
    found = prim_analysis(x, y, min_coverage=0.5)
    box = {b["parameter"]: b for b in found["box"]}
    assert set(box) == {"a", "b"}, found["box"]
    assert 0.62 < box["a"]["low"] < 0.78 and 0.32 < box["b"]["high"] < 0.48
    # a limit PRIM moved by chance is not significant, so it stays out of the rule
    assert box["a"]["high"] > 0.95 or not box["a"]["high_significant"]
    assert box["b"]["low"] < 0.05 or not box["b"]["low_significant"]
    # the limits that define the region are significant; the rule keeps exactly those
    assert box["a"]["low_significant"] and box["b"]["high_significant"]
    rule = box_rule(found)
    assert "a >= 0.7" in rule or "a >= 0.6" in rule, rule
    assert "b <= 0.3" in rule or "b <= 0.4" in rule, rule
    assert found["significant_box"]["density"] > 0.7
    chosen = found["trajectory"][found["chosen"]]
    assert chosen["coverage"] >= 0.5
    # the density is the outcome's rate inside the box, far above the base rate
    assert chosen["density"] > 0.7 > 3 * y.mean()
    trajectory = found["trajectory"]
    assert trajectory[0]["coverage"] == pytest.approx(1.0)
    assert trajectory[0]["density"] == pytest.approx(y.mean())


def test_cart_densest_leaf_is_the_planted_region():
    x, y, _inside = _planted()
    tree = cart_analysis(x, y)
    best = tree["leaves"][0]
    assert set(best["limits"]) <= {"a", "b"} and best["density"] > 0.7
    assert "a <=" in tree["rules"] or "a >" in tree["rules"]
    assert sum(leaf["runs"] for leaf in tree["leaves"]) == len(y)


def test_where_conditions_use_the_outcome_syntax_and_are_strict():
    columns = ["losses.a", "rung.a~b.max", "day.agreement"]
    rungs = ["calm", "armed", "war"]
    assert parse_where("losses.a>=50", columns, rungs).value == 50
    cond = parse_where("rung.a~b.max >= war", columns, rungs)
    assert cond.rung == "war" and cond.op == ">="
    assert parse_where("day.agreement happened", columns, rungs).op == "happened"
    for bad, message in (("losses.a=>50", "INDICATOR OP VALUE"),
                         ("losses.b>=50", "no indicator 'losses.b'; did you mean 'losses.a'"),
                         ("losses.a>=lots", "not a number"),
                         ("rung.a~b.max>=peace", "or a rung (calm, armed, war)"),
                         ("__import__('os').system('true')", "INDICATOR OP VALUE"),
                         ("losses.a>=nan", "finite")):
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_where(bad, columns, rungs)
    runs = {"losses.a": np.array([10.0, 60.0, np.nan]), "outcome.war": np.array([1, 0, 1])}
    label, y = target(runs, outcome=None, where="losses.a>=50", rungs=rungs)
    assert label == "losses.a>=50" and y.tolist() == [False, True, False]
    with pytest.raises(UsageError, match="did you mean 'war'"):
        target(runs, outcome="wart", where=None, rungs=rungs)
    with pytest.raises(UsageError, match="either --outcome"):
        target(runs, outcome="war", where="losses.a>=50", rungs=rungs)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "lhs"
    api.sweep(FICTIONAL, {"actors.arcadia.war_cost": (0.0, 0.2),
                          "fighting.loss_rate": (0.05, 0.5),
                          "actors.borduria.rationality": (0.5, 5.0)},
              design="lhs", points=24, reps=12, seed=2, workers=1, out=out, progress=False)
    return out


def test_discover_command_writes_json_figures_and_a_report_section(small_sweep, capsys):
    flags = pd.read_parquet(small_sweep / "sweep.parquet", columns=["outcome.war"])
    assert 0 < flags["outcome.war"].mean() < 1  # something to discover
    assert main(["discover", str(small_sweep), "--outcome", "war"]) == 0
    printed = capsys.readouterr().out
    assert "coverage" in printed and "density" in printed and "CART" in printed
    found = json.loads((small_sweep / "discovery.json").read_text())
    assert found["target"] == "war" and found["runs"] == 24 * 12
    assert found["cases"] == int(flags["outcome.war"].sum())
    assert {"trajectory", "chosen", "box"} <= set(found["prim"])
    for name in ("discovery_tradeoff.png", "discovery_box.png"):
        assert (small_sweep / "figures" / name).stat().st_size > 1000
    assert main(["report", str(small_sweep)]) == 0
    page = (small_sweep / "report.html").read_text()
    assert "Scenario discovery: war" in page and "coverage" in page
    # the report drew the sweep's own figures too, not only discover's
    assert list((small_sweep / "figures").glob("response_*.png"))
    assert api.open_results(small_sweep).discovery["target"] == "war"


def test_discover_on_an_indicator_threshold(small_sweep, capsys):
    assert main(["discover", str(small_sweep), "--where",
                 "losses.arcadia>=1", "--min-coverage", "0.3"]) == 0
    found = json.loads((small_sweep / "discovery.json").read_text())
    losses = pd.read_parquet(small_sweep / "sweep.parquet", columns=["losses.arcadia"])
    assert found["kind"] == "condition"
    assert found["cases"] == int((losses["losses.arcadia"] >= 1).sum())


def test_discover_misuse_exits_2_with_one_line(small_sweep, tmp_path, capsys):
    cases = [
        (["discover", str(small_sweep)], "one of the arguments --outcome --where"),
        (["discover", str(small_sweep), "--outcome", "nope"], "no outcome 'nope'"),
        (["discover", str(small_sweep), "--where", "losses.arcadia>>1"], "'>1' is not a number"),
        (["discover", str(tmp_path), "--outcome", "war"], "holds no sweep results"),
        (["discover", str(small_sweep), "--outcome", "war", "--min-coverage", "2"],
         "--min-coverage"),
    ]
    for argv, message in cases:
        assert _exit_code(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
        assert "Traceback" not in err


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's errors
        return exc.code
