"""Scenario schema and loading: round trips, overrides, extends, provenance and error messages."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from sim.errors import ScenarioError
from sim.scenario.loader import load_data, load_scenario

from .conftest import ARTICLE, BASELINE, COUNTERFACTUALS, FICTIONAL, SCENARIOS


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path, overrides=None) -> list:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value.problems


def test_every_shipped_scenario_loads():
    files = sorted(SCENARIOS.glob("*.yaml")) + sorted(COUNTERFACTUALS.glob("*.yaml"))
    files += sorted(p for p in (SCENARIOS / "library").glob("*.yaml")
                    if not p.name.endswith(".observations.yaml"))  # the crisis library
    assert len(files) >= 10
    for path in files:
        assert load_scenario(path).spec.actors


@pytest.mark.parametrize("value", [".nan", "nan", "inf", "-.inf", "1e999"])
def test_a_value_that_is_not_a_finite_number_is_named_so(value):
    """NaN or infinity where a number belongs is "not a finite number", not a bound missed
    (the schema's bounds would say 'greater than or equal to 0 (got nan)' for a rate)."""
    (problem,) = problems_of(FICTIONAL, [f"fighting.loss_rate={value}"])
    assert problem.path == "fighting.loss_rate"
    assert problem.message.startswith("not a finite number (got ") and "write a number" in \
        problem.message
    # a text field keeps its own message: 'nan' is no number there
    (problem,) = problems_of(FICTIONAL, ["actors.arcadia.name=.nan"])
    assert "valid string" in problem.message


def test_round_trip_through_plain_data_keeps_the_digest(baseline):
    again = load_data(baseline.data)
    assert again.digest() == baseline.digest()
    assert again.spec == baseline.spec


def test_round_trip_through_yaml_text(baseline, tmp_path):
    path = tmp_path / "dumped.yaml"
    path.write_text(yaml.safe_dump(baseline.data, sort_keys=False))
    assert load_scenario(path).spec == baseline.spec


def test_override_changes_one_value(baseline):
    loaded = load_scenario(BASELINE, ["actors.turkey.interests.losses=0.5"])
    assert loaded.spec.actors["turkey"].interests["losses"] == 0.5
    assert baseline.spec.actors["turkey"].interests["losses"] != 0.5
    assert loaded.digest() != baseline.digest()
    note = loaded.note_for(("actors", "turkey", "interests", "losses"))
    assert note.kind == "override"


def test_override_of_unknown_path_suggests_the_key():
    problems = problems_of(BASELINE, ["actors.turkey.intrests.losses=0.5"])
    assert len(problems) == 1
    assert "did you mean 'interests'" in problems[0].message
    assert problems[0].file == "<command line>"


def test_override_of_unknown_actor_suggests_the_actor():
    problems = problems_of(BASELINE, ["actors.turky.rationality=3"])
    assert "did you mean 'turkey'" in problems[0].message


def test_override_with_wrong_type_is_an_error():
    problems = problems_of(BASELINE, ["actors.turkey.rationality=lots"])
    assert problems[0].path == "actors.turkey.rationality"


def test_counterfactual_changes_only_what_it_lists(baseline):
    patriots = load_scenario(COUNTERFACTUALS / "patriots_day0.yaml")
    assert patriots.spec.assets["patriot"].deployed_at_start == "turkey"
    assert patriots.spec.actors == baseline.spec.actors
    assert patriots.spec.refugees == baseline.spec.refugees


def test_unknown_key_is_located_and_has_a_suggestion(tmp_path):
    text = BASELINE.read_text().replace("    rationality: {value: 60.0, ",
                                        "    rationalty: {value: 60.0, ", 1)  # Turkey's
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert len(problems) == 1
    p = problems[0]
    assert p.path == "actors.turkey.rationalty"
    assert "did you mean 'rationality'" in p.message
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "rationalty" in t)
    assert p.line == line and p.file == str(path)


def test_value_out_of_range_names_the_bound(tmp_path):
    text = BASELINE.read_text().replace("affinity: {value: -0.7,", "affinity: {value: -1.7,")
    problems = problems_of(write(tmp_path, text))
    assert problems[0].path == "relations.turkey~syria.affinity"
    assert "greater than or equal to -1" in problems[0].message


