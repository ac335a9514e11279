"""Observations files and proper scores: hand-computed values for every score (issue 13)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from sim.cli import main
from sim.errors import ScenarioError
from sim.validation import scores
from sim.validation.observations import load_observations
from tests.conftest import FICTIONAL, SCENARIOS

OBS = """\
scenario: three_states.yaml
description: A made-up account of what followed.
events:
  - outcome: war
    happened: true
    date: 2031-05-11
    source: "Invented chronicle, p. 1: 'war on the eleventh'"
  - outcome: split
    happened: false
    source: "Invented chronicle, p. 2"
  - outcome: borduria_gains
    happened: true
    source: "Invented chronicle, p. 3"
quantities:
  - indicator: losses.arcadia
    value: 40
    window: [2031-05-01, 2031-06-30]
    source: "Invented chronicle, p. 4"
  - indicator: dead.total
    interval: [100, 300]
    source: "Invented chronicle, p. 5"
"""


@pytest.fixture
def folder(tmp_path):
    shutil.copy(FICTIONAL, tmp_path / "three_states.yaml")
    (tmp_path / "three_states.observations.yaml").write_text(OBS)
    return tmp_path


# --------------------------------------------------------------------------- single scores


def test_brier_and_log_score_by_hand():
    assert scores.brier(0.2, True) == pytest.approx(0.64)
    assert scores.brier(0.2, False) == pytest.approx(0.04)
    assert scores.log_score(0.25, True) == pytest.approx(math.log(4))
    assert scores.log_score(0.25, False) == pytest.approx(-math.log(0.75))
    # the uninformed baseline scores its own constants
    assert scores.brier(0.5, True) == pytest.approx(scores.BRIER_UNINFORMED)
    assert scores.log_score(0.5, False) == pytest.approx(scores.LOG_UNINFORMED)


def test_event_probability_never_gives_an_infinite_log_score():
    p, p_log = scores.event_probability(0, 10)
    assert p == 0.0 and p_log == pytest.approx(0.5 / 11)
    assert scores.log_score(p_log, True) == pytest.approx(math.log(22))


def test_skill_score():
    assert scores.skill(0.125, 0.25) == pytest.approx(0.5)
    assert scores.skill(0.25, 0.25) == 0.0
    assert scores.skill(0.5, 0.25) == pytest.approx(-1.0)


def test_crps_by_hand():
    # E|X - y| - E|X - X'| / 2 over the empirical distribution
    assert scores.crps(np.array([0.0, 1.0, 2.0]), 1.0) == pytest.approx(2 / 3 - 4 / 9)
    assert scores.crps(np.array([5.0, 5.0]), 3.0) == pytest.approx(2.0)
    assert scores.crps(np.array([0.0, 4.0]), 1.0) == pytest.approx(1.0)


def test_pit_by_hand():
    assert scores.pit(np.array([1, 2, 3, 4]), 2.5) == 0.5
    assert scores.pit(np.array([1, 2, 2, 3]), 2) == 0.5  # mid-rank of the ties
    assert scores.pit(np.array([1, 2, 3, 4]), 0) == 0.0
    assert scores.pit(np.array([1, 2, 3, 4]), 9) == 1.0


def test_interval_coverage_and_interval_score_by_hand():
    samples = np.arange(101.0)  # quantiles are exact: q25 = 25, q75 = 75, q05 = 5, q95 = 95
    inside = scores.interval_score(samples, 50.0, 0.5)
    assert (inside["low"], inside["high"], inside["covered"]) == (25.0, 75.0, True)
    assert inside["score"] == pytest.approx(50.0)  # its width
    above = scores.interval_score(samples, 100.0, 0.5)
    assert not above["covered"]
    assert above["score"] == pytest.approx(50.0 + 2 / 0.5 * 25.0)
    wide = scores.interval_score(samples, 85.0, 0.9)
    assert wide["covered"] and wide["score"] == pytest.approx(90.0)


def test_never_is_the_day_after_the_horizon():
    assert scores.day_samples(np.array([np.nan, 3.0]), 10).tolist() == [11.0, 3.0]


def test_reliability_bins():
    events = [{"probability": 0.05, "happened": False}, {"probability": 0.95, "happened": True},
              {"probability": 1.0, "happened": False}]
    bins = scores.reliability(events)
    assert [(b["low"], b["count"]) for b in bins] == [(0.0, 1), (0.9, 2)]
    assert bins[1]["forecast"] == pytest.approx(0.975) and bins[1]["observed"] == 0.5


# --------------------------------------------------------------------------- observations


def test_observations_load_and_cross_check(folder):
    obs = load_observations(folder / "three_states.observations.yaml")
    assert [e.outcome for e in obs.spec.events] == ["war", "split", "borduria_gains"]
    assert obs.day_indicators == {0: "day.war.arcadia~borduria",
                                  1: "day.agreement.valley_split", 2: None}
    assert obs.sources[("quantities", 1)].text == "Invented chronicle, p. 5"
    assert obs.spec.quantities[1].observed == 200.0


@pytest.mark.parametrize(("change", "message"), [
    (("outcome: split", "outcome: splitt"), "'splitt' is not an outcome of the scenario; did "
     "you mean 'split'?"),
    (("indicator: dead.total", "indicator: deaths.total"), "is not an indicator column"),
    (("date: 2031-05-11", "date: 2031-09-11"), "outside the scenario's run"),
    (("    happened: false\n", "    happened: false\n    date: 2031-05-02\n"),
     "remove it, or set happened: true"),
    (("    value: 40\n", "    value: 40\n    interval: [1, 2]\n"),
     "exactly one of 'value' or 'interval'"),
    (("    source: \"Invented chronicle, p. 2\"", "    assumption: \"guess\""),
     "has an 'assumption'"),
    (("    window:", "    windw:"), "unknown key; did you mean 'window'?"),
    (("scenario: three_states.yaml", "scenario: nowhere.yaml"), "not found"),
])
def test_bad_observations_are_located(folder, change, message):
    path = folder / "three_states.observations.yaml"
    text = OBS.replace(*change)
    assert text != OBS
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_observations(path)
    problem = info.value.problems[0]
    assert message in problem.message
    assert problem.file == str(path) and problem.line is not None


def test_duplicate_keys_and_tags_refused_by_the_shared_reader(folder):
    path = folder / "three_states.observations.yaml"
    path.write_text(OBS.replace("description:", "cutoff: !!python/object:os.system x\n"
                                "description:"))
    with pytest.raises(ScenarioError, match="not allowed"):
        load_observations(path)


# --------------------------------------------------------------------------- a scored run


def test_score_columns_by_hand(folder):
    obs = load_observations(folder / "three_states.observations.yaml")
    runs = 4
    nan = np.nan
    columns = {
        "outcome.war": np.array([1, 1, 1, 0], bool),
        "outcome.split": np.array([0, 0, 0, 0], bool),
        "outcome.borduria_gains": np.array([1, 0, 0, 0], bool),
        "day.war.arcadia~borduria": np.array([10.0, 12.0, 20.0, nan]),
        "day.agreement.valley_split": np.full(runs, nan),
        "losses.arcadia": np.array([10.0, 30.0, 50.0, 70.0]),
        "dead.total": np.array([0.0, 100.0, 200.0, 400.0]),
    }
    result = scores.score_columns(obs, columns)
    war, split, gains = result["events"]
    assert war["probability"] == 0.75 and war["brier"] == pytest.approx(0.0625)
    assert war["log_score"] == pytest.approx(-math.log(3.5 / 5))
    assert split["brier"] == 0.0 and split["log_score"] == pytest.approx(-math.log(1 - 0.5 / 5))
    assert gains["brier"] == pytest.approx(0.5625)
    assert war["brier_skill"] == pytest.approx(1 - 0.0625 / 0.25)
    day_war, day_split = result["days_of_events"]
    assert day_war["observed_day"] == 10
    samples = np.array([10.0, 12.0, 20.0, 61.0])  # never = horizon 60 + 1
    pairwise = np.abs(samples[:, None] - samples[None, :]).mean()
    assert day_war["crps"] == pytest.approx(np.abs(samples - 10).mean() - pairwise / 2)
    assert day_war["pit"] == pytest.approx(0.125)
    assert day_split["observed_day"] == 61 and day_split["crps"] == 0.0
    losses, dead = result["quantities"]
    assert losses["pit"] == 0.5 and losses["covered50"]
    assert dead["observed"] == 200.0 and dead["share_in_observed_interval"] == 0.5
    s = result["summary"]
    assert s["brier"] == pytest.approx((0.0625 + 0 + 0.5625) / 3)
    assert s["events"] == 3 and s["days"] == 2 and s["quantities"] == 2


def test_sim_score_end_to_end_and_report(folder, capsys):
    out = folder / "run"
    assert main(["run", str(folder / "three_states.yaml"), "--runs", "60", "--workers", "1",
                 "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["score", str(out), str(folder / "three_states.observations.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "mean Brier" in printed and "day of war" in printed
    saved = json.loads((out / "score.json").read_text())
    assert saved["runs"] == 60 and len(saved["events"]) == 3
    assert 0.0 <= saved["summary"]["brier"] <= 1.0
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "Scores against what happened" in page and "reliability diagram" in page


def test_sim_score_refuses_a_folder_without_a_run(folder, capsys):
    assert main(["score", str(folder), str(folder / "three_states.observations.yaml")]) == 2
    assert "scenario.resolved.yaml" in capsys.readouterr().err


def test_the_day_indicator_advice_names_a_column_or_says_there_is_none():
    """Issue #26: `sim score` advised `day_indicator:` for outcomes with no day column to
    name; it now names the columns the outcome's condition refers to, or says there are none."""
    from sim.scenario.schema import Condition
    from sim.validation.observations import day_candidates, load_observations

    columns = {"day.opened.x", "day.agreement", "day.war.a~b", "day.granted.p"}
    gate = Condition.model_validate({"state": "gate.x", "at": "any"})
    assert day_candidates(gate, columns) == ["day.opened.x"]
    both = Condition.model_validate({"all": [{"state": "agreement", "held": 7},
                                             {"indicator": "control.z.a.final", "op": ">=",
                                              "value": 0.75}]})
    assert day_candidates(both, columns) == ["day.agreement"]
    threshold = Condition.model_validate({"indicator": "control.z.a.final", "op": ">=",
                                          "value": 0.75})
    assert day_candidates(threshold, columns) == []
    obs = load_observations(SCENARIOS / "calibration" / "idlib_2020_early.observations.yaml")
    named = {obs.spec.events[i].outcome: c for i, c in obs.day_candidates.items()}
    assert named["gate_opened"] == ["day.opened.turkey_eu_border"]
