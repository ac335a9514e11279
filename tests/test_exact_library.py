"""Exact behaviour of ``sim validate``'s skill table (``sim/validation/library.py``, issue 28).

The table's numbers against scores computed by hand (Brier, log score, skill, the
leave-one-crisis-out climatology, coverage, the verdicts and their margin), the Markdown as
printed, the README markers, the folder test, and ``validate_library`` itself with stand-ins
for the ensemble and the scoring (so a library of two crises takes milliseconds): what each
crisis is run with and what is written. These are the tests ``scripts/mutation.py`` runs the
module's mutants against; the real runs are test_validation_crossval.py's and
test_validation_uncertain.py's.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil

import pytest
import yaml

from sim.errors import ScenarioError, UsageError
from sim.validation import library
from sim.validation.library import (
    END,
    START,
    markdown_table,
    read_readme,
    skill_table,
    update_readme,
    validate_library,
)
from tests.conftest import FICTIONAL

LOG2 = math.log(2.0)


def _event(p, happened):
    """An event's score row: the forecast p, its Brier and log score."""
    y = 1.0 if happened else 0.0
    return {"happened": happened, "p": p, "brier": (p - y) ** 2,
            "log_score": -math.log(p if happened else 1 - p)}


def _crisis(name, events, quantities=(), days=(), runs=100):
    return {"crisis": name, "scenario": f"{name} scenario", "runs": runs,
            "score": {"events": [_event(p, h) for p, h in events],
                      "quantities": [{"covered50": a, "covered90": b} for a, b in quantities],
                      "days_of_events": [{"covered50": a, "covered90": b} for a, b in days]}}


CRISES = [
    _crisis("a", [(0.9, True), (0.2, False)], quantities=[(True, True), (False, True)]),
    _crisis("b", [(0.5, True), (0.7, False), (0.4, False)], days=[(False, False)]),
    _crisis("c", [], quantities=[(True, True)], runs=200),
]


def test_each_crisis_row_is_its_events_mean_scores_and_skill():
    table = skill_table(CRISES)
    a, b, c = table["crises"]
    # a: Brier (0.01 + 0.04) / 2 = 0.025; log (-ln 0.9 - ln 0.8) / 2
    assert a["brier"] == pytest.approx(0.025, abs=1e-15)
    assert a["log_score"] == pytest.approx((-math.log(0.9) - math.log(0.8)) / 2)
    assert a["brier_skill"] == pytest.approx(1 - 0.025 / 0.25)
    assert a["log_skill"] == pytest.approx(1 - a["log_score"] / LOG2)
    # a's climatology: the others' events happened 1 of 3 -> p = 1/3 for each of a's events
    clim_a = ((1 / 3 - 1) ** 2 + (1 / 3) ** 2) / 2
    assert a["brier_climatological"] == pytest.approx(clim_a)
    assert a["brier_skill_climatological"] == pytest.approx(1 - 0.025 / clim_a)
    assert (a["events"], a["quantities"], a["coverage50"], a["coverage90"]) == (2, 2, 0.5, 1.0)
    assert a["verdict"] == "better than uninformed"
    assert (a["crisis"], a["scenario"], a["runs"]) == ("a", "a scenario", 100)
    # b: Brier (0.25 + 0.49 + 0.16) / 3 = 0.3; climatology from a's events: 1 of 2
    assert b["brier"] == pytest.approx(0.3)
    assert b["brier_climatological"] == pytest.approx(0.25)
    assert b["verdict"] == "worse than uninformed"
    assert (b["quantities"], b["coverage50"], b["coverage90"]) == (1, 0.0, 0.0)
    # c: no events; its climatology would be the others' rate but it has nothing to forecast
    assert c == {"crisis": "c", "scenario": "c scenario", "runs": 200, "events": 0,
                 "brier": None, "log_score": None, "brier_skill": None, "log_skill": None,
                 "verdict": "no events", "quantities": 1, "coverage50": 1.0,
                 "coverage90": 1.0}


