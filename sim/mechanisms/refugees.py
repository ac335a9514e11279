"""Refugee flows over a location network (mechanism 7), after the Flee model's rules.

People are whole numbers and are conserved exactly: every person is in one node or among the
dead. Each day:

1. civilian deaths in conflict nodes, at a rate that grows with fighting intensity;
2. movers: in conflict nodes the displaced (a base rate, plus fighting intensity, plus the
   ground the node's objective lost today); elsewhere a settle rate, rising toward the move
   rate as the node fills past its capacity;
3. movers take each outgoing route with its base rate times the attractiveness of the
   destination (spare capacity; safety for conflict nodes), times the gate factor (1 when the
   route's gate is open, its leakage when closed); those who find no route stay;
4. returns: along routes that allow them, people go back to a calm conflict node.

Expected flows are turned into whole people by stochastic rounding and capped so no node sends
more people than it holds.

Reference: Suleimenova, Bell & Groen (2017), "A generalized simulation development approach
for predicting refugee destinations", Scientific Reports 7:13377 (Flee: djgroen/flee).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, kernel, row


def theatre_intensity(intensity: np.ndarray) -> np.ndarray:
    """Fighting intensity felt by civilians, ``(R,)``: ``1 - prod(1 - min(I_ij, 1))`` over dyads."""
    return _theatre_intensity(intensity)


@kernel
def _theatre_intensity(intensity):
    out = np.empty(intensity.shape[0])
    n = intensity.shape[1]
    for r in range(intensity.shape[0]):
        calm = 1.0
        for i in range(n):
            for j in range(i + 1, n):
                calm *= 1.0 - min(intensity[r, i, j], 1.0)
        out[r] = 1.0 - calm
    return out


@helper
def _mover_rate(people, capacity, conflict, fighting, ground_shift, relief, base, per_fighting,
                per_ground, settle_rate, move_rate):
    """Daily share of a node's people who set out.

    In a conflict node the displaced: a base rate, plus fighting intensity, plus the ground
    the node's objective lost today. Elsewhere a settle rate, rising toward the move rate as
    the node fills past its capacity, reduced by aid to its host (``relief``).
    """
    if conflict:
        rate = base + per_fighting * fighting + per_ground * ground_shift
    else:
        overflow = min(max((people - capacity) / max(people, 1), 0.0), 1.0)
        rate = (settle_rate + (move_rate - settle_rate) * overflow) * (1.0 - relief)
    return min(max(rate, 0.0), 1.0)


@helper
def _attractiveness(people, capacity, conflict, fighting):
    """How much a node draws movers: spare capacity (floor 0.05), safety for conflict nodes."""
    spare = min(max(1.0 - people / max(capacity, 1.0), 0.05), 1.0)
    return spare * (1.0 - fighting if conflict else 1.0)


@helper
def _gate_factor(gate, gate_open, leakage):
    """1 without a gate or with it open, the gate's leakage when closed."""
    if gate < 0 or gate_open[gate]:
        return 1.0
    return leakage[gate]


def route_potential(people: np.ndarray, fighting: np.ndarray, relief: np.ndarray, layout,
                    params) -> np.ndarray:
    """Daily movers along each route if its gate were open, ``(R, E)`` (what gate keepers weigh).

    Args:
        people: ``(R, N)``.
        fighting: ``(R,)`` theatre intensity.
        relief: ``(R, N)`` share by which onward movement is reduced (aid to the host).
        layout: ``Layout``.
        params: ``Params``.
    """
    return _route_potential(people, fighting, relief, layout.node_conflict, layout.edge_src,
                            layout.edge_dst, params.packed)


@kernel
def _route_potential(people, fighting, relief, conflict, edge_src, edge_dst, p):
    out = np.empty((people.shape[0], edge_src.size))
    for r in range(people.shape[0]):
        capacity, rate = row(p.capacity, r), row(p.edge_rate, r)
        for q in range(edge_src.size):
            a, b = edge_src[q], edge_dst[q]
            movers = people[r, a] * _mover_rate(
                people[r, a], capacity[a], conflict[a], fighting[r], 0.0, relief[r, a],
                row(p.displacement_base, r), row(p.displacement_fighting, r),
                row(p.displacement_ground, r), row(p.settle_rate, r), row(p.move_rate, r))
            out[r, q] = (movers * rate[q]
                         * _attractiveness(people[r, b], capacity[b], conflict[b], fighting[r]))
    return out


