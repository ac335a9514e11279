"""Refugee flows over a location network (mechanism 7), after the Flee model's rules.

People are whole numbers and are conserved exactly: every person is in one node or among the
dead. Each day:

1. civilian deaths in conflict nodes, at a rate that grows with fighting intensity;
2. movers: in conflict nodes the displaced (a base rate, plus fighting intensity, plus the
   ground the node's objective lost today); in any node, plus those who flee an actor they
   fear that has taken the node's ground since day 0, by a deal's transfer or by conquest
   (below, "Flight from who controls the ground"); elsewhere a settle rate, rising toward the move
   rate as the node fills past its capacity; in a *transit* node (one with a ``dwell`` time)
   people move on at ``1 / dwell`` a day instead of the settle rate, even below capacity
   (Flee's towns, which people pass through, against its camps, where they stay:
   ``DefaultMoveChance`` 0.3 a day against ``CampMoveChance`` 0.001 in djgroen/flee's
   ``SimulationSettings``). A transit node stands for a crossing area or a waypoint, where
   nobody lives: give it no residents;
3. movers take each outgoing route with its base rate times the attractiveness of the
   destination (spare capacity; safety for conflict nodes), times the gate factor (1 when the
   route's gate is open, its leakage when closed); those who find no route stay. Any node may
   have routes out of it, so a border node need not be a sink: people there go on to third
   countries or back inland. Surges: across an open gate, the displaced waiting at the route's
   source cross as a stock released at the gate's ``release`` rate (times the route's rate and
   the destination's attractiveness) when that is more than the node's movers would send, so
   a crowd gathered at a closed border crosses within days of its opening (Flee's people at a
   border location move on at 0.3 a day), not as a small share of the node's people;
4. returns: along routes that allow them, displaced people go back to a calm conflict node;
5. push-backs: along routes with a ``push_back`` share, the host of the route's far end sends
   that share of the displaced there back to the route's source each day while the route's
   gate is closed (always, on a route without a gate), whatever the source's capacity. This
   is Flee's ``forced_redirection`` of a route run backwards and made conditional on the
   border policy; it stands for push-backs across closed land borders as human-rights monitors
   documented them in 2020 (Human Rights Watch, 17 March 2020; Forensic Architecture 2020;
   the full references are in docs/ODD.md, M7).

Each node keeps a count of the *displaced* among its people: those who arrived there over a
route during the run (from a conflict node, or moving on from where they lived or stayed) and
have not gone home. Onward movers from a node that is not a conflict node are its displaced
first (Flee moves refugees, not the residents of the towns they pass through); returns and
push-backs draw on the displaced only, never on the people who lived at the destination before
the crisis; returns fill the origin no further than its capacity. The pushed back stay
displaced (at the route's source). Like Flee, the model keeps no origin per person: a node's
displaced are one pool, whichever route brought them.

Flight from who controls the ground. People flee not only fighting but the actor that
controls where they live, when they expect it to target them (Davenport, Moore & Poe 2003,
"Sometimes you just have to leave": the threat to one's person, not the fighting as such,
drives flight; Steele 2009 and 2011: civilians leave ground taken by an armed actor that
targets their group collectively, and stay, or come, where the actor that holds it is theirs).
Each node's people regard each actor (``refugees.nodes.<id>.regard``, -1 fear .. +1 trust;
default 0, which leaves the rule as it was): the share of the node's objective that actors
they fear have gained since day 0, weighted by that fear (``feared_control``), is the share of
its day-0 residents who leave, at ``flows.displacement_fear`` a day (``_fear_rate``), and the
displaced do not go home to it (returns times ``1 - feared``). A handover by deal to a feared
actor empties the node within weeks; to an actor they trust or do not mind, next to none of
them leave by it. It is one more rule of Flee's kind (a move chance per location, here set by
its controller), like Flee's own conflict and camp move chances.

Expected flows are turned into whole people by stochastic rounding and capped so no node sends
more people than it holds.

References:
    Suleimenova, Bell & Groen (2017), "A generalized simulation development approach for
    predicting refugee destinations", Scientific Reports 7:13377 (Flee: djgroen/flee).
    Davenport, Moore & Poe (2003), "Sometimes you just have to leave: domestic threats and
    forced migration, 1964-1989", International Interactions 29(1).
    Steele (2009), "Seeking safety: avoiding displacement and choosing destinations in civil
    wars", Journal of Peace Research 46(3); Steele (2011), "Electing displacement: political
    cleansing in Apartado, Colombia", Journal of Conflict Resolution 55(3).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, pick
from sim.rng import stream_key, uniform_at


@helper
def theatre_intensity(intensity, out):
    """Fighting intensity felt by civilians, ``(R,)``: ``1 - prod(1 - min(I_ij, 1))`` over dyads."""
    n = intensity.shape[1]
    for r in range(out.size):
        calm = 1.0
        for i in range(n):
            for j in range(i + 1, n):
                calm *= 1.0 - min(intensity[r, i, j], 1.0)
        out[r] = 1.0 - calm


@helper
def relief(asset_relief, asset_on, asset_holder, node_host, out):
    """Share by which aid held by each node's host reduces onward movement, ``(R, N)``.

    Aid from several assets combines as ``1 - prod(1 - relief)``.
    """
    for r in range(out.shape[0]):
        q = pick(asset_relief.shape[0], r)
        for node in range(out.shape[1]):
            kept = 1.0
            for k in range(asset_on.shape[1]):
                held = (asset_on[r, k] and asset_holder[r, k] == node_host[node]
                        and node_host[node] >= 0)
                kept *= 1.0 - asset_relief[q, k] * (1.0 if held else 0.0)
            out[r, node] = 1.0 - kept


@helper
def _mover_rate(people, capacity, conflict, fighting, ground_shift, relief_, onward, base,
                per_fighting, per_ground, settle_rate, move_rate, fear):
    """Daily share of a node's people who set out.

    In a conflict node the displaced: a base rate, plus fighting intensity, plus the ground
    the node's objective lost today. Elsewhere a settle rate, rising toward the move rate as
    the node fills past its capacity, reduced by aid to its host (``relief_``). In a transit
    node the share ``onward`` (``1 / dwell``) replaces the settle rate when it is higher: people
    pass through a crossing area or a waypoint even when it has room, as through Flee's towns.
    Anywhere, plus the flight from a feared controller (``fear``, ``_fear_rate``), which aid
    does not hold back.
    """
    if conflict:
        rate = base + per_fighting * fighting + per_ground * ground_shift
    else:
        overflow = min(max((people - capacity) / max(people, 1), 0.0), 1.0)
        low, high = settle_rate, move_rate
        if onward > settle_rate:  # a transit node
            low, high = onward, max(move_rate, onward)
        rate = (low + (high - low) * overflow) * (1.0 - relief_)
    return min(max(rate + fear, 0.0), 1.0)


@helper
def feared_control(control, control0, node_objective, regard, out):
    """``(R, N)``: how much of each node's ground actors its people fear have taken since day 0.

    ``e_n = min(sum_a max(c_oa - c0_oa, 0) max(-regard_na, 0), 1)`` for the node's objective
    o: the control each actor gained (by a deal's transfer or by conquest), weighted by how
    much the node's people fear it (``regard`` -1: wholly; 0 or above: not at all). Control
    held on day 0 counts for nothing: the people there on day 0 are those who stayed under it.
    A node without an objective has 0.

    Args:
        control: ``(R, O, A)`` control shares now.
        control0: ``(P, O, A)`` control shares on day 0.
        node_objective: ``(N,)`` objective of each node or -1.
        regard: ``(P, N, A)`` how each node's people regard each actor, in [-1, 1].
        out: ``(R, N)`` result.
    """
    for r in range(out.shape[0]):
        q = pick(control0.shape[0], r)
        for node in range(out.shape[1]):
            o = node_objective[node]
            exposed = 0.0
            if o >= 0:
                for a in range(control.shape[2]):
                    fear = max(-regard[q, node, a], 0.0)
                    if fear > 0.0:
                        exposed += max(control[r, o, a] - control0[q, o, a], 0.0) * fear
            out[r, node] = min(exposed, 1.0)


@helper
def _fear_rate(people, population0, feared, per_fear):
    """Daily share of a node's people who flee a feared controller (Flee's rule set extended).

    The people who fear the actors that took the node's ground (the share ``feared`` of its
    day-0 residents, ``feared_control``) leave at ``per_fear`` a day until no more than the
    rest, ``(1 - feared) population0``, are left: a node handed wholly to an actor its people
    fear empties within weeks (a half-life of ``ln 2 / per_fear`` days), one handed to an
    actor they trust or do not mind loses no one by it. Those who already left (from fighting,
    or earlier) count as those who feared: like Flee, the model keeps no type per person.
    """
    if feared <= 0.0 or people <= 0:
        return 0.0
    return per_fear * max(1.0 - (1.0 - feared) * population0 / people, 0.0)


@helper
def _attractiveness(people, capacity, conflict, fighting):
    """How much a node draws movers: spare capacity (floor 0.05), safety for conflict nodes."""
    spare = min(max(1.0 - people / max(capacity, 1.0), 0.05), 1.0)
    return spare * (1.0 - fighting if conflict else 1.0)


@helper
def route_potential(people, displaced, fighting, relief_, conflict, edge_src, edge_dst,
                    edge_gate, capacity, onward, edge_rate, release, flows, feared, population0,
                    out):
    """Daily movers along each route if its gate were open, ``(R, E)`` (what gate keepers weigh).

    A gated route counts the surge of the displaced waiting at its source (``step``, 3.).

    Args:
        people: ``(R, N)``.
        displaced: ``(R, N)`` the displaced among them.
        fighting: ``(R,)`` theatre intensity.
        relief_: ``(R, N)`` share by which onward movement is reduced (aid to the host).
        conflict: ``(N,)`` bool: conflict nodes.
        edge_src: ``(E,)`` origin of each route.
        edge_dst: ``(E,)`` destination of each route.
        edge_gate: ``(E,)`` gate of each route or -1.
        capacity: ``(P, N)`` people each node holds before it overflows.
        onward: ``(P, N)`` daily onward share of the people in transit nodes (``1 /
            dwell``; 0 elsewhere).
        edge_rate: ``(P, E)`` base rate of each route.
        release: ``(P, G)`` daily share of the displaced at an open gate's routes' sources
            that cross (the surge).
        flows: The rates of ``_mover_rate``, each ``(P,)``: ``(displacement_base,
            displacement_fighting, displacement_ground, settle_rate, move_rate,
            displacement_fear)``.
        feared: ``(R, N)`` ``feared_control``.
        population0: ``(P, N)`` people in each node on day 0.
        out: ``(R, E)`` result.
    """
    base, per_fighting, per_ground, settle_rate, move_rate, per_fear = flows
    for r in range(out.shape[0]):
        q = pick(capacity.shape[0], r)
        for e in range(edge_src.size):
            a, b = edge_src[e], edge_dst[e]
            movers = people[r, a] * _mover_rate(
                people[r, a], capacity[q, a], conflict[a], fighting[r], 0.0, relief_[r, a],
                onward[q, a], base[q], per_fighting[q], per_ground[q], settle_rate[q],
                move_rate[q], _fear_rate(people[r, a], population0[q, a], feared[r, a],
                                         per_fear[q]))
            draw = edge_rate[q, e] * _attractiveness(people[r, b], capacity[q, b], conflict[b],
                                                     fighting[r])
            surge = 0.0 if edge_gate[e] < 0 else displaced[r, a] * release[q, edge_gate[e]]
            out[r, e] = max(movers, surge) * draw


@helper
def step(people, displaced, dead, left, conflict, edge_src, edge_dst, edge_gate, capacity,
         onward, edge_rate, edge_return, push_back, leakage, release, death_rate, flows,
         calm_below, fighting, ground_shift, gate_open, relief_, feared, population0, keys, day,
         streams, work, moves):
    """One day of deaths, displacement, onward movement, returns and push-backs, in place.

    Args:
        people: ``(R, N)`` int, updated in place.
        displaced: ``(R, N)`` int, the displaced among each node's people (at most its
            people), updated in place.
        dead: ``(R,)`` int, civilian deaths so far, updated in place.
        left: ``(R,)`` int, people who ever left a conflict node, updated in place.
        conflict: ``(N,)`` bool: conflict nodes.
        edge_src: ``(E,)`` origin of each route.
        edge_dst: ``(E,)`` destination of each route.
        edge_gate: ``(E,)`` gate of each route or -1.
        capacity: ``(P, N)`` people each node holds before it overflows.
        onward: ``(P, N)`` daily onward share of the people in transit nodes (``1 /
            dwell``; 0 elsewhere).
        edge_rate: ``(P, E)`` base rate of each route.
        edge_return: ``(P, E)`` daily share of a route's destination going back when calm.
        push_back: ``(P, E)`` daily share of the displaced at a route's destination sent back
            to its source while the route's gate is closed (always without a gate).
        leakage: ``(P, G)`` share of a closed gate's flow that passes anyway.
        release: ``(P, G)`` daily share of the displaced at the source of an open gate's
            route that cross it (times the route's rate and the destination's draw): the
            surge, when it is more than the source's movers would send.
        death_rate: ``(P,)`` daily civilian deaths per person at full theatre intensity.
        flows: The rates of ``_mover_rate``, each ``(P,)``.
        calm_below: ``(P,)`` theatre intensity below which people return.
        fighting: ``(R,)`` theatre intensity.
        ground_shift: ``(R, N)`` share of the node's objective that changed hands today.
        gate_open: ``(R, G)`` bool.
        relief_: ``(R, N)`` share by which onward movement is reduced (aid to the host).
        feared: ``(R, N)`` share of each node's ground taken by actors its people fear
            (``feared_control``): they flee it (``_fear_rate``), and the displaced do not
            return to it (returns are scaled by ``1 - feared``).
        population0: ``(P, N)`` people in each node on day 0.
        keys: ``(R,)`` replication keys (``sim.rng.stream_key``).
        day: Today.
        streams: ``(deaths, moves)``: the streams rounding deaths (a uniform per node) and
            moves (forward along each route, then back, then pushed back: counters ``e``,
            ``E + e``, ``2E + e``).
        work: ``(4, N)`` scratch.
        moves: ``(3E + N,)`` int scratch.
    """
    n_nodes, e_count = people.shape[1], edge_src.size
    base, per_fighting, per_ground, settle_rate, move_rate, per_fear = flows
    for r in range(people.shape[0]):
        q = pick(capacity.shape[0], r)
        key_deaths = stream_key(keys[r], day, streams[0])
        key_moves = stream_key(keys[r], day, streams[1])
        # 1. civilian deaths in conflict nodes (stochastic rounding keeps people whole)
        for node in range(n_nodes):
            rate = death_rate[q] * fighting[r] * conflict[node]
            deaths = min(np.int64(np.floor(people[r, node] * rate
                                           + uniform_at(key_deaths, node))), people[r, node])
            people[r, node] -= deaths
            dead[r] += deaths
            displaced[r, node] = min(displaced[r, node], people[r, node])
        # 2.-4. expected flows along routes, forward and back
        for node in range(n_nodes):
            work[0, node] = people[r, node] * _mover_rate(
                people[r, node], capacity[q, node], conflict[node], fighting[r],
                ground_shift[r, node], relief_[r, node], onward[q, node], base[q],
                per_fighting[q], per_ground[q], settle_rate[q], move_rate[q],
                _fear_rate(people[r, node], population0[q, node], feared[r, node],
                           per_fear[q]))
            work[1, node] = _attractiveness(people[r, node], capacity[q, node], conflict[node],
                                            fighting[r])
        pushed = 2 * e_count
        for e in range(e_count):
            a, b = edge_src[e], edge_dst[e]
            gate, closed, movers = 1.0, edge_gate[e] < 0, work[0, a]
            if edge_gate[e] >= 0 and not gate_open[r, edge_gate[e]]:
                gate, closed = leakage[q, edge_gate[e]], True
            elif edge_gate[e] >= 0:  # open: the crowd waiting at the source surges across
                movers = max(movers, displaced[r, a] * release[q, edge_gate[e]])
            forward = movers * edge_rate[q, e] * work[1, b] * gate
            calm = 1.0 if conflict[a] and fighting[r] < calm_below[q] else 0.0
            # nobody goes home to ground an actor they fear has taken
            back = displaced[r, b] * edge_return[q, e] * calm * gate * (1.0 - feared[r, a])
            moves[e] = np.int64(np.floor(forward + uniform_at(key_moves, e)))
            moves[e_count + e] = np.int64(np.floor(back + uniform_at(key_moves, e_count + e)))
            push = displaced[r, b] * push_back[q, e] if closed else 0.0
            moves[pushed + e] = np.int64(np.floor(push + uniform_at(key_moves, pushed + e))) \
                if push > 0.0 else 0
        # cap: no node sends more than it holds (floor keeps the count whole and below it)
        sent = 3 * e_count
        for node in range(n_nodes):
            moves[sent + node] = 0
        for e in range(e_count):
            moves[sent + edge_src[e]] += moves[e]  # forward, from the route's source
            moves[sent + edge_dst[e]] += moves[e_count + e]  # back, from its destination
            moves[sent + edge_dst[e]] += moves[pushed + e]  # pushed back, from its destination
        for e in range(e_count):
            for way in range(3):
                node = edge_src[e] if way == 0 else edge_dst[e]
                move = way * e_count + e
                if moves[sent + node] > people[r, node]:
                    moves[move] = np.int64(np.floor(
                        moves[move] * (people[r, node] / max(moves[sent + node], 1))))
        # returns and push-backs: from no node more than its displaced; returns into none
        # beyond its capacity
        for node in range(n_nodes):
            work[2, node], work[3, node] = 0.0, 0.0
        for e in range(e_count):
            work[2, edge_dst[e]] += moves[e_count + e] + moves[pushed + e]  # from the far end
            work[3, edge_src[e]] += moves[e_count + e]  # coming home
        for e in range(e_count):
            a, b = edge_src[e], edge_dst[e]
            back = e_count + e
            if work[2, b] > displaced[r, b]:
                moves[back] = np.int64(np.floor(moves[back] * displaced[r, b] / work[2, b]))
                moves[pushed + e] = np.int64(np.floor(moves[pushed + e] * displaced[r, b]
                                                      / work[2, b]))
            room = max(capacity[q, a] - people[r, a], 0.0)
            if work[3, a] > room:
                moves[back] = np.int64(np.floor(moves[back] * room / work[3, a]))
        # movers leave as the displaced first and arrive displaced (on the move, not at
        # home); arrivals are counted after every departure (work[2])
        for node in range(n_nodes):
            work[2, node] = 0.0
        for e in range(e_count):
            a, b = edge_src[e], edge_dst[e]
            displaced[r, a] -= min(moves[e], displaced[r, a])
            work[2, b] += moves[e]
            displaced[r, b] -= moves[e_count + e]  # home again: no longer displaced
            displaced[r, b] -= moves[pushed + e]  # pushed back: still displaced, at the source
            work[2, a] += moves[pushed + e]
        for e in range(e_count):
            people[r, edge_src[e]] -= moves[e]
            people[r, edge_dst[e]] += moves[e]
            people[r, edge_dst[e]] -= moves[e_count + e]
            people[r, edge_src[e]] += moves[e_count + e]
            people[r, edge_dst[e]] -= moves[pushed + e]
            people[r, edge_src[e]] += moves[pushed + e]
        for node in range(n_nodes):
            displaced[r, node] = min(max(displaced[r, node] + np.int64(work[2, node]), 0),
                                     people[r, node])
        for e in range(e_count):
            if conflict[edge_src[e]]:
                left[r] += moves[e]


@helper
def gate_reach(people, fighting, relief_, conflict, edge_src, edge_dst, edge_gate, capacity,
               onward, edge_rate, flows, feared, population0, gate_open, leakage, node_host,
               potential, horizon, bargaining_horizon, work, factor, out):
    """People a day each gate, open rather than closed, adds to each actor's ground, ``(R, G, A)``.

    What gate keepers weigh (``sim.mechanisms.terms.gate_value``), over the network rather than
    one hop: the extra flow on the gate's routes (``potential x (1 - leakage)``) leaves their
    sources and is followed through the nodes beyond to where it stops within the horizon, by
    the flow rule of ``step`` run forward and linearised at today's state: a share
    ``L = min(mover rate x sum(route rate x draw x gate factor), 1)`` of a node's people leaves
    it a day (today's gates), so of a steady inflow over ``horizon`` days a share
    ``1 - (1 - L)^(horizon / 2)`` moves on (its mean time left), split over the routes as the
    rule splits movers, and the rest stops there. A transit node (``dwell``) passes most on; a
    camp or a town below capacity (the settle rate) keeps them. Returns, push-backs and the
    crowd's surge beyond the gate are left out of the pass. ``out[h, r, g, x]`` sums the flow
    that stops on x's nodes, less what leaves them through the gate, over the decision
    horizon (h = 0) and the bargaining one (h = 1).

    Both horizons in one pass: the mover rates, draws and daily leaving shares they share are
    computed once per replication (the same numbers as two passes, one per horizon).

    Args:
        people: ``(R, N)``.
        fighting: ``(R,)`` theatre intensity.
        relief_: ``(R, N)`` aid to each node's host (``relief``).
        conflict: ``(N,)`` bool.
        edge_src: ``(E,)``.
        edge_dst: ``(E,)``.
        edge_gate: ``(E,)`` gate of each route or -1.
        capacity: ``(P, N)``.
        onward: ``(P, N)`` ``1 / dwell`` in transit nodes, else 0.
        edge_rate: ``(P, E)``.
        flows: The rates of ``_mover_rate``, each ``(P,)``.
        feared: ``(R, N)`` ``feared_control``.
        population0: ``(P, N)`` people in each node on day 0.
        gate_open: ``(R, G)`` bool: today's gates.
        leakage: ``(P, G)``.
        node_host: ``(N,)`` actor hosting each node or -1.
        potential: ``(R, E)`` ``route_potential``.
        horizon: ``(P,)`` days: the decision horizon.
        bargaining_horizon: ``(P,)`` days: the bargaining horizon.
        work: ``(7, N)`` scratch.
        factor: ``(E,)`` scratch: each route's gate factor today.
        out: ``(2, R, G, A)`` result.
    """
    n_nodes, e_count = people.shape[1], edge_src.size
    base, per_fighting, per_ground, settle_rate, move_rate, per_fear = flows
    for r in range(out.shape[1]):
        q = pick(capacity.shape[0], r)
        # each node's daily mover rate (row 1) and draw (row 2); then its route shares
        for node in range(n_nodes):
            work[1, node] = _mover_rate(
                people[r, node], capacity[q, node], conflict[node], fighting[r], 0.0,
                relief_[r, node], onward[q, node], base[q], per_fighting[q], per_ground[q],
                settle_rate[q], move_rate[q],
                _fear_rate(people[r, node], population0[q, node], feared[r, node],
                           per_fear[q]))
            work[2, node] = _attractiveness(people[r, node], capacity[q, node], conflict[node],
                                            fighting[r])
            work[5, node] = 0.0  # the daily leaving share L
        for e in range(e_count):
            factor[e] = 1.0
            if edge_gate[e] >= 0 and not gate_open[r, edge_gate[e]]:
                factor[e] = leakage[q, edge_gate[e]]
            work[5, edge_src[e]] += work[1, edge_src[e]] * edge_rate[q, e] \
                * work[2, edge_dst[e]] * factor[e]
        for h in range(2):
            days = horizon[q] if h == 0 else bargaining_horizon[q]
            for node in range(n_nodes):
                leave = min(work[5, node], 1.0)
                moved = 1.0 - (1.0 - leave) ** (0.5 * days)
                # row 0 is the scale of a route's share (moved / L x mover rate), row 4 the stay
                work[0, node] = moved / work[5, node] * work[1, node] if work[5, node] > 0 \
                    else 0.0
                work[4, node] = 1.0 - moved
            for g in range(out.shape[2]):
                for x in range(out.shape[3]):
                    out[h, r, g, x] = 0.0
                for node in range(n_nodes):
                    work[3, node] = 0.0  # on the move
                for e in range(e_count):
                    if edge_gate[e] == g:
                        extra = potential[r, e] * (1.0 - leakage[q, g])
                        work[3, edge_dst[e]] += extra
                        if node_host[edge_src[e]] >= 0:
                            out[h, r, g, node_host[edge_src[e]]] -= extra  # they would have stayed
                # every path without a cycle, and some laps of one: rows 3 and 6 take turns
                # holding the flow on the move and its next hop
                now, after = 3, 6
                for _ in range(n_nodes + 1):
                    for node in range(n_nodes):
                        work[after, node] = 0.0
                        if node_host[node] >= 0:
                            out[h, r, g, node_host[node]] += work[now, node] * work[4, node]
                    for e in range(e_count):
                        a = edge_src[e]
                        work[after, edge_dst[e]] += (work[now, a] * work[0, a] * edge_rate[q, e]
                                                     * work[2, edge_dst[e]] * factor[e])
                    now, after = after, now
                for node in range(n_nodes):  # what is still on the move stops where it is
                    if node_host[node] >= 0:
                        out[h, r, g, node_host[node]] += work[now, node]
