"""Outcomes impossible by construction, told apart from rare ones (issue 24, item 6).

Every claim is checked against an ensemble: an outcome the structure calls impossible is in no
run, one it calls certain in every run; and the analysis claims nothing it cannot prove."""

from __future__ import annotations

import yaml

from sim.analysis import outcome_table
from sim.cli import main
from sim.reachability import (
    CERTAIN,
    IMPOSSIBLE,
    explain_extremes,
    format_extremes,
    outcome_verdicts,
)
from sim.scenario.loader import load_scenario
from tests.conftest import FICTIONAL, ensemble


def _variant(tmp_path, change) -> object:
    data = yaml.safe_load(FICTIONAL.read_text())
    change(data)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(path)


def _drop(data, actor: str, verb: str) -> None:
    actions = data["actors"][actor]["actions"]
    data["actors"][actor]["actions"] = [a for a in actions if a["verb"] != verb]


def _frozen(data) -> None:
    """No deal can be proposed, no asset granted, nobody attacks: a frozen valley."""
    for actor in ("arcadia", "borduria"):
        _drop(data, actor, "negotiate")
        _drop(data, actor, "attack")
    _drop(data, "corvalia", "grant_support")
    data["outcomes"].update({
        "no_split": {"description": "no split", "when": {"not": {
            "indicator": "day.agreement.valley_split", "op": "happened"}}},
        "arcadia_keeps": {"description": "Arcadia keeps most",
                          "when": {"indicator": "control.valley.arcadia.final", "op": ">",
                                   "value": 0.5}},
        "split_or_war": {"description": "either", "when": {"any": [
            {"state": "agreement.valley_split", "at": "any"},
            {"indicator": "rung.arcadia~borduria.max", "op": ">=", "rung": "war"}]}},
        "long_spell": {"description": "a pass open 90 days in a row",
                       "when": {"state": "gate.north_pass", "held": 90}},
    })


def test_the_shipped_scenario_claims_nothing(fictional):
    assert all(v.verdict is None for v in outcome_verdicts(fictional.spec).values())


def test_structural_claims_are_right_and_conservative(tmp_path):
    loaded = _variant(tmp_path, _frozen)
    v = outcome_verdicts(loaded.spec)
    assert v["split"].verdict == IMPOSSIBLE and "negotiate" in v["split"].why
    assert v["shield"].verdict == IMPOSSIBLE and "grant_support" in v["shield"].why
    assert v["borduria_gains"].verdict == IMPOSSIBLE and "cannot change hands" in \
        v["borduria_gains"].why
    assert v["no_split"].verdict == CERTAIN and v["arcadia_keeps"].verdict == CERTAIN
    assert v["long_spell"].verdict == IMPOSSIBLE and "60 days" in v["long_spell"].why
    # the ladder's dynamics are never decided: war stays open, and so does "split or war"
    assert v["war"].verdict is None and v["split_or_war"].verdict is None
    # an ensemble agrees with every claim
    rows = {r["outcome"]: r for r in outcome_table(ensemble(loaded, runs=40))}
    for name, verdict in v.items():
        if verdict.verdict == IMPOSSIBLE:
            assert rows[name]["count"] == 0, name
        elif verdict.verdict == CERTAIN:
            assert rows[name]["count"] == rows[name]["runs"], name


