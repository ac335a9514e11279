"""Interests and decisions: score every menu entry, choose by quantal response (mechanism 1).

Each actor scores each action in its menu by the predicted change, over a short horizon, of
the objectives it weighs (the fixed vocabulary in ``sim.scenario.schema.OBJECTIVES``), minus
the action's cost. Predictions use the expectation of the model's own transition rules
(fighting intensity and loss rates, the contest function, the ladder's step probabilities,
the refugee routes, the bargaining surplus), with every other actor assumed to keep
yesterday's posture. ``hold`` is the reference (zero change). The choice is logit (quantal
response): ``P(x) ~ exp(rationality * U(x))``.

References:
    McKelvey, R. D. & Palfrey, T. R. (1995). Quantal response equilibria for normal form
    games. Games and Economic Behavior 10(1).
    Bueno de Mesquita, B. (1981). The War Trap (expected-utility decisions of states).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.jit import helper, kernel, packed, row, tuple_type
from sim.world import OBJ, VERB


@dataclass
class Situation:
    """What every actor observes at the start of a day (derived from the state)."""

    day: int
    rung: np.ndarray  # (R, A, A)
    affinity: np.ndarray  # (R, A, A)
    pressure: np.ndarray  # (R, A)
    control: np.ndarray  # (R, O, A)
    cover: np.ndarray  # (R, A)
    fire: np.ndarray  # (R, A, A) fire[i, j]: j's firepower on i
    attack_prev: np.ndarray  # (R, A, A) yesterday's attacks i -> j
    win: np.ndarray  # (R, A, A) contest share of i attacking j
    power: np.ndarray  # (R, A, A) contest power of i against ground held by j
    can_hold: np.ndarray  # (P, O, A)
    grievance: np.ndarray  # (R, A, A)
    asset_on: np.ndarray  # (R, K)
    asset_holder: np.ndarray  # (R, K)
    asset_available: np.ndarray  # (R, K) bool: the asset's window is open
    requested: np.ndarray  # (R, K, A)
    gate_open: np.ndarray  # (R, G)
    route_potential: np.ndarray  # (R, E) daily movers along each route if its gate were open
    arrivals: np.ndarray  # (R, A) recent daily arrivals on each actor's soil (smoothed)
    conflict_people: np.ndarray  # (R,) people in conflict nodes
    deal_gains: np.ndarray  # (R, D, 2)
    agreement: np.ndarray  # (R, D) bool
    barred: np.ndarray  # (R, A, A) bool: attacks barred by a ceasefire


#: ``Situation`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedSituation = tuple_type(Situation, "PackedSituation")


def score_menu(s: Situation, layout, p) -> np.ndarray:
    """Utility of every menu entry, ``(R, M)`` (``-inf`` where an action is unavailable)."""
    menu = layout.menu
    structure = (menu.actor, menu.verb, menu.target, menu.asset, menu.gate, menu.deal,
                 layout.deal_parties[:, 1], layout.asset_owner,
                 layout.edge_src, layout.edge_dst, layout.edge_gate, layout.node_host)
    structure = tuple(np.ascontiguousarray(x, dtype=np.int64) for x in structure)
    return _score_menu(packed(s, PackedSituation), p.packed, structure, layout.armed_from)


_TERRITORY, _LOSSES, _ESCALATION = OBJ["territory"], OBJ["losses"], OBJ["escalation"]
_REFUGEES, _TIES, _STANDING = OBJ["refugees"], OBJ["ties"], OBJ["standing"]
_HUMANITARIAN = OBJ["humanitarian"]
_ATTACK, _DEESCALATE, _SANCTION = VERB["attack"], VERB["deescalate"], VERB["sanction"]
_NEGOTIATE, _REQUEST, _GRANT = VERB["negotiate"], VERB["request_support"], VERB["grant_support"]
_ACTIVATE, _OPEN_GATE, _CLOSE_GATE = VERB["activate"], VERB["open_gate"], VERB["close_gate"]


@helper
def _tanh_pos(x: float) -> float:
    return np.tanh(max(x, 0.0))


@helper
def _severity_step(severity, rung: int, delta: int) -> float:
    """Change of severity if the rung moves by ``delta`` (clipped to the ladder)."""
    after = min(max(rung + delta, 0), severity.size - 1)
    return abs(severity[after] - severity[rung])


@kernel
def _score_menu(s, p, structure, armed_from):
    (actor, verb, target, asset, gate, deal, second_party, asset_owner, edge_src, edge_dst,
     edge_gate, node_host) = structure
    r_count, n = s.rung.shape[0], s.rung.shape[1]
    k_count = s.asset_on.shape[1]
    utility = np.zeros((r_count, verb.size))
    air_part = np.empty((n, n))
    blocked = np.zeros((k_count, n), dtype=np.bool_)
    objection = np.zeros((k_count, n))
    is_host = np.zeros(n, dtype=np.bool_)
    for r in range(r_count):
        horizon, boost = row(p.horizon, r), row(p.attack_boost, r)
        intensity_of, severity = row(p.rung_intensity, r), row(p.rung_severity, r)
        w, risk_attitude = row(p.interests, r), row(p.risk_attitude, r)
        loss_unit, people_unit = row(p.loss_unit, r), row(p.people_unit, r)
        partner, trade = row(p.partner, r), row(p.trade, r)
        air, exposure, loss_rate = row(p.air, r), row(p.exposure, r), row(p.loss_rate, r)
        hostility, rate_up = row(p.hostility, r), row(p.rate_up, r)
        retaliation = row(p.retaliation, r)
        air_defence_of, affinity_of = row(p.asset_air_defence, r), row(p.asset_affinity, r)
        relief_of = row(p.asset_relief, r)
        # what the actors see: air losses of i from j, assets barred and objected to
        for i in range(n):
            for j in range(n):
                air_part[i, j] = (loss_rate * intensity_of[s.rung[r, i, j]] * air[j]
                                  * (1.0 - s.cover[r, i]) * exposure[i])
        requires, penalty = row(p.asset_requires_inactive, r), row(p.asset_held_penalty, r)
        for k in range(k_count):
            for a in range(n):
                blocked[k, a] = False
                objection[k, a] = 0.0
                for other in range(k_count):
                    if s.asset_holder[r, other] == a:
                        objection[k, a] += penalty[k, other]
                        if s.asset_on[r, other] and requires[k, other]:
                            blocked[k, a] = True
        for e in range(verb.size):
            a, v = actor[e], verb[e]
            value = 0.0
            if v in (_ATTACK, _DEESCALATE, _SANCTION):
                t = target[e]
                # drive from the other side's posture alone (others keep yesterday's posture)
                d0 = (row(p.base_drift, r) + hostility * s.attack_prev[r, t, a]
                      - row(p.trade_damping, r) * trade[a, t])
            if v == _ATTACK:
                other = s.attack_prev[r, t, a]
                base = intensity_of[s.rung[r, a, t]]
                i_hold = base * (1.0 + boost * other)
                i_att = max(base, intensity_of[armed_from]) * (1.0 + boost * (1.0 + other))
                d_int = i_att - i_hold
                own_losses = loss_rate * d_int * s.fire[r, a, t] * exposure[a]
                gain = 0.0
                for o in range(s.control.shape[1]):
                    gain += (row(p.value, r)[o, a] * row(p.speed, r)[o] * s.control[r, o, t]
                             * row(s.can_hold, r)[o, a])
                territory = gain * i_att / (1.0 + 2.0 * boost) * 2.0 * s.win[r, a, t]
                territory += _coalition_gain(s, p, r, a, t, armed_from)
                d_up = rate_up * (_tanh_pos(d0 + hostility) - _tanh_pos(d0))
                escalation = min(d_up * horizon, 1.0) * _severity_step(severity, s.rung[r, a, t], 1)
                displaced = row(p.displacement_fighting, r) * d_int * s.conflict_people[r]
                value = (
                    w[a, _TERRITORY] * territory * horizon / row(p.territory_unit, r)
                    - w[a, _LOSSES] * own_losses * horizon / loss_unit
                    - w[a, _ESCALATION] * (1.0 - risk_attitude[a]) * escalation
                    + w[a, _STANDING] * retaliation * s.pressure[r, a] * s.grievance[r, a, t]
                    / loss_unit
                    - w[a, _TIES] * partner[a, t] * row(p.aff_attack, r) * horizon
                    - w[a, _HUMANITARIAN] * displaced * horizon / people_unit
                    - row(p.war_cost, r)[a] * horizon
                )
                if s.barred[r, a, t]:
                    value = -np.inf
            elif v == _DEESCALATE:
                d_down = row(p.rate_down, r) * (
                    _tanh_pos(-(d0 - row(p.conciliation, r))) - _tanh_pos(-d0))
                escalation = (min(d_down * horizon, 1.0)
                              * _severity_step(severity, s.rung[r, a, t], -1))
                value = (
                    w[a, _ESCALATION] * (1.0 - risk_attitude[a]) * escalation
                    + w[a, _TIES] * partner[a, t] * row(p.aff_deescalation, r) * horizon
                    - w[a, _STANDING] * row(p.concession, r) * s.pressure[r, a]
                )
            elif v == _SANCTION:
                d_up = rate_up * (_tanh_pos(d0 + row(p.sanction_drive, r)) - _tanh_pos(d0))
                escalation = min(d_up * horizon, 1.0) * _severity_step(severity, s.rung[r, a, t], 1)
                value = (
                    -w[a, _ESCALATION] * (1.0 - risk_attitude[a]) * escalation
                    + w[a, _STANDING] * 0.5 * retaliation * s.pressure[r, a]
                    * s.grievance[r, a, t] / loss_unit
                    - w[a, _TIES] * (partner[a, t] + trade[a, t]) * row(p.aff_sanction, r)
                    * horizon
                )
            elif v == _NEGOTIATE:
                d = deal[e]
                side = 1 if second_party[d] == a else 0
                theirs = s.deal_gains[r, d, 1 - side]
                z = min(max(theirs / row(p.bargaining_noise, r), -30.0), 30.0)
                # chance the other side's noisy surplus is positive (bargaining's rule)
                value = 1.0 / (1.0 + np.exp(-1.702 * z)) * s.deal_gains[r, d, side]
                if s.agreement[r, d]:
                    value = -np.inf
            elif v in (_REQUEST, _ACTIVATE, _GRANT):
                k = asset[e]
                # the value of air cover to its holder, and the asset's effects on ties
                avoided = 0.0
                effect = 0.0
                for j in range(n):
                    avoided += air_part[a, j] * air_defence_of[k]
                    effect += partner[a, j] * affinity_of[k, j]
                cover_value = w[a, _LOSSES] * avoided * horizon / loss_unit
                ties_effect = w[a, _TIES] * effect
                unavailable = s.asset_on[r, k] or not s.asset_available[r, k]
                if v == _REQUEST:
                    supplier = asset_owner[k]
                    chance = 1.0 / (1.0 + np.exp(-4.0 * s.affinity[r, a, supplier]))
                    if blocked[k, a]:
                        chance = 0.0
                    value = chance * (cover_value + w[a, _TIES] * partner[a, supplier]
                                      * row(p.asset_holder_affinity, r)[k])
                    unavailable = s.asset_on[r, k]
                elif v == _ACTIVATE:
                    value = cover_value + ties_effect
                else:
                    t = target[e]
                    arrivals = s.arrivals[r, a]
                    value = (
                        w[a, _TIES] * partner[a, t]
                        * (row(p.asset_holder_affinity, r)[k] + row(p.aff_support, r))
                        + w[a, _TIES] * row(p.request_weight, r) * s.requested[r, k, t]
                        + ties_effect
                        + w[a, _REFUGEES] * relief_of[k] * arrivals * horizon / people_unit
                        # relief of the supplier's own domestic pressure, by the pressure rule
                        + w[a, _STANDING] * row(p.pressure_per_refugees, r)[a] * relief_of[k]
                        * arrivals * horizon / 100_000.0
                        - objection[k, t]
                    )
                    unavailable = unavailable or blocked[k, t]
                if unavailable:
                    value = -np.inf
            elif v in (_OPEN_GATE, _CLOSE_GATE):
                g = gate[e]
                sign = 1.0 if v == _OPEN_GATE else -1.0
                # movers from the actor's own nodes along the gate's routes, and the
                # partners hosting the routes' far ends
                through = 0.0
                is_host[:] = False
                for q in range(edge_gate.size):
                    if edge_gate[q] != g:
                        continue
                    if node_host[edge_src[q]] == a:
                        through += s.route_potential[r, q] * (1.0 - row(p.gate_leakage, r)[g])
                    if node_host[edge_dst[q]] >= 0:
                        is_host[node_host[edge_dst[q]]] = True
                cost_ties = 0.0
                for h in range(n):
                    if is_host[h]:
                        cost_ties += partner[a, h]
                changes = (sign < 0) if s.gate_open[r, g] else (sign > 0)  # acting moves it
                if changes:
                    value = sign * (
                        w[a, _REFUGEES] * through * horizon / people_unit
                        - w[a, _TIES] * cost_ties * row(p.gate_cost, r) * horizon
                    )
            utility[r, e] = value - row(p.action_cost, r)[e]
    return utility


@helper
def _coalition_gain(s, p, r: int, a: int, t: int, armed_from: int) -> float:
    """Daily territory value to a of backing its friends' offensives against t.

    A patron's air power counts in a friend's contest against t while the patron itself
    fights t (``fighting.contest_power``). Attacking keeps it in the fight; the gain is what
    the friends' push against t is worth to the attacker, through its value of each objective
    and its affinity with each friend, times the share of their contest the support decides.
    """
    m = row(p.contest_exponent, r)
    heat_scale = 1.0 + 2.0 * row(p.attack_boost, r)
    help_unit = row(p.air, r)[a] * (1.0 - s.cover[r, t])
    in_fight = s.rung[r, a, t] >= armed_from
    total = 0.0
    for b in range(s.rung.shape[1]):
        friend = max(s.affinity[r, a, b], 0.0)
        pushing = s.attack_prev[r, b, t]
        if b in (a, t) or friend * pushing == 0.0:
            continue
        help_ = friend * help_unit
        power_bt = s.power[r, b, t]
        with_help = power_bt if in_fight else power_bt + help_
        without = max(with_help - help_, 0.0)
        theirs = s.power[r, t, b] ** m
        with_m, without_m = with_help ** m, without ** m
        decided = ((with_m / (with_m + theirs) if with_m + theirs > 0 else 0.5)
                   - (without_m / (without_m + theirs) if without_m + theirs > 0 else 0.5))
        heat = row(p.rung_intensity, r)[max(s.rung[r, b, t], armed_from)] / heat_scale
        total += friend * pushing * heat * 2.0 * decided
    # value to a of ground its friends take from t: value[o, a] * control[o, t] * speed[o]
    stake = 0.0
    for o in range(s.control.shape[1]):
        stake += row(p.value, r)[o, a] * s.control[r, o, t] * row(p.speed, r)[o]
    return stake * total


def quantal_choice(utility: np.ndarray, rationality: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pick one entry per replication by the logit rule, ``(R,)`` local indices.

    Args:
        utility: ``(R, M_a)`` one actor's menu utilities (``-inf`` = unavailable).
        rationality: ``(P,)`` logit precision.
        u: ``(R,)`` uniforms.
    """
    return _quantal_choice(np.ascontiguousarray(utility), rationality, u)


@kernel
def _quantal_choice(utility, rationality, u):
    r_count, m = utility.shape
    out = np.empty(r_count, dtype=np.int64)
    weights = np.empty(m)
    for r in range(r_count):
        precision = row(rationality, r)
        top = -np.inf
        for e in range(m):
            if np.isfinite(utility[r, e]):
                top = max(top, utility[r, e] * precision)
        total = 0.0
        for e in range(m):
            if not np.isfinite(top):  # nothing available: the menu's first entry (hold)
                weights[e] = 1.0
            elif np.isfinite(utility[r, e]):
                weights[e] = np.exp(utility[r, e] * precision - top)
            else:
                weights[e] = 0.0
            total += weights[e]
        threshold = u[r] * total
        cdf, choice = 0.0, 0
        for e in range(m):
            cdf += weights[e]
            if cdf < threshold:
                choice += 1
        out[r] = min(choice, m - 1)
    return out


__all__ = ["Situation", "quantal_choice", "score_menu"]
