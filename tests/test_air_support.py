"""Air support of an ally's offensive, and blame (issue #12, item 2).

Paired ensembles of the fictional scenario with common random numbers (the same seed, so run
k of both arms shares its draws): Corvalia, the ally with air power, backs Arcadia's
offensive against Borduria from the air. Each claim fails if the mechanism is removed: without
the verb the target loses nothing to the patron's air, and without blame the patron's dyad
would rise whoever is blamed.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import CrisisModel
from sim.scenario.loader import load_data

from .conftest import ensemble, lasting_war, paired_effect

RUNS = 300
SEED = 21
SUPPORT = {"verb": "air_support", "client": "arcadia", "target": "borduria"}


def _patron(fictional, blame: str | None = None, support: bool = True) -> dict:
    """Corvalia with an air campaign to choose: it values the valley and fights cheaply."""
    data = lasting_war(copy.deepcopy(fictional.data))
    corvalia = data["actors"]["corvalia"]
    corvalia["interests"] = {"territory": 0.7, "ties": 0.2, "escalation": 0.1}
    corvalia["war_cost"] = 0.0
    corvalia["rationality"] = 30.0
    data["theatre"]["objectives"]["valley"]["value"]["corvalia"] = 1.0
    corvalia["actions"] = [{"verb": "hold"}]
    # a war without a way out, so the offensive (and the air campaign) lasts
    data["deals"] = {}
    for actor in data["actors"].values():
        actor["actions"] = [act for act in actor["actions"] if act["verb"] != "negotiate"]
    data["outcomes"].pop("split")
    if support:
        corvalia["actions"].append(dict(SUPPORT, **({"blame": blame} if blame else {})))
    return data


def _effect(a: dict, b: dict, column: str) -> tuple[float, float, float]:
    return paired_effect(a[column], b[column])


@pytest.fixture(scope="module")
def arms(fictional):
    """The ensembles by arm, computed once."""
    cache: dict = {}

    def get(name: str, **kwargs) -> dict:
        if name not in cache:
            cache[name] = ensemble(load_data(_patron(fictional, **kwargs)), RUNS, seed=SEED)
        return cache[name]

    return get


def test_air_support_raises_the_targets_losses(arms):
    without, with_ = arms("none", support=False), arms("patron", blame="patron")
    days = with_["air_support.corvalia.borduria.days"]
    assert (days > 0).mean() > 0.8, "the patron must choose to fly in most runs"
    mean, low, high = _effect(without, with_, "losses.borduria")
    assert low > 0, f"losses of the target: {mean:.2f} [{low:.2f}, {high:.2f}]"
    # the extra losses are the patron's strikes, counted as losses it caused
    inflicted = with_["air_losses.borduria.by.corvalia"]
    assert inflicted.sum() > 0 and np.all(inflicted <= with_["losses.borduria.by.corvalia"])
    assert np.all(inflicted[days == 0] == 0)
    assert "air_losses.borduria.by.corvalia" not in without


def test_blame_decides_whose_rung_rises(arms):
    """Patron blame lifts the target-patron ladder; client blame the target-client one."""
    client, patron = arms("client", blame="client"), arms("patron", blame="patron")
    for arm in (client, patron):
        assert (arm["air_support.corvalia.borduria.days"] > 0).mean() > 0.8
    mean, low, high = _effect(client, patron, "rung.borduria~corvalia.max")
    assert low > 0, f"target-patron rung, patron - client blame: {mean:.2f} [{low:.2f}, {high:.2f}]"
    mean, low, high = _effect(patron, client, "war.arcadia~borduria.days")
    assert low > 0, f"target-client days at war, client - patron blame: {mean:.2f} " \
                    f"[{low:.2f}, {high:.2f}]"
    # under client blame the patron's dyad only answers its own acts: it never leaves calm
    assert np.all(client["rung.borduria~corvalia.max"] == 0)
    both = arms("both", blame="both")
    mean, low, high = _effect(client, both, "rung.borduria~corvalia.max")
    assert low > 0, f"both vs client blame, patron dyad: {mean:.2f} [{low:.2f}, {high:.2f}]"


def test_blame_defaults_from_the_scenario_then_the_actor(fictional):
    from sim.world import BLAME_CODE, compile_scenario

    def code(data) -> int:
        world = compile_scenario(load_data(data).spec)
        e = world.layout.menu.entries("air_support")[0]
        return int(world.params.air_blame[0, e])

    data = _patron(fictional)
    assert code(data) == BLAME_CODE["patron"]  # the schema's default
    data["fighting"] = {"blame": "both"}
    assert code(data) == BLAME_CODE["both"]
    data["actors"]["corvalia"]["blame"] = "client"
    assert code(data) == BLAME_CODE["client"]
    data["actors"]["corvalia"]["actions"][1]["blame"] = "patron"
    assert code(data) == BLAME_CODE["patron"]


@pytest.mark.parametrize("change, message", [
    (lambda act: act.pop("client"), "needs client"),
    (lambda act: act.update(client="borduria"), "client and target are both"),
    (lambda act: act.update(client="nowhere"), "unknown actor 'nowhere'"),
    (lambda act: act.update(blame="everyone"), "blame"),
])
def test_bad_air_support_is_a_located_error(fictional, change, message):
    data = _patron(fictional)
    change(data["actors"]["corvalia"]["actions"][1])
    with pytest.raises(ScenarioError, match=message):
        load_data(data)


def test_blame_on_another_verb_is_an_error(fictional):
    data = _patron(fictional)
    data["actors"]["corvalia"]["actions"].append({"verb": "sanction", "target": "borduria",
                                                  "blame": "client"})
    with pytest.raises(ScenarioError, match="go with verb 'air_support' only"):
        load_data(data)


def test_a_run_with_air_support_replays_alone_bit_for_bit(fictional):
    """Replication k of a batch and k alone (R = 1) give the same path and strikes."""
    loaded = load_data(_patron(fictional, blame="both"))
    batch = CrisisModel(loaded, replications=np.arange(6), seed=5).run()
    for k in (0, 4):
        alone = CrisisModel(loaded, replications=np.array([k]), seed=5).run()
        assert np.array_equal(batch.trajectory[:, k], alone.trajectory[:, 0])
        assert np.array_equal(batch.state.air_losses[k], alone.state.air_losses[0])
        assert np.array_equal(batch.state.support_days[k], alone.state.support_days[0])
    assert batch.state.support_days.sum() > 0


def test_the_replay_log_names_the_air_support(fictional):
    loaded = load_data(_patron(fictional, blame="client"))
    model = CrisisModel(loaded, replications=1, seed=2, log_events=True).run()
    lines = [text for _, text in model.log if "flies air support" in text]
    assert lines and "for Arcadia against Borduria" in lines[0]


@pytest.mark.parametrize("blame", ["client", "patron"])
def test_the_patron_weighs_escalation_only_where_it_is_blamed(fictional, blame):
    """The utility's parts (the replay's 'why'): the territory the sorties win for the client
    once it attacks, and an escalation risk in the patron's own dyad only if it is blamed."""
    from sim.mechanisms.decisions import PARTS

    data = _patron(fictional, blame=blame)
    # the one run must reach the client's offensive the sorties back: its first attack
    # decided day by day (opening fire with intent would leave it to this run's private value)
    data.setdefault("decisions", {})["opening_fire"] = False
    model = CrisisModel(load_data(data), replications=1, seed=3, log_events=True)
    lay = model.layout
    entry = int(lay.menu.entries("air_support")[0])
    a, b = lay.actors.index("arcadia"), lay.actors.index("borduria")
    territory, escalation = [], []
    while model.running:
        pushed = model.state.attack_prev[0, a, b] > 0
        model.step()
        utility, parts = model._why
        if np.isfinite(utility[0, entry]):
            escalation.append(parts[0, entry, PARTS.index("escalation")])
            if pushed:
                territory.append(parts[0, entry, PARTS.index("territory")])
    assert escalation and territory
    assert min(territory) > 0
    if blame == "client":
        assert np.all(np.asarray(escalation) == 0.0)
    else:
        assert max(escalation) < 0