def test_a_gate_opened_for_good_makes_its_state_at_some_time_certain(tmp_path):
    """A counterfactual that opens a gate from the start and fixes it open: "open at some
    time" is its premise, certain by construction (as an asset deployed on day 0). Not when
    its owner can close it (the day-0 record comes after that morning's choices: measured, 27
    of 40 runs), nor when its state is drawn per run or a dated event closes it."""
    def opened(data, policy="open"):
        data["refugees"]["gates"]["north_pass"].update(open=True, policy=policy)
        data["outcomes"]["pass_opened"] = {"description": "the pass is open at some time",
                                           "when": {"state": "gate.north_pass", "at": "any"}}

    loaded = _variant(tmp_path, opened)
    v = outcome_verdicts(loaded.spec)
    assert v["pass_opened"].verdict == CERTAIN and "nothing can close it" in v["pass_opened"].why
    rows = {r["outcome"]: r for r in outcome_table(ensemble(loaded, runs=40))}
    assert rows["pass_opened"]["count"] == rows["pass_opened"]["runs"]
    varied = frozenset({"refugees.gates.north_pass.open"})
    assert outcome_verdicts(loaded.spec, varied)["pass_opened"].verdict is None
    # its owner may close it (close_gate on Borduria's menu): undecided
    decided = _variant(tmp_path, lambda data: opened(data, "decide"))
    assert outcome_verdicts(decided.spec)["pass_opened"].verdict is None

    def closed_later(data):
        opened(data)
        data.setdefault("timeline", []).append({
            "date": "2031-05-20", "name": "closed", "kind": "gate", "gate": "north_pass",
            "open": False})

    assert outcome_verdicts(_variant(tmp_path, closed_later).spec)["pass_opened"].verdict \
        is None


def test_one_route_left_open_is_enough_to_make_it_possible(tmp_path):
    def one_attack(data):
        _frozen(data)
        data["actors"]["borduria"]["actions"].append({"verb": "attack", "target": "arcadia"})

    v = outcome_verdicts(_variant(tmp_path, one_attack).spec)
    assert v["borduria_gains"].verdict is None and v["arcadia_keeps"].verdict is None

    def mediated(data):
        _frozen(data)
        data["deals"]["valley_split"]["mediators"] = ["corvalia"]
        data["actors"]["corvalia"]["actions"].append({"verb": "negotiate",
                                                      "deal": "valley_split"})

    v = outcome_verdicts(_variant(tmp_path, mediated).spec)
    # a mediator can propose the split, and the split transfers the valley
    assert v["split"].verdict is None and v["borduria_gains"].verdict is None


def test_values_drawn_per_run_are_never_relied_on(tmp_path):
    def no_ground(data):
        _frozen(data)
        data["actors"]["borduria"]["actions"].append({"verb": "attack", "target": "arcadia"})
        data["actors"]["borduria"]["capabilities"]["ground"] = 0.0

    loaded = _variant(tmp_path, no_ground)
    # without ground forces Borduria's attacks cannot take ground ...
    assert outcome_verdicts(loaded.spec)["borduria_gains"].verdict == IMPOSSIBLE
    # ... unless its ground forces are drawn per run
    varied = frozenset({"actors.borduria.capabilities.ground"})
    assert outcome_verdicts(loaded.spec, varied)["borduria_gains"].verdict is None