def step(people: np.ndarray, dead: np.ndarray, layout, params, *, fighting: np.ndarray,
         ground_shift: np.ndarray, gate_open: np.ndarray, relief: np.ndarray,
         u_deaths: np.ndarray, u_moves: np.ndarray) -> dict[str, np.ndarray]:
    """One day of deaths, displacement, onward movement and returns.

    Args:
        people: ``(R, N)`` int.
        dead: ``(R,)`` int.
        layout: ``Layout``.
        params: ``Params``.
        fighting: ``(R,)`` theatre intensity.
        ground_shift: ``(R, N)`` share of the node's objective that changed hands today.
        gate_open: ``(R, G)`` bool.
        relief: ``(R, N)`` share by which onward movement is reduced (aid to the host).
        u_deaths: ``(R, N)`` uniforms for rounding deaths.
        u_moves: ``(R, 2E)`` uniforms for rounding forward moves, then returns.

    Returns:
        dict with ``people`` ``(R, N)``, ``dead`` ``(R,)`` and ``left_conflict`` ``(R,)``:
        people who left a conflict node today.
    """
    people, dead, left = _step(people, dead, layout.node_conflict, layout.edge_src,
                               layout.edge_dst, layout.edge_gate, params.packed, fighting,
                               ground_shift, gate_open, relief, u_deaths, u_moves)
    return {"people": people, "dead": dead, "left_conflict": left}


@kernel
def _step(people, dead, conflict, edge_src, edge_dst, edge_gate, p, fighting, ground_shift,
          gate_open, relief, u_deaths, u_moves):
    r_count, n_nodes = people.shape
    e_count = edge_src.size
    new_people = np.empty_like(people)
    new_dead = np.empty_like(dead)
    left = np.zeros(r_count, dtype=np.int64)
    movers = np.empty(n_nodes)
    attract = np.empty(n_nodes)
    moves = np.empty(2 * e_count, dtype=np.int64)
    origin = np.concatenate((edge_src, edge_dst))
    destination = np.concatenate((edge_dst, edge_src))
    sent = np.zeros(n_nodes, dtype=np.int64)
    for r in range(r_count):
        capacity, fight = row(p.capacity, r), fighting[r]
        here = new_people[r]
        # 1. civilian deaths in conflict nodes (stochastic rounding keeps people whole)
        new_dead[r] = dead[r]
        for node in range(n_nodes):
            rate = row(p.civilian_death_rate, r) * fight * conflict[node]
            deaths = min(np.int64(np.floor(people[r, node] * rate + u_deaths[r, node])),
                         people[r, node])
            here[node] = people[r, node] - deaths
            new_dead[r] += deaths
        # 2.-4. expected flows along routes, forward and back
        for node in range(n_nodes):
            movers[node] = here[node] * _mover_rate(
                here[node], capacity[node], conflict[node], fight, ground_shift[r, node],
                relief[r, node], row(p.displacement_base, r), row(p.displacement_fighting, r),
                row(p.displacement_ground, r), row(p.settle_rate, r), row(p.move_rate, r))
            attract[node] = _attractiveness(here[node], capacity[node], conflict[node], fight)
        calm_below = row(p.calm_threshold, r)
        for q in range(e_count):
            a, b = edge_src[q], edge_dst[q]
            gate = _gate_factor(edge_gate[q], gate_open[r], row(p.gate_leakage, r))
            forward = movers[a] * row(p.edge_rate, r)[q] * attract[b] * gate
            calm = 1.0 if conflict[a] and fight < calm_below else 0.0
            back = here[b] * row(p.edge_return, r)[q] * calm * gate
            moves[q] = np.int64(np.floor(forward + u_moves[r, q]))
            moves[e_count + q] = np.int64(np.floor(back + u_moves[r, e_count + q]))
        # cap: no node sends more than it holds (floor keeps the count whole and below it)
        sent[:] = 0
        for m in range(2 * e_count):
            sent[origin[m]] += moves[m]
        for m in range(2 * e_count):
            node = origin[m]
            if sent[node] > here[node]:
                moves[m] = np.int64(np.floor(moves[m] * (here[node] / max(sent[node], 1))))
        for m in range(2 * e_count):
            here[origin[m]] -= moves[m]
            here[destination[m]] += moves[m]
        for q in range(e_count):
            if conflict[edge_src[q]]:
                left[r] += moves[q]
    return new_people, new_dead, left
