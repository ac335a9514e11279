"""The numbers `sim score` and `sim validate` report, pinned exactly (issue 28).

Each test computes its expected value by hand (or with an independent formula) and asserts it
exactly: the time split of each observation, the out-of-sample climatology of the skill table,
an interval observation scored from its whole interval, and event days in the coverage summary.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sim.validation import scores
from sim.validation.calibrate import build_target
from sim.validation.library import skill_table
from sim.validation.observations import load_observations
from tests.conftest import FICTIONAL

# three_states runs 60 days from 2031-05-01 (to 2031-06-30); the cutoff splits it on 05-20.
# The quantities' values (1..5) name them in build_target's list.
SPLIT = """\
scenario: three_states.yaml
description: A made-up account, split in time.
cutoff: 2031-05-20
events:
  - outcome: war
    happened: true
    date: 2031-05-20
    source: "Invented chronicle, p. 1 (dated on the cutoff: known by then)"
  - outcome: split
    happened: false
    source: "Invented chronicle, p. 2"
  - outcome: borduria_gains
    happened: true
    date: 2031-06-01
    source: "Invented chronicle, p. 3"
quantities:
  - indicator: losses.arcadia
    value: 1
    window: [2031-05-01, 2031-05-10]
    source: "Invented chronicle, p. 4: entirely before the cutoff"
  - indicator: losses.arcadia
    value: 2
    window: [2031-05-10, 2031-05-20]
    source: "Invented chronicle, p. 4: ends on the cutoff"
  - indicator: losses.arcadia
    value: 3
    window: [2031-05-10, 2031-06-10]
    source: "Invented chronicle, p. 4: starts before the cutoff, ends after it"
  - indicator: losses.arcadia
    value: 4
    window: [2031-05-21, 2031-06-10]
    source: "Invented chronicle, p. 4: entirely after"
  - indicator: losses.arcadia
    value: 5
    source: "Invented chronicle, p. 4: no window"
"""

OBS = """\
scenario: three_states.yaml
description: A made-up account of what followed.
events:
  - outcome: war
    happened: true
    date: 2031-05-11
    source: "Invented chronicle, p. 1"
  - outcome: split
    happened: false
    source: "Invented chronicle, p. 2"
quantities:
  - indicator: losses.arcadia
    value: 40
    source: "Invented chronicle, p. 4"
  - indicator: dead.total
    interval: [100, 300]
    source: "Invented chronicle, p. 5"
