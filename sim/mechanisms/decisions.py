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

from sim.mechanisms.common import lookup
from sim.world import OBJ, sc


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


def _pick(x: np.ndarray, *idx: np.ndarray) -> np.ndarray:
    """Gather ``x[:, idx0[e], idx1[e], ...]`` for entries e -> ``(R or P, E)``."""
    return x[(slice(None), *idx)]


def score_menu(s: Situation, layout, p) -> np.ndarray:
    """Utility of every menu entry, ``(R, M)`` (``-inf`` where an action is unavailable)."""
    menu = layout.menu
    r = s.rung.shape[0]
    utility = np.zeros((r, menu.verb.size))
    horizon = sc(p.horizon, 2)
    base_int = lookup(p.rung_intensity, s.rung)
    armed_int = lookup(p.rung_intensity, np.full((r, 1, 1), layout.armed_from))
    boost = sc(p.attack_boost, 3)
    n_rungs = len(layout.rungs)
    severity = p.rung_severity

    def sev_step(rung: np.ndarray, delta: int) -> np.ndarray:
        nxt = np.clip(rung + delta, 0, n_rungs - 1)
        return np.abs(lookup(severity, nxt) - lookup(severity, rung))

    def weights(a: np.ndarray, name: str) -> np.ndarray:
        return p.interests[:, a, OBJ[name]]

    def tanh_pos(x: np.ndarray) -> np.ndarray:
        return np.tanh(np.maximum(x, 0.0))

    loss_unit = sc(p.loss_unit, 2)
    people_unit = sc(p.people_unit, 2)
    risk = 1.0 - p.risk_attitude  # (P, A)
    # drive from the other side's posture alone (others keep yesterday's posture)
    drive0 = (sc(p.base_drift, 3) + sc(p.hostility, 3) * np.swapaxes(s.attack_prev, 1, 2)
              - sc(p.trade_damping, 3) * p.trade)
    air_part = (sc(p.loss_rate, 3) * base_int * p.air[:, None, :] * (1.0 - s.cover[:, :, None])
                * p.exposure[:, :, None])  # (R, A, A): air losses of i from j
    holds = s.asset_holder[:, :, None] == np.arange(layout.n_actors)  # (R, K, A)
    held_active = holds & s.asset_on[:, :, None]
    # blocked_for[k, a]: a holds an active asset that bars k
    blocked_for = (held_active[:, None] & p.asset_requires_inactive[:, :, :, None]).any(axis=2)
    objection = (p.asset_held_penalty[:, :, :, None] * holds[:, None, :, :]).sum(axis=2)

    # ---------------- attack
    e = menu.entries("attack")
    if e.size:
        a, t = menu.actor[e], menu.target[e]
        other = _pick(s.attack_prev, t, a)
        base = _pick(base_int, a, t)
        i_hold = base * (1.0 + boost[:, :, 0] * other)
        i_att = np.maximum(base, armed_int[:, :, 0]) * (1.0 + boost[:, :, 0] * (1.0 + other))
        d_int = i_att - i_hold
        own_losses = sc(p.loss_rate, 2) * d_int * _pick(s.fire, a, t) * p.exposure[:, a]
        gain = (p.value[:, :, a] * p.speed[:, :, None] * s.control[:, :, t]
                * s.can_hold[:, :, a]).sum(axis=1)
        territory = gain * i_att / (1.0 + 2.0 * boost[:, :, 0]) * 2.0 * _pick(s.win, a, t)
        territory = territory + _coalition_gain(s, p, layout, a, t)
        d0 = _pick(drive0, a, t)
        d_up = sc(p.rate_up, 2) * (tanh_pos(d0 + sc(p.hostility, 2)) - tanh_pos(d0))
        escalation = np.minimum(d_up * horizon, 1.0) * sev_step(_pick(s.rung, a, t), 1)
        displaced = sc(p.displacement_fighting, 2) * d_int * s.conflict_people[:, None]
        utility[:, e] = (
            weights(a, "territory") * territory * horizon / sc(p.territory_unit, 2)
            - weights(a, "losses") * own_losses * horizon / loss_unit
            - weights(a, "escalation") * risk[:, a] * escalation
            + weights(a, "standing") * sc(p.retaliation, 2) * s.pressure[:, a]
            * _pick(s.grievance, a, t) / loss_unit
            - weights(a, "ties") * p.partner[:, a, t] * sc(p.aff_attack, 2) * horizon
            - weights(a, "humanitarian") * displaced * horizon / people_unit
            - p.war_cost[:, a] * horizon
        )
        utility[:, e] = np.where(_pick(s.barred, a, t), -np.inf, utility[:, e])

    # ---------------- de-escalate
    e = menu.entries("deescalate")
    if e.size:
        a, t = menu.actor[e], menu.target[e]
        d0 = _pick(drive0, a, t)
        d_down = sc(p.rate_down, 2) * (tanh_pos(-(d0 - sc(p.conciliation, 2))) - tanh_pos(-d0))
        escalation = np.minimum(d_down * horizon, 1.0) * sev_step(_pick(s.rung, a, t), -1)
        utility[:, e] = (
            weights(a, "escalation") * risk[:, a] * escalation
            + weights(a, "ties") * p.partner[:, a, t] * sc(p.aff_deescalation, 2) * horizon
            - weights(a, "standing") * sc(p.concession, 2) * s.pressure[:, a]
        )

    # ---------------- sanction
    e = menu.entries("sanction")
    if e.size:
        a, t = menu.actor[e], menu.target[e]
        d0 = _pick(drive0, a, t)
        d_up = sc(p.rate_up, 2) * (tanh_pos(d0 + sc(p.sanction_drive, 2)) - tanh_pos(d0))
        escalation = np.minimum(d_up * horizon, 1.0) * sev_step(_pick(s.rung, a, t), 1)
        utility[:, e] = (
            -weights(a, "escalation") * risk[:, a] * escalation
            + weights(a, "standing") * 0.5 * sc(p.retaliation, 2) * s.pressure[:, a]
            * _pick(s.grievance, a, t) / loss_unit
            - weights(a, "ties") * (p.partner[:, a, t] + p.trade[:, a, t])
            * sc(p.aff_sanction, 2) * horizon
        )

    # ---------------- negotiate
    e = menu.entries("negotiate")
    if e.size:
        a, d = menu.actor[e], menu.deal[e]
        side = (layout.deal_parties[d, 1] == a).astype(np.int64)
        own = s.deal_gains[:, d, side]
        theirs = s.deal_gains[:, d, 1 - side]
        from sim.mechanisms.bargaining import acceptance_probability

        utility[:, e] = acceptance_probability(theirs, p) * own
        utility[:, e] = np.where(s.agreement[:, d], -np.inf, utility[:, e])

    # ---------------- request support / activate: the value of air cover to its holder
    def cover_value(a: np.ndarray, k: np.ndarray) -> np.ndarray:
        avoided = (air_part[:, a, :] * p.asset_air_defence[:, k, None]).sum(axis=2)
        return weights(a, "losses") * avoided * horizon / loss_unit

    def ties_effect(a: np.ndarray, k: np.ndarray) -> np.ndarray:
        return weights(a, "ties") * (p.partner[:, a, :] * p.asset_affinity[:, k, :]).sum(axis=2)

    e = menu.entries("request_support")
    if e.size:
        a, k = menu.actor[e], menu.asset[e]
        supplier = layout.asset_owner[k]
        chance = 1.0 / (1.0 + np.exp(-4.0 * _pick(s.affinity, a, supplier)))
        chance = chance * ~_pick(blocked_for, k, a)
        value = cover_value(a, k) + weights(a, "ties") * p.partner[:, a, supplier] * (
            p.asset_holder_affinity[:, k])
        utility[:, e] = np.where(s.asset_on[:, k], -np.inf, chance * value)

    e = menu.entries("activate")
    if e.size:
        a, k = menu.actor[e], menu.asset[e]
        value = cover_value(a, k) + ties_effect(a, k)
        unavailable = s.asset_on[:, k] | ~s.asset_available[:, k]
        utility[:, e] = np.where(unavailable, -np.inf, value)

    # ---------------- grant support
    e = menu.entries("grant_support")
    if e.size:
        a, k, t = menu.actor[e], menu.asset[e], menu.target[e]
        value = (
            weights(a, "ties") * p.partner[:, a, t]
            * (p.asset_holder_affinity[:, k] + sc(p.aff_support, 2))
            + weights(a, "ties") * sc(p.request_weight, 2) * _pick(s.requested, k, t)
            + ties_effect(a, k)
            + weights(a, "refugees") * p.asset_relief[:, k] * s.arrivals[:, a] * horizon
            / people_unit
            # relief of the supplier's own domestic pressure, by the pressure rule
            + weights(a, "standing") * p.pressure_per_refugees[:, a] * p.asset_relief[:, k]
            * s.arrivals[:, a] * horizon / 100_000.0
            - _pick(objection, k, t)
        )
        unavailable = s.asset_on[:, k] | ~s.asset_available[:, k] | _pick(blocked_for, k, t)
        utility[:, e] = np.where(unavailable, -np.inf, value)

    # ---------------- gates
    for verb, sign in (("open_gate", 1.0), ("close_gate", -1.0)):
        e = menu.entries(verb)
        if not e.size:
            continue
        a, g = menu.actor[e], menu.gate[e]
        through = np.zeros((r, e.size))
        cost_ties = np.zeros((p.partner.shape[0], e.size))
        for col, (actor, gate) in enumerate(zip(a, g, strict=True)):
            routes = np.flatnonzero(layout.edge_gate == gate)
            own_src = routes[layout.node_host[layout.edge_src[routes]] == actor]
            through[:, col] = (s.route_potential[:, own_src]
                               * (1.0 - p.gate_leakage[:, gate:gate + 1])).sum(axis=1)
            hosts = {int(h) for h in layout.node_host[layout.edge_dst[routes]] if h >= 0}
            cost_ties[:, col] = sum(p.partner[:, actor, h] for h in hosts) if hosts else 0.0
        changes = np.where(s.gate_open[:, g], sign < 0, sign > 0)  # acting changes the gate
        value = sign * (
            weights(a, "refugees") * through * horizon / people_unit
            - weights(a, "ties") * cost_ties * sc(p.gate_cost, 2) * horizon
        )
        utility[:, e] = np.where(changes, value, 0.0)

    return utility - p.action_cost


