"""Cross-validation and recalibration (issue 24): hand computations on tiny inputs, a known
slope recovered, and no leak of a held-out crisis into its own forecasts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.errors import UsageError
from sim.validation import crossval, recalibration
from sim.validation.recalibration import CLIP, Fit, fit


def _crisis(name: str, events: list[tuple[int, bool]], runs: int = 100) -> dict:
    # events alternate between two kinds, so the kind model has something to fit
    """A crisis as validate_library gathers it: (count of runs with the outcome, happened)."""
    return {"crisis": name, "scenario": f"scenario {name}", "scenario_file": f"{name}.yaml",
            "kinds": {f"e{i}": ("war", "agreement")[i % 2] for i in range(len(events))},
            "score": {"events": [{"outcome": f"e{i}", "probability": k / runs, "runs": runs,
                                  "count": k, "happened": h}
                                 for i, (k, h) in enumerate(events)]}}


def _library(seed: int = 3, crises: int = 6, per: int = 9) -> list[dict]:
    """Crises whose outcomes follow expit(-0.3 + 0.5 logit p): an overconfident model."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(crises):
        counts = rng.integers(0, 101, size=per)
        x = recalibration.logit_clipped(counts / 100)
        happened = rng.random(per) < 1 / (1 + np.exp(-(-0.3 + 0.5 * x)))
        out.append(_crisis(f"c{c}", [(int(k), bool(h)) for k, h in
                                     zip(counts, happened, strict=True)]))
    return out


# --------------------------------------------------------------------------- recalibration


def test_recalibration_recovers_a_known_slope_and_intercept():
    rng = np.random.default_rng(11)
    n, a, b = 40_000, -0.4, 0.6
    p = 1 / (1 + np.exp(-rng.normal(0.0, 1.6, n)))
    x = recalibration.logit_clipped(p)
    y = rng.random(n) < 1 / (1 + np.exp(-(a + b * x)))
    f = fit(p, y)
    # standard errors at this size are about 0.012 (intercept) and 0.009 (slope)
    assert f.intercept == pytest.approx(a, abs=0.05)
    assert f.slope == pytest.approx(b, abs=0.04)
    assert f.note is None and f.events == n and f.happened == int(y.sum())
    # a calibrated model's own probabilities are left (nearly) as they are
    y2 = rng.random(n) < np.clip(p, CLIP, 1 - CLIP)
    g = fit(p, y2)
    assert g.slope == pytest.approx(1.0, abs=0.05) and g.intercept == pytest.approx(0, abs=0.05)


