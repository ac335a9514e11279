"""Losses from forces in contact (issue 23, item 4): scale, heavy tail, mass-casualty strikes.

A scenario that declares each actor's troops in contact gets daily losses of
``lethality x intensity x (enemy fire / average fire) x troops / 1000``, a share
``mass_share`` of them in mass-casualty strikes with power-law tolls (docs/ODD.md, M4). The
tests pin one dyad at its war rung (the ladder cannot move) so that the expected daily loss
is known exactly, and compare ensembles run with one seed (common random numbers).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.analysis import paired_difference
from sim.errors import ScenarioError
from sim.mechanisms.fighting import STRIKE_BLOCK, mass_strikes, mean_strike
from sim.model import CrisisModel
from sim.rng import Stream, stream_key
from sim.scenario.loader import load_data

RUNS, SEED = 150, 23
LETHALITY, SHARE, THRESHOLD, TAIL = 0.5, 0.2, 25.0, 2.5


def _at_war(fictional, troops: float, **fighting) -> dict:
    """The fictional scenario with arcadia and borduria held at war, holding, troops declared.

    Both rates of the ladder are 0, so the rung never moves; every actor can only hold, so
    nothing but the war's fixed intensity makes losses.
    """
    data = copy.deepcopy(fictional.data)
    for actor in data["actors"].values():
        actor["actions"] = [{"verb": "hold"}]
    data["timeline"] = []
    data["relations"]["arcadia~borduria"].update(rung="war", resting_rung="war")
    data["ladder"].update(rate_up=0.0, rate_down=0.0, incident_rate=0.0)
    data["actors"]["arcadia"]["capabilities"]["troops"] = troops
    data["actors"]["borduria"]["capabilities"]["troops"] = troops
    data["actors"]["corvalia"]["capabilities"]["troops"] = 0
    data["fighting"] = {**data.get("fighting", {}), **fighting}
    return data


def _daily(data: dict, runs: int = RUNS, seed: int = SEED) -> np.ndarray:
    """``(days, runs, 2)``: each day's losses of arcadia (by borduria) and of borduria."""
    model = CrisisModel(load_data(data), replications=runs, seed=seed, record_paths=False)
    a, b = (model.layout.actors.index(x) for x in ("arcadia", "borduria"))
    out = []
    while model.running:
        model.step()
        lost = model.workspace.losses_today
        out.append(np.stack([lost[:, a, b], lost[:, b, a]], axis=1).copy())
    return np.asarray(out, dtype=float)


def _expected_rate(fictional, troops: float) -> float:
    """Expected daily loss of arcadia at war (intensity 1, no attack), from the ODD's formula."""
    caps = fictional.spec.actors
    ground = {a: caps[a].capabilities.ground for a in ("arcadia", "borduria")}
    air = {a: caps[a].capabilities.air for a in ("arcadia", "borduria")}
    cover = caps["arcadia"].capabilities.air_defence
    f_mean = np.mean([ground[a] + air[a] for a in ground])
    fire_on_arcadia = ground["borduria"] + air["borduria"] * (1.0 - cover)
    return LETHALITY * 1.0 * fire_on_arcadia / f_mean * troops / 1000.0


def test_doubling_the_troops_in_contact_doubles_the_losses_at_a_rung(fictional):
    """E[losses(2T)] = 2 E[losses(T)] at a fixed rung: the paired b - 2a has mean 0."""
    single = _daily(_at_war(fictional, 10_000)).sum(axis=0)  # (runs, 2) losses over the run
    double = _daily(_at_war(fictional, 20_000)).sum(axis=0)
    for side in range(2):
        a, b = single[:, side], double[:, side]
        mean, low, high = paired_difference(2.0 * a, b)
        assert low <= 0.0 <= high, f"b - 2a = {mean:.1f} [{low:.1f}, {high:.1f}]"
        assert 1.8 <= b.mean() / a.mean() <= 2.2, (a.mean(), b.mean())
    # and the scale is the documented one: lethality x intensity x fire share x thousands
    days = _daily(_at_war(fictional, 10_000))
    expected = _expected_rate(fictional, 10_000)
    per_day = days[:, :, 0].mean()
    se = days[:, :, 0].sum(axis=0).std(ddof=1) / np.sqrt(RUNS) / days.shape[0]
    assert abs(per_day - expected) < 4 * se, (per_day, expected, se)


def test_without_troops_losses_follow_the_old_loss_rate(fictional):
    """A scenario that declares no troops is the old rule: troops elsewhere change nothing."""
    data = _at_war(fictional, 10_000)
    for actor in data["actors"].values():
        del actor["capabilities"]["troops"]
    old = _daily(data, runs=60)
    data["fighting"]["lethality"] = 5.0  # unused without troops
    data["fighting"]["mass_share"] = 0.9
    same = _daily(data, runs=60)
    assert np.array_equal(old, same)
    assert old.sum() > 0