"""


def _load(tmp_path, text: str):
    shutil.copy(FICTIONAL, tmp_path / "three_states.yaml")
    path = tmp_path / "three_states.observations.yaml"
    path.write_text(text)
    return load_observations(path)


def _columns(runs: int = 4) -> dict[str, np.ndarray]:
    nan = np.nan
    return {
        "outcome.war": np.array([1, 1, 1, 0], bool),
        "outcome.split": np.array([0, 0, 0, 0], bool),
        "outcome.borduria_gains": np.array([1, 0, 0, 0], bool),
        "day.war.arcadia~borduria": np.array([10.0, 12.0, 20.0, nan]),
        "day.agreement.valley_split": np.full(runs, nan),
        "losses.arcadia": np.array([10.0, 30.0, 50.0, 70.0]),
        "dead.total": np.array([0.0, 100.0, 200.0, 400.0]),
    }


# --------------------------------------------------------------------------- the time split


def test_each_observation_falls_on_the_documented_side_of_the_cutoff(tmp_path):
    """Calibration data are what was known by the cutoff: an event that happened on or before
    it, a quantity whose window ends by it (docs/observations.md). A window that starts before
    the cutoff counts as calibration data when it also ends by then, and a window that only
    starts before it (its figure was not known by the cutoff) is held out."""
    obs = _load(tmp_path, SPLIT)
    result = scores.score_columns(obs, _columns())
    assert result["cutoff"] == "2031-05-20"
    # (an outcome is observed once: observations files refuse a second row of it, so the
    # event on the cutoff is the war itself)
    assert [r["split"] for r in result["events"]] == ["calibration", "held_out", "held_out"]
    assert [(r["observed"], r["split"]) for r in result["quantities"]] == [
        (1.0, "calibration"), (2.0, "calibration"), (3.0, "held_out"), (4.0, "held_out"),
        (5.0, "held_out")]
    # the day rows follow their event: war (on the cutoff) calibrates, split never happened
    assert [(r["outcome"], r["split"]) for r in result["days_of_events"]] == [
        ("war", "calibration"), ("split", "held_out")]
    held = result["summary_held_out"]
    assert (held["events"], held["days"], held["quantities"]) == (2, 1, 3)
    held_events = [r for r in result["events"] if r["split"] == "held_out"]
    assert held["brier"] == pytest.approx(np.mean([r["brier"] for r in held_events]), abs=0)
    # split: p 0, not happened -> 0; borduria_gains: p 0.25, happened -> 0.5625
    assert held["brier"] == pytest.approx((0.0 + 0.5625) / 2, abs=1e-15)


def test_the_score_split_is_what_the_calibration_fits(tmp_path):
    """`sim calibrate` fits exactly the quantities `sim score` marks as calibration data, so
    the held-out score is of observations the fit never saw."""
    obs = _load(tmp_path, SPLIT)
    result = scores.score_columns(obs, _columns())
    marked = [r["observed"] for r in result["quantities"] if r["split"] == "calibration"]
    fitted = [lo for _, lo, _, _ in build_target(obs).quantities]
    assert fitted == marked == [1.0, 2.0]


def test_without_a_cutoff_everything_is_all(tmp_path):
    obs = _load(tmp_path, OBS)
    result = scores.score_columns(obs, _columns())
    assert {r["split"] for r in result["events"] + result["quantities"]
            + result["days_of_events"]} == {"all"}
    assert "summary_held_out" not in result and result["cutoff"] is None


# --------------------------------------------------------------------------- observations


def test_an_interval_observation_is_scored_at_its_midpoint_and_over_its_whole_range(tmp_path):
    """dead.total observed in [100, 300] against runs [0, 100, 200, 400]: CRPS, PIT and the
    intervals are those at the midpoint 200 (not at the low end 100), computed here by hand;
    the share of runs inside the observed range uses both of its ends."""
    obs = _load(tmp_path, OBS)
    dead = scores.score_columns(obs, _columns())["quantities"][1]
    x = np.array([0.0, 100.0, 200.0, 400.0])
    assert dead["observed"] == 200.0 and dead["interval"] == [100.0, 300.0]
    # CRPS of an ensemble: E|X - y| - E|X - X'| / 2 (the energy form), by hand
    assert dead["crps"] == pytest.approx((200 + 100 + 0 + 200) / 4
                                         - np.abs(x[:, None] - x[None]).mean() / 2, rel=1e-12)
    assert dead["crps"] == pytest.approx(125.0 - 2600.0 / 16 / 2, rel=1e-12)  # 43.75
    assert dead["pit"] == (2 + 0.5) / 4  # 0 and 100 below, 200 equal
    assert (dead["interval50"]["low"], dead["interval50"]["high"]) == (75.0, 250.0)
    assert [dead["interval90"]["low"], dead["interval90"]["high"]] == pytest.approx(
        [15.0, 370.0], rel=1e-12)  # numpy's linear quantiles: 0 + 0.15 x 100, 200 + 0.85 x 200
    assert dead["covered50"] and dead["covered90"]
    assert dead["median"] == 150.0 and dead["mean"] == 175.0
    # runs inside [100, 300]: 100 and 200 (400 is above the high end, 0 below the low end)
    assert dead["share_in_observed_interval"] == 0.5


def test_event_days_count_in_the_coverage_summary(tmp_path):
    """Coverage and the mean PIT are over the quantities AND the event days: here the two
    quantities are covered, the war's day is not (observed day 10 lies below both intervals of
    [10, 12, 20, 61]) and split's never-day is (every run never splits)."""
    obs = _load(tmp_path, OBS)
    result = scores.score_columns(obs, _columns())
    day_war, day_split = result["days_of_events"]
    assert (day_war["covered50"], day_war["covered90"]) == (False, False)
    assert (day_split["covered50"], day_split["covered90"]) == (True, True)
    assert all(r["covered50"] and r["covered90"] for r in result["quantities"])
    s = result["summary"]
    assert (s["coverage50"], s["coverage90"]) == (0.75, 0.75)  # 3 of 4, not 2 of 2
    # PITs: war day 0.125 (10 ties one run of four), split day 0.5 (all tie), losses 0.5,
    # dead 0.625
    assert s["mean_pit"] == pytest.approx((0.125 + 0.5 + 0.5 + 0.625) / 4, abs=1e-15)
    assert s["crps_days"] == pytest.approx(np.mean([day_war["crps"], 0.0]), abs=0)