def test_the_overall_row_and_its_climatology():
    table = skill_table(CRISES)
    overall = table["overall"]
    briers = [0.01, 0.04, 0.25, 0.49, 0.16]
    assert overall["brier"] == pytest.approx(sum(briers) / 5)
    assert (overall["crisis"], overall["scenario"], overall["runs"]) == ("overall",
                                                                         "3 crises", None)
    assert (overall["events"], overall["quantities"]) == (5, 4)
    assert (overall["coverage50"], overall["coverage90"]) == (0.5, 0.75)
    clim = [(1 / 3 - 1) ** 2, (1 / 3) ** 2, (0.5 - 1) ** 2, 0.5 ** 2, 0.5 ** 2]
    assert overall["brier_climatological"] == pytest.approx(sum(clim) / 5)
    assert overall["brier_skill_climatological"] == pytest.approx(
        1 - (sum(briers) / 5) / (sum(clim) / 5))
    assert overall["verdict"] == "better than uninformed"  # 0.19 < 0.24
    assert table["baselines"] == {
        "uninformed": {"p": 0.5, "brier": 0.25, "log_score": LOG2},
        "climatological": "each event of a crisis forecast with the share of events that "
                          "happened in the other crises of the library"}


def test_a_lone_crisis_has_no_climatology():
    table = skill_table([CRISES[0]])
    assert "brier_climatological" not in table["crises"][0]
    assert "brier_climatological" not in table["overall"]
    assert table["overall"]["scenario"] == "1 crises"


def test_the_overall_climatology_needs_every_crisis_forecast():
    """Crisis d's events have no others' events to forecast them (all the others have none):
    its events count in the overall Brier, but no overall climatology is given."""
    lone = [_crisis("d", [(0.5, True)]), _crisis("e", [])]
    table = skill_table(lone)
    assert "brier_climatological" not in table["overall"]
    assert "brier_climatological" not in table["crises"][0]


@pytest.mark.parametrize(("brier", "verdict"), [
    (0.2399, "better than uninformed"), (0.24, "no better than uninformed"),
    (0.25, "no better than uninformed"), (0.26, "no better than uninformed"),
    (0.2601, "worse than uninformed")])
def test_the_verdict_has_a_margin_of_one_hundredth(brier, verdict):
    row = library._event_means([{"brier": brier, "log_score": 0.5, "happened": True}], None)
    assert row["verdict"] == verdict
    assert "brier_climatological" not in row


def test_coverage_without_rows():
    assert library._coverage([]) == {"quantities": 0, "coverage50": None, "coverage90": None}


def test_the_markdown_table_as_printed():
    result = skill_table(CRISES)
    text = markdown_table(result)
    a, b, _ = result["crises"]
    o = result["overall"]
    lines = text.split("\n")
    assert lines[0] == ("| crisis | events | Brier | log score | Brier skill | log skill | "
                        "skill vs climatology | quantities | in 50% | in 90% | against p = 0.5 |")
    assert lines[1] == "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    assert lines[2] == (f"| `a` | 2 | 0.025 | {a['log_score']:.3f} | +0.90 | "
                        f"{a['log_skill']:+.2f} | {a['brier_skill_climatological']:+.2f} | 2 | "
                        "50% | 100% | better than uninformed |")
    assert lines[3] == (f"| `b` | 3 | 0.300 | {b['log_score']:.3f} | -0.20 | "
                        f"{b['log_skill']:+.2f} | -0.20 | 1 | 0% | 0% | worse than uninformed |")
    assert lines[4] == "| `c` | 0 | – | – | – | – | – | 1 | 100% | 100% | no events |"
    assert lines[5] == (f"| **overall** | 5 | {o['brier']:.3f} | {o['log_score']:.3f} | "
                        f"{o['brier_skill']:+.2f} | {o['log_skill']:+.2f} | "
                        f"{o['brier_skill_climatological']:+.2f} | 4 | 50% | 75% | "
                        f"{o['verdict']} |")
    assert lines[6] == ""
    assert lines[7] == ("In plain words: the model's event probabilities beat the uninformed "
                        "50% on 1 of 3 crises (a) and do worse on 1 (b); over all 5 events it "
                        f"is {o['verdict']}.")
    assert lines[8] == ("Brier and log score: mean over the crisis's events (lower is better; "
                        "the uninformed p = 0.5 scores 0.250 and 0.693). Skill = 1 - score / "
                        "baseline's score: above 0 beats the baseline. Climatology: each event "
                        "forecast by the share of events that happened in the other crises. In "
                        "50% / 90%: share of observed quantities and event days inside the "
                        "runs' central intervals (calibrated: about 50% and 90%). 100/200 runs "
                        "per crisis.")
    assert len(lines) == 9


