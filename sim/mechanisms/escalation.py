"""The escalation ladder: each dyad's rung moves up or down one step a day (mechanism 3).

A dyad's *drive* sums what pushes it up (hostile acts, sanctions, a day with casualties between
the two: provocation) and what pulls it down (de-escalation, war weariness from accumulated
losses, trade interdependence, mediation), on top of a base drift. The chance of a step up is
``rate_up * tanh(drive)`` for positive drive, of a step down ``rate_down * tanh(-drive)`` for
negative drive, one uniform draw per dyad and day. An agreement caps the rung of the dyads its
ceasefire covers.

Incidents (``incidents``): where the two sides' forces are in contact, a dyad at a hostile
rung short of fighting (from ``incident_from`` up to ``armed_from``) has a daily chance
``incident_rate`` of an incident that neither side chose: a clash at the line puts the dyad on
the first armed rung that day, and from there the ladder's own drive decides whether it
settles back or climbs (Posen 1991 on inadvertent escalation; Schelling 1960/1966, the
"threat that leaves something to chance").

Escalation short of force (``campaign_step``): a side's sanctions in force and threats (a
warning, an ultimatum, an ambassador recalled) add drive that builds up while they are
sustained, ``C <- persistence C + sanction S + threat T``, up to ``1 / (1 - persistence)``
times one day's; below the rung just under the first armed one, the dyad's drive counts that
build-up instead of the day's acts alone, so one side's sustained hostility can overcome the
pull back to the resting rung and bring a diplomatic rupture; acts short of force do not
start fighting (from the rung under ``armed_from`` up, only the day's acts count, as in
model v2). Richardson's (1960) reaction to the other's hostility accumulates; Kahn's (1965)
lower rungs ("show of force", "significant mobilization") are reached by acts, not by war.

References:
    Kahn, H. (1965). On Escalation: Metaphors and Scenarios (the ladder).
    Posen, B. (1991). Inadvertent Escalation: Conventional War and Nuclear Risks.
    Schelling, T. C. (1960). The Strategy of Conflict, ch. 8.
    Richardson, L. F. (1960). Arms and Insecurity (reaction to the other's hostility,
    fatigue, grievance).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, pick
from sim.rng import stream_key, uniform_at


@helper
def campaign_step(campaign, sanction, threat, sanction_drive, threat_drive, persistence):
    """Drive of each side's sustained acts short of force, in place, ``(R, A, A)``.

    ``C_ij <- persistence C_ij + sanction_drive S_ij + threat_drive T_ij``: i's sanctions in
    force on j and threats against j today; a campaign kept up for days weighs up to
    ``1 / (1 - persistence)`` times one day's acts (``drive`` reads it below the rung under
    the first armed one).
    """
    for r in range(campaign.shape[0]):
        q = pick(persistence.shape[0], r)
        for i in range(campaign.shape[1]):
            for j in range(campaign.shape[2]):
                campaign[r, i, j] = (persistence[q] * campaign[r, i, j]
                                     + sanction_drive[q] * sanction[r, i, j]
                                     + threat_drive[q] * threat[r, i, j])


@helper
def drive(attack, sanction, deescalate, losses_today, losses, trade, mediation, rung, rest,
          base_drift, hostility, sanction_drive, provocation, conciliation, weariness,
          trade_damping, mediation_weight, threat, threat_drive, campaign, armed_from, out):
    """Escalation drive per dyad, ``(R, A, A)``: written for i < j, all that ``step`` reads.

    The base drift points toward the dyad's resting rung: it is ``base_drift`` above it and
    ``|base_drift|`` below it. At the resting rung the base drift only resists a rise (it is
    added when the other terms push up), and the dyad steps down only when something else
    pulls it down (de-escalation, weariness, trade, mediation). So a pair left alone hovers at
    its resting rung, a standing rivalry at 'tension' say, instead of every dyad drifting to
    the bottom; trade, a structural tie that the resting rung already reflects, damps a rise
    but does not pull a dyad below it. With the default resting rung (the lowest) the rule is
    the one of version 1.
    Richardson (1960) writes the same "grievance" term as a constant a pair returns to.

    Args:
        attack: ``(R, A, A)`` 1 where i attacks j today (as attributed: a patron's air
            support counts as the blamed side's attack).
        sanction: ``(R, A, A)`` 1 where i's sanctions on j are in force today.
        deescalate: ``(R, A, A)`` 1 where i de-escalates toward j today.
        losses_today: ``(R, A, A)`` int losses of i attributed to j today (provocation: a day
            with casualties between the two sides; a patron's strikes count against the side
            blamed, ``air_support.attribute``).
        losses: ``(R, A, A)`` int losses of i attributed to j so far (war weariness).
        trade: ``(P, A, A)`` trade interdependence.
        mediation: ``(A, A)`` mediation effort today.
        rung: ``(R, A, A)`` int rungs today.
        rest: ``(P, A, A)`` int resting rung of each dyad.
        base_drift: ``(P,)`` drive of a dyad above its resting rung on a day with nothing
            happening (toward the resting rung below it).
        hostility: ``(P,)`` drive added per attacking side.
        sanction_drive: ``(P,)`` drive added per sanctioning side.
        provocation: ``(P,)`` drive added on a day with casualties between the two.
        conciliation: ``(P,)`` drive removed per de-escalating side.
        weariness: ``(P,)`` drive removed per loss so far between the two.
        trade_damping: ``(P,)`` drive removed per unit of trade.
        mediation_weight: ``(P,)`` drive removed per unit of mediation effort.
        threat: ``(R, A, A)`` 1 where i threatens j today.
        threat_drive: ``(P,)`` drive added per threatening side.
        campaign: ``(R, A, A)`` the build-up of i's acts short of force on j
            (``campaign_step``, today's included): it replaces the day's sanctions and
            threats below the rung just under ``armed_from``.
        armed_from: First armed rung.
        out: ``(R, A, A)`` result, for i < j (the rule is symmetric; the rest is not written).
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        q = pick(base_drift.shape[0], r)
        for i in range(n):
            for j in range(i + 1, n):
                casualties = 1.0 if losses_today[r, i, j] + losses_today[r, j, i] > 0 else 0.0
                worn = np.float64(losses[r, i, j] + losses[r, j, i])
                level, home = rung[r, i, j], rest[q, i, j]
                if level < armed_from - 1:  # a campaign short of force builds up
                    short = campaign[r, i, j] + campaign[r, j, i]
                else:
                    short = (sanction_drive[q] * (sanction[r, i, j] + sanction[r, j, i])
                             + threat_drive[q] * (threat[r, i, j] + threat[r, j, i]))
                acts = (
                    hostility[q] * (attack[r, i, j] + attack[r, j, i])
                    + short
                    + provocation[q] * casualties
                    - conciliation[q] * (deescalate[r, i, j] + deescalate[r, j, i])
                    - weariness[q] * worn
                    - trade_damping[q] * trade[q, i, j]
                    - mediation_weight[q] * mediation[i, j]
                )
                if level > home:
                    out[r, i, j] = base_drift[q] + acts
                elif level < home:
                    out[r, i, j] = abs(base_drift[q]) + acts
                elif base_drift[q] + acts > 0.0:
                    out[r, i, j] = base_drift[q] + acts
                else:  # trade is part of what set the resting rung: it does not pull below
                    out[r, i, j] = min(acts + trade_damping[q] * trade[q, i, j], 0.0)


@helper
def step(rung, drive_, keys, day, stream, cap, n_rungs, rate_up, rate_down):
    """Move each dyad's rung one step by its drive, in place, then apply agreement caps.

    The chance of a step up is ``rate_up * tanh(drive)`` for positive drive, of a step down
    ``rate_down * tanh(-drive)`` for negative drive. The inputs are symmetric, so each dyad is
    drawn once (i < j, uniform ``i * A + j`` of the day's stream) and mirrored; the diagonal
    (an actor with itself) is not a dyad and keeps its rung.

    Args:
        rung: ``(R, A, A)`` int rungs (symmetric), updated in place.
        drive_: ``(R, A, A)`` drive (symmetric).
        keys: ``(R,)`` replication keys (``sim.rng.stream_key``).
        day: Today.
        stream: The escalation stream.
        cap: ``(R, A, A)`` highest rung allowed (``n_rungs - 1`` where uncapped), symmetric.
        n_rungs: Length of the ladder.
        rate_up: ``(P,)`` chance of a step up at very high drive.
        rate_down: ``(P,)`` chance of a step down at very low drive.
    """
    n = rung.shape[1]
    for r in range(rung.shape[0]):
        q = pick(rate_up.shape[0], r)
        key = stream_key(keys[r], day, stream)
        for i in range(n):
            for j in range(i + 1, n):
                d, move = drive_[r, i, j], 0
                u = uniform_at(key, i * n + j)
                if d > 0.0 and u < rate_up[q] * np.tanh(d):
                    move = 1
                elif d < 0.0 and u > 1.0 - rate_down[q] * np.tanh(-d):
                    move = -1
                new = min(min(max(rung[r, i, j] + move, 0), n_rungs - 1), cap[r, i, j])
                rung[r, i, j] = new
                rung[r, j, i] = new


@helper
def incidents(rung, contact, keys, day, stream, cap, incident_from, armed_from, rate, count,
              withdrawn):
    """Incidents nobody chose between forces in contact, in place.

    A dyad whose forces are in contact (``contact``, unless a side has withdrawn its forces
    from the other: ``withdrawn``) and whose rung is in
    ``[incident_from, armed_from)`` has an incident with chance ``rate`` a day (uniform
    ``i * A + j`` of the incidents stream): its rung becomes ``armed_from`` unless a
    ceasefire caps it lower, and ``count`` adds one. Dyads at peace below ``incident_from``,
    and dyads already fighting, have none.

    Args:
        rung: ``(R, A, A)`` int rungs (symmetric), updated in place.
        contact: ``(A, A)`` bool: forces in contact.
        keys: ``(R,)`` replication keys.
        day: Today.
        stream: The incidents stream.
        cap: ``(R, A, A)`` highest rung allowed (agreements' caps).
        incident_from: Lowest rung with incidents (< 0: from the bottom).
        armed_from: First armed rung.
        rate: ``(P,)`` daily chance of an incident.
        count: ``(R, A, A)`` int incidents so far, updated in place.
        withdrawn: ``(R, A, A)`` bool: i has withdrawn its forces from j (verb withdraw).
    """
    n = rung.shape[1]
    for r in range(rung.shape[0]):
        q = pick(rate.shape[0], r)
        if rate[q] <= 0.0:
            continue
        key = stream_key(keys[r], day, stream)
        for i in range(n):
            for j in range(i + 1, n):
                level = rung[r, i, j]
                if (not contact[i, j] or level < incident_from or level >= armed_from
                        or cap[r, i, j] < armed_from or withdrawn[r, i, j]
                        or withdrawn[r, j, i]):
                    continue
                if uniform_at(key, i * n + j) < rate[q]:
                    rung[r, i, j] = armed_from
                    rung[r, j, i] = armed_from
                    count[r, i, j] += 1
                    count[r, j, i] += 1