# --------------------------------------------------------------------------- the skill table


def _crisis(name: str, happened: list[bool], probability: float, covered: list[bool],
            day_covered: list[bool]) -> dict:
    events = [{"happened": h, "probability": probability,
               "brier": scores.brier(probability, h), "log_score": 0.5} for h in happened]
    rows = [{"covered50": c, "covered90": c} for c in covered]
    days = [{"covered50": c, "covered90": True} for c in day_covered]
    return {"crisis": name, "scenario": name, "runs": 10,
            "score": {"events": events, "quantities": rows, "days_of_events": days}}


def test_the_overall_climatology_is_out_of_sample():
    """Three crises whose events happened [yes, yes], [no], [yes, no, no]. Each crisis is
    forecast by the other crises' base rate: A by 1/4, B by 3/5, C by 2/3 (the pooled, in-
    sample rate 1/2 would score 0.25 everywhere)."""
    crises = [_crisis("a", [True, True], 0.5, [True], []),
              _crisis("b", [False], 0.5, [], [False]),
              _crisis("c", [True, False, False], 0.5, [False, True], [True])]
    result = skill_table(crises)
    a, b, c = result["crises"]
    clim_a = (1 - 0.25) ** 2
    clim_b = 0.6 ** 2
    clim_c = ((1 - 2 / 3) ** 2 + 2 * (2 / 3) ** 2) / 3
    assert a["brier_climatological"] == pytest.approx(clim_a, rel=1e-12)
    assert b["brier_climatological"] == pytest.approx(clim_b, rel=1e-12)
    assert c["brier_climatological"] == pytest.approx(clim_c, rel=1e-12)
    overall = result["overall"]
    expected = (2 * clim_a + clim_b + 3 * clim_c) / 6
    assert overall["brier_climatological"] == pytest.approx(expected, rel=1e-12)
    assert overall["brier"] == 0.25  # every event forecast at 0.5
    assert overall["brier_skill_climatological"] == pytest.approx(1 - 0.25 / expected,
                                                                  rel=1e-12)
    assert c["brier_skill_climatological"] == pytest.approx(1 - 0.25 / clim_c, rel=1e-12)
    # coverage counts quantities and event days: a 1 of 1, b 0 of 1, c 2 of 3; overall 3 of 5
    assert (a["quantities"], a["coverage50"]) == (1, 1.0)
    assert (b["quantities"], b["coverage50"], b["coverage90"]) == (1, 0.0, 1.0)
    assert (c["quantities"], c["coverage50"]) == (3, pytest.approx(2 / 3, rel=1e-15))
    assert (overall["quantities"], overall["coverage50"]) == (5, 0.6)
    assert overall["events"] == 6 and overall["verdict"] == "no better than uninformed"


def test_a_library_of_one_crisis_has_no_climatology():
    """With no other crisis there is no out-of-sample base rate: nothing is reported (an
    in-sample rate would be the crisis forecasting itself)."""
    result = skill_table([_crisis("a", [True, False], 0.5, [], [])])
    assert "brier_climatological" not in result["crises"][0]
    assert "brier_climatological" not in result["overall"]


# --------------------------------------------------------------------------- what is printed