def test_a_ceasefire_in_force_grounds_the_sorties():
    """Support over a dyad an agreement's ceasefire covers (client-target or patron-target)
    is dropped; support elsewhere flies."""
    from sim.mechanisms.air_support import cancel_barred

    ceasefire = np.zeros((1, 4, 4), dtype=bool)
    ceasefire[0, 1, 2] = ceasefire[0, 2, 1] = True  # client 1 ~ target 2
    target = np.array([[2, -1, -1, 2]])  # 0 backs 1 against 2; 3 backs 0 against 2
    client = np.array([[1, -1, -1, 0]])
    cancel_barred(np.array([[True]]), ceasefire, target, client)
    assert target.tolist() == [[-1, -1, -1, 2]] and client.tolist() == [[-1, -1, -1, 0]]
    target, client = np.array([[2, -1, -1, 2]]), np.array([[1, -1, -1, 0]])
    cancel_barred(np.array([[False]]), ceasefire, target, client)  # not in force: both fly
    assert target.tolist() == [[2, -1, -1, 2]]


@pytest.mark.parametrize("blame, patron_column, client_column", [
    ("client", 0, 7), ("patron", 7, 0), ("both", 7, 7)])
def test_blame_moves_the_strikes_not_the_soldiers(blame, patron_column, client_column):
    """Patron 0 backs client 1 against 2, whose strikes killed 7: the target's losses as it
    attributes them, and the attacks it sees, follow blame; its soldiers lost stay 7."""
    from sim.mechanisms.air_support import attribute
    from sim.world import BLAME_CODE

    n = 3
    losses = np.zeros((1, n, n), dtype=np.int64)
    struck = np.zeros_like(losses)
    losses[0, 2, 0] = struck[0, 2, 0] = 7
    losses[0, 2, 1] = 3  # the client's own fire
    attack = np.zeros((1, n, n))
    attack[0, 1, 2] = 1.0
    hostile, blamed, total = np.zeros((1, n, n)), np.zeros_like(losses), np.zeros_like(losses)
    attribute(np.array([[2, -1, -1]]), np.array([[1, -1, -1]]),
              np.array([[BLAME_CODE[blame], -1, -1]]), attack, losses, struck, hostile, blamed,
              total)
    assert blamed[0, 2, 0] == patron_column and blamed[0, 2, 1] == 3 + client_column
    assert np.array_equal(total, blamed)
    assert hostile[0, 0, 2] == (patron_column > 0) and hostile[0, 1, 2] == 1 + (client_column > 0)
    assert losses[0, 2].sum() == 10  # the soldiers, once


