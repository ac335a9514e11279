"""Exact tests of a sweep's levers in ``sim/execution/sweep.py`` on hand-made rows.

The policies x scenarios of a sweep with levers (issue 26) and the sweep's small first batches
are exercised end to end by tests/test_levers.py and tests/test_analyst_surfaces.py, which
run sweeps: too slow to run per mutant. These tests call each function on a stand-in design
and rows written here, and check every value against a computation made here (Wilson
intervals from statsmodels, the paired difference by its formula), so that
``scripts/mutation.py`` can run the module's mutants against them in milliseconds.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pyarrow as pa
import pytest

from sim.execution import sweep as module
from sim.execution.sweep import (
    RAMP_BATCHES,
    RAMP_DIVISOR,
    format_policies,
    policy_summary,
    sweep_batches,
    tag_policies,
    tag_policy_table,
)

Z = 1.959963984540054  # the two-sided 95% normal quantile


def _lever(name: str, categorical: bool):
    return types.SimpleNamespace(name=name, categorical=categorical)


def _policy(name: str, **values):
    return types.SimpleNamespace(name=name, values=values)


def _design(reference: int = 0, size: int = 2):
    """Two policies (a numeric lever ``dose`` and a categorical ``shield``), ``size`` points."""
    return types.SimpleNamespace(
        size=size, reference=reference, policy_count=2,
        levers=[_lever("dose", False), _lever("shield", True)],
        policies=[_policy("low-later", dose=0.5, shield="later"),
                  _policy("high-day0", dose=2.0, shield="day0")])


# --------------------------------------------------------------------------- batches


def test_the_ramp_is_two_batches_of_an_eighth():
    assert (RAMP_BATCHES, RAMP_DIVISOR) == (2, 8)


@pytest.mark.parametrize(("runs", "batch", "first", "plan"), [
    # two batches of ceil(40 / 8) = 5 runs, then full ones from where they stopped
    (100, 40, 0, [(0, 5), (5, 10), (10, 50), (50, 90), (90, 100)]),
    # an eighth of 41 rounds up (6), not down
    (100, 41, 0, [(0, 6), (6, 12), (12, 53), (53, 94), (94, 100)]),
    # one batch's worth stays one batch, even one run over is ramped
    (40, 40, 0, [(0, 40)]),
    (41, 40, 0, [(0, 5), (5, 10), (10, 41)]),
    # fewer runs than the ramp: small batches until the runs are gone
    (7, 40, 0, [(0, 7)]),
    (43, 40, 0, [(0, 5), (5, 10), (10, 43)]),
    # a batch of 8 ramps with single runs; a batch of 1 cannot be cut smaller
    (20, 8, 0, [(0, 1), (1, 2), (2, 10), (10, 18), (18, 20)]),
    (3, 1, 0, [(0, 1), (1, 2), (2, 3)]),
    # a later policy's block: full batches from its first run
    (100, 40, 200, [(200, 240), (240, 280), (280, 300)]),
    (30, 40, 60, [(60, 90)]),
])
def test_sweep_batches_cut_exactly(runs, batch, first, plan):
    assert sweep_batches(runs, batch, first) == plan


def test_sweep_batches_default_to_the_start_of_the_sweep():
    assert sweep_batches(100, 40) == sweep_batches(100, 40, 0)


# --------------------------------------------------------------------------- tables


def test_a_table_with_the_schema_already_is_returned_as_it_is():
    table = pa.table({"a": [1, 2], "b": [0.5, 1.5]})
    assert module._conformed(table, table.schema) is table


def test_a_table_gets_the_schemas_columns_in_its_order_and_nulls_for_the_missing():
    table = pa.table({"b": [0.5, 1.5], "a": [1, 2]})
    schema = pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.string())])
    out = module._conformed(table, schema)
    assert out.schema == schema
    assert out.column("a").to_pylist() == [1, 2]
    assert out.column("b").to_pylist() == [0.5, 1.5]
    assert out.column("c").to_pylist() == [None, None]


def test_the_policy_columns_of_runs():
    out = module._policy_columns(_design(), np.array([1, 0, 1]))
    assert list(out) == ["policy", "lever.dose", "lever.shield"]
    assert out["policy"].tolist() == ["high-day0", "low-later", "high-day0"]
    assert out["lever.dose"].dtype == float and out["lever.dose"].tolist() == [2.0, 0.5, 2.0]
    assert out["lever.shield"].dtype == object
    assert out["lever.shield"].tolist() == ["day0", "later", "day0"]


def _columns():
    """Eight runs: 2 policies x 2 points x 2 replications, the engine's numbering."""
    run = np.arange(8)
    return {"run": run, "point": run // 2, "rep": run % 2,
            "outcome.war": np.array([1, 0, 0, 0, 1, 1, 0, 1], bool),
            "losses.a": run * 1.5}


