"""Losses weighed against the force committed (docs/ODD.md M1, `sim.world.loss_units`).

With troops declared, an actor's unit of losses is ``decisions.loss_unit`` soldiers per 1,000
of its troops in contact (a force under 1,000 counts as 1,000); without troops every actor's
is ``loss_unit`` soldiers, as before. Checked exactly, and as a pattern: since troops scale
both the losses (M4) and their unit, two armies twice the size choose as they did (the same
utilities on the first morning, the same runs), while without the rule the larger armies'
heavier losses would weigh twice as much.
"""

from __future__ import annotations

import copy

import numpy as np

from sim.model import CrisisModel
from sim.scenario.loader import load_data
from sim.world import compile_scenario, loss_units


def _armies(fictional, arcadia: float, borduria: float, unit: float = 10.0) -> dict:
    """The fictional scenario with troops declared (Corvalia none) and no timeline."""
    data = copy.deepcopy(fictional.data)
    data["timeline"] = []
    data["actors"]["arcadia"]["capabilities"]["troops"] = arcadia
    data["actors"]["borduria"]["capabilities"]["troops"] = borduria
    data["actors"]["corvalia"]["capabilities"]["troops"] = 0
    data.setdefault("decisions", {})["loss_unit"] = unit
    return data


def test_each_actors_unit_is_loss_unit_per_thousand_of_its_troops(fictional):
    spec = load_data(_armies(fictional, 30_000, 400, unit=8.0)).spec
    actors = list(spec.actors)
    units = dict(zip(actors, loss_units(spec, actors)[0], strict=True))
    assert units == {"arcadia": 8.0 * 30.0, "borduria": 8.0, "corvalia": 8.0}
    world = compile_scenario(spec)
    np.testing.assert_array_equal(world.params.loss_unit_of, loss_units(spec, actors))
    np.testing.assert_array_equal(world.params.loss_unit, [8.0])  # war weariness: soldiers


def test_without_troops_every_actor_weighs_loss_unit_soldiers(fictional):
    spec = fictional.spec
    actors = list(spec.actors)
    assert all(c.capabilities.troops is None for c in spec.actors.values())
    np.testing.assert_array_equal(loss_units(spec, actors),
                                  np.full((1, len(actors)), spec.decisions.loss_unit))


def _first_morning(data: dict, monkeypatch, runs: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Every menu entry's utility on day 0 ``(runs, entries)``, and which are Arcadia's and
    Borduria's attacks (the armies whose troops the test sets)."""
    import sim.model
    from sim.world import VERB

    seen = []
    scored = sim.model.score_menu

    def record(*args, **kwargs):
        utility = scored(*args, **kwargs)
        seen.append(utility.copy())
        return utility

    monkeypatch.setattr(sim.model, "score_menu", record)
    model = CrisisModel(load_data(data), replications=runs, seed=8, record_paths=False)
    model.step()
    lay = model.layout
    armies = np.isin(lay.menu.actor, [lay.actors.index("arcadia"), lay.actors.index("borduria")])
    return seen[0], (lay.menu.verb == VERB["attack"]) & armies


def test_armies_twice_the_size_weigh_their_losses_alike(fictional, monkeypatch):
    """Pattern: doubling both armies (every force at least 1,000) doubles the losses an attack
    is expected to cost and their unit alike, so the first morning's utilities are the same;
    without the rule (the larger armies weighing a soldier as the smaller do) the same morning
    is scored otherwise: heavier losses weigh twice as much, both an attacker's own and the
    hurt it does the other side (which compellence counts), so the attacks' utilities move by
    hundredths of a unit, some up and some down."""
    small, attack = _first_morning(_armies(fictional, 5_000, 5_000), monkeypatch)
    large, _ = _first_morning(_armies(fictional, 10_000, 10_000), monkeypatch)
    assert attack.any(), "the test needs attack entries"
    finite = np.isfinite(small)
    np.testing.assert_array_equal(finite, np.isfinite(large))
    np.testing.assert_allclose(large[finite], small[finite], rtol=1e-9, atol=1e-12)
    # the larger armies at the smaller ones' weight per soldier: 5 per 1,000 of 10,000
    fixed, _ = _first_morning(_armies(fictional, 10_000, 10_000, unit=5.0), monkeypatch)
    on = finite[0] & attack
    moved = np.abs(fixed[:, on] - small[:, on]).min(axis=0)  # per attack entry, over runs
    assert np.all(moved > 0.01), moved