def test_recalibration_clips_and_handles_degenerate_events():
    assert recalibration.logit_clipped([0.0, 1.0, 0.5]) == pytest.approx(
        [math.log(CLIP / (1 - CLIP)), math.log((1 - CLIP) / CLIP), 0.0])
    f = fit([0.1, 0.9, 0.4], [False, False, False])  # no event happened: base rate only
    assert f.slope == 0 and f.note and "same outcome" in f.note
    assert f.apply([0.0, 1.0]) == pytest.approx([0.5 / 4, 0.5 / 4])  # (0 + 0.5) / (3 + 1)
    g = fit([0.3, 0.3, 0.3, 0.3], [True, False, True, True])  # one raw probability
    assert g.slope == 0 and g.apply(0.9) == pytest.approx(3.5 / 5)
    # separated events have no finite maximum likelihood: base rate, said so
    h = fit([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [False, False, False, True, True, True])
    assert h.slope == 0 and "separated" in h.note and h.apply(0.5) == pytest.approx(3.5 / 7)
    with pytest.raises(ValueError):
        fit([], [])
    assert Fit(0.0, 1.0, 1, 0).apply(0.3) == pytest.approx(0.3)


# --------------------------------------------------------------------------- LOCO


def test_loco_never_sees_the_held_out_crisis():
    # the spy: every fit is given only masks whose training side excludes the test crisis
    crisis = np.array([0, 0, 1, 1, 1, 2])
    seen = []

    def spy(train, test):
        assert not (train & test).any() and (train | test).all()
        assert len(set(crisis[test])) == 1 and crisis[test][0] not in set(crisis[train])
        seen.append(int(crisis[test][0]))
        return np.zeros(test.sum())

    crossval.leave_one_crisis_out(crisis, np.zeros(6, bool), spy)
    assert seen == [0, 1, 2]


def test_a_planted_crisis_signal_does_not_leak_into_its_own_forecasts():
    library = _library()
    # plant: in crisis c2 every event happens exactly where the model said (nearly) never
    planted = [dict(c) for c in library]
    planted[2] = _crisis("c2", [(k, k < 30) for k in (0, 5, 10, 20, 40, 60, 80, 95, 100)])
    flipped = [dict(c) for c in planted]
    flipped[2] = _crisis("c2", [(k, not (k < 30)) for k in (0, 5, 10, 20, 40, 60, 80, 95, 100)])
    a, b = crossval.cross_validate(planted), crossval.cross_validate(flipped)
    held = [f for f in a["forecasts"] if f["crisis"] == "c2"]
    held_b = [f for f in b["forecasts"] if f["crisis"] == "c2"]
    # c2's own LOCO forecasts do not move when c2's outcomes are turned upside down ...
    for x, y in zip(held, held_b, strict=True):
        assert x["recalibrated"] == pytest.approx(y["recalibrated"], abs=1e-9)
        assert x["climatology"] == pytest.approx(y["climatology"], abs=1e-9)
    # ... they are what a fit on the other crises alone gives ...
    others = [c for c in planted if c["crisis"] != "c2"]
    t = crossval.event_table(others)
    alone = fit(t["p"], t["y"])
    assert [x["recalibrated"] for x in held] == pytest.approx(
        list(alone.apply([x["raw"] for x in held])))
    assert held[0]["climatology"] == pytest.approx((t["y"].sum() + 0.5) / (t["y"].size + 1))
    # ... while the other crises' forecasts do move (the test can fail)
    moved = [abs(x["recalibrated"] - y["recalibrated"])
             for x, y in zip(a["forecasts"], b["forecasts"], strict=True) if x["crisis"] != "c2"]
    assert max(moved) > 0.01
    # the planted (reversed) signal is not rewarded: c2's LOCO fit has a positive slope
    row = next(r for r in a["crises"] if r["crisis"] == "c2")
    assert row["loco_fit_recalibrated"]["slope"] > 0
    # the kind model does not leak either: c2's forecasts move with nothing of c2's outcomes
    for x, y in zip(held, held_b, strict=True):
        assert x["recalibrated_kind"] == pytest.approx(y["recalibrated_kind"], abs=1e-9)


# --------------------------------------------------------------------------- bootstrap, Murphy


def test_crisis_bootstrap_by_hand():
    # crisis A: two events scoring 1; crisis B: one event scoring 0
    values, crisis = np.array([1.0, 1.0, 0.0]), np.array([0, 0, 1])
    draws = crossval.bootstrap_draws(2, draws=4000, seed=5)
    means = crossval.pooled_means(values, crisis, 2, draws)
    # each draw pools the events of the crises drawn: AA -> 1, BB -> 0, AB or BA -> 2/3
    expected = np.where(draws.sum(axis=1) == 0, 1.0,
                        np.where(draws.sum(axis=1) == 2, 0.0, 2 / 3))
    assert means == pytest.approx(expected)
    assert set(np.round(means, 12)) == {1.0, 0.0, round(2 / 3, 12)}
    assert np.mean(means == 1.0) == pytest.approx(0.25, abs=0.03)
    assert crossval.interval(means) == [0.0, 1.0]
    # the same seed, the same draws; a single crisis has no spread
    assert (crossval.bootstrap_draws(2, 4000, 5) == draws).all()
    one = crossval.pooled_means(np.array([0.2, 0.4]), np.array([0, 0]), 1,
                                crossval.bootstrap_draws(1, 50))
    assert crossval.interval(one) == pytest.approx([0.3, 0.3])


def test_murphy_decomposition_by_hand():
    # one forecast per bin: the three terms add up to the Brier score exactly
    m = crossval.murphy([0.05, 0.15, 0.95], [0, 1, 1])
    assert m["reliability"] == pytest.approx((0.05 ** 2 + 0.85 ** 2 + 0.05 ** 2) / 3)
    assert m["resolution"] == pytest.approx(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 3)
    assert m["uncertainty"] == pytest.approx(2 / 9)
    assert m["brier"] == pytest.approx((0.05 ** 2 + 0.85 ** 2 + 0.05 ** 2) / 3)
    assert m["within_bins"] == pytest.approx(0.0, abs=1e-12)
    assert [r["count"] for r in m["rows"]] == [1, 1, 1]
    # two forecasts in one bin [0.1, 0.2): the remainder is the within-bin term
    m = crossval.murphy([0.12, 0.18], [0, 1])
    assert m["reliability"] == pytest.approx(0.35 ** 2)
    assert m["resolution"] == pytest.approx(0.0)
    assert m["uncertainty"] == pytest.approx(0.25)
    assert m["brier"] == pytest.approx((0.12 ** 2 + 0.82 ** 2) / 2)
    assert m["within_bins"] == pytest.approx(m["brier"] - (0.35 ** 2 + 0.25))
    # 1.0 falls in the last bin, 0.0 in the first
    m = crossval.murphy([0.0, 1.0], [0, 1])
    assert [(r["low"], r["high"]) for r in m["rows"]] == [(0.0, 0.1), (0.9, 1.0)]


def test_cross_validate_scores_and_intervals_are_consistent():
    cv = crossval.cross_validate(_library(seed=7))
    o = cv["overall"]
    assert o["crises"] == 6 and o["events"] == 54
    rows = {r["crisis"]: r for r in cv["crises"]}
    # the overall raw Brier is the event-weighted mean of the crises'
    assert o["raw"]["brier"] == pytest.approx(
        sum(r["raw"]["brier"] * r["events"] for r in rows.values()) / 54)
    for k in ("raw", "recalibrated", "recalibrated_kind", "climatology"):
        low, high = o[k]["brier_interval"]
        assert low <= o[k]["brier"] <= high
        assert o[k]["brier_skill"] == pytest.approx(1 - o[k]["brier"] / 0.25)
    d = o["differences"]["recalibrated-raw"]["brier"]
    assert d["mean"] == pytest.approx(o["recalibrated"]["brier"] - o["raw"]["brier"])
    # overconfident raw forecasts (true slope 0.5): the fit shrinks them
    assert 0.1 < cv["fit"]["slope"] < 1.0
    # the kind model is used only if its Brier gain's interval excludes 0 (here the kinds are
    # noise, so it is not)
    gain = o["differences"]["recalibrated_kind-recalibrated"]["brier"]["interval"]
    assert cv["selected"] == ("recalibrated_kind" if gain[1] < 0 and o["recalibrated_kind"][
        "log_score"] < o["recalibrated"]["log_score"] else "recalibrated")
    assert cv["selected"] == "recalibrated"
    text = crossval.markdown_cv(cv)
    assert "| `c0` |" in text and "recalibrated (LOCO)" in text and "How far to trust" in text
    assert f"slope b = {cv['fit']['slope']:.2f}" in text


# --------------------------------------------------------------------------- the stored file


def test_recalibration_file_round_trip_and_labels(tmp_path):
    cv = crossval.cross_validate(_library(seed=9))
    record = recalibration.recalibration_record(cv, tmp_path, runs=100)
    path = tmp_path / recalibration.FILE_NAME
    path.write_text(json.dumps(record))
    outcomes = [{"outcome": "war", "probability": 0.0}, {"outcome": "deal", "probability": 0.9}]
    # a crisis of the library: its held-out fit, and the label says so
    mine = recalibration.calibrated_outcomes(outcomes, scenario_file=tmp_path / "c3.yaml",
                                             path=path)
    loco = next(c[f"loco_fit_{cv['selected']}"] for c in cv["crises"] if c["crisis"] == "c3")
    assert mine["held_out"] == "c3" and mine["slope"] == loco["slope"]
    assert mine["rows"][0]["calibrated"] == pytest.approx(float(Fit(
        loco["intercept"], loco["slope"], 1, 0).apply(0.0)))
    assert "5 other crises" in mine["basis"] and "c3, held out" in mine["basis"]
    # any other scenario: the fit on the whole library, labelled as a rough guide
    other = recalibration.calibrated_outcomes(outcomes, scenario_name="elsewhere", path=path)
    full = cv["fit_kind"] if cv["selected"] == "recalibrated_kind" else cv["fit"]
    assert other["held_out"] is None and other["slope"] == pytest.approx(full["slope"])
    assert "not one of them" in other["basis"] and "6 crises (54 events)" in other["basis"]
    table = recalibration.format_outcomes_calibrated(
        [{**o, "low": 0.0, "high": 1.0, "count": 0, "runs": 10} for o in outcomes], other)
    assert "calibrated" in table.splitlines()[0] and table.endswith(other["basis"])
    # damaged or hostile files are refused in one line
    record["slope"] = 1e9
    path.write_text(json.dumps(record))
    with pytest.raises(UsageError, match="slope"):
        recalibration.read_recalibration(path)
    path.write_text("{\"format\": 1}")
    with pytest.raises(UsageError, match="damaged"):
        recalibration.read_recalibration(path)


def test_event_kinds_and_the_kind_model(fictional):
    from sim.scenario.schema import Condition

    kind = recalibration.condition_kind
    assert kind(Condition(indicator="day.agreement.x", op="happened")) == "agreement"
    assert kind(Condition(state="asset.shield", at="any")) == "asset"
    assert kind(Condition.model_validate({"not": {"any": [
        {"indicator": "control.v.a.final", "op": ">", "value": 0.5}]}})) == "control"
    assert kind(Condition(indicator="alignment.a.final", op=">", value=0)) == "other"
    kinds = recalibration.outcome_kinds(fictional.spec)
    assert kinds == {"war": "war", "split": "agreement", "shield": "asset",
                     "borduria_gains": "control"}
    import yaml

    from tests.conftest import FICTIONAL
    assert recalibration.mapping_kinds(yaml.safe_load(FICTIONAL.read_text())) == kinds
    # offsets per kind are recovered (up to the mild penalty) on many synthetic events
    rng = np.random.default_rng(2)
    n = 30_000
    p = 1 / (1 + np.exp(-rng.normal(0, 1.5, n)))
    k = rng.choice(["war", "agreement"], n)
    z = 0.2 + 0.5 * recalibration.logit_clipped(p) + np.where(k == "war", -1.0, 1.0)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    f = recalibration.fit_kind(p, y, k)
    assert f.slope == pytest.approx(0.5, abs=0.04)
    # the intercept and offsets are identified up to a shared constant: compare differences
    assert f.offsets["agreement"] - f.offsets["war"] == pytest.approx(2.0, abs=0.1)
    assert f.apply(0.5, "unseen") == pytest.approx(1 / (1 + np.exp(-f.intercept)))


# --------------------------------------------------------------------------- end to end

OBS = """\
scenario: {scenario}
description: Invented.
events:
  - outcome: war
    happened: {war}
    source: "Invented chronicle"
  - outcome: shield
    happened: {shield}
    source: "Invented chronicle"
  - outcome: split
    happened: true
    source: "Invented chronicle"
"""


def test_validate_cv_writes_the_recalibration_and_sim_run_shows_it(tmp_path, capsys):
    import shutil

    from sim.cli import main
    from tests.conftest import FICTIONAL

    library = tmp_path / "library"
    library.mkdir()
    for name, war, shield in (("alpha", "true", "false"), ("beta", "false", "true"),
                              ("gamma", "true", "true")):
        shutil.copy(FICTIONAL, library / f"{name}.yaml")
        (library / f"{name}.observations.yaml").write_text(
            OBS.format(scenario=f"{name}.yaml", war=war, shield=shield))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- skill-table:start -->\n<!-- skill-table:end -->\n")
    out = tmp_path / "out"
    assert main(["validate", "--library", str(library), "--runs", "12", "--workers", "1",
                 "--out", str(out), "--readme", str(readme), "--cv",
                 "--write-recalibration", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Cross-validated (leave one crisis out): 3 crises, 9 events" in printed
    assert "recalibration written into" in printed
    skill = json.loads((out / "skill.json").read_text())
    cv = skill["cross_validation"]
    assert cv["overall"]["events"] == 9 and (out / "reliability.png").stat().st_size > 1000
    assert "| `gamma` |" in readme.read_text() and "How far to trust" in readme.read_text()
    record = json.loads((library / "recalibration.json").read_text())
    assert [c["crisis"] for c in record["crises"]] == ["alpha", "beta", "gamma"]
    assert record["events"] == 9 and record["runs_per_crisis"] == 12
    assert record["loco_scores"]["raw"]["brier"] == pytest.approx(cv["overall"]["raw"]["brier"])
    # a crisis of the library is calibrated by the fit without it, and says so
    run = tmp_path / "run"
    assert main(["run", str(library / "beta.yaml"), "--runs", "12", "--workers", "1",
                 "--out", str(run), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "calibrated" in printed and "beta, held out" in printed
    saved = json.loads((run / "calibrated.json").read_text())
    assert saved["held_out"] == "beta" and len(saved["rows"]) == 4
    from sim.api import open_results

    table = open_results(run).calibrated  # the API reads the same
    assert list(table["outcome"]) == [r["outcome"] for r in saved["rows"]]
    assert table.attrs["basis"] == saved["basis"]
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "Calibrated probabilities" in page and "beta, held out" in page
    # --write-recalibration alone is refused: it writes what --cv fits
    assert main(["validate", "--library", str(library), "--runs", "12", "--out",
                 str(tmp_path / "o2"), "--write-recalibration"]) == 2
