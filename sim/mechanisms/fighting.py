"""Fighting: intensity, losses and control of the theatre's objectives (mechanism 4).

Loss events are Poisson counts whose rate grows with the dyad's fighting intensity (set by the
escalation rung and by whether either side attacks today), the enemy's firepower and one's own
exposure; enemy air power is discounted by one's air-defence cover. Control of an objective
shifts by a Tullock (1980) contest between the attacker's and the holder's power, where power
includes the air power of third parties friendly to one side and fighting the other (how a
patron's air campaign backs a client's ground offensive). Rates are calibrated in the scenario
from the seed article's casualty figures.
Own exposure is state: the scenario's value, moved by dated reinforcements (``reinforce``).

Every rule is a loop over the replications (``sim.jit``): state arrays are ``(R, ...)``,
parameters ``(P, ...)`` with P 1 or R, and the result is written into ``out``.

References:
    Tullock, G. (1980). Efficient rent seeking.
    Lanchester, F. W. (1916). Aircraft in Warfare (attrition proportional to enemy fire).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, inlined, kernel, pick
from sim.rng import GAMMA_BLOCK, gamma_at, poisson_at, stream_key, uniform_at

#: highest exposure a reinforcement can reach (``sim.scenario.schema.Force``'s bound)
MAX_EXPOSURE = 10_000.0
#: uniforms of the losses stream each dyad's ``event_losses`` may read (counter block)
LOSS_BLOCK = 2 + GAMMA_BLOCK
#: mass-casualty strikes whose tolls are drawn one by one on one day in one dyad; any beyond
#: (an expected 2,400 soldiers a day killed in such strikes would be needed) take the mean toll
MAX_STRIKES = 32
#: uniforms of the strikes stream each dyad's ``mass_strikes`` may read (counter block)
STRIKE_BLOCK = 1 + MAX_STRIKES


@helper
def air_cover(air_defence, asset_air_defence, asset_on, asset_holder, out):
    """Share of enemy air strikes each actor neutralises, ``(R, A)``.

    Independent layers combine as ``1 - prod(1 - c)``: own systems and every asset in effect
    that the actor holds.
    """
    for r in range(out.shape[0]):
        q = pick(air_defence.shape[0], r)
        for a in range(out.shape[1]):
            miss = 1.0
            for k in range(asset_on.shape[1]):
                held = 1.0 if asset_on[r, k] and asset_holder[r, k] == a else 0.0
                miss *= 1.0 - asset_air_defence[q, k] * held
            out[r, a] = 1.0 - (1.0 - air_defence[q, a]) * miss


@helper
def firepower(ground, air, cover, out):
    """``out[r, i, j]``: firepower j brings to bear on i (j's air discounted by i's cover)."""
    n = out.shape[1]
    for r in range(out.shape[0]):
        q = pick(ground.shape[0], r)
        for i in range(n):
            for j in range(n):
                out[r, i, j] = ground[q, j] + air[q, j] * (1.0 - cover[r, i])


@helper
def intensity(rung, rung_intensity, armed_from, attack, attack_boost, out):
    """Fighting intensity per dyad, ``(R, A, A)``, symmetric.

    The rung sets a base intensity; an attack by either side at least starts fighting at the
    lowest armed rung and raises intensity by ``attack_boost`` per attacking side.

    Args:
        rung: ``(R, A, A)`` int.
        rung_intensity: ``(P, L)`` intensity of each rung.
        armed_from: First rung with armed fighting.
        attack: ``(R or 1, A, A)`` attacks of i on j (1 = attacking).
        attack_boost: ``(P,)``.
        out: ``(R, A, A)`` result.
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        q, ra = pick(rung_intensity.shape[0], r), pick(attack.shape[0], r)
        for i in range(n):
            for j in range(n):
                if i == j:
                    out[r, i, j] = 0.0
                    continue
                base = rung_intensity[q, rung[r, i, j]]
                attacks = attack[ra, i, j] + attack[ra, j, i]
                if attacks > 0:
                    base = max(base, rung_intensity[q, armed_from])
                out[r, i, j] = base * (1.0 + attack_boost[q] * attacks)


