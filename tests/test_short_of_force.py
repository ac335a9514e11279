"""Escalation short of force (issue #22, item 2b): threats, and campaigns that build up.

Fictional scenario (Corvalia and Borduria at 'calm', the rung below 'threats', itself just
below the first armed rung). Ensemble statistics with fixed seeds and common random numbers;
each fails if the mechanism is removed.
"""

from __future__ import annotations

import copy

import numpy as np

from sim.mechanisms import escalation
from sim.model import CrisisModel
from sim.scenario.loader import load_data

from .conftest import paired_effect


def _grieved(fictional, killed: float, persistence: float | None = None,
             threaten: bool = True) -> np.ndarray:
    """Highest rung of corvalia~borduria over 40 days, per run, after Borduria kills
    ``killed`` Corvalians on day 0; Corvalia has no military option (hold or threaten)."""
    data = copy.deepcopy(fictional.data)
    data["timeline"] = [] if killed == 0 else [
        {"date": data["run"]["start"], "name": "border killing", "kind": "casualties",
         "between": ["corvalia", "borduria"], "amount": killed}]
    data.pop("deals", None)
    data["outcomes"].pop("split", None)
    for actor in data["actors"].values():
        actor["actions"] = [{"verb": "hold"}]
    if threaten:
        data["actors"]["corvalia"]["actions"].append({"verb": "threaten", "target": "borduria"})
    data["actors"]["corvalia"]["interests"] = {"territory": 0.2, "losses": 0.2,
                                               "escalation": 0.2, "ties": 0.1, "standing": 0.3}
    data["ladder"]["incident_rate"] = 0.0
    # the ladder's war weariness (drive removed per soldier lost between the two) would pull
    # the other way after a killing: off, to see the threats alone
    data["ladder"]["weariness"] = 0.0
    data["run"]["days"] = 40
    if persistence is not None:
        data["ladder"]["persistence"] = persistence
    model = CrisisModel(load_data(data), replications=600, seed=5, record_paths=False)
    model.run_model()
    c, b = model.layout.actors.index("corvalia"), model.layout.actors.index("borduria")
    return model.state.rung_max[:, c, b]


def test_a_grievance_without_a_military_option_brings_a_rupture_that_grows_with_it(fictional):
    """One side, wronged and unable to fight, threatens; sustained threats move the dyad up to
    the rung below fighting ('threats') in a share of runs that grows with the grievance
    (none < 5 killed < 30 killed, paired runs); never into fighting (acts short of force do
    not start it). Without a grievance a threat is worth a little less than nothing, so the
    quantal choice still makes some (the share at 'threats' is not 0)."""
    threats = 1  # rung index of 'threats'
    none, small, large = (_grieved(fictional, k) for k in (0, 5, 30))
    for lower, higher in ((none, small), (small, large)):
        effect, low, high = paired_effect(lower >= threats, higher >= threats)
        assert low > 0, (effect, low, high)
    assert (large >= threats).mean() > 0.5, (large >= threats).mean()
    assert large.max() <= threats  # no fighting from threats alone


def test_one_sides_sustained_acts_overcome_the_pull_back_only_when_they_build_up(fictional):
    """The same threats with persistence 0 (each day's act alone, model v2's rule: one
    side's +0.4 never beats the pull back) bring no rupture; with the default build-up they do.
    """
    threats = 1
    built = _grieved(fictional, 30)
    flat = _grieved(fictional, 30, persistence=0.0)
    assert (flat >= threats).mean() == 0.0
    effect, low, _ = paired_effect(flat >= threats, built >= threats)
    assert low > 0.2, (effect, low)


def test_campaign_build_up_is_exact():
    """C <- persistence C + sanction_drive S + threat_drive T, per directed pair."""
    campaign = np.zeros((1, 2, 2))
    sanction = np.array([[[0.0, 1.0], [0.0, 0.0]]])
    threat = np.array([[[0.0, 0.0], [1.0, 0.0]]])
    expected = np.zeros((2, 2))
    for _ in range(6):
        escalation.campaign_step(campaign, sanction, threat, np.array([0.4]),
                                 np.array([0.3]), np.array([0.8]))
        expected = 0.8 * expected + 0.4 * sanction[0] + 0.3 * threat[0]
        np.testing.assert_allclose(campaign[0], expected)
    # the limit of a sustained act is 1 / (1 - persistence) times one day's
    for _ in range(300):
        escalation.campaign_step(campaign, sanction, threat, np.array([0.4]),
                                 np.array([0.3]), np.array([0.8]))
    np.testing.assert_allclose(campaign[0, 0, 1], 0.4 / 0.2)
    np.testing.assert_allclose(campaign[0, 1, 0], 0.3 / 0.2)