def test_the_printed_summary_is_exactly_the_scores(tmp_path):
    """`sim score`'s terminal summary, every number checked by hand above: Brier 0.0625 and
    log score -ln(3.5/5) for war, CRPS 5.6875 of the war's day (E|X - 10| = 15.75 less half
    the mean pairwise gap 20.125), 7.5 for the losses (20 - 25 / 2), 43.75 for dead.total."""
    split = '    source: "Invented chronicle, p. 2"\n'
    text = OBS.replace(split, split + '  - outcome: borduria_gains\n    happened: true\n'
                       '    date: 2031-05-12\n    source: "Invented chronicle, p. 3"\n')
    obs = _load(tmp_path, text)
    printed = scores.format_score(scores.score_columns(obs, _columns()))
    assert printed == f"""\
Tessel valley crisis (fictional): 4 runs scored against {obs.path}

event           happened      P   Brier  log score
war                  yes  75.0%   0.062      0.357
split                no    0.0%   0.000      0.105
borduria_gains       yes  25.0%   0.562      1.204

quantity         observed     median       CRPS    PIT  in 50%  in 90%
day of war             10         16      5.688   0.12      no      no
day of split        never      never          0   0.50     yes     yes
losses.arcadia         40         40        7.5   0.50     yes     yes
dead.total            200        150      43.75   0.62     yes     yes
('never': not within the days simulated; scored as the day after the last)

mean Brier 0.208 (uninformed 0.250, skill +0.17); mean log score 0.555 (uninformed 0.693, \
skill +0.20)
coverage: 75% in the 50% intervals, 75% in the 90% intervals (4 quantities and days)
not scored: borduria_gains: no day column records when the outcome's condition first held (a \
threshold, a final value or a combination), so the date cannot be scored; the event is scored \
as happened or not"""