def test_the_markdown_names_no_crisis_when_none_beats_or_trails():
    result = skill_table([_crisis("x", [(0.5, True)])])
    line = markdown_table(result).split("\n")[5]
    assert line == ("In plain words: the model's event probabilities beat the uninformed 50% "
                    "on 0 of 1 crises and do worse on 0; over all 1 events it is no better "
                    "than uninformed.")


def test_the_markdown_says_which_crises_used_the_pooled_posterior():
    result = skill_table(CRISES[:2])
    result["pooled"] = {
        "a": {"constants": ["fighting.loss_rate", "ladder.rate_up"], "file": "pooled.json",
              "fitted_without_this_crisis": True},
        "b": {"constants": ["fighting.loss_rate", "ladder.rate_up"], "file": "pooled.json",
              "fitted_without_this_crisis": False}}
    assert markdown_table(result).split("\n")[-1] == (
        "Generic constants (fighting.loss_rate, ladder.rate_up) scaled by the pooled posterior "
        "pooled.json on 2 crises, 1 of them by the fit without that crisis (the others' fit "
        "included them: in-sample); --no-pooled runs without it.")
    result["pooled"] = {}
    assert "Generic constants" not in markdown_table(result)


def test_the_markdown_adds_the_cross_validation(monkeypatch):
    from sim.validation import crossval

    monkeypatch.setattr(crossval, "markdown_cv", lambda cv: f"CV {cv['k']}")
    result = {**skill_table(CRISES[:2]), "cross_validation": {"k": 7}}
    lines = markdown_table(result).split("\n")
    assert lines[-2:] == ["", "CV 7"]


# --------------------------------------------------------------------------- the README


def _readme(tmp_path, text):
    path = tmp_path / "README.md"
    path.write_text(text)
    return path


def test_the_readme_gets_the_table_between_its_markers_and_nothing_else(tmp_path):
    path = _readme(tmp_path, f"intro\n{START}\nold table\n{END}\noutro\n")
    os.chmod(path, 0o640)
    update_readme(path, "| new |")
    assert path.read_text() == f"intro\n{START}\n| new |\n{END}\noutro\n"
    assert path.stat().st_mode & 0o777 == 0o640
    target, text = read_readme(path)
    assert (target, text) == (path.resolve(), path.read_text())


def test_a_symlinked_readme_stays_a_link_and_its_target_is_updated(tmp_path):
    real = _readme(tmp_path, f"{START}{END}")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert read_readme(link)[0] == real.resolve()
    update_readme(link, "T")
    assert link.is_symlink() and real.read_text() == f"{START}\nT\n{END}"


@pytest.mark.parametrize("text", [
    "no markers", f"{START} only", f"{END} only", f"{END}{START}",
    f"{START}{START}{END}", f"{START}{END}{END}"])
def test_a_readme_without_its_markers_once_in_order_is_refused(tmp_path, text):
    path = _readme(tmp_path, text)
    with pytest.raises(UsageError) as excinfo:
        read_readme(path)
    assert str(excinfo.value) == (f"{path}: put the markers {START} and {END} (each once, in "
                                  "this order) where the skill table goes")


