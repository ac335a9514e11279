"""The model: invariants of every state variable, Mesa integration, an actor-agnostic engine."""

from __future__ import annotations

import re
from pathlib import Path

import mesa
import numpy as np
import pytest

from sim.model import CrisisModel

from .conftest import BASELINE, FICTIONAL, ROOT, SCENARIOS


@pytest.mark.parametrize("path", [BASELINE, FICTIONAL, SCENARIOS / "counterfactuals" /
                                  "gate_open.yaml"], ids=lambda p: p.stem)
def test_invariants_hold_every_day(path):
    model = CrisisModel(path, replications=64, seed=3, record_paths=False)
    lay, s = model.layout, model.state
    people0 = s.people.sum(axis=1) + s.dead
    n_rungs = len(lay.rungs)
    while model.running:
        model.step()
        # people are conserved exactly: every person is in one node or among the dead
        assert np.array_equal(s.people.sum(axis=1) + s.dead, people0)
        assert (s.people >= 0).all()
        assert ((s.rung >= 0) & (s.rung < n_rungs)).all()
        assert np.array_equal(s.rung, np.swapaxes(s.rung, 1, 2))
        assert ((s.affinity >= -1) & (s.affinity <= 1)).all()
        assert np.allclose(s.affinity, np.swapaxes(s.affinity, 1, 2))
        assert ((s.control >= 0) & (s.control <= 1)).all()
        assert np.allclose(s.control.sum(axis=2), 1.0)
        assert ((s.pressure >= 0) & (s.pressure <= 1)).all()
        assert (s.losses_by >= 0).all()
    assert model.steps == model.days


def test_agreement_caps_the_rung_of_its_ceasefire_dyads(baseline):
    model = CrisisModel(baseline, replications=200, seed=4, record_paths=False)
    lay = model.layout
    seen = 0
    while model.running:
        model.step()
        for d in range(len(lay.deals)):
            active = model.state.agreement[:, d]
            cap = model.params.deal_cap[0, d]
            cease = lay.deal_ceasefire[d]
            rungs = model.state.rung[active][:, cease]
            seen += rungs.size
            assert (rungs <= cap).all()
    assert seen > 0  # agreements did happen in this ensemble


def test_actors_are_mesa_agents_and_the_model_is_a_mesa_model(baseline):
    model = CrisisModel(baseline, replications=1, seed=1)
    assert isinstance(model, mesa.Model)
    assert len(model.agents) == len(baseline.spec.actors)
    assert all(isinstance(a, mesa.Agent) for a in model.agents)
    turkey = next(a for a in model.agents if a.actor_id == "turkey")
    assert turkey.pressure.shape == (1,)


def test_mesa_batch_run_runs_the_model_unchanged():
    results = mesa.batch_run(CrisisModel, parameters={"scenario": str(FICTIONAL)},
                             rng=[1, 2], max_steps=1000, number_processes=1,
                             display_progress=False)
    assert len(results) == 2
    row = results[0]
    assert row["Step"] == 60
    assert "outcome.war" in row and row["outcome.war"] in (True, False)
    assert "rung.arcadia~borduria" in row


def test_model_accepts_rng_and_seed_consistently(fictional):
    a = CrisisModel(fictional, rng=42, record_paths=False).run()
    b = CrisisModel(fictional, seed=42, record_paths=False).run()
    assert np.array_equal(a.state.people, b.state.people)
    assert np.array_equal(a.state.rung, b.state.rung)


def test_timeline_events_are_scheduled_on_their_day(baseline):
    model = CrisisModel(baseline, replications=1, seed=1, log_events=True)
    for _ in range(15):
        model.step()
    events = [(day, text.split(" event: ", 1)) for day, text in model.log if " event: " in text]
    days = {f"event: {name}": day for day, (_, name) in events}
    assert all(date == "2020-02-21" for day, (date, _) in events if day == 0)
    assert days["event: A Turkish-Russian leaders' summit"] == 13  # 2020-03-05
    assert days["event: Erdogan calls Putin and urges him to restrain the regime"] == 0


def test_the_fictional_scenario_runs_with_no_changes_to_the_engine(fictional):
    model = CrisisModel(fictional, replications=50, seed=2).run()
    assert model.trajectory.shape[0] == fictional.spec.run.days + 1
    assert len(model.actors) == 3


def test_no_scenario_names_in_the_engine(baseline):
    names = set()
    for loaded_path in [BASELINE, FICTIONAL]:
        text = loaded_path.read_text()
        names |= set(re.findall(r"^  ([a-z][a-z0-9_]+):\s*$", text, flags=re.M))
    names |= {"turkey", "turkish", "russia", "russian", "syria", "syrian", "idlib", "patriot",
              "s400", "s-400", "erdogan", "putin", "assad", "nato", "aleppo", "greece",
              "arcadia", "borduria", "corvalia"}
    # generic words that are section keys in scenarios, not names
    names -= {"run", "actors", "relations", "institutions", "blocs", "ladder", "assets",
              "theatre", "fighting", "refugees", "deals", "bargaining", "alliances",
              "decisions", "timeline", "outcomes", "rungs", "objectives", "nodes", "edges",
              "gates", "flows", "war", "valley", "zone", "highways", "split", "shield", "eu",
              "us", "agreement"}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b", re.I)
    hits = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert hits == []


def test_every_menu_entry_has_a_readable_label(baseline):
    model = CrisisModel(baseline, replications=1)
    labels = model.layout.menu.labels
    assert "request_support:patriot" in labels and "grant_support:patriot>turkey" in labels
    assert Path(BASELINE).exists()


def test_the_compiled_choice_of_all_actors_is_each_actors_decide(baseline):
    """``sim.actors.choose`` (every actor in one compiled pass, as the model steps) picks what
    each actor's ``decide`` picks from the same utilities and uniforms, entry for entry, with
    entries off the menu (-inf) and tracks without a 'hold'."""
    from sim.actors import choose, track_table

    model = CrisisModel(baseline, replications=400, seed=3, record_paths=False)
    n, entries = model.layout.n_actors, model.layout.menu.verb.size
    rng = np.random.default_rng(5)
    utility = rng.normal(0.0, 0.5, (400, entries))
    utility[rng.random(utility.shape) < 0.2] = -np.inf
    u = rng.random((400, 2 * n))
    chosen = np.zeros((400, entries), dtype=bool)
    choice = np.empty((400, n, 2), dtype=np.int64)
    choose(utility, *track_table(model.actors), model.params.rationality, model.params.nesting,
           u, chosen, choice)
    expected = np.zeros_like(chosen)
    for actor in model.actors:
        picks = actor.decide(utility, u[:, [actor.index, n + actor.index]])
        np.testing.assert_array_equal(choice[:, actor.index], picks)
        for track in range(2):
            made = np.flatnonzero(picks[:, track] >= 0)
            expected[made, picks[made, track]] = True
    np.testing.assert_array_equal(chosen, expected)
    assert (choice >= 0).any() and (choice < 0).any()  # acts and nothing both happen