def test_a_run_table_that_cannot_be_scored_is_refused_in_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.errors import UsageError

    with pytest.raises(UsageError) as missing:
        scores.read_run(tmp_path)
    assert str(missing.value) == (f"{tmp_path} holds no runs.parquet; score the folder a 'sim "
                                  "run' wrote (a sweep or comparison mixes scenarios)")
    (tmp_path / "runs.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(UsageError, match=r"runs\.parquet is damaged or incomplete \("):
        scores.read_run(tmp_path)
    pq.write_table(pa.table({"run": pa.array([], pa.int64())}), tmp_path / "runs.parquet")
    with pytest.raises(UsageError) as empty:
        scores.read_run(tmp_path)
    assert str(empty.value) == f"{tmp_path / 'runs.parquet'}: no runs in it"
    pq.write_table(pa.table({"run": [0, 1, 2], "outcome.war": [True, False, True]}),
                   tmp_path / "runs.parquet")
    table = scores.read_run(tmp_path)
    assert table.runs == 3 and table.columns["outcome.war"].tolist() == [True, False, True]


# --------------------------------------------------------------------------- sim score's file


def _run_folder(tmp_path, columns: dict[str, np.ndarray]):
    """A results folder as `sim run` leaves it, with a hand-made runs table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FICTIONAL, run / "scenario.resolved.yaml")
    table = {"run": np.arange(len(next(iter(columns.values()))))} | columns
    pq.write_table(pa.table(table), run / "runs.parquet")
    return run


def test_score_run_writes_exactly_the_scores_of_its_runs(tmp_path):
    import json

    obs = _load(tmp_path, OBS)
    run = _run_folder(tmp_path, _columns())
    result = scores.score_run(run, obs.path)
    saved = json.loads((run / "score.json").read_text())
    assert saved == json.loads(json.dumps(result))
    expected = scores.score_columns(obs, _columns())
    for key in ("events", "days_of_events", "quantities", "summary", "unscored", "runs",
                "scenario", "start", "days", "cutoff", "observations"):
        assert json.loads(json.dumps(saved[key])) == json.loads(json.dumps(expected[key])), key
    assert saved["run_folder"] == str(run)
    assert saved["reliability"] == scores.reliability(expected["events"])
    assert saved["created"].endswith("+00:00") and len(saved["created"]) == 25


def test_score_run_refusals_say_what_is_missing(tmp_path):
    from sim.errors import UsageError

    obs = _load(tmp_path, OBS)
    with pytest.raises(UsageError) as no_run:
        scores.score_run(tmp_path, obs.path)
    assert str(no_run.value) == (f"{tmp_path} holds no scenario.resolved.yaml; score a folder "
                                 "written by 'sim run'")
    columns = _columns()
    del columns["dead.total"], columns["outcome.split"], columns["day.war.arcadia~borduria"]
    run = _run_folder(tmp_path, columns)
    with pytest.raises(UsageError) as no_file:
        scores.score_run(run, tmp_path / "nope.yaml")
    assert str(no_file.value) == f"{tmp_path / 'nope.yaml'}: file not found"
    with pytest.raises(UsageError) as lacking:
        scores.score_run(run, obs.path)
    assert str(lacking.value) == (f"{run}/runs.parquet lacks day.war.arcadia~borduria, "
                                  "dead.total, outcome.split; was it written by this scenario?")
    assert not (run / "score.json").exists()


def test_reliability_bins_at_their_edges():
    """Bins [0, 0.1), [0.1, 0.3), ..., [0.9, 1.0]: a forecast on a bin's low edge is in it, on
    its high edge in the next; 1.0 is in the last."""
    probabilities = [0.0, 0.1, 0.3, 0.29, 0.9, 1.0, 0.5]
    happened = [False, True, True, False, False, True, True]
    events = [{"probability": p, "happened": h}
              for p, h in zip(probabilities, happened, strict=True)]
    rows = scores.reliability(events)
    assert rows == [
        {"low": 0.0, "high": 0.1, "count": 1, "forecast": 0.0, "observed": 0.0},
        {"low": 0.1, "high": 0.3, "count": 2, "forecast": pytest.approx(0.195), "observed": 0.5},
        {"low": 0.3, "high": 0.5, "count": 1, "forecast": 0.3, "observed": 1.0},
        {"low": 0.5, "high": 0.7, "count": 1, "forecast": 0.5, "observed": 1.0},
        {"low": 0.9, "high": 1.0, "count": 2, "forecast": 0.95, "observed": 0.5}]


# --------------------------------------------------------------------------- observations files

RUN = "(2031-05-01 to 2031-06-30, 60 days); observations score what the run covers"
SOURCE = 'add source: "citation, and a short quote" (what happened is cited, never assumed)'


@pytest.mark.parametrize(("change", "problems"), [
    (("    happened: false\n", "    happened: false\n    date: 2031-05-02\n"),
     [("events[1]", "'date' is the day the outcome happened; remove it, or set happened: true",
       8, 5)]),
    (("    value: 40\n", "    value: 40\n    interval: [1, 2]\n"),
     [("quantities[0]", "give exactly one of 'value' or 'interval'", 12, 5)]),
    (("    value: 40\n", ""), [("quantities[0]", "give exactly one of 'value' or 'interval'", 12,
                                5)]),
    (("interval: [100, 300]", "interval: [300, 100]"),
     [("quantities[1]", "interval [300.0, 100.0]: low is above high", 15, 5)]),
    (("    value: 40\n", "    value: 40\n    window: [2031-05-09, 2031-05-02]\n"),
     [("quantities[0]", "window ['2031-05-09', '2031-05-02']: first date is after the last", 12,
       5)]),
    (('    source: "Invented chronicle, p. 2"\n', ""),
     [("events[1]", f"the observation has no 'source'; {SOURCE}", 8, 5)]),
    (('    source: "Invented chronicle, p. 2"', '    assumption: "guess"'),
     [("events[1]", f"the observation has an 'assumption'; {SOURCE}", 8, 5)]),
    (("description:", "descripton:"),
     [("description", "required key is missing; add it", 1, 1),
      ("descripton", "unknown key; did you mean 'description'?", 2, 1)]),
    (("    value: 40\n", "    valeu: 40\n"),
     [("quantities[0].valeu", "unknown key; did you mean 'value'?", 13, 5)]),
    (("    happened: false\n", "    happened: false\n    dat: 2031-05-02\n"),
     [("events[1].dat", "unknown key; did you mean 'date'?", 10, 5)]),
    (("outcome: split", "outcome: splitt"),
     [("events[1].outcome", "'splitt' is not an outcome of the scenario; did you mean 'split'?",
       8, 5)]),
    (("outcome: split", "outcome: zzzzzz"),
     [("events[1].outcome", "'zzzzzz' is not an outcome of the scenario; the scenario's "
       "outcomes: war, split, shield, borduria_gains", 8, 5)]),
    (("date: 2031-05-11", "date: 2031-07-01"),
     [("events[0].date", f"2031-07-01 is outside the scenario's run {RUN}", 6, 5)]),
    (("date: 2031-05-11", "date: 2031-04-30"),
     [("events[0].date", f"2031-04-30 is outside the scenario's run {RUN}", 6, 5)]),
    (("description:", "cutoff: 2030-01-01\ndescription:"),
     [("cutoff", f"2030-01-01 is outside the scenario's run {RUN}", 2, 1)]),
    (("    value: 40\n", "    value: 40\n    window: [2031-04-02, 2031-07-02]\n"),
     [("quantities[0].window[0]", f"2031-04-02 is outside the scenario's run {RUN}", 14, 14),
      ("quantities[0].window[1]", f"2031-07-02 is outside the scenario's run {RUN}", 14, 26)]),
    (("    happened: false\n", "    happened: false\n    day_indicator: losses.arcadia\n"),
     [("events[1].day_indicator", "'losses.arcadia' is not a day column of the scenario's runs",
       10, 5)]),
    (("    happened: false\n",
      "    happened: false\n    day_indicator: day.agreement.valley_splt\n"),
     [("events[1].day_indicator", "'day.agreement.valley_splt' is not a day column of the "
       "scenario's runs; did you mean 'day.agreement.valley_split'?", 10, 5)]),
    (("indicator: dead.total", "indicator: dead.totl"),
     [("quantities[1].indicator", "'dead.totl' is not an indicator column of the scenario's "
       "runs; did you mean 'dead.total'? (README lists them)", 15, 5)]),
    (("indicator: dead.total", "indicator: dead"),  # a loose match (ratio 4 / 7) still helps
     [("quantities[1].indicator", "'dead' is not an indicator column of the scenario's runs; "
       "did you mean 'dead.total'? (README lists them)", 15, 5)]),
    (("indicator: dead.total", "indicator: qqqqqqqq"),
     [("quantities[1].indicator", "'qqqqqqqq' is not an indicator column of the scenario's runs "
       "(README lists them)", 15, 5)]),
])
def test_every_problem_of_an_observations_file_exactly_where_it_is(tmp_path, change, problems):
    """What is wrong, which key, line and column: every problem the file has, in order."""
    from sim.errors import ScenarioError

    text = OBS.replace(*change)
    assert text != OBS
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, text)
    path = str(tmp_path / "three_states.observations.yaml")
    assert [(p.file, p.path, p.message, p.line, p.column) for p in info.value.problems] == [
        (path, *p) for p in problems]


def test_an_observations_file_must_observe_something_and_name_a_scenario_that_exists(tmp_path):
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError) as nothing:
        _load(tmp_path, "scenario: three_states.yaml\ndescription: Nothing.\n")
    assert [(p.path, p.message) for p in nothing.value.problems] == [
        ("", "no observations: list at least one of 'events' or 'quantities'")]
    lines = OBS.replace("scenario: three_states.yaml", "scenario: nowhere.yaml").splitlines()
    with pytest.raises(ScenarioError) as missing:  # the scenario key on line 2
        _load(tmp_path, "\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    [p] = missing.value.problems
    assert (p.path, p.message, p.line, p.column) == (
        "scenario", f"scenario file 'nowhere.yaml' not found (looked for {tmp_path}/nowhere.yaml)"
        "; the path is relative to this file", 2, 1)
    # every event's problem is reported, not only the first
    with pytest.raises(ScenarioError) as both:
        _load(tmp_path, OBS.replace("outcome: split", "outcome: splitt")
              .replace("outcome: war", "outcome: warr"))
    assert [(p.path, p.line) for p in both.value.problems] == [("events[0].outcome", 4),
                                                               ("events[1].outcome", 8)]


def test_an_events_day_column_read_off_its_condition_or_named(tmp_path):
    from sim.scenario.schema import Condition
    from sim.validation.observations import outcome_day_indicator

    rungs = ["calm", "threats", "war"]

    def day(**kw):
        return outcome_day_indicator(Condition(**kw), rungs, "war")

    assert day(indicator="day.agreement.x", op="happened") == "day.agreement.x"
    assert day(indicator="day.agreement.x", op="never") is None
    assert day(indicator="losses.a", op="happened") is None
    assert day(indicator="rung.a~b.max", op=">=", rung="war") == "day.war.a~b"
    assert day(indicator="rung.a~b.max", op=">=", rung="threats") is None
    assert day(indicator="rung.a~b.max", op=">", rung="war") is None
    assert day(indicator="rung.a~b.final", op=">=", rung="war") is None
    assert day(indicator="x.a~b.max", op=">=", rung="war") is None
    assert day(state="agreement", at="any") is None
    named = OBS.replace("    happened: false\n", "    happened: false\n"
                        "    day_indicator: day.war.arcadia~borduria\n")
    obs = _load(tmp_path, named)
    assert obs.day_indicators == {0: "day.war.arcadia~borduria", 1: "day.war.arcadia~borduria"}
    assert (obs.start.isoformat(), obs.days) == ("2031-05-01", 60)
    import datetime as dt

    assert obs.day_of(dt.date(2031, 5, 11)) == 10
    assert obs.spec.quantities[0].observed == 40.0


def test_a_quantity_no_run_has_a_value_for_is_reported_unscored(tmp_path):
    obs = _load(tmp_path, OBS)
    columns = _columns()
    columns["losses.arcadia"] = np.full(4, np.nan)
    result = scores.score_columns(obs, columns)
    assert [r["indicator"] for r in result["quantities"]] == ["dead.total"]
    assert result["unscored"] == [{"indicator": "losses.arcadia", "why": "no run has a value"}]
    assert scores.format_score(result).splitlines()[-1] == (
        "not scored: losses.arcadia: no run has a value")
    # each row keeps its source, for the report
    assert [r["source"] for r in result["events"]] == ["Invented chronicle, p. 1",
                                                       "Invented chronicle, p. 2"]
    assert [r["source"] for r in result["days_of_events"]] == ["Invented chronicle, p. 1",
                                                               "Invented chronicle, p. 2"]
    assert [r["source"] for r in result["quantities"]] == ["Invented chronicle, p. 5"]


def test_score_run_scores_against_the_scenario_as_run(tmp_path):
    """The folder's scenario.resolved.yaml (here a 50-day run of three_states) is what the
    observations are checked and scored against, not the scenario beside the observations
    file (60 days): a run that never split scores the never-day 51."""
    import json

    obs = _load(tmp_path, OBS)
    run = _run_folder(tmp_path, _columns())
    resolved = run / "scenario.resolved.yaml"
    text = resolved.read_text()
    assert text.count("days: 60") == 1
    resolved.write_text(text.replace("days: 60", "days: 50"))
    scores.score_run(run, obs.path)
    saved = json.loads((run / "score.json").read_text())
    assert saved["days"] == 50
    assert [r["observed_day"] for r in saved["days_of_events"]] == [10, 51]


def test_an_event_row_in_full_and_an_undated_event_first(tmp_path):
    """Every key of an event's row; an event that happened on an unknown day (listed first
    here) has no day row, and the events after it are all scored."""
    gains = ('  - outcome: borduria_gains\n    happened: true\n'
             '    source: "Invented chronicle, p. 3"\n')
    obs = _load(tmp_path, OBS.replace("events:\n", "events:\n" + gains))
    result = scores.score_columns(obs, _columns())
    assert [r["outcome"] for r in result["events"]] == ["borduria_gains", "war", "split"]
    assert [r["outcome"] for r in result["days_of_events"]] == ["war", "split"]
    assert result["unscored"] == []
    b, ls = 0.5625, -np.log(1.5 / 5)
    assert result["events"][0] == {
        "outcome": "borduria_gains", "happened": True, "probability": 0.25, "runs": 4,
        "count": 1, "brier": b, "log_score": pytest.approx(ls, rel=1e-12),
        "brier_uninformed": 0.25, "log_uninformed": np.log(2.0), "brier_skill": 1 - b / 0.25,
        "log_skill": pytest.approx(1 - ls / np.log(2.0), rel=1e-12), "split": "all",
        "source": "Invented chronicle, p. 3"}


def test_a_day_row_and_a_quantity_row_in_full(tmp_path):
    """Every key of the war's day row and of the losses' row, by hand: the war's first days
    [10, 12, 20, never = 61] against day 10 (2031-05-11); losses [10, 30, 50, 70] against 40
    over a window."""
    obs = _load(tmp_path, OBS.replace("    value: 40\n", "    value: 40\n"
                                      "    window: [2031-05-01, 2031-05-31]\n"))
    result = scores.score_columns(obs, _columns())
    day = np.array([10.0, 12.0, 20.0, 61.0])
    assert result["days_of_events"][0] == {
        "outcome": "war", "indicator": "day.war.arcadia~borduria", "observed_day": 10,
        "observed_date": "2031-05-11", "never_day": 61, "share_never": 0.25,
        "observed": 10.0, "median": 16.0, "mean": 25.75, "crps": pytest.approx(5.6875),
        "pit": 0.125, "interval50": scores.interval_score(day, 10.0, 0.5),
        "interval90": scores.interval_score(day, 10.0, 0.9), "covered50": False,
        "covered90": False, "split": "all", "source": "Invented chronicle, p. 1"}
    assert result["days_of_events"][1]["observed_date"] is None
    losses = np.array([10.0, 30.0, 50.0, 70.0])
    assert result["quantities"][0] == {
        "indicator": "losses.arcadia", "observed": 40.0, "median": 40.0, "mean": 40.0,
        "crps": pytest.approx(7.5), "pit": 0.5,
        "interval50": scores.interval_score(losses, 40.0, 0.5),
        "interval90": scores.interval_score(losses, 40.0, 0.9), "covered50": True,
        "covered90": True, "interval": None, "window": ["2031-05-01", "2031-05-31"],
        "split": "all", "source": "Invented chronicle, p. 4"}
    assert result["quantities"][1]["interval"] == [100.0, 300.0]
    assert result["quantities"][1]["window"] is None
    # the interval scores themselves, by hand: 50% [25, 55] covers 40, width 30
    assert scores.interval_score(losses, 40.0, 0.5) == {"low": 25.0, "high": 55.0,
                                                        "covered": True, "score": 30.0}


def test_a_day_quantity_runs_without_a_value_and_an_interval_closed_at_both_ends(tmp_path):
    """A quantity on a day column counts "never" as the day after the horizon (61); a
    quantity some runs have no value for is scored over the others; a run on the interval's
    high end is inside it."""
    text = OBS.replace("interval: [100, 300]", "interval: [100, 400]") + """\
  - indicator: day.war.arcadia~borduria
    value: 15
    source: "Invented chronicle, p. 6"
  - indicator: losses.borduria
    value: 20
    source: "Invented chronicle, p. 7"
"""
    obs = _load(tmp_path, text)
    columns = _columns() | {"losses.borduria": np.array([np.nan, 10.0, np.nan, 30.0])}
    result = scores.score_columns(obs, columns)
    assert (result["start"], result["days"], result["runs"]) == ("2031-05-01", 60, 4)
    dead, war_day, borduria = result["quantities"][1:]
    assert dead["share_in_observed_interval"] == 0.75  # 100, 200 and 400 of [0, 100, 200, 400]
    assert war_day["median"] == 16.0 and war_day["mean"] == (10 + 12 + 20 + 61) / 4
    assert war_day["pit"] == 0.5  # 10 and 12 below 15
    assert borduria["mean"] == 20.0 and borduria["median"] == 20.0 and borduria["pit"] == 0.5
    assert borduria["crps"] == pytest.approx(10 - 10 / 2)  # E|X - 20| = 10, E|X - X'| = 10


def test_skill_against_a_zero_or_unit_reference():
    """No skill can be computed against a perfect reference (0); against 1 it is 1 - score."""
    assert scores.skill(0.1, 0.0) is None
    assert scores.skill(0.25, 1.0) == 0.75
    assert scores.skill(0.0, 0.25) == 1.0


def test_the_sources_are_the_observations_own(tmp_path):
    """A source for the whole file (a top-level note) is allowed and is no observation's."""
    obs = _load(tmp_path, 'source: "A chronicle of it all"\n' + OBS)
    assert sorted(obs.sources) == [("events", 0), ("events", 1), ("quantities", 0),
                                   ("quantities", 1)]
    assert obs.sources[("events", 1)].text == "Invented chronicle, p. 2"