def test_unknown_reference_is_reported_with_suggestion(tmp_path):
    text = BASELINE.read_text().replace("target: syria, source", "target: syrai, source", 1)
    problems = problems_of(write(tmp_path, text))
    assert any("unknown actor 'syrai'" in p.message and "did you mean 'syria'" in p.message
               for p in problems)


def test_duplicate_key_is_an_error(tmp_path):
    path = write(tmp_path, """\
        name: x
        name: y
        """)
    problems = problems_of(path)
    assert "duplicate key" in problems[0].message and problems[0].line == 2


def test_all_problems_of_a_file_are_reported_together(tmp_path):
    text = (BASELINE.read_text()
            .replace("days: {value: 120,", "days: {value: -5,")
            .replace("air_defence: {value: 0.6,", "air_defence: {value: nan,"))  # no prior
    problems = problems_of(write(tmp_path, text))
    paths = {p.path for p in problems}
    assert {"run.days", "actors.russia.capabilities.air_defence"} <= paths


def test_outcome_on_unknown_indicator_is_an_error(tmp_path):
    text = BASELINE.read_text().replace("indicator: rung.turkey~russia.max",
                                        "indicator: rung.russia~turkey.max")
    problems = problems_of(write(tmp_path, text))
    assert any("unknown indicator 'rung.russia~turkey.max'" in p.message
               and "rung.turkey~russia.max" in p.message for p in problems)


def test_python_object_tags_are_refused(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    problems = problems_of(path)
    assert "cannot read this value" in problems[0].message


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = write(tmp_path, "name: [unclosed\nactors: {}\n")
    problems = problems_of(path)
    assert problems[0].message.startswith("YAML syntax") and problems[0].line is not None


def test_interest_weights_summing_to_zero_are_an_error(tmp_path):
    text = FICTIONAL.read_text().replace(
        "interests: {ties: 0.5, escalation: 0.3, refugees: 0.2, assumption: \"invented\"}",
        "interests: {ties: 0.0, assumption: \"invented\"}")
    problems = problems_of(write(tmp_path, text))
    assert any("sum to zero" in p.message for p in problems)


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


def test_baseline_values_all_carry_a_source_or_an_assumption(baseline):
    rows = baseline.provenance()
    bare = [path for path, _, note in rows if note is None]
    assert bare == []
    sources = {note.text for _, _, note in rows if note is not None and note.kind == "source"}
    assert len(sources) >= 15


@pytest.mark.skipif(not ARTICLE.exists(), reason="the seed article is not beside the repository")
def test_every_source_quote_is_verbatim_from_the_article(baseline):
    article = _normalise(ARTICLE.read_text())
    quotes = {n.text for n in baseline.notes.values() if n.kind == "source"}
    missing = [q for q in quotes if _normalise(q) not in article]
    assert missing == []


def test_the_scenario_reference_page_matches_the_schema():
    from sim.scenario.reference import render

    from .conftest import ROOT

    page = (ROOT / "docs" / "scenario-reference.md").read_text()
    assert page == render(), ("docs/scenario-reference.md is stale: run "
                              "python -m sim.scenario.reference > docs/scenario-reference.md")


def test_a_value_with_a_quote_and_an_assumption_keeps_both(baseline):
    """Issue #26: the assumption used to replace the quote, in sim check's count and in
    provenance.json; a value may carry both (what was reported, and how it became a number)."""
    note = baseline.note_for(("actors", "turkey", "optimism"))
    assert note.kind == "source" and note.text.startswith("It is out of the question")
    assert note.assumption.startswith("Turkey expects to push Syrian forces back")


def test_red_lines_are_counted_with_their_quotes():
    """Issue #22: a red line holds names only (author, offender, what it takes), so it had no
    value for the provenance count to list; it is listed as one row with its quote."""
    cuba = load_scenario(SCENARIOS / "library" / "cuba_1962.yaml")
    rows = {path: (value, note) for path, value, note in cuba.provenance()}
    value, note = rows["red_lines.offensive_base"]
    assert value == "author: us, offender: ussr, takes: missile_sites"
    assert note.kind == "source" and "offensive military base" in note.text
    lines = [p for p in rows if p.startswith("red_lines.")]
    assert len(lines) == len(cuba.spec.red_lines) and all(rows[p][1] for p in lines)