def test_tag_policies_gives_the_policy_and_the_uncertainties_point():
    columns = _columns()
    out = tag_policies(columns, _design(), reps=2)
    assert list(out) == ["run", "policy", "point", "rep", "lever.dose", "lever.shield",
                         "outcome.war", "losses.a"]
    assert out["run"].tolist() == list(range(8))
    assert out["policy"].tolist() == ["low-later"] * 4 + ["high-day0"] * 4
    assert out["point"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert out["rep"].tolist() == [0, 1] * 4
    assert out["lever.dose"].tolist() == [0.5] * 4 + [2.0] * 4
    assert out["lever.shield"].tolist() == ["later"] * 4 + ["day0"] * 4
    assert out["outcome.war"] is columns["outcome.war"]
    assert out["losses.a"] is columns["losses.a"]


def test_without_levers_the_columns_are_untouched():
    columns = _columns()
    plain = types.SimpleNamespace(size=4, policies=[], levers=[], reference=0)
    assert tag_policies(columns, plain, reps=2) is columns
    table = pa.table(columns)
    assert tag_policy_table(table, plain, reps=2) is table


def test_tag_policy_table_puts_the_policys_columns_first_as_strings_and_numbers():
    table = pa.table(_columns())
    out = tag_policy_table(table, _design(), reps=2)
    assert out.column_names == ["run", "policy", "point", "rep", "lever.dose", "lever.shield",
                                "outcome.war", "losses.a"]
    assert out.schema.field("policy").type == pa.string()
    assert out.schema.field("lever.shield").type == pa.string()
    assert out.schema.field("lever.dose").type == pa.float64()
    assert out.column("policy").to_pylist() == ["low-later"] * 4 + ["high-day0"] * 4
    assert out.column("point").to_pylist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert out.column("lever.shield").to_pylist() == ["later"] * 4 + ["day0"] * 4
    assert out.column("outcome.war").to_pylist() == _columns()["outcome.war"].tolist()
    assert out.column("losses.a").to_pylist() == (np.arange(8) * 1.5).tolist()


# --------------------------------------------------------------------------- summary


def _wilson(k: int, n: int) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return (0.0 if k == 0 else low), (1.0 if k == n else high)


def _paired(base: np.ndarray, own: np.ndarray) -> tuple[float, float, float]:
    d = own.astype(float) - base.astype(float)
    mean = d.mean()
    half = Z * math.sqrt(((d - mean) ** 2).sum() / (d.size - 1)) / math.sqrt(d.size)
    return mean, mean - half, mean + half


@pytest.mark.parametrize("reference", [0, 1])
def test_policy_summary_against_hand_counts(reference):
    design = _design(reference=reference)
    flags = {"outcome.war": np.array([1, 0, 0, 0, 1, 1, 0, 1], bool),
             "outcome.deal": np.array([0, 0, 0, 0, 0, 0, 0, 0], bool),
             "losses.a": np.arange(8) * 1.5}  # not an outcome: left out
    rows = policy_summary(design, reps=2, flags=flags)
    blocks = {"low-later": slice(0, 4), "high-day0": slice(4, 8)}
    names = [p.name for p in design.policies]
    assert [(r["outcome"], r["policy"]) for r in rows] == [
        ("war", names[0]), ("war", names[1]), ("deal", names[0]), ("deal", names[1])]
    for r in rows:
        x = flags[f"outcome.{r['outcome']}"]
        own = x[blocks[r["policy"]]]
        k = int(own.sum())
        low, high = _wilson(k, 4)
        assert r["runs"] == 4 and r["probability"] == k / 4
        assert r["low"] == pytest.approx(low, abs=1e-12)
        assert r["high"] == pytest.approx(high, abs=1e-12)
        if r["policy"] == names[reference]:
            assert "difference" not in r and len(r) == 6
            continue
        base = x[blocks[names[reference]]]
        diff, d_low, d_high = _paired(base, own)
        assert r["difference"] == pytest.approx(diff, abs=1e-12)
        assert r["difference_low"] == pytest.approx(d_low, abs=1e-12)
        assert r["difference_high"] == pytest.approx(d_high, abs=1e-12)
    war = {r["policy"]: r for r in rows if r["outcome"] == "war"}
    assert war["low-later"]["probability"] == 0.25 and war["high-day0"]["probability"] == 0.75
    other = names[1 - reference]
    assert war[other]["difference"] == (0.5 if reference == 0 else -0.5)


def test_the_printed_table_of_policies():
    design = _design(reference=0, size=3)
    rows = [
        {"outcome": "war", "policy": "low-later", "probability": 0.25, "low": 0.05,
         "high": 0.6, "runs": 4},
        {"outcome": "war", "policy": "high-day0", "probability": 0.75, "low": 0.4,
         "high": 0.95, "runs": 4, "difference": 0.5, "difference_low": -0.123,
         "difference_high": 1.0},
        {"outcome": "deal", "policy": "low-later", "probability": 0.0, "low": 0.0,
         "high": 0.49, "runs": 4},
        {"outcome": "deal", "policy": "high-day0", "probability": 0.0, "low": 0.0,
         "high": 0.49, "runs": 4, "difference": 0.0, "difference_low": 0.0,
         "difference_high": 0.0},
    ]
    result = types.SimpleNamespace(design=design, policies=rows, reps=2)
    assert format_policies(result).split("\n") == [
        "outcome  policy          P      95% interval  vs reference  95% interval",
        "war      low-later   25.0%  [  5.0%,  60.0%]     reference",
        "         high-day0   75.0%  [ 40.0%,  95.0%]     +50.0 pts  [-12.3, +100.0]",
        "the same in every policy: deal 0.0%",
        "",
        "2 policies x 3 points of the uncertainties x 2 replications; differences against "
        "low-later, paired by point and replication (each policy meets the same states of "
        "the world and the same random numbers)",
    ]


def test_the_printed_table_names_the_reference_policy_whichever_it_is():
    design = _design(reference=1, size=1)
    design.policies = [_policy("a-much-longer-policy-name", dose=0.5, shield="later"),
                       _policy("b", dose=2.0, shield="day0")]
    rows = [{"outcome": "x", "policy": "a-much-longer-policy-name", "probability": 0.5,
             "low": 0.1, "high": 0.9, "runs": 2, "difference": -0.5,
             "difference_low": -1.0, "difference_high": 0.0},
            {"outcome": "x", "policy": "b", "probability": 1.0, "low": 0.3, "high": 1.0,
             "runs": 2}]
    text = format_policies(types.SimpleNamespace(design=design, policies=rows, reps=2))
    lines = text.split("\n")
    assert lines[0] == ("outcome  policy                          P      95% interval  "
                        "vs reference  95% interval")
    assert lines[1] == ("x        a-much-longer-policy-name   50.0%  [ 10.0%,  90.0%]  "
                        "   -50.0 pts  [-100.0, +0.0]")
    assert lines[2] == ("         b                          100.0%  [ 30.0%, 100.0%]  "
                        "   reference")
    assert lines[-1].endswith("differences against b, paired by point and replication (each "
                              "policy meets the same states of the world and the same random "
                              "numbers)")
    assert lines[-1].startswith("2 policies x 1 points of the uncertainties x 2 replications")


# --------------------------------------------------------------------------- printed table


def _row(outcome, policy, probability, **more):
    return {"outcome": outcome, "policy": policy, "probability": probability, "low": 0.0,
            "high": 1.0, "runs": 4, **more}


def test_the_printed_table_keeps_going_after_an_outcome_the_same_in_every_policy():
    """Outcomes the same in every policy (here the first two) are listed together at the
    end, comma-separated, and the others still get their rows; short policy names keep the
    column six wide (the header's ``policy``)."""
    design = _design(reference=0, size=1)
    design.policies = [_policy("a", dose=0.5, shield="later"),
                       _policy("b", dose=2.0, shield="day0")]
    diff = {"difference": 0.0, "difference_low": 0.0, "difference_high": 0.0}
    rows = [_row("deal", "a", 0.5), _row("deal", "b", 0.5, **diff),
            _row("truce", "a", 0.0), _row("truce", "b", 0.0, **diff),
            _row("war", "a", 0.25), _row("war", "b", 0.5, **diff)]
    lines = format_policies(types.SimpleNamespace(design=design, policies=rows, reps=4)
                            ).split("\n")
    assert lines[:4] == [
        "outcome  policy       P      95% interval  vs reference  95% interval",
        "war      a        25.0%  [  0.0%, 100.0%]     reference",
        "         b        50.0%  [  0.0%, 100.0%]      +0.0 pts  [+0.0, +0.0]",
        "the same in every policy: deal 50.0%, truce 0.0%"]


# --------------------------------------------------------------------------- sensitivity


def test_each_policys_sensitivity_and_the_references_first(monkeypatch):
    """Per policy the indices of its own points (rows ``p * points ..``); ``results`` and the
    rest of the analysis are the reference policy's, which is named."""
    import sys

    seen = []

    def analyse(given, points):
        assert given is design
        seen.append(points["outcome.war"].tolist())
        return {"results": {"first": points["outcome.war"][0]}, "problem": "p"}

    monkeypatch.setitem(sys.modules, "sim.sensitivity", types.SimpleNamespace(analyse=analyse))
    design = types.SimpleNamespace(size=2, reference=1, policies=[
        _policy("one"), _policy("two"), _policy("three")])
    points = {"outcome.war": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
              "runs": np.array([2, 2, 2, 2, 2, 2])}
    out = module._sensitivity(design, points)
    assert seen == [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.3, 0.4]]
    assert out == {"results": {"first": 0.3}, "problem": "p", "policy": "two",
                   "by_policy": {"one": {"first": 0.1}, "two": {"first": 0.3},
                                 "three": {"first": 0.5}}}