def test_mass_casualty_days_come_at_the_documented_rate(fictional):
    """With ordinary events made thin (size 1, nearly Poisson), a day with 25 or more dead is
    a day with a mass-casualty strike, which comes with probability
    ``1 - exp(-mass_share rate / mean toll)`` a day; the ensemble's frequency lies in its
    binomial interval, and the tolls follow the documented power law."""
    data = _at_war(fictional, 10_000, event_size=1.0, dispersion=1000.0)
    days = _daily(data, runs=200)
    rate = _expected_rate(fictional, 10_000)  # both sides' expected loss is the same here
    p = 1.0 - np.exp(-SHARE * rate / mean_strike(THRESHOLD, TAIL))
    n = days.size
    hits = int((days >= THRESHOLD).sum())
    sd = np.sqrt(n * p * (1 - p))
    assert abs(hits - n * p) < 3.5 * sd, f"{hits} mass-casualty days, expected {n * p:.0f}"
    # Hill's estimator of the tail: mean log(toll / threshold) = 1 / (tail - 1) for a Pareto
    tolls = days[days >= THRESHOLD]
    hill = np.log(tolls / THRESHOLD).mean()
    se = hill / np.sqrt(tolls.size)
    assert abs(hill - 1.0 / (TAIL - 1.0)) < 4 * se, (hill, tolls.size)


def test_the_daily_series_is_heavy_tailed(fictional):
    """Default events and strikes: variance/mean of a day's losses far above the ordinary
    events' own ``1 + event_size (1 + 1 / dispersion)`` = 13 (strikes of 25 and more add
    ``mass_share E[toll^2] / E[toll] >= 0.2 x 75``), and most runs' worst day is at least ten
    times their median day, which a Poisson series at this rate (about 5 a day) never is."""
    days = _daily(_at_war(fictional, 10_000))
    flat = days.ravel()
    assert flat.var() / flat.mean() >= 20.0, flat.var() / flat.mean()
    per_run = days[:, :, 0]
    median = np.maximum(np.median(per_run, axis=0), 1.0)
    ratio = per_run.max(axis=0) / median
    # a run of 60 days sees a strike (>= 25 dead, >= 10x a median day of at most 2.5) with
    # probability 1 - exp(-60 x 0.2 x 4.83 / 75) = 0.54 at least
    assert np.mean(ratio >= 10.0) >= 0.45, np.median(ratio)


def test_strikes_read_their_own_stream_and_keep_their_mean():
    """The strike helper alone: a pure function of its key, with expected toll ``rate``."""
    keys = [np.uint64(stream_key(k, 4, int(Stream.STRIKES)))
            for k in np.arange(1, 20_001, dtype=np.uint64)]
    rate = 30.0
    draws = np.array([mass_strikes(k, 3 * STRIKE_BLOCK, rate, THRESHOLD, TAIL, 1e7)
                      for k in keys], dtype=float)
    again = np.array([mass_strikes(k, 3 * STRIKE_BLOCK, rate, THRESHOLD, TAIL, 1e7)
                      for k in keys[:100]], dtype=float)
    assert np.array_equal(draws[:100], again)
    # the mean of a Pareto of exponent 2.5 converges slowly (infinite variance): a median of
    # means over 20 blocks is within a quarter of the rate
    blocks = draws.reshape(20, -1).mean(axis=1)
    assert np.median(blocks) == pytest.approx(rate, rel=0.25)
    # a strike kills at most the cap (the victim's troops in contact): at rate 3 (one strike
    # in 25 days) a day's toll is one strike's, and the share of strikes cut to the cap is
    # P(toll > 40) = (40 / 25)^-1.5 = 0.49
    capped = np.array([mass_strikes(k, 0, 3.0, THRESHOLD, TAIL, 40.0) for k in keys])
    struck = capped[capped > 0]
    assert struck.size > 500 and struck.min() >= THRESHOLD
    assert np.mean(struck == 40) == pytest.approx((40 / 25) ** -1.5, abs=0.06)
    # above the cap only on days of two strikes: P(K >= 2 | K >= 1) = 0.02 at 0.04 a day
    mu = 3.0 / mean_strike(THRESHOLD, TAIL)
    two = (1 - np.exp(-mu) - mu * np.exp(-mu)) / (1 - np.exp(-mu))
    assert np.mean(struck > 40) < two + 3 * np.sqrt(two / struck.size)


def test_once_one_actor_declares_troops_every_exposed_actor_must(fictional):
    data = _at_war(fictional, 10_000)
    del data["actors"]["borduria"]["capabilities"]["troops"]
    with pytest.raises(ScenarioError, match=r"borduria.*troops"):
        load_data(data)


def test_per_replication_troops_run_in_lockstep_as_they_run_alone(fictional):
    """Parameters per replication (a sweep's or a prior's draws: P = R) with troops: each
    replication of a mixed lockstep batch loses what it loses run alone with its own values
    (the numbers depend only on seed, replication, day and stream)."""
    from sim.world import Params, compile_scenario

    worlds = [compile_scenario(load_data(_at_war(fictional, t)).spec) for t in (10_000, 20_000)]
    mixed = CrisisModel(load_data(_at_war(fictional, 10_000)), world=worlds[0],
                        replications=6, seed=SEED, record_paths=False,
                        params=Params.stack([w.params for w in worlds], [3, 3]))
    mixed.run()
    for k, troops in enumerate((10_000, 20_000)):
        alone = CrisisModel(load_data(_at_war(fictional, troops)), seed=SEED,
                            replications=range(3 * k, 3 * k + 3), record_paths=False)
        alone.run()
        assert np.array_equal(alone.state.losses_by, mixed.state.losses_by[3 * k:3 * k + 3])
    assert mixed.state.losses_by[3:].sum() > mixed.state.losses_by[:3].sum() > 0
