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

from sim.mechanisms.common import stochastic_round
from sim.world import sc


def theatre_intensity(intensity: np.ndarray) -> np.ndarray:
    """Fighting intensity felt by civilians, ``(R,)``: ``1 - prod(1 - min(I_ij, 1))`` over dyads."""
    n = intensity.shape[-1]
    iu = np.triu_indices(n, 1)
    return 1.0 - np.prod(1.0 - np.minimum(intensity[:, iu[0], iu[1]], 1.0), axis=1)


def gate_factor(gate_open: np.ndarray, leakage: np.ndarray, edge_gate: np.ndarray) -> np.ndarray:
    """Per-route factor ``(R, E)``: 1 without a gate or with it open, the leakage when closed."""
    if edge_gate.size == 0:
        return np.ones((gate_open.shape[0], 0))
    has_gate = edge_gate >= 0
    g = np.where(has_gate, edge_gate, 0)
    if gate_open.shape[1] == 0:
        return np.ones((gate_open.shape[0], edge_gate.size))
    factor = np.where(gate_open[:, g], 1.0, leakage[:, g] * np.ones_like(gate_open[:, g],
                                                                          dtype=float))
    return np.where(has_gate, factor, 1.0)


def mover_rates(people: np.ndarray, capacity: np.ndarray, conflict: np.ndarray,
                fighting: np.ndarray, ground_shift: np.ndarray, relief: np.ndarray,
                params) -> np.ndarray:
    """Daily share of each node's people who set out, ``(R, N)``.

    Args:
        people: ``(R, N)``.
        capacity: ``(P, N)``.
        conflict: ``(N,)`` bool.
        fighting: ``(R,)`` theatre intensity.
        ground_shift: ``(R, N)`` share of the node's objective that changed hands today.
        relief: ``(R, N)`` share by which onward movement is reduced (aid to the host).
        params: ``Params``.
    """
    displaced = (sc(params.displacement_base, 2)
                 + sc(params.displacement_fighting, 2) * fighting[:, None]
                 + sc(params.displacement_ground, 2) * ground_shift)
    fill = np.divide(people - capacity, np.maximum(people, 1), dtype=float)
    overflow = np.clip(fill, 0.0, 1.0)
    onward = (sc(params.settle_rate, 2)
              + (sc(params.move_rate, 2) - sc(params.settle_rate, 2)) * overflow) * (1.0 - relief)
    return np.clip(np.where(conflict, displaced, onward), 0.0, 1.0)


def attractiveness(people: np.ndarray, capacity: np.ndarray, conflict: np.ndarray,
                   fighting: np.ndarray) -> np.ndarray:
    """How much a node draws movers, ``(R, N)``: spare capacity (floor 0.05), safety."""
    spare = np.clip(1.0 - people / np.maximum(capacity, 1.0), 0.05, 1.0)
    safety = np.where(conflict, 1.0 - fighting[:, None], 1.0)
    return spare * safety


def step(people: np.ndarray, dead: np.ndarray, layout, params, *, fighting: np.ndarray,
         ground_shift: np.ndarray, gate_open: np.ndarray, relief: np.ndarray,
         u_deaths: np.ndarray, u_moves: np.ndarray) -> dict[str, np.ndarray]:
    """One day of deaths, displacement, onward movement and returns.

    Returns:
        dict with ``people`` ``(R, N)``, ``dead`` ``(R,)``, ``flows`` ``(R, E)`` forward,
        ``returns`` ``(R, E)``, ``arrivals`` ``(R, N)`` and ``left_conflict`` ``(R,)``.
    """
    conflict = layout.node_conflict
    # 1. deaths
    death_rate = sc(params.civilian_death_rate, 2) * fighting[:, None] * conflict
    deaths = np.minimum(stochastic_round(people * death_rate, u_deaths), people)
    people = people - deaths
    dead = dead + deaths.sum(axis=1)
    # 2.-4. expected flows along routes, forward and back
    src, dst = layout.edge_src, layout.edge_dst
    gates = gate_factor(gate_open, params.gate_leakage, layout.edge_gate)
    movers = people * mover_rates(people, params.capacity, conflict, fighting, ground_shift,
                                  relief, params)
    attract = attractiveness(people, params.capacity, conflict, fighting)
    forward = movers[:, src] * params.edge_rate * attract[:, dst] * gates
    calm = (conflict & (fighting[:, None] < sc(params.calm_threshold, 2)))
    back = people[:, dst] * params.edge_return * calm[:, src] * gates
    moves = stochastic_round(np.concatenate([forward, back], axis=1), u_moves)
    origin = np.concatenate([src, dst])
    destination = np.concatenate([dst, src])
    n = people.shape[1]
    out_matrix = (origin[:, None] == np.arange(n)[None, :]).astype(np.int64)  # (2E, N)
    in_matrix = (destination[:, None] == np.arange(n)[None, :]).astype(np.int64)
    # cap: no node sends more than it holds (floor keeps the count whole and below the cap)
    out = moves @ out_matrix
    scale = np.where(out > people, people / np.maximum(out, 1), 1.0)
    moves = np.where(scale[:, origin] < 1.0, np.floor(moves * scale[:, origin]), moves)
    moves = moves.astype(np.int64)
    out = moves @ out_matrix
    arrivals = moves @ in_matrix
    people = people - out + arrivals
    e = src.size
    left_conflict = (moves[:, :e] * conflict[src]).sum(axis=1)
    return {"people": people, "dead": dead, "flows": moves[:, :e], "returns": moves[:, e:],
            "arrivals": arrivals, "left_conflict": left_conflict, "deaths": deaths}