def test_rare_and_impossible_are_told_apart(tmp_path, capsys):
    loaded = _variant(tmp_path, _frozen)
    rows = [{"outcome": "split", "count": 0, "runs": 200},
            {"outcome": "war", "count": 0, "runs": 200},
            {"outcome": "no_split", "count": 200, "runs": 200},
            {"outcome": "shield", "count": 3, "runs": 200}]
    found = {r["outcome"]: r for r in explain_extremes(loaded.spec, rows)}
    assert set(found) == {"split", "war", "no_split"}
    assert found["split"]["by_construction"] and not found["war"]["by_construction"]
    text = format_extremes(list(found.values()))
    assert "split: impossible by construction (no actor has 'negotiate'" in text
    assert "war: possible but not seen in any of 200 runs: rare, not impossible" in text
    assert "no_split: certain by construction" in text
    # sim run prints the same distinction
    assert main(["run", str(loaded.path), "--runs", "20", "--workers", "1", "--out",
                 str(tmp_path / "out"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "shield: impossible by construction" in out
    # and so does the report of the run
    assert main(["report", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<code>shield</code>: <b>impossible by construction</b>" in page


def test_sim_check_warns_of_an_objective_that_cannot_change_hands_in_time(capsys):
    """Issue #26: an objective whose speed lets almost nothing move within the run, and an
    outcome on its control that therefore cannot be reached, are said before anything runs."""
    from sim.cli import main
    from sim.reachability import control_reach, horizon_warnings

    from .conftest import FICTIONAL

    slow = load_scenario(FICTIONAL, ["theatre.objectives.valley.speed=0.00001"])
    reach = control_reach(slow.spec)["valley"]
    assert 0 < reach < 0.01
    warnings = horizon_warnings(slow.spec)
    assert any("objective 'valley' effectively cannot change hands" in w for w in warnings)
    assert any(w.startswith("outcome 'borduria_gains' cannot be reached within 60 days")
               for w in warnings)
    assert horizon_warnings(load_scenario(FICTIONAL).spec) == []  # as written: no warning
    assert main(["check", str(FICTIONAL), "--set",
                 "theatre.objectives.valley.speed=0.00001"]) == 0
    assert "warning: outcome 'borduria_gains' cannot be reached" in capsys.readouterr().out


def test_a_run_that_does_not_draw_the_priors_says_so(capsys, baseline, fictional):
    from sim.cli import _point_values_note

    _point_values_note(baseline, "a comparison")
    err = capsys.readouterr().err
    assert f"declares {len(baseline.uncertain)} values with a range or prior" in err
    assert "a comparison runs their point values" in err
    _point_values_note(fictional, "a sweep")  # no priors: nothing to say
    assert capsys.readouterr().err == ""


def test_the_deals_an_outcome_needs_are_read_conservatively(tmp_path):
    """An outcome needs a deal when every way of holding passes through its signing."""
    from sim.reachability import required_deals

    loaded = _variant(tmp_path, _frozen)
    when = {name: o.when for name, o in loaded.spec.outcomes.items()}
    assert required_deals(when["split"]) == {"valley_split"}
    assert required_deals(when["no_split"]) == set()  # not: signing is what it must avoid
    assert required_deals(when["split_or_war"]) == set()  # war alone will do
    assert required_deals(when["war"]) == set()


def _out_of_reach(data) -> None:
    """The split hands Arcadia the valley Borduria holds and wants: Borduria never signs."""
    data["deals"]["valley_split"]["transfer"]["valley"] = {"arcadia": 1.0, "borduria": 0.0,
                                                           "assumption": "invented"}
    data["theatre"]["objectives"]["valley"]["control"] = {"arcadia": 0.1, "borduria": 0.9,
                                                          "assumption": "invented"}
    data["actors"]["borduria"]["interests"] = {"territory": 0.9, "losses": 0.05,
                                               "escalation": 0.05, "assumption": "invented"}


def test_a_deal_no_run_had_within_reach_is_told_from_a_rare_one(tmp_path, capsys):
    """sim run and its report say of an outcome seen in no run that needs a deal no run had
    within reach that the values hold it there, naming the unwilling party; the claim is
    the runs' own record (every run's margin below zero), and the shipped scenario, whose
    split is within reach in some runs, gets no such line."""
    from sim.execution.storage import read_runs

    loaded = _variant(tmp_path, _out_of_reach)
    out_dir = tmp_path / "out"
    assert main(["run", str(loaded.path), "--runs", "40", "--workers", "1", "--out",
                 str(out_dir), "--no-progress"]) == 0
    text = capsys.readouterr().out
    runs = read_runs(out_dir / "runs.parquet")
    assert not runs["outcome.split"].any()
    assert (runs["reach.valley_split"] < 0).all()
    assert (runs["reach.valley_split.borduria"] < 0).all()
    assert (runs["reach.valley_split.arcadia"] > 0).any()
    best = runs["reach.valley_split.borduria"].max()
    assert (f"split: possible but not seen in any of 40 runs: rare, not impossible (the "
            f"structure does not forbid it); deal valley_split was never within reach: "
            f"borduria's perceived surplus from it stayed below zero in every run (at best "
            f"{best:.3g} utility units)") in text
    assert main(["report", str(out_dir)]) == 0
    page = (out_dir / "report.html").read_text()
    assert "deal valley_split was never within reach: borduria&#x27;s perceived" in page
    # where some run had every party willing on a day, nothing is claimed
    shipped = tmp_path / "shipped"
    assert main(["run", str(FICTIONAL), "--runs", "40", "--workers", "1", "--out",
                 str(shipped), "--no-progress"]) == 0
    assert "never within reach" not in capsys.readouterr().out
    assert (read_runs(shipped / "runs.parquet")["reach.valley_split"] > 0).any()