def test_an_unreadable_readme_is_refused_in_one_line(tmp_path, monkeypatch):
    missing = tmp_path / "missing.md"
    with pytest.raises(UsageError) as excinfo:
        read_readme(missing)
    assert str(excinfo.value) == f"{missing}: file not found"
    with pytest.raises(UsageError) as excinfo:
        read_readme(tmp_path)
    assert str(excinfo.value) == f"{tmp_path}: a folder, not a regular file; give the README file"
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff" + START.encode() + END.encode())
    with pytest.raises(UsageError) as excinfo:
        read_readme(bad)
    assert str(excinfo.value) == f"{bad}: not UTF-8 text; give the README file"
    big = tmp_path / "big.md"
    with open(big, "wb") as f:
        f.truncate(5_000_001)
    with pytest.raises(UsageError) as excinfo:
        read_readme(big)
    assert str(excinfo.value) == f"{big}: larger than 5000000 bytes; give the README file"
    import sim.safety

    def fail(path, limit):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sim.safety, "read_limited", fail)
    with pytest.raises(UsageError) as excinfo:
        read_readme(bad)
    assert str(excinfo.value) == f"cannot read {bad}: Permission denied"


# --------------------------------------------------------------------------- the folder


def test_only_validates_own_files_make_a_folder_of_one(tmp_path):
    def folder(*files, runs=()):
        out = tmp_path / f"f{len(list(tmp_path.iterdir()))}"
        out.mkdir()
        for name in files:
            (out / name).write_text("")
        for name in runs:
            (out / name).mkdir()
            (out / name / ".crisis-sim").write_text("")
        return out

    assert library._validation_folder(folder("skill.json")) is True
    assert library._validation_folder(folder("skill.json", "skill.md", ".lock",
                                             runs=["cuba"])) is True
    assert library._validation_folder(folder("skill.md")) is False
    assert library._validation_folder(folder("skill.json", "notes.md")) is False
    users = folder("skill.json")
    (users / "theirs").mkdir()
    assert library._validation_folder(users) is False
    linked = folder("skill.json")
    (linked / "skill.md").symlink_to(linked / "skill.json")
    assert library._validation_folder(linked) is False
    run_link = folder("skill.json", runs=["cuba"])
    (run_link / "copy").symlink_to(run_link / "cuba")
    assert library._validation_folder(run_link) is False
    as_dir = folder("skill.json")
    (as_dir / "skill.md").mkdir()
    (as_dir / "skill.md" / ".crisis-sim").write_text("")
    assert library._validation_folder(as_dir) is True  # a folder of ours, whatever its name


# --------------------------------------------------------------------------- validate_library