def test_without_levers_the_sensitivity_is_the_analysis_itself(monkeypatch):
    import sys

    answer = {"results": {}}
    monkeypatch.setitem(sys.modules, "sim.sensitivity",
                        types.SimpleNamespace(analyse=lambda d, p: answer))
    plain = types.SimpleNamespace(size=2, reference=0, policies=())
    assert module._sensitivity(plain, {"x": np.zeros(2)}) is answer


# --------------------------------------------------------------------------- run_sweep


SHIELD = {"shield": {"options": {"later": {}, "day0": {
    "set": {"assets.shield.deployed_at_start": "arcadia"}}}},
          "actors.arcadia.rationality": [4, 8]}
NAMES = [f"shield={s} actors.arcadia.rationality={r}" for s in ("later", "day0") for r in (4, 8)]
VALUES = [{"shield": s, "actors.arcadia.rationality": r}
          for s in ("later", "day0") for r in (4.0, 8.0)]


def _lever_design():
    """2 points of the loss rate x 4 policies (shield x rationality), the reference the
    third (day0, 4)."""
    from sim.design import make_design, parse_levers, parse_parameter, with_levers

    design = make_design("lhs", [parse_parameter("fighting.loss_rate=0.1:0.5")], 2, 7)
    return with_levers(design, parse_levers(SHIELD), 5,
                       reference={"shield": "day0", "actors.arcadia.rationality": 4})


