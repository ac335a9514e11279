"""Issue #23, item 8: losses of third parties present where others fight.

Corvalia (no side of the Arcadia-Borduria dyad) has people in its theatre
(``actors.corvalia.present_in``): peacekeepers or observers. With the ladder frozen at a rung of
known intensity and every actor holding, the fighting kills them at the documented rate
(``fighting.third_party_rate`` per 1,000 present per day at intensity 1: a Poisson count, so
its mean and variance are exact); none at peace; none when not present; and presence changes
no other draw: every other indicator is the same, bit for bit (the losses come from their own
random stream), but the third party's own pressure, which its losses raise.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.scenario.loader import load_data

from .conftest import ensemble
from .test_model_v3 import _quiet

RUNS, SEED, PEOPLE = 400, 9, 2000


def _frozen(fictional, rung: str = "war", present: float | None = PEOPLE) -> dict:
    """Arcadia and Borduria held at ``rung`` (nothing moves the ladder), Corvalia present."""
    data = _quiet(fictional.data)
    data["ladder"].update(rate_up=0.0, rate_down=0.0, incident_rate=0.0)
    data["relations"]["arcadia~borduria"]["rung"] = rung
    if present is not None:
        data["actors"]["corvalia"]["present_in"] = {"arcadia~borduria": present}
    return data


@pytest.fixture(scope="module")
def war(fictional) -> dict:
    return {"present": ensemble(load_data(_frozen(fictional)), RUNS, seed=SEED),
            "absent": ensemble(load_data(_frozen(fictional, present=None)), RUNS, seed=SEED)}


def test_a_third_party_present_where_a_dyad_fights_takes_losses_at_the_documented_rate(
        fictional, war):
    rate = 0.05  # the schema's default fighting.third_party_rate
    intensity = fictional.data["ladder"]["rungs"]["war"]["intensity"]
    days = fictional.spec.run.days
    expected = rate * intensity * PEOPLE / 1000.0 * days  # a Poisson total: variance = mean
    lost = war["present"]["losses.corvalia.third_party"]
    se = np.sqrt(expected / RUNS)
    assert abs(lost.mean() - expected) < 4 * se, (lost.mean(), expected)
    assert lost.var() == pytest.approx(expected, rel=0.3)
    # not counted among the losses of the war's sides' fire
    assert war["present"]["losses.corvalia"].max() == 0
    # in proportion to the intensity: at skirmishes (0.3) about 1.8 over the run
    low = ensemble(load_data(_frozen(fictional, rung="skirmishes")), RUNS, seed=SEED)
    skirmish = fictional.data["ladder"]["rungs"]["skirmishes"]["intensity"]
    expected_low = expected * skirmish / intensity
    lost_low = low["losses.corvalia.third_party"]
    assert abs(lost_low.mean() - expected_low) < 4 * np.sqrt(expected_low / RUNS)


def test_none_at_peace_and_none_when_not_present(fictional, war):
    calm = ensemble(load_data(_frozen(fictional, rung="calm")), 100, seed=SEED)
    assert calm["losses.corvalia.third_party"].max() == 0
    assert "losses.corvalia.third_party" not in war["absent"]  # no indicator: not present
    assert not any(name.endswith(".third_party") for name in war["absent"])


def test_presence_changes_no_other_draw(war):
    """Every indicator but the third party's own losses and pressure is the same with it
    present or not (its own stream); its losses raise its domestic pressure."""
    present, absent = war["present"], war["absent"]
    own = {"losses.corvalia.third_party", "pressure.corvalia.max", "pressure.corvalia.final"}
    for name, column in absent.items():
        if name not in own and isinstance(column, np.ndarray):
            assert np.array_equal(column, present[name], equal_nan=True), name
    assert present["pressure.corvalia.max"].mean() > absent["pressure.corvalia.max"].mean()
    assert (present["pressure.corvalia.max"] >= absent["pressure.corvalia.max"]).all()


def test_presence_must_name_a_dyad_of_others(fictional):
    data = copy.deepcopy(fictional.data)
    data["actors"]["corvalia"]["present_in"] = {"arcadia~corvalia": 100}
    with pytest.raises(ScenarioError, match="is a side of"):
        load_data(data)
    data["actors"]["corvalia"]["present_in"] = {"arcadia~bordura": 100}
    with pytest.raises(ScenarioError, match="unknown actor 'bordura'"):
        load_data(data)
