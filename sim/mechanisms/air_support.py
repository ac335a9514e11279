"""Air support of an ally's offensive, and who is blamed for its strikes (part of mechanism 4).

A patron with air power can fly in support of a client's offensive against a target
(``air_support``, a posture: the patron's forces do this instead of holding or attacking on
their own). While the client and the target fight (their dyad's fighting intensity is
positive), the sorties

* add the patron's whole air power, net of the target's air-defence cover, to the client's
  contest power against the target (the implicit coalition term of ``fighting.contest_power``,
  a friend's air weighted by affinity while it fights the target, is replaced by the committed
  sorties, not added to them);
* strike the target's forces: heavy-tailed losses (``fighting.event_losses``) at the rate
  ``loss_rate * intensity_ct * air_p * (1 - cover_t) * exposure_t``, i.e. the patron's air
  firepower at the tempo of the ground fight it backs (Lanchester 1916; Pape 1996 on air power
  that decides ground offensives by striking the fielded forces). They are the patron's
  losses inflicted (``losses.<t>.by.<p>``, ``air_losses.<t>.by.<p>``), and weigh on the
  target's domestic pressure like any loss.

*Blame* (``fighting.blame``, ``actors.<id>.blame``, ``actions[].blame``) says whose dyad the
target's grievance and ladder respond to: the strikes and the act of flying them count as the
client's (``client``), the patron's (``patron``) or both sides' (``both``) hostile acts and
casualties in the escalation drive, the grievance memory and the affinity cost of attacks.
Attribution, not the physics, decides escalation: a deniable air war raises the
target-client ladder and spares the patron's (Cormac & Aldrich 2018 on implausible
deniability; Carson 2018, Secret Wars, on tacit collusion to keep escalation down).

Every rule is a loop over the replications (``sim.jit``): state arrays ``(R, ...)``,
parameters ``(P, ...)`` with P 1 or R.

References:
    Carson, A. (2018). Secret Wars: Covert Conflict in International Politics.
    Cormac, R. & Aldrich, R. J. (2018). Grey is the new black: covert action and implausible
    deniability. International Affairs 94(3).
    Pape, R. A. (1996). Bombing to Win: Air Power and Coercion in War.
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, pick
from sim.mechanisms.fighting import LOSS_BLOCK, STRIKE_BLOCK, split_losses
from sim.rng import stream_key

#: ``sim.world.BLAME_CODE`` (the order of ``sim.scenario.schema.BLAME``)
CLIENT, PATRON, BOTH = 0, 1, 2


@helper
def blamed_shares(code):
    """``(to the client, to the patron)``: 1 for each side a strike is attributed to."""
    return (1.0 if code != PATRON else 0.0), (1.0 if code != CLIENT else 0.0)


@helper
def acts(menu_verb, menu_actor, menu_target, menu_client, air_blame, chosen, verb, target,
         client, blame):
    """Today's air support per patron, ``(R, A)``: its target, client and blame code (-1: none).

    Air support is a posture (``sim.actors.POSTURE_VERBS``), so a patron flies for at most one
    client against one target a day.
    """
    for r in range(chosen.shape[0]):
        q = pick(air_blame.shape[0], r)
        for a in range(target.shape[1]):
            target[r, a], client[r, a], blame[r, a] = -1, -1, -1
        for e in range(menu_verb.size):
            if menu_verb[e] == verb and chosen[r, e]:
                a = menu_actor[e]
                target[r, a], client[r, a], blame[r, a] = (menu_target[e], menu_client[e],
                                                           air_blame[q, e])


@helper
def cancel_barred(agreement, ceasefire, target, client):
    """Drop the support a ceasefire in force bars: one covering patron-target or client-target."""
    for r in range(target.shape[0]):
        for a in range(target.shape[1]):
            t, c = target[r, a], client[r, a]
            if t < 0:
                continue
            barred = False
            for d in range(ceasefire.shape[0]):
                barred |= agreement[r, d] and (ceasefire[d, a, t] or ceasefire[d, c, t])
            if barred:
                target[r, a], client[r, a] = -1, -1


@helper
def status_quo_strikes(target, client, heat, air, cover, exposure, loss_rate, ceasefire, out):
    """Add to a deal's status quo loss rates ``out`` ``(R, A, A)`` the strikes it would stop.

    Yesterday's sorties continue on the status quo path as yesterday's attacks do: a patron
    striking t in support of c, where the deal's ceasefire covers patron-target or
    client-target (so the deal would bar the support: ``cancel_barred``), costs t
    ``loss_rate x heat_ct x air_p x (1 - cover_t) x exposure_t`` a day (``strike``'s expected
    toll, at the status quo's intensity ``heat``). They count as caused by the patron when the
    ceasefire covers its dyad with t, else by the client (the dyad the deal covers), so the
    target weighs the strikes a deal would end.
    """
    for r in range(out.shape[0]):
        q = pick(air.shape[0], r)
        for a in range(target.shape[1]):
            t, c = target[r, a], client[r, a]
            if t < 0 or not (ceasefire[a, t] or ceasefire[c, t]):
                continue
            rate = (loss_rate[q] * heat[r, c, t] * air[q, a] * (1.0 - cover[r, t])
                    * exposure[r, t])
            out[r, t, a if ceasefire[a, t] else c] += rate


@helper
def top_up(air_p, cover_t, friend, fights):
    """What committed sorties add to the client's contest power beyond the coalition term."""
    return air_p * (1.0 - cover_t) * (1.0 - (friend if fights else 0.0))


@helper
def add_power(air, cover, affinity, armed, target, client, power):
    """Add each patron's sorties to its client's contest power against the target, in place.

    ``fighting.contest_power`` already counts ``max(A_pc, 0) air_p (1 - C_t)`` while the patron
    fights t; committed sorties count in full, so the top-up is the rest of ``air_p (1 - C_t)``.
    Call before ``fighting.culminate`` (the client's fatigue dulls the whole push).
    """
    for r in range(power.shape[0]):
        q = pick(air.shape[0], r)
        for a in range(target.shape[1]):
            t, c = target[r, a], client[r, a]
            if t < 0:
                continue
            power[r, c, t] += top_up(air[q, a], cover[r, t], max(affinity[r, a, c], 0.0),
                                     armed[r, a, t])


@helper
def strike(target, client, intensity, air, cover, exposure, loss_rate, event_size, dispersion,
           mass_share, threshold, tail, keys, day, stream, strike_stream, struck, losses_today,
           losses_by, rates, air_losses, support_days):
    """The day's strikes of every patron: losses of the target, written in place.

    ``struck[r, t, p]`` gets the losses of t from p's sorties (reset first); they are added to
    ``losses_today``, ``losses_by`` (the patron inflicted them), ``rates`` (their expected
    value, so what fighting reveals counts them: ``bargaining.learn``) and ``air_losses``.
    Support over a client-target dyad without fighting has nothing to strike: it is dropped
    (target -1) and not counted in ``support_days[r, p, t]``. Counters ``(t A + p)
    LOSS_BLOCK`` of the day's ``stream``; where troops are declared (``mass_share`` > 0), a
    share of the losses comes as mass-casualty strikes (``fighting.split_losses``) from
    counters ``(A^2 + t A + p) STRIKE_BLOCK`` of ``strike_stream`` (after the ground dyads').
    """
    n = struck.shape[1]
    for r in range(struck.shape[0]):
        q = pick(air.shape[0], r)
        for i in range(n):
            for j in range(n):
                struck[r, i, j] = 0
        key = stream_key(keys[r], day, stream)
        strike_key = stream_key(keys[r], day, strike_stream)
        qe = pick(exposure.shape[0], r)
        for a in range(n):
            t, c = target[r, a], client[r, a]
            if t < 0:
                continue
            heat = intensity[r, c, t]
            if heat <= 0.0:
                target[r, a], client[r, a] = -1, -1
                continue
            support_days[r, a, t] += 1
            rate = (loss_rate[q] * heat * air[q, a] * (1.0 - cover[r, t])
                    * exposure[qe, t])
            lost = split_losses(key, (t * n + a) * LOSS_BLOCK, strike_key,
                                (n * n + t * n + a) * STRIKE_BLOCK, rate, event_size[q],
                                dispersion[q], mass_share[q], threshold[q], tail[q],
                                exposure[qe, t] * 1000.0)
            struck[r, t, a] = lost
            losses_today[r, t, a] += lost
            losses_by[r, t, a] += lost
            air_losses[r, t, a] += lost
            rates[r, t, a] += rate


@helper
def attribute(target, client, blame, attack, losses_today, struck, hostile, blamed,
              blamed_total):
    """Hostile acts and casualties as the target attributes them, ``(R, A, A)`` each.

    ``hostile`` is today's attacks plus each patron's sorties as an attack on the target by
    the side(s) blamed; ``blamed`` is today's losses with each patron's strikes moved from the
    patron's column to the blamed side(s) (counted in each column under ``both``), and is
    added to ``blamed_total``. The escalation drive (acts, provocation and the weariness of a
    dyad's accumulated losses), the grievance memory and the affinity cost of attacks read
    these; the soldiers lost (pressure, war weariness, indicators) are counted once, in
    ``losses_today``.
    """
    n = attack.shape[1]
    for r in range(attack.shape[0]):
        for i in range(n):
            for j in range(n):
                hostile[r, i, j] = attack[r, i, j]
                blamed[r, i, j] = losses_today[r, i, j]
        for a in range(n):
            t, c = target[r, a], client[r, a]
            if t < 0:
                continue
            to_client, to_patron = blamed_shares(blame[r, a])
            hit = struck[r, t, a]
            blamed[r, t, a] += np.int64(to_patron) * hit - hit
            blamed[r, t, c] += np.int64(to_client) * hit
            hostile[r, a, t] += to_patron
            hostile[r, c, t] += to_client
        for i in range(n):
            for j in range(n):
                blamed_total[r, i, j] += blamed[r, i, j]