@kernel
def intensities(rung, rung_intensity, armed_from, attack, attack_boost):
    """``intensity`` as a new array, for Python callers."""
    out = np.empty(rung.shape)
    intensity(rung, rung_intensity, armed_from, attack, attack_boost, out)
    return out


@helper
def loss_rates(intensity_, fire, exposure, loss_rate, out):
    """Expected daily losses of i caused by j, ``(R, A, A)``: rate x intensity x fire x exposure.

    ``exposure`` is the state ``(R, A)`` (the scenario's value, raised by reinforcements: see
    ``reinforce``) or a parameter ``(P, A)``.
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        q, qe = pick(loss_rate.shape[0], r), pick(exposure.shape[0], r)
        for i in range(n):
            for j in range(n):
                out[r, i, j] = (loss_rate[q] * intensity_[r, i, j] * fire[r, i, j]
                                * exposure[qe, i])


def reinforce(exposure, actor, amount):
    """Troops sent into (``amount`` > 0) or withdrawn from the theatre: ``(R, A)`` in place.

    An actor's exposure is how much of its force is within reach of enemy fire, and its losses
    scale with it (Lanchester 1916's linear law, for area fire such as artillery and air
    strikes: losses are proportional to the enemy's fire and to one's own forces exposed to
    it). It starts at the scenario's ``capabilities.exposure`` and moves only with dated
    reinforcements (a timeline event ``reinforcement``), never below 0 nor above the schema's
    bound for forces. Python, not compiled: it runs once per event.
    """
    exposure[:, actor] = np.clip(exposure[:, actor] + amount, 0.0, MAX_EXPOSURE)


@helper
def event_losses(key, counter, rate, size, dispersion):
    """A day's losses in one dyad: strike and engagement events with heavy-tailed sizes.

    The number of events is Poisson with mean ``rate / size``; each event's toll is negative
    binomial with mean ``size`` and shape ``dispersion`` (a Poisson count whose mean is gamma
    distributed: variance ``size + size^2 / dispersion``). The sum of the events' tolls is
    drawn at once, as a Poisson count of a gamma variate of shape ``events * dispersion``
    (sums of gammas of one scale are gamma). The expected daily loss stays ``rate``, so the
    calibrated means do not move, while the variance over the mean of a day's losses is
    ``1 + size (1 + 1 / dispersion)``: most days see nothing, a few see a massacre
    (Richardson 1948; Clauset, Young & Gleditsch 2007 found war and terror tolls
    heavy-tailed).

    Uniforms ``counter`` (events), ``counter + 1`` (the toll) and the ``GAMMA_BLOCK`` from
    ``counter + 2`` are read: callers give each dyad ``LOSS_BLOCK`` counters.
    """
    if rate <= 0.0:
        return 0
    events = poisson_at(key, counter, rate / size)
    if events == 0:
        return 0
    mean = gamma_at(key, counter + 2, events * dispersion) * size / dispersion
    return poisson_at(key, counter + 1, mean)


@helper
def third_party(intensity_, present, rate, keys, day, stream, losses_today, total):
    """Losses of third parties present in a dyad's theatre: peacekeepers, observers; in place.

    Actor k with ``present[k, i, j]`` people in the theatre of dyad (i, j), not a side of it
    (``actors.<k>.present_in``), loses a Poisson number of them a day with mean
    ``rate x I_ij x present / 1000``: ``fighting.third_party_rate`` killed per 1,000 present at
    the dyad's fighting intensity ``I_ij`` (the rung's, raised by today's attacks), so none at
    peace. Drawn from its own ``stream`` at counter ``(k A + i) A + j`` (i < j), so no other
    draw of the day changes, and only where the mean is above 0: a scenario without third
    parties draws nothing. The losses are added to ``total`` ``(R, A)`` and to k's own entry
    of today's losses, ``losses_today[r, k, k]`` (caused by no one: no grievance, no blame,
    not a violation of any ceasefire), which the pressure rule reads like any other loss.
    """
    n = present.shape[0]
    if n == 0:
        return
    listed = np.empty(n * n * n, dtype=np.int64)  # (k A + i) A + j where someone is present
    m = 0
    for k in range(n):
        for i in range(n):
            for j in range(i + 1, n):
                if present[k, i, j] != 0.0:  # else the mean is 0: nothing drawn
                    listed[m] = (k * n + i) * n + j
                    m += 1
    if m == 0:
        return
    for r in range(intensity_.shape[0]):
        q = pick(rate.shape[0], r)
        key = np.uint64(0)
        keyed = False
        for x in range(m):
            k, i, j = listed[x] // (n * n), listed[x] // n % n, listed[x] % n
            mean = rate[q] * intensity_[r, i, j] * present[k, i, j] / 1000.0
            if mean <= 0.0:
                continue
            if not keyed:
                key = stream_key(keys[r], day, stream)
                keyed = True
            lost = poisson_at(key, listed[x], mean)
            losses_today[r, k, k] += lost
            total[r, k] += lost


def mean_strike(threshold, tail):
    """Mean toll of a mass-casualty strike: a Pareto law's ``threshold (tail - 1) / (tail - 2)``.

    Works on numbers and on arrays (``sim.world`` and the tests use it; compiled code inlines
    the same formula).
    """
    return threshold * (tail - 1.0) / (tail - 2.0)


@helper
def mass_strikes(key, counter, rate, threshold, tail, cap):
    """A day's losses in one dyad from mass-casualty strikes (a single strike, many dead).

    Strikes come at ``rate / mean_strike`` a day (Poisson), so their expected toll is
    ``rate``; each kills a Pareto number of soldiers, ``round(threshold U^(-1 / (tail - 1)))``
    (exponent ``tail`` of the density: Bohorquez et al. 2009 measured about 2.5 for the
    tolls of insurgent wars' events), at most ``cap`` (the victim's troops in contact).
    Uniforms ``counter`` (the count) and ``counter + 1 + k`` (strike k's toll, k below
    ``MAX_STRIKES``; later strikes take the mean toll) are read: callers give each dyad
    ``STRIKE_BLOCK`` counters.
    """
    if rate <= 0.0 or cap <= 0.0:
        return 0
    mean = threshold * (tail - 1.0) / (tail - 2.0)
    strikes = poisson_at(key, counter, rate / mean)
    total = 0
    for k in range(strikes):
        if k < MAX_STRIKES:
            toll = threshold * uniform_at(key, counter + 1 + k) ** (-1.0 / (tail - 1.0))
        else:
            toll = mean
        total += np.int64(min(np.rint(toll), np.floor(cap)))
    return total


@helper
def split_losses(key, counter, strike_key, strike_counter, rate, size, dispersion, share,
                 threshold, tail, cap):
    """A day's losses in one dyad: ordinary events plus, when ``share`` > 0, mass strikes.

    ``share`` of the expected loss ``rate`` comes as mass-casualty strikes (``mass_strikes``
    from ``strike_key``), the rest as ordinary strike and engagement events
    (``event_losses`` from ``key``). With ``share`` 0 (scenarios without declared troops)
    this is ``event_losses`` exactly, number for number.
    """
    if share <= 0.0:
        return event_losses(key, counter, rate, size, dispersion)
    return (event_losses(key, counter, rate * (1.0 - share), size, dispersion)
            + mass_strikes(strike_key, strike_counter, rate * share, threshold, tail, cap))


@helper
def contest_power(ground, air, cover, affinity, armed, out):
    """``out[r, i, j]``: i's power when contesting ground held by j.

    Own ground forces plus own air power and the air power of every third party k that is
    friendly to i (positive affinity) and itself fighting j; air counts net of j's cover:
    ``ground_i + (air_i + sum_k max(aff_ki, 0) armed_kj air_k) (1 - cover_j)``.

    Args:
        ground: ``(P, A)``.
        air: ``(P, A)``.
        cover: ``(R, A)`` air-defence cover.
        affinity: ``(R, A, A)``.
        armed: ``(R, A, A)`` bool: k is fighting j.
        out: ``(R, A, A)`` result.

    Only the k fighting j with air power (listed once per replication and j) are summed: the
    others' terms are zeros, whose sum with the rest is the rest (the terms are not negative,
    so the sum is never a negative zero either).
    """
    n = out.shape[1]
    fighters = np.empty((n, n), dtype=np.int64)
    count = np.empty(n, dtype=np.int64)
    for r in range(out.shape[0]):
        q = pick(ground.shape[0], r)
        for j in range(n):
            c = 0
            for k in range(n):
                if armed[r, k, j] and air[q, k] != 0.0:
                    fighters[j, c] = k
                    c += 1
            count[j] = c
        for i in range(n):
            for j in range(n):
                coalition = 0.0
                for x in range(count[j]):
                    k = fighters[j, x]
                    friend = max(affinity[r, k, i], 0.0) if k != i else 0.0
                    coalition += friend * air[q, k]
                out[r, i, j] = ground[q, i] + (air[q, i] + coalition) * (1.0 - cover[r, j])


@helper
def culminate(fatigue, power):
    """Divide each attacker's contest power by ``1 + fatigue`` in place (``(R, A, A)``).

    An offensive culminates (Clausewitz, On War, book 7 ch. 5): days of continuous attack
    wear the attacker down, so its push weakens until it rests (``fatigue_step``). A dyad
    without fatigue is left as it is (a division by 1 would not change it).
    """
    for r in range(power.shape[0]):
        for i in range(power.shape[1]):
            for j in range(power.shape[2]):
                if fatigue[r, i, j] != 0.0:
                    power[r, i, j] /= 1.0 + fatigue[r, i, j]


@helper
def fatigue_step(attack, culmination, recovery, fatigue):
    """Offensive fatigue: ``+culmination`` on a day i attacks j, else ``*(1 - recovery)``."""
    for r in range(fatigue.shape[0]):
        q = pick(culmination.shape[0], r)
        for i in range(fatigue.shape[1]):
            for j in range(fatigue.shape[2]):
                if attack[r, i, j] > 0:
                    fatigue[r, i, j] += culmination[q]
                else:
                    fatigue[r, i, j] *= 1.0 - recovery[q]


@helper
def win_share(power, exponent, contests, powered, out):
    """Tullock contest success ``p[i, j] = P_ij^m / (P_ij^m + P_ji^m)`` (0.5 if both are 0).

    ``powered`` receives ``P_ij^m`` (``(R, A, A)``, also what decisions weigh). The diagonal
    (an actor against itself) is not a contest: 0.5. Only the dyads where ``contests``
    (``(R or 1, A, A)``) is nonzero either way are computed (powers are the costly part).
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        m, rc = exponent[pick(exponent.shape[0], r)], pick(contests.shape[0], r)
        for i in range(n):
            for j in range(n):
                if i != j and (contests[rc, i, j] != 0 or contests[rc, j, i] != 0):
                    powered[r, i, j] = power[r, i, j] ** m
                else:
                    powered[r, i, j] = 0.0
        for i in range(n):
            for j in range(n):
                total = powered[r, i, j] + powered[r, j, i]
                out[r, i, j] = powered[r, i, j] / total if i != j and total > 0 else 0.5


