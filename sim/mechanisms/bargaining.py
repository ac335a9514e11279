"""Bargaining and agreements (mechanism 6).

Each party compares a deal with its expected value of the *status quo path* over the
bargaining horizon: yesterday's postures across the deal's ceasefire continued (fighting where
there is fighting, peace where there is peace), not all-out war. It weighs the territory it
expects to hold (today's control plus the status quo's expected drift, from the contest
function) against the deal's (the terms for the objectives the deal re-divides, today's
control for the rest: a ceasefire freezes the line in place), the losses and escalation risk
it would avoid under the ceasefire, the war costs and war weariness it would shed if it is
fighting, and the standing lost by conceding ground when domestic pressure is high.

A party does not know the others' resolve and overrates its own prospects (mutual optimism:
Blainey 1973; Fearon 1995): while fighting, it believes fighting on would win it the share
``optimism`` of the ground at stake (valued ground that neither it nor its friends hold). It
accepts a deal when its *perceived* surplus is positive: its surplus plus its private resolve
``noise * z`` (``z`` a standard normal drawn once per run and deal: a trait, not a mistake)
minus ``shrink * optimism * stake``, with ``shrink = exp(-learning * information)``.
Information about the deal's parties accumulates with what fighting reveals (days of fighting
weighted by intensity, and losses beyond their expected scatter: Slantchev 2003 "The principle
of convergence in wartime negotiations"; Filson & Werner 2002), with every rejected proposal
(Powell 2004), and with mediation on the ceasefire's dyads. So deals that are out of reach at
the start can become acceptable after costly fighting, and the day of agreement is spread, not
piled at day 0; a party whose resolve outweighs its gain from a deal never signs it, however
long it fights.

War weariness (Mueller 1973) grows, with a lag of about ``weariness_days``, with the log of own
losses and with days at war; it raises
the value of a deal for a side that is fighting (and lowers that of attacking:
``sim.mechanisms.decisions``).

A deal forms when a party (or a mediator) proposes it and every party accepts; it replaces
rival deals in force (same parties, a shared ceasefire dyad, or an act bound differently:
``sim.world._rivals``) and cannot re-form for a
cooling-off period after it breaks down (``sim.day._deals``). An agreement re-divides the
objectives its terms name, caps the rung of the dyads its ceasefire covers and bars attacks
across them; its terms over actions (gates, assets, sanctions, payments) are valued and bound
by ``sim.mechanisms.terms``. It breaks
down with a daily hazard that grows with residual hostility: negative affinity in the
ceasefire dyads and the parties' pressure.

References:
    Blainey, G. (1973). The Causes of War. Free Press.
    Fearon, J. D. (1995). Rationalist explanations for war. International Organization 49(3).
    Fortna, V. P. (2004). Peace Time: Cease-Fire Agreements and the Durability of Peace.
        Princeton University Press.
    Filson, D. & Werner, S. (2002). A bargaining model of war and peace. American Journal of
    Political Science 46(4).
    Mueller, J. (1970). Presidential popularity from Truman to Johnson. American Political
    Science Review 64(1).
    Mueller, J. (1973). War, Presidents and Public Opinion. Wiley.
    Powell, R. (2004). Bargaining and learning while fighting. American Journal of Political
    Science 48(2).
    Powell, R. (2006). War as a commitment problem. International Organization 60(1).
    Smith, A. & Stam, A. C. (2004). Bargaining and the nature of war. Journal of Conflict
    Resolution 48(6).
    Slantchev, B. L. (2003). The principle of convergence in wartime negotiations. American
    Political Science Review 97(4).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, pick
from sim.world import OBJ


@helper
def surplus(control, war_drift, war_losses, rung, pressure, affinity, armed, weariness,
            ceasefire, transfers, sides, horizon, interests, risk_attitude, severity, value,
            terms, caps, war_cost, war_weariness, territory_unit, loss_unit, concession,
            acts, spared, conflict_people, displacement, people_unit, provoked, reciprocity,
            pledged, upkeep, work, out, stake):
    """Each side's gain from each deal over the status quo path, ``(R, D, S)``, in utility.

    Also writes each side's *stake* in fighting on, ``(R, D, S)``: the utility of the valued
    ground that neither it nor its friends hold (what a month of fighting could win it), when
    it is fighting across the deal's ceasefire (0 otherwise). Optimism is a share of it
    (``perceive``). A mediator (a side that does not sign) weighs the deal the same way: the
    displacement its ceasefire would spare (``humanitarian``) and its friends' ground are what
    move a mediator that is not itself fighting.

    Args:
        control: ``(R, O, A)`` control today.
        war_drift: ``(D, R, O, A)`` expected daily change of control on the deal's status
            quo path (yesterday's postures across its ceasefire dyads continued).
        war_losses: ``(D, R, A, A)`` expected daily losses of i caused by j on that path.
        rung: ``(R, A, A)``.
        pressure: ``(R, A)``.
        affinity: ``(R, A, A)``.
        armed: ``(R, A, A)`` bool: i is fighting j (an armed rung, or yesterday's attack).
        weariness: ``(R, A)`` war weariness.
        ceasefire: ``(D, A, A)`` bool: the dyads each deal's ceasefire covers.
        transfers: ``(D, O)`` bool: the objectives each deal re-divides.
        sides: ``(D, S)`` each deal's parties then mediators (-1 pads).
        horizon: ``(P,)`` days of fighting on that a party weighs.
        interests: ``(P, A, n_objectives)`` interest weights.
        risk_attitude: ``(P, A)``.
        severity: ``(P, L)`` severity of each rung.
        value: ``(P, O, A)`` value of each objective to each actor.
        terms: ``(P, D, O, A)`` control each deal gives.
        caps: ``(P, D)`` highest rung each deal allows.
        war_cost: ``(P, A)`` daily cost of fighting.
        war_weariness: ``(P, A)`` daily utility of peace per unit of weariness.
        territory_unit: ``(P,)`` territory value per unit of utility.
        loss_unit: ``(P, A)`` each actor's losses per unit of utility
            (``sim.world.loss_units``).
        concession: ``(P,)`` standing lost per unit of pressure by conceding ground.
        acts: ``(R, D, S)`` each side's value of the deal's terms over actions
            (``sim.mechanisms.terms.deal_values``).
        spared: ``(D, R)`` fighting intensity felt by civilians on each deal's status quo
            path across its ceasefire (what the ceasefire would spare).
        conflict_people: ``(R,)`` people in conflict nodes.
        displacement: ``(P,)`` daily share displaced per unit of fighting intensity.
        people_unit: ``(P,)`` people per unit of utility.
        provoked: ``(R, A, A)`` attacks of j on i not yet answered (``pressure.provoked_step``):
            a ceasefire bars the answer, and a party weighs what it gives up
            (``answer_value``, the largest over its ceasefire dyads).
        reciprocity: ``(P,)`` value of answering.
        pledged: ``(R, A, A)`` standing i has at stake against j from crossed red lines
            (``sim.mechanisms.red_lines``): a ceasefire that bars the answer costs it, weighed
            like ``provoked``'s answer and doubled at full pressure.
        upkeep: ``(P,)`` a standoff's daily cost to a side not fighting, per unit of its
            most severe rung's severity, as a share of its ``war_cost`` (Slantchev 2005:
            mobilisation is costly, so a standoff can end by a deal without fighting).
        work: ``(3, O, A)`` scratch: control now, after fighting on, under the deal.
        out: ``(R, D, S)`` result.
        stake: ``(R, D, S)`` written: the side's stake in fighting on.
    """
    o_count, n = control.shape[1], control.shape[2]
    for r in range(out.shape[0]):
        q = pick(horizon.shape[0], r)
        w = interests
        for o in range(o_count):
            for b in range(n):
                work[0, o, b] = control[r, o, b]
        for d in range(ceasefire.shape[0]):
            for o in range(o_count):
                for b in range(n):
                    held = min(max(control[r, o, b] + war_drift[d, r, o, b] * horizon[q], 0.0),
                               1.0)
                    work[1, o, b] = held
                    # a ceasefire freezes what the deal does not re-divide where it stands
                    work[2, o, b] = terms[q, d, o, b] if transfers[d, o] else work[0, o, b]
            cap = severity[q, caps[q, d]]
            displaced = displacement[q] * spared[d, r] * conflict_people[r] * horizon[q]
            for side in range(sides.shape[1]):
                a = sides[d, side]
                if a < 0:
                    out[r, d, side], stake[r, d, side] = 0.0, 0.0
                    continue
                # value-weighted ground a holds now, after fighting on and under the deal,
                # counting what friends hold: sum_o value[o, a] sum_b held[o, b] max(A_ab, 0)
                # (affinity 1 to oneself): a patron gains from ground its client takes
                now, fighting_on, with_deal, contested = 0.0, 0.0, 0.0, 0.0
                for o in range(o_count):
                    held_now, held_fighting, held_deal = 0.0, 0.0, 0.0
                    for b in range(n):
                        friend = 1.0 if b == a else min(max(affinity[r, a, b], 0.0), 1.0)
                        held_now += work[0, o, b] * friend
                        held_fighting += work[1, o, b] * friend
                        held_deal += work[2, o, b] * friend
                    contested += max(1.0 - held_now, 0.0) * value[q, o, a]
                    now += held_now * value[q, o, a]
                    fighting_on += held_fighting * value[q, o, a]
                    with_deal += held_deal * value[q, o, a]
                avoided, sev_now, in_fight, unanswered = 0.0, 0.0, 0.0, 0.0
                for j in range(n):
                    if ceasefire[d, a, j]:
                        unanswered = max(unanswered,
                                         answer_value(reciprocity[q], pressure[r, a],
                                                      provoked[r, a, j])
                                         + pledged[r, a, j] * (1.0 + pressure[r, a]))
                        avoided += war_losses[d, r, a, j]
                        sev_now = max(sev_now, severity[q, rung[r, a, j]])
                        if armed[r, a, j] or armed[r, j, a]:
                            in_fight = 1.0  # only a side that is fighting saves war's costs
                conceded = 1.0 if with_deal < now - 1e-9 else 0.0
                stake[r, d, side] = w[q, a, _TERRITORY] * contested / territory_unit[q] * in_fight
                out[r, d, side] = (
                    w[q, a, _TERRITORY] * (with_deal - fighting_on) / territory_unit[q]
                    + w[q, a, _LOSSES] * avoided * horizon[q] / loss_unit[q, a]
                    + w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a])
                    * (sev_now - min(sev_now, cap))
                    + (war_cost[q, a] + war_weariness[q, a] * weariness[r, a]) * horizon[q]
                    * in_fight
                    + upkeep[q] * war_cost[q, a] * (sev_now - min(sev_now, cap)) * horizon[q]
                    * (1.0 - in_fight)
                    - w[q, a, _STANDING] * concession[q] * pressure[r, a] * conceded
                    - w[q, a, _STANDING] * unanswered
                    + w[q, a, _HUMANITARIAN] * displaced / people_unit[q]
                    + acts[r, d, side]
                )


@helper
def answer_value(reciprocity: float, pressure: float, provoked: float) -> float:
    """Standing gained by answering attacks not yet answered: reciprocity and reputation.

    ``reciprocity (1 + pressure) (1 - exp(-provoked))``: a state struck is expected to strike
    back whatever the strike cost it, and is judged, at home and abroad, by whether it does
    (Sartori 2005; Weisiger & Yarhi-Milo 2015); domestic pressure doubles the call at most.
    ``provoked`` counts the attacks suffered since the last answer, fading, so the value
    saturates (one answer discharges many strikes) and a side that is already striking back
    has nothing left to answer: sustained fighting is not fuelled by it.
    """
    return reciprocity * (1.0 + pressure) * (1.0 - np.exp(-provoked))


_TERRITORY, _LOSSES = OBJ["territory"], OBJ["losses"]
_ESCALATION, _STANDING = OBJ["escalation"], OBJ["standing"]
_HUMANITARIAN = OBJ["humanitarian"]


@helper
def perceive(gains, stake, private, information, optimism, sides, noise, learning, shrink,
             out):
    """Each side's surplus as it sees it, ``(R, D, S)``, and what is still unrevealed.

    ``out = gains + noise * z - shrink * optimism * stake`` with ``shrink = exp(-learning *
    information)`` (``shrink`` is written too, ``(R, D)``). ``noise * z`` is the party's private
    resolve: how much more (or less) than the public stakes it values the issue, a trait that
    fighting reveals to the other side (the proposer's uncertainty about it shrinks:
    ``sim.mechanisms.decisions``) but does not change (Fearon 1995). A party that is fighting
    believes fighting on would win it the share ``optimism`` of the ground at stake (mutual
    optimism about relative power: Blainey 1973), so optimism weighs as much as the stakes and
    nothing at peace; that belief is what fighting corrects (Slantchev 2003; Smith & Stam 2004).

    Args:
        gains: ``(R, D, S)`` surpluses (``surplus``).
        stake: ``(R, D, S)`` each side's stake in fighting on (``surplus``).
        private: ``(R, D, S)`` private types, standard normal (0 for mediators).
        information: ``(R, D)`` information revealed so far.
        optimism: ``(P, A)``.
        sides: ``(D, S)``.
        noise: ``(P,)`` scale of private information.
        learning: ``(P,)``.
        shrink: ``(R, D)`` written.
        out: ``(R, D, 2)`` written.
    """
    for r in range(out.shape[0]):
        q = pick(noise.shape[0], r)
        for d in range(out.shape[1]):
            left = np.exp(-learning[q] * information[r, d])
            shrink[r, d] = left
            for side in range(sides.shape[1]):
                a = sides[d, side]
                out[r, d, side] = 0.0 if a < 0 else (
                    gains[r, d, side] + noise[q] * private[r, d, side]
                    - left * optimism[q, a] * stake[r, d, side])


@helper
def accepted(perceived, signs, r, d):
    """Whether every party (signatory) of deal d accepts: its perceived surplus is positive."""
    for side in range(signs.shape[1]):
        if signs[d, side] and perceived[r, d, side] <= 0.0:
            return False
    return True


@helper
def learn(intensity, losses_today, scripted, rates, mediation, ceasefire, event_size,
          dispersion, mediation_info, information):
    """Information revealed today about each deal's parties, added to ``information``.

    Fighting across the deal's ceasefire dyads reveals information in proportion to its
    intensity (a day at intensity 1 counts 1: each day of battle is a draw from the contest
    that tells both sides something about their relative power; Smith & Stam 2004). A day's
    losses reveal more only when they *surprise*: the part of their standardised deviation
    from the expected toll beyond one standard deviation, ``max(|losses - rate| / sd - 1, 0)``,
    with ``sd`` the spread of the heavy-tailed toll (``fighting.event_losses``: variance
    ``rate (1 + size (1 + 1 / dispersion))``). Ordinary day-to-day scatter is expected and
    teaches nothing; a massacre or an unexpectedly quiet front does. Losses a scenario's
    timeline scripts (``casualties`` events) are left out: they are not draws of the contest,
    and their expected size is not known. Mediation on those dyads adds ``mediation_info`` per
    unit of effort.

    Args:
        intensity: ``(R, A, A)`` today's fighting intensity (symmetric).
        losses_today: ``(R, A, A)`` int.
        scripted: ``(A, A)`` today's scripted casualties (included in ``losses_today``).
        rates: ``(R, A, A)`` expected losses today.
        mediation: ``(A, A)`` mediation effort today (symmetric).
        ceasefire: ``(D, A, A)`` bool.
        event_size: ``(P,)`` mean toll of a loss event.
        dispersion: ``(P,)`` shape of a toll's gamma mixing.
        mediation_info: ``(P,)``.
        information: ``(R, D)`` updated in place.
    """
    n = intensity.shape[1]
    for r in range(information.shape[0]):
        q = pick(mediation_info.shape[0], r)
        spread = 1.0 + event_size[q] * (1.0 + 1.0 / dispersion[q])
        for d in range(information.shape[1]):
            revealed = 0.0
            for i in range(n):
                for j in range(i + 1, n):
                    if not ceasefire[d, i, j]:
                        continue
                    revealed += intensity[r, i, j] + mediation_info[q] * mediation[i, j]
                    for a, b in ((i, j), (j, i)):
                        rate = rates[r, a, b]
                        if rate > 0.0:
                            drawn = losses_today[r, a, b] - scripted[a, b]
                            z = abs(drawn - rate) / np.sqrt(rate * spread)
                            revealed += max(z - 1.0, 0.0)
            information[r, d] += revealed


@helper
def weariness_step(armed, losses_by, loss_unit, weariness_days, war_days, out):
    """War weariness per actor, ``(R, A)``, updated in ``out``; ``war_days`` counts up.

    Weariness follows ``log(1 + own losses / loss_unit) + days at war / weariness_days``
    (Mueller 1973: support for a war falls with the log of its casualties, and with its length)
    with a lag: each day it closes ``1 / weariness_days`` of the gap to that level. Casualties
    first rally a public behind its leader (Mueller 1970; the short-lived "rally round the
    flag") and weigh on support only over the following weeks, so a massacre provokes before
    it wearies. A day at war is a day the actor fights anyone (``armed``).
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        q = pick(loss_unit.shape[0], r)
        for a in range(n):
            fighting = False
            lost = 0.0
            for b in range(n):
                fighting |= armed[r, a, b] or armed[r, b, a]
                lost += losses_by[r, a, b]
            if fighting:
                war_days[r, a] += 1
            level = np.log1p(lost / loss_unit[q]) + war_days[r, a] / weariness_days[q]
            out[r, a] += (level - out[r, a]) / weariness_days[q]


@helper
def breakdown_hazard(affinity, pressure, losses, ceasefire, sides, signs, base, per_hostility,
                     per_violation, out):
    """Daily chance each agreement breaks down, ``(R, D)``.

    Residual hostility is the worst enmity across the ceasefire's dyads plus the parties' mean
    domestic pressure. Violations add to it: each soldier lost across the ceasefire's dyads the
    day before adds ``per_violation`` (ceasefires fail after violations that kill; Fortna 2004
    "Peace Time"), so a massacre during a ceasefire can end it.
    """
    n = affinity.shape[1]
    for r in range(out.shape[0]):
        q = pick(base.shape[0], r)
        for d in range(ceasefire.shape[0]):
            worst = 0.0
            for i in range(n):
                for j in range(n):
                    if ceasefire[d, i, j]:
                        worst = max(worst, -affinity[r, i, j])
            mean_pressure, count = 0.0, 0
            for side in range(sides.shape[1]):
                if signs[d, side]:
                    mean_pressure += pressure[r, sides[d, side]]
                    count += 1
            hostility = worst + mean_pressure / max(count, 1)
            violations = 0.0
            for i in range(n):
                for j in range(n):
                    if ceasefire[d, i, j]:
                        violations += losses[r, i, j]
            hazard = (base[q, d] + per_hostility[q, d] * hostility
                      + per_violation[q, d] * violations)
            out[r, d] = min(max(hazard, 0.0), 1.0)