def test_a_deal_weighs_the_sorties_it_would_ground(fictional):
    """The status quo path a deal is weighed against continues yesterday's air support where
    the deal would bar it (``air_support.status_quo_strikes``): for a halt between Arcadia and
    Borduria (which grounds sorties backing Arcadia), Borduria's expected daily losses on that
    path are the ground war's plus Corvalia's strikes, counted against Arcadia (the dyad the
    deal covers), in every replication struck the day before."""
    data = _patron(fictional)
    data["deals"] = {"halt": {"name": "Halt", "parties": ["arcadia", "borduria"],
                              "rung_cap": "threats"}}
    model = CrisisModel(load_data(data), replications=RUNS, seed=SEED, record_paths=False)
    lay, p, w = model.layout, model.params, model.workspace
    a, b, c = (lay.actors.index(x) for x in ("arcadia", "borduria", "corvalia"))
    struck_days = 0
    for _ in range(20):
        flew = model.state.air_target[:, c] == b  # yesterday's sorties, seen this morning
        exposure = model.state.exposure[:, b].copy()
        fought = model.state.intensity[:, a, b].copy()  # yesterday's fight they backed
        model.step()
        heat, rate = w.heat, p.loss_rate[0]
        ground = rate * heat[:, b, a] * w.fire[:, b, a] * exposure
        strikes = rate * fought * p.air[0, c] * (1.0 - w.cover[:, b]) * exposure * flew
        np.testing.assert_allclose(w.war_losses[0][:, b, a], ground + strikes, rtol=1e-12)
        struck_days += int(flew.sum())
    assert struck_days > RUNS, "the air campaign hardly flew: nothing was checked"