def _lever_rows(task):
    """``test_exact_sweep._rows``, plus a quantity only the day0 policies' runs have (the
    engine numbers points across policies: ``policy * 2 + point``)."""
    from .test_exact_sweep import _rows

    rows = _rows(task)
    if task.points[0][0] >= 4:
        rows["losses.extra"] = rows["run"] * 2.0
    return rows


def _expected_runs(design):
    """The 16 runs' table, tagged by hand: 4 policies x 2 points x 2 replications."""
    run = np.arange(16)
    policy = run // 4
    return {"run": run, "policy": [NAMES[p] for p in policy], "point": (run // 2) % 2,
            "rep": run % 2, "lever.shield": [VALUES[p]["shield"] for p in policy],
            "lever.actors.arcadia.rationality": [VALUES[p]["actors.arcadia.rationality"]
                                                 for p in policy],
            "outcome.war": (run * 7) % 3 == 0,
            "day.war": np.where(run % 2 == 0, run * 1.5, np.nan),
            "losses.a": run * 0.25,
            "losses.extra": np.where(run >= 8, run * 2.0, np.nan)}


def _check_points(points, design):
    """The per-policy-and-point table, every value by hand: war in runs 0, 3, 6, 9, 12, 15;
    day.war on the even runs; losses.extra only in policies 2 and 3."""
    from sim.analysis import wilson_interval

    assert list(points) == [
        "policy", "lever.shield", "lever.actors.arcadia.rationality", "point", "runs",
        "param.fighting.loss_rate", "outcome.war", "outcome.war.low", "outcome.war.high",
        "mean.day.war", "mean.losses.a", "mean.losses.extra"]
    assert list(points["policy"]) == [n for n in NAMES for _ in range(2)]
    assert list(points["lever.shield"]) == ["later"] * 4 + ["day0"] * 4
    assert list(points["lever.actors.arcadia.rationality"]) == [4.0, 4.0, 8.0, 8.0] * 2
    assert list(points["point"]) == [0, 1] * 4 and list(points["runs"]) == [2] * 8
    assert list(points["param.fighting.loss_rate"]) == list(design.points[:, 0]) * 4
    war = [1, 1, 0, 1, 1, 0, 1, 1]  # of the pairs of runs (0, 1), (2, 3), ...
    assert list(points["outcome.war"]) == [k / 2 for k in war]
    assert list(points["outcome.war.low"]) == [wilson_interval(k, 2)[0] for k in war]
    assert list(points["outcome.war.high"]) == [wilson_interval(k, 2)[1] for k in war]
    assert list(points["mean.day.war"]) == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0]
    assert list(points["mean.losses.a"]) == [(4 * g + 1) * 0.125 for g in range(8)]
    np.testing.assert_array_equal(points["mean.losses.extra"],
                                  [np.nan] * 4 + [17.0, 21.0, 25.0, 29.0])