def _coalition_gain(s: Situation, p, layout, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Daily territory value to a of backing its friends' offensives against t, ``(R, E)``.

    A patron's air power counts in a friend's contest against t while the patron itself
    fights t (``fighting.contest_power``). Attacking keeps it in the fight; the gain is what
    the friends' push against t is worth to the attacker, through its value of each objective
    and its affinity with each friend, times the share of their contest the support decides.
    """
    m = sc(p.contest_exponent, 3)
    friend = np.maximum(s.affinity[:, a, :], 0.0)  # (R, E, B)
    friend[:, np.arange(a.size), a] = 0.0
    friend[:, np.arange(a.size), t] = 0.0
    help_ = friend * (p.air[:, a] * (1.0 - _pick(s.cover, t)))[:, :, None]  # (R, E, B)
    power_bt = np.swapaxes(s.power[:, :, t], 1, 2)  # (R, E, B): power of b against t
    power_tb = s.power[:, t, :]  # (R, E, B)
    armed = (s.rung[:, a, t] >= layout.armed_from)[:, :, None]
    with_help = np.where(armed, power_bt, power_bt + help_)
    without = np.maximum(with_help - help_, 0.0)

    def share(x: np.ndarray) -> np.ndarray:
        xm, ym = x ** m, power_tb ** m
        return np.divide(xm, xm + ym, out=np.full_like(xm, 0.5), where=xm + ym > 0)

    decided = share(with_help) - share(without)  # (R, E, B)
    pushing = np.swapaxes(s.attack_prev[:, :, t], 1, 2)  # (R, E, B): b attacked t
    heat = lookup(p.rung_intensity, np.maximum(s.rung[:, :, t], layout.armed_from))
    heat = np.swapaxes(heat, 1, 2) / (1.0 + 2.0 * sc(p.attack_boost, 3))
    # value to a of ground b takes from t: value[o, a] * control[o, t] * speed[o]
    stake = (p.value[:, :, a] * s.control[:, :, t] * p.speed[:, :, None]).sum(axis=1)  # (R, E)
    return stake * (friend * pushing * heat * 2.0 * decided).sum(axis=2)


def quantal_choice(utility: np.ndarray, rationality: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pick one entry per replication by the logit rule, ``(R,)`` local indices.

    Args:
        utility: ``(R, M_a)`` one actor's menu utilities (``-inf`` = unavailable).
        rationality: ``(P,)`` logit precision.
        u: ``(R,)`` uniforms.
    """
    available = np.isfinite(utility)
    z = np.where(available, np.where(available, utility, 0.0) * rationality[:, None], -np.inf)
    top = np.max(z, axis=1, keepdims=True)
    # all entries unavailable: fall back to the first (by convention the menu's hold)
    weights = np.where(np.isfinite(top), np.exp(z - np.where(np.isfinite(top), top, 0.0)), 1.0)
    cdf = np.cumsum(weights, axis=1)
    threshold = u[:, None] * cdf[:, -1:]
    choice = (cdf < threshold).sum(axis=1)
    return np.minimum(choice, utility.shape[1] - 1)


__all__ = ["Situation", "quantal_choice", "score_menu"]