def _library(tmp_path):
    """Two crises of the fictional scenario: 'alpha' (point values), 'beta' (a prior)."""
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy(FICTIONAL, folder / "alpha.yaml")
    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.1, 0.3]}}
    (folder / "beta.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for name in ("alpha", "beta"):
        (folder / f"{name}.observations.yaml").write_text(
            f"scenario: {name}.yaml\ndescription: t\nevents:\n"
            f"  - {{outcome: war, happened: {'true' if name == 'alpha' else 'false'}, "
            "source: x}\n")
    return folder


SCORES = {"alpha": {"events": [_event(0.8, True)], "quantities": [],
                    "days_of_events": [{"covered50": True, "covered90": True}]},
          "beta": {"events": [_event(0.3, False)], "quantities": [], "days_of_events": []}}


@pytest.fixture
def stand(monkeypatch):
    """Stand-ins for run_ensemble and score_run that record what they are asked."""
    import sim.execution.ensemble as ensemble
    import sim.validation.scores as scores

    calls = {"runs": [], "scores": []}

    def run_ensemble(scenario, *, runs, seed, workers, out_dir, progress, varied):
        calls["runs"].append({"scenario": scenario.spec.name, "file": scenario.path.name,
                              "runs": runs, "seed": seed, "workers": workers,
                              "out_dir": out_dir, "progress": progress, "varied": varied})
        out_dir.mkdir(parents=True)
        (out_dir / ".crisis-sim").write_text("")

    def score_run(run_dir, path):
        calls["scores"].append((run_dir, path))
        return SCORES[path.name.removesuffix(".observations.yaml")]

    monkeypatch.setattr(ensemble, "run_ensemble", run_ensemble)
    monkeypatch.setattr(scores, "score_run", score_run)
    return calls


def test_validate_runs_and_scores_every_crisis_and_writes_the_table(tmp_path, stand):
    folder = _library(tmp_path)
    out = tmp_path / "out"
    seen = []
    result = validate_library(folder, runs=40, out_dir=out, workers=2, progress=False,
                              on_crisis=lambda name, score: seen.append((name, score)))
    alpha, beta = stand["runs"]
    assert (alpha["file"], alpha["runs"], alpha["seed"], alpha["workers"], alpha["out_dir"],
            alpha["progress"], alpha["varied"]) == (
        "alpha.yaml", 40, load(folder / "alpha.yaml").spec.run.seed, 2, out / "alpha", False,
        None)
    assert beta["out_dir"] == out / "beta" and beta["varied"] is not None
    assert beta["varied"].paths == ("fighting.loss_rate",)
    assert beta["varied"].pooled is None
    assert stand["scores"] == [(out / "alpha", folder / "alpha.observations.yaml"),
                               (out / "beta", folder / "beta.observations.yaml")]
    assert seen == [("alpha", SCORES["alpha"]), ("beta", SCORES["beta"])]
    crises = [{"crisis": "alpha", "scenario": alpha["scenario"], "runs": 40,
               "score": SCORES["alpha"]},
              {"crisis": "beta", "scenario": beta["scenario"], "runs": 40,
               "score": SCORES["beta"]}]
    expected = skill_table(crises)
    created = result.pop("created")
    assert created.endswith("+00:00")
    assert result == {**expected, "library": str(folder), "pooled": {}}
    saved = json.loads((out / "skill.json").read_text())
    assert saved == json.loads(json.dumps({**result, "created": created}))
    assert (out / "skill.md").read_text() == markdown_table({**result, "created": created}) + "\n"
    assert sorted(p.name for p in out.iterdir()) == [".crisis-sim", ".lock", "alpha", "beta",
                                                     "skill.json", "skill.md"]


def test_validate_runs_only_the_crises_asked_for_in_the_librarys_order(tmp_path, stand):
    folder = _library(tmp_path)
    out = tmp_path / "out"
    result = validate_library(folder, runs=10, out_dir=out, progress=False, crises=["beta"])
    assert [c["file"] for c in stand["runs"]] == ["beta.yaml"]
    assert [c["crisis"] for c in result["crises"]] == ["beta"] and result["only"] == ["beta"]
    assert result["overall"]["events"] == 1  # alpha's event is not in the overall row
    assert "Only the crises asked for (beta): the overall row" in markdown_table(result)
    assert sorted(p.name for p in out.iterdir()) == [".crisis-sim", ".lock", "beta",
                                                     "skill.json", "skill.md"]
    stand["runs"].clear()
    both = validate_library(folder, runs=10, out_dir=tmp_path / "both", progress=False,
                            crises=["beta", "alpha", "beta"])
    assert [c["file"] for c in stand["runs"]] == ["alpha.yaml", "beta.yaml"]
    assert both["only"] == ["alpha", "beta"]
    # the whole library's result says nothing of a choice
    assert "only" not in validate_library(folder, runs=10, out_dir=tmp_path / "all",
                                          progress=False)


@pytest.mark.parametrize(("names", "says"), [
    (["alpah"], "no crisis named 'alpah' (did you mean 'alpha'?); its crises: alpha, beta"),
    (["gamma_1999"], "no crisis named 'gamma_1999'; its crises: alpha, beta"),
    ([], "--crises names no crisis"),
])
def test_a_crisis_the_library_does_not_hold_is_refused_before_anything_runs(
        tmp_path, stand, names, says):
    folder = _library(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=re.escape(says)):
        validate_library(folder, runs=10, out_dir=out, progress=False, crises=names)
    assert stand["runs"] == [] and not out.exists()


@pytest.mark.parametrize(("flag", "name"), [(["--readme", "README.md"], "--readme"),
                                            (["--cv", "--write-recalibration"],
                                             "--write-recalibration")])
def test_validate_refuses_to_write_the_librarys_files_from_a_part_of_it(tmp_path, stand,
                                                                        capsys, flag, name):
    from sim.cli import main

    folder = _library(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- skill-table:start -->\n<!-- skill-table:end -->\n")
    args = [str(readme) if x == "README.md" else x for x in flag]
    out = tmp_path / "out"
    assert main(["validate", "--library", str(folder), "--crises", "alpha", "--out", str(out),
                 "--no-progress", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{name} writes what the whole library gives" in err
    assert len(err.splitlines()) == 1 and stand["runs"] == [] and not out.exists()
    assert not (folder / "recalibration.json").exists()


def test_validate_with_a_seed_and_at_point_values(tmp_path, stand):
    folder = _library(tmp_path)
    validate_library(folder, runs=10, seed=9, out_dir=tmp_path / "out", point=True,
                     progress=False)
    assert [(c["seed"], c["varied"]) for c in stand["runs"]] == [(9, None), (9, None)]


def test_validate_records_what_each_crisis_ran_with(tmp_path, stand, monkeypatch):
    """The crisis records handed to the table carry the scenario file, kinds, priors and
    pooled fit; the table and the cross-validation read them."""
    import sim.validation.crossval as crossval

    got = []

    def cross_validate(crises):
        got.extend(crises)
        return {"k": 1}

    monkeypatch.setattr(crossval, "cross_validate", cross_validate)
    monkeypatch.setattr(crossval, "reliability_figure",
                        lambda cv, path: path.write_text(json.dumps(cv)))
    monkeypatch.setattr(crossval, "markdown_cv", lambda cv: "CV")
    folder = _library(tmp_path)
    out = tmp_path / "out"
    result = validate_library(folder, runs=10, out_dir=out, cv=True, progress=False)
    assert result["cross_validation"] == {"k": 1}
    assert json.loads((out / "reliability.png").read_text()) == {"k": 1}
    alpha, beta = got
    assert (alpha["crisis"], alpha["scenario_file"], alpha["observations"], alpha["runs"],
            alpha["priors"], alpha["pooled"]) == ("alpha", "alpha.yaml",
                                                  str(folder / "alpha.observations.yaml"), 10,
                                                  False, None)
    assert beta["priors"] is True and beta["seed"] == alpha["seed"]
    from sim.validation.recalibration import outcome_kinds

    assert alpha["kinds"] == outcome_kinds(load(folder / "alpha.yaml").spec)
    assert (out / "skill.md").read_text().endswith("\n\nCV\n")


def load(path):
    from sim.scenario.loader import load_scenario

    return load_scenario(path)


def test_validate_scales_by_a_pooled_posterior_unless_told_not_to(tmp_path, stand,
                                                                  monkeypatch):
    import sim.execution.variation as variation
    import sim.validation.pooled as pooled

    folder = _library(tmp_path)
    (folder / pooled.POSTERIOR_FILE).write_text("{}")
    asked = []

    def pooled_for(scenario, path):
        asked.append((scenario.path.name, path))
        return {"fit": scenario.path.name}

    class Varied:
        def __init__(self, name):
            self.pooled = {"constants": ["c"], "file": "p.json", "of": name,
                           "fitted_without_this_crisis": True}

    made = []

    def pooled_set(scenario, seed, runs, post, varied):
        made.append((scenario.path.name, seed, runs, post, varied))
        return Varied(scenario.path.name)

    monkeypatch.setattr(pooled, "pooled_for", pooled_for)
    monkeypatch.setattr(variation, "pooled_set", pooled_set)
    result = validate_library(folder, runs=10, seed=3, out_dir=tmp_path / "a", progress=False)
    assert asked == [("alpha.yaml", folder / pooled.POSTERIOR_FILE),
                     ("beta.yaml", folder / pooled.POSTERIOR_FILE)]
    assert made[0] == ("alpha.yaml", 3, 10, {"fit": "alpha.yaml"}, None)
    # beta draws its priors: the pooled set is built on its uncertain set
    assert made[1][:4] == ("beta.yaml", 3, 10, {"fit": "beta.yaml"})
    assert made[1][4].paths == ("fighting.loss_rate",)
    assert result["pooled"] == {
        name: {"constants": ["c"], "file": "p.json", "of": f"{name}.yaml",
               "fitted_without_this_crisis": True} for name in ("alpha", "beta")}
    assert isinstance(stand["runs"][0]["varied"], Varied)
    asked.clear()
    validate_library(folder, runs=10, out_dir=tmp_path / "b", pooled=False, progress=False)
    validate_library(folder, runs=10, out_dir=tmp_path / "c", point=True, progress=False)
    assert asked == []


def test_validate_checks_every_file_before_running_any(tmp_path, stand):
    folder = _library(tmp_path)
    (folder / "alpha.observations.yaml").write_text("scenario: alpha.yaml\n")
    (folder / "beta.observations.yaml").write_text("scenario: beta.yaml\n")
    with pytest.raises(ScenarioError) as excinfo:
        validate_library(folder, runs=10, out_dir=tmp_path / "out", progress=False)
    files = {p.file for p in excinfo.value.problems}
    assert files == {str(folder / "alpha.observations.yaml"),
                     str(folder / "beta.observations.yaml")}
    assert stand["runs"] == [] and not (tmp_path / "out").exists()


def test_validate_refuses_a_users_folder(tmp_path, stand):
    folder = _library(tmp_path)
    users = tmp_path / "mine"
    users.mkdir()
    (users / "skill.md").write_text("mine")
    with pytest.raises(UsageError, match="is a folder sim did not create"):
        validate_library(folder, runs=10, out_dir=users, progress=False)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "skill.json").write_text("{}")
    validate_library(folder, runs=10, out_dir=earlier, progress=False)  # one of validate's
    assert (earlier / ".crisis-sim").is_file()


def test_an_infinite_log_score_is_printed_as_inf():
    """A forecast of p = 0 for an event that happened scores log(0): the table says inf."""
    crisis = _crisis("z", [(0.5, True)])
    crisis["score"]["events"][0]["log_score"] = math.inf
    line = markdown_table(skill_table([crisis])).split("\n")[2]
    assert line == ("| `z` | 1 | 0.250 | inf | +0.00 | -inf | – | 0 | – | – | no better than "
                    "uninformed |")


def test_the_plain_words_list_every_crisis_that_beats_or_trails():
    crises = [_crisis("a", [(0.9, True)]), _crisis("b", [(0.8, True)]),
              _crisis("c", [(0.9, False)]), _crisis("d", [(0.8, False)])]
    line = markdown_table(skill_table(crises)).split("\n")[8]
    assert line.startswith("In plain words: the model's event probabilities beat the "
                           "uninformed 50% on 2 of 4 crises (a, b) and do worse on 2 (c, d); ")


def test_validate_logs_each_crisis_and_has_the_documented_defaults(tmp_path, stand, caplog):
    import inspect
    import logging

    caplog.set_level(logging.INFO, logger="sim.validation.library")
    folder = _library(tmp_path)
    # the defaults as a call without them gets them (the stand-in makes 1000 runs free);
    # inspect.signature alone would not see a changed default behind a wrapper
    validate_library(folder, seed=4, out_dir=tmp_path / "out")
    assert [(c["runs"], c["progress"], c["workers"]) for c in stand["runs"]] == [
        (1000, True, None)] * 2
    assert [r.getMessage() for r in caplog.records if r.name == "sim.validation.library"] == [
        "validate: alpha (1000 runs, seed 4)",
        "validate: beta (1000 runs, seed 4, drawing its priors)"]
    defaults = {k: p.default for k, p in inspect.signature(validate_library).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == {"runs": 1000, "seed": None, "workers": None, "progress": True,
                        "on_crisis": None, "cv": False, "point": False, "pooled": True,
                        "crises": None}


def test_a_library_without_events_has_no_climatology():
    table = skill_table([_crisis("q", [], quantities=[(True, False)])])
    assert "brier_climatological" not in table["overall"]
    assert table["overall"]["brier"] is None and table["overall"]["verdict"] == "no events"