def _check_policies(rows):
    """war per policy: runs 0-3 {0, 3}, 4-7 {6}, 8-11 {9}, 12-15 {12, 15}; differences
    against the third policy's (0, 1, 0, 0), run by run."""
    wars = [[1, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 1]]
    base = np.array(wars[2], float)
    assert [r["policy"] for r in rows] == NAMES
    for r, war in zip(rows, wars, strict=True):
        k = sum(war)
        low, high = _wilson(k, 4)
        assert (r["outcome"], r["probability"], r["runs"]) == ("war", k / 4, 4)
        assert (r["low"], r["high"]) == pytest.approx((low, high), abs=1e-12)
        if r["policy"] == NAMES[2]:
            assert "difference" not in r
            continue
        diff, d_low, d_high = _paired(base, np.array(war, float))
        assert (r["difference"], r["difference_low"], r["difference_high"]) == pytest.approx(
            (diff, d_low, d_high), abs=1e-12)
    assert [r.get("difference") for r in rows] == [0.25, 0.0, None, 0.25]


def test_a_sweep_with_levers_in_memory(fictional, monkeypatch):
    """Each policy runs its own scenario over the same points and replications, in batches
    that never straddle two policies; the rows are tagged with the policy, the point of the
    uncertainties and the levers' values; a column of some policies only is NaN in the
    others'; the summaries are per policy."""
    import tqdm.auto

    from sim.execution.variation import policy_scenarios

    from .test_exact_sweep import _BARS, _Bar, _Execute

    fake = _Execute(rows=_lever_rows)
    monkeypatch.setattr(module, "execute", fake)
    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    _BARS.clear()
    design = _lever_design()
    assert [p.name for p in design.policies] == NAMES and design.reference == 2
    result = module.run_sweep(fictional, design, reps=2, batch_size=3, workers=1,
                              progress=False)
    # every policy's scenario at every point is checked first: 4 x 2
    (bar,) = _BARS
    assert (bar.kwargs["total"], bar.updates) == (8, 8)
    (call,) = fake.calls
    # a block of 4 runs per policy; the first policy's starts with two batches of one run
    assert [(t.start, t.stop) for t in call["tasks"]] == [
        (0, 1), (1, 2), (2, 4), (4, 7), (7, 8), (8, 11), (11, 12), (12, 15), (15, 16)]
    assert [[k for k, _ in t.points] for t in call["tasks"]] == [
        [0], [0], [1], [2, 3], [3], [4, 5], [5], [6, 7], [7]]
    value = [tuple(design.overrides(k).items()) for k in range(2)]
    assert call["tasks"][3].points == ((2, value[0]), (3, value[1]))
    variants = policy_scenarios(fictional, design)
    policy_of_task = [0, 0, 0, 1, 1, 2, 2, 3, 3]
    for t, p in zip(call["tasks"], policy_of_task, strict=True):
        assert (t.scenario, t.digest) == (variants[p].data, variants[p].digest())
    assert (call["total"], call["done"]) == (16, 0)
    expected = _expected_runs(design)
    assert list(result.columns) == list(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(result.columns[name], values)
    # strings are objects, as when the runs are read back from sweep.parquet
    assert result.columns["policy"].dtype == object
    _check_points(result.points, design)
    _check_policies(result.policies)
    m = result.manifest
    assert (m["runs"], m["points"], m["reps"]) == (16, 2, 2) and type(m["runs"]) is int
    assert m["levers"] == ["shield", "actors.arcadia.rationality"]
    assert m["policies"] == NAMES
    assert m["policy_sha256"] == [v.digest() for v in variants]
    assert len(set(m["policy_sha256"])) == 4


def test_a_sweep_with_levers_into_a_folder(fictional, monkeypatch, tmp_path):
    """The same sweep on disk: its identity names the policies and their scenarios; the
    runs, points, design and policies files hold what the in-memory sweep returns."""
    import json

    import pyarrow.parquet as pq

    from sim.execution.variation import policy_scenarios

    from .test_exact_sweep import _Execute

    monkeypatch.setattr(module, "execute", _Execute(rows=_lever_rows))
    design = _lever_design()
    out = tmp_path / "levers"
    result = module.run_sweep(fictional, design, reps=2, batch_size=3, workers=1,
                              out_dir=out, progress=False)
    variants = policy_scenarios(fictional, design)
    identity = json.loads((out / ".identity.json").read_text())
    assert identity["scenarios"] == [v.digest() for v in variants]
    assert identity["policies"] == NAMES
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted([
        "design.json", "design.parquet", "manifest.json", "points.parquet", "policies.json",
        "policies.parquet", "provenance.json", "scenario.resolved.yaml", "sweep.parquet"])
    expected = _expected_runs(design)
    table = pq.read_table(out / "sweep.parquet")
    assert table.column_names == list(expected)
    assert table.schema.field("policy").type == pa.string()
    assert table.schema.field("lever.shield").type == pa.string()
    for name, values in expected.items():
        got = table.column(name).to_pandas().to_numpy()
        np.testing.assert_array_equal(got.astype(float) if name.startswith(
            ("day.", "losses.")) else got, values)
    _check_points(result.points, design)
    _check_points({k: np.array(v, dtype=object if k in ("policy", "lever.shield") else float)
                   for k, v in pq.read_table(out / "points.parquet").to_pydict().items()},
                  design)
    _check_policies(result.policies)
    reference = NAMES[2]
    listed = [{"policy": n, "levers": v} for n, v in zip(NAMES, VALUES, strict=True)]
    assert json.loads((out / "policies.json").read_text()) == {
        "reference": reference, "reps": 2, "points": 2, "policies": listed,
        "rows": json.loads(json.dumps(result.policies))}
    assert pq.read_table(out / "policies.parquet").to_pydict() == {
        k: [r.get(k) for r in result.policies] for k in (
            "outcome", "policy", "probability", "low", "high", "runs", "difference",
            "difference_low", "difference_high")}
    written = json.loads((out / "design.json").read_text())
    assert written["levers"] == [
        {"name": "shield", "kind": "categorical", "options": {
            "later": {"counterfactual": None, "set": {}},
            "day0": {"counterfactual": None,
                     "set": {"assets.shield.deployed_at_start": "arcadia"}}}},
        {"name": "actors.arcadia.rationality", "kind": "numeric", "low": None, "high": None,
         "levels": [4.0, 8.0], "integer": False}]
    assert written["policies"] == listed and written["reference"] == reference
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["policies"] == NAMES and manifest["runs"] == 16
    assert manifest["levers"] == ["shield", "actors.arcadia.rationality"]
    assert manifest["policy_sha256"] == [v.digest() for v in variants]