@inlined
def within_reach(held: float, speed: float, days: float, front: float) -> float:
    """The factor of ``speed`` a look-ahead's daily gain of a holder's ground carries.

    With ``front`` (``fighting.advance: front``) a front advances at its pace whatever the
    holder has left (``shift_control``), so over ``days`` it takes ``speed * days`` at most,
    and never more than the holder's share ``held``: ``min(1, held / (speed days))``, its pace
    until the holder's ground runs out, averaged over the days. Without (``holdings``, model
    v2) a day takes a share of what is held: ``held``.
    """
    if front == 0.0:
        return held
    reach = speed * days
    if reach <= 0.0:
        return 1.0 if held > 0.0 else 0.0
    return min(1.0, held / reach)


@helper
def shift_control(control, intensity_, attack, win, speed, can_hold, boost, front, noise, work,
                  out):
    """New control ``(R, O, A)`` after a day's transfers between attackers and holders.

    Attacker i takes from holder j, where i can hold o, ``speed_o * normalised intensity_ij
    * 2 p_ij`` (so equal forces trade at ``speed``) times a noise factor of mean 1: of
    objective o, a front's advance whatever j has left (``front``, ``fighting.advance:
    front``: advance rates depend on the forces engaged, not on the ground still held,
    Helmbold 1990, Dupuy 1979, so a conquest ends in finite time), or of j's share of o
    (``holdings``, model v2: the last of it is never taken). Only an attack moves ground. A
    holder never loses more than it holds (its attackers' takings are scaled down together),
    and shares stay summing to 1.

    Args:
        control: ``(R, O, A)``.
        intensity_: ``(R, A, A)`` fighting intensity.
        attack: ``(R or 1, A, A)`` attacks of i on j.
        win: ``(R, A, A)`` contest shares.
        speed: ``(P, O)``.
        can_hold: ``(P, O, A)``.
        boost: ``(P,)`` attack boost (normalises intensity).
        front: ``(P,)`` 1: a front's advance; 0: a share of the holder's ground.
        noise: ``(R or 1, A, A)`` factors of mean 1.
        work: ``(3, A)`` scratch.
        out: ``(R, O, A)`` result (may not be ``control``).

    The attacking pairs are listed once per replication (in the order of the dyads), with the
    part of their rate every objective shares, ``I_ij / norm x attack x 2 p_ij`` (the product
    is formed in the same order as the whole rate's, so the numbers are the same).
    """
    o_count, n = control.shape[1], control.shape[2]
    push = np.empty((n, n))
    pairs = np.empty(n * n, dtype=np.int64)
    for r in range(out.shape[0]):
        q, ra, rn = pick(speed.shape[0], r), pick(attack.shape[0], r), pick(noise.shape[0], r)
        norm = 1.0 + 2.0 * boost[q]
        by_front = front[pick(front.shape[0], r)] != 0.0
        m = 0
        for i in range(n):
            for j in range(n):
                if attack[ra, i, j] != 0.0:
                    push[i, j] = intensity_[r, i, j] / norm * attack[ra, i, j] * 2.0 * win[r, i, j]
                    pairs[m] = i * n + j
                    m += 1
        for o in range(o_count):
            for a in range(n):
                work[0, a], work[1, a], work[2, a] = 0.0, 0.0, 0.0  # taken, gained, lost
            for x in range(m):
                i, j = pairs[x] // n, pairs[x] % n
                work[0, j] += push[i, j] * speed[q, o] * can_hold[q, o, i] * noise[rn, i, j]
            for x in range(m):
                i, j = pairs[x] // n, pairs[x] % n
                rate = push[i, j] * speed[q, o] * can_hold[q, o, i] * noise[rn, i, j]
                if by_front:
                    if work[0, j] > control[r, o, j]:
                        rate = rate * control[r, o, j] / work[0, j]
                    taken = rate
                else:
                    if work[0, j] > 1.0:
                        rate = rate / work[0, j]
                    taken = rate * control[r, o, j]
                work[1, i] += taken
                work[2, j] += taken
            for i in range(n):
                out[r, o, i] = min(max(control[r, o, i] + work[1, i] - work[2, i], 0.0), 1.0)
