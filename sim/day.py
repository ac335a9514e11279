"""The day in two compiled passes: what every actor observes, then what happens.

``CrisisModel.step`` (``sim/model.py``) runs a day as

1. ``observe``: the situation every actor sees (cover, firepower, contest shares, each deal's
   war prospects and surplus, refugee routes), the same for all, so moves are simultaneous;
2. ``sim.mechanisms.decisions.score_menu`` and each actor's ``decide`` (the Mesa agents);
3. ``resolve``: the rest of the day, in the order of docs/ODD.md 1.3: deals (and the jump of
   an offensive launched today); gates, assets and requests; fighting; the ladder; refugees;
   pressure and grievances; affinities.

Each pass calls the mechanisms' rules (``sim/mechanisms/*``), each a loop over the
replications, in order, with the day's intermediate results in a ``Workspace`` made once per
model. Why compiled passes rather than numpy between kernels: the arrays are ``(R, 5, 5)``;
numpy made a temporary and a pass over the batch per operator, and Python's overhead per call
was paid some hundred times a day (see benchmarks/README.md).

``resolve`` updates the state arrays in place (its ``state`` argument) and writes the day's
events (``(R, E)`` bool, in the order of ``sim.outcomes.event_names``). Random numbers are
drawn where they are used, from the counter-based streams of ``sim.rng`` keyed by (seed,
replication, day, stream), so they do not depend on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.jit import helper, kernel, pick, tuple_type
from sim.mechanisms import (
    air_support,
    alliances,
    bargaining,
    escalation,
    fighting,
    pressure,
    refugees,
    terms,
)
from sim.rng import Stream, normal_at, stream_key, uniform_at
from sim.world import GATE_POLICY, VERB

_ATTACK, _DEESCALATE, _SANCTION = VERB["attack"], VERB["deescalate"], VERB["sanction"]
_THREATEN = VERB["threaten"]
_OPEN_GATE, _CLOSE_GATE = VERB["open_gate"], VERB["close_gate"]
_GRANT, _ACTIVATE, _REQUEST = VERB["grant_support"], VERB["activate"], VERB["request_support"]
_NEGOTIATE, _AIR_SUPPORT = VERB["negotiate"], VERB["air_support"]
GATE_OPEN, GATE_CLOSED = GATE_POLICY["open"], GATE_POLICY["closed"]
_LOSSES, _CONTROL, _ESCALATION = int(Stream.LOSSES), int(Stream.CONTROL), int(Stream.ESCALATION)
_BREAKDOWN, _DEATHS = int(Stream.BREAKDOWN), int(Stream.DEATHS)
_REFUGEES, _ALLIANCES = int(Stream.REFUGEES), int(Stream.ALLIANCES)
_BARGAINING, _AIR = int(Stream.BARGAINING), int(Stream.AIR)
_INCIDENTS, _STRIKES = int(Stream.INCIDENTS), int(Stream.STRIKES)
_THIRD_PARTY = int(Stream.THIRD_PARTY)
MAX_SIDES = 16  # bound on a deal's parties and mediators (schema: MAX_DEAL_SIDES, 6), for counters
GRIEVANCE_MEMORY = 0.9  # share of yesterday's grievance kept (``pressure.grievance_step``)
REQUEST_MEMORY = 0.8  # share of an open request kept each day


@dataclass
class Workspace:
    """The day's intermediate results, ``(R, ...)`` unless noted; reused every day.

    The first fields are what ``observe`` returns to the actors (``sim.model`` makes a
    ``Situation`` of them); ``resolve`` reuses the arrays it recomputes after the choices.
    """

    cover: np.ndarray  # (R, A) air-defence cover
    fire: np.ndarray  # (R, A, A) firepower of j on i
    power: np.ndarray  # (R, A, A) contest power of i against ground held by j
    powered: np.ndarray  # (R, A, A) power to the contest exponent
    win: np.ndarray  # (R, A, A) contest share of i attacking j
    available: np.ndarray  # (R, K) bool: the asset's window is open
    consent: np.ndarray  # (R, K, A) bool: the actor would accept the asset (``terms.accepts``)
    potential: np.ndarray  # (R, E) movers per route if its gate were open
    reach: np.ndarray  # (2, R, G, A) people a day each gate open adds to each actor's ground
    # (``refugees.gate_reach``), over the decision and the bargaining horizon
    conflict_people: np.ndarray  # (R,) int
    gains: np.ndarray  # (R, D, S) each side's surplus from each deal (parties, mediators)
    perceived: np.ndarray  # (R, D, S) that surplus as the side sees it (private information)
    stake: np.ndarray  # (R, D, S) each side's stake in fighting on (what optimism scales)
    shrink: np.ndarray  # (R, D) share of private information and optimism still unrevealed
    barred: np.ndarray  # (R, A, A) bool: attacks barred by a ceasefire in force
    armed: np.ndarray  # (R, A, A) bool: i is fighting j
    heat: np.ndarray  # (R, A, A) intensity of a deal's war
    status_quo: np.ndarray  # (R, A, A) yesterday's attacks across one deal's ceasefire
    war_losses: np.ndarray  # (D, R, A, A) expected daily losses on each deal's status quo path
    war_drift: np.ndarray  # (D, R, O, A) expected daily change of control on it
    spared: np.ndarray  # (D, R) intensity felt by civilians the deal's ceasefire would spare
    acts: np.ndarray  # (R, D, S) each side's value of the deal's terms over actions
    theatre: np.ndarray  # (R,) fighting intensity felt by civilians
    relief: np.ndarray  # (R, N)
    feared: np.ndarray  # (R, N) ground of each node taken by actors its people fear
    attack: np.ndarray  # (R, A, A) today's acts, 0/1
    sanction: np.ndarray  # (R, A, A)
    threat: np.ndarray  # (R, A, A) 1 where i threatens j today (verb threaten)
    deescalate: np.ndarray  # (R, A, A)
    delta: np.ndarray  # (R, A, A) affinity change from today's acts
    cap: np.ndarray  # (R, A, A) int highest rung allowed today
    hazard: np.ndarray  # (R, D) breakdown hazard
    forced_break: np.ndarray  # (R, D) bool: broken today by a dated event (reset after use)
    losses_today: np.ndarray  # (R, A, A) int
    rates: np.ndarray  # (R, A, A) expected losses
    noise: np.ndarray  # (R, A, A) control noise
    drive: np.ndarray  # (R, A, A) escalation drive
    before: np.ndarray  # (R, O, A) control before today's fighting
    lost_ground: np.ndarray  # (R, A)
    shifted: np.ndarray  # (R, O) share of each objective that changed hands today
    hosted: np.ndarray  # (R, A) int people on each actor's soil
    node_shift: np.ndarray  # (R, N)
    align: np.ndarray  # (R, A)
    requests: np.ndarray  # (A,) scratch
    square: np.ndarray  # (A, A)
    control_work: np.ndarray  # (3, A)
    terms_work: np.ndarray  # (3, O, A)
    flow_work: np.ndarray  # (7, N)
    route_factor: np.ndarray  # (E,) each route's gate factor (``refugees.gate_reach``)
    moves: np.ndarray  # (3E + N,) int
    ones: np.ndarray  # (1, A, A): every contest computed; a deal's war without noise
    air_blame: np.ndarray  # (R, A) int: blame code of each patron's air support today
    struck: np.ndarray  # (R, A, A) int: losses of i from j's air support today
    blamed: np.ndarray  # (R, A, A) int: today's losses of i as i attributes them
    hostile: np.ndarray  # (R, A, A): today's attacks as their targets attribute them


#: ``Workspace`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedWorkspace = tuple_type(Workspace, "PackedWorkspace")


def workspace(r: int, n: int, objectives: int, assets: int, deals: int, nodes: int,
              edges: int, sides: int = 2, gates: int = 0) -> tuple:
    """A ``PackedWorkspace`` for R replications of a scenario of these sizes.

    ``sides`` is the widest deal's count of parties and mediators.
    """

    def f(*shape: int) -> np.ndarray:
        return np.zeros(shape)

    def i(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.int64)

    def b(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=bool)

    return PackedWorkspace(
        cover=f(r, n), fire=f(r, n, n), power=f(r, n, n), powered=f(r, n, n), win=f(r, n, n),
        available=b(r, assets), consent=b(r, assets, n), potential=f(r, edges),
        reach=f(2, r, gates, n), conflict_people=i(r),
        gains=f(r, deals, sides), perceived=f(r, deals, sides), stake=f(r, deals, sides),
        shrink=f(r, deals), spared=f(deals, r), acts=f(r, deals, sides),
        barred=b(r, n, n),
        armed=b(r, n, n), heat=f(r, n, n), status_quo=f(r, n, n),
        war_losses=f(deals, r, n, n), war_drift=f(deals, r, objectives, n), theatre=f(r),
        relief=f(r, nodes), feared=f(r, nodes), attack=f(r, n, n), sanction=f(r, n, n),
        deescalate=f(r, n, n), threat=f(r, n, n),
        delta=f(r, n, n), cap=i(r, n, n), hazard=f(r, deals),
        forced_break=b(r, deals), losses_today=i(r, n, n),
        rates=f(r, n, n), noise=f(r, n, n), drive=f(r, n, n), before=f(r, objectives, n),
        lost_ground=f(r, n), shifted=f(r, objectives), hosted=i(r, n),
        node_shift=f(r, nodes), align=f(r, n), requests=f(n), square=f(n, n),
        control_work=f(3, n), terms_work=f(3, objectives, n), flow_work=f(7, nodes),
        route_factor=f(edges),
        moves=i(3 * edges + nodes), ones=np.ones((1, n, n)), air_blame=i(r, n),
        struck=i(r, n, n), blamed=i(r, n, n), hostile=f(r, n, n))


@kernel
def observe(st, p, s, can_hold, day, released, private, w):
    """What every actor sees at the start of a day, for every replication, into ``w``.

    Args:
        st: ``PackedStructure``.
        p: ``PackedParams``.
        s: ``PackedState`` (read only here).
        can_hold: ``(P, O, A)`` 1 where an actor can hold an objective.
        day: Today.
        released: ``(K,)`` bool: assets released early by a timeline event.
        private: ``(R, D, S)`` each side's private type in each deal (``bargaining_noise``).
        w: ``PackedWorkspace``: ``cover`` to ``barred`` are written.
    """
    fighting.air_cover(p.air_defence, p.asset_air_defence, s.asset_on, s.asset_holder, w.cover)
    fighting.firepower(p.ground, p.air, w.cover, w.fire)
    _armed(s.rung, st.armed_from, s.attack_prev, w.armed)
    fighting.contest_power(p.ground, p.air, w.cover, s.affinity, w.armed, w.power)
    air_support.add_power(p.air, w.cover, s.affinity, w.armed, s.air_target, s.air_client,
                          w.power)  # yesterday's sorties, as others' postures are
    fighting.culminate(s.fatigue, w.power)
    _left_ground(s.withdrawn, w.power)
    fighting.win_share(w.power, p.contest_exponent, w.ones, w.powered, w.win)  # every dyad
    refugees.theatre_intensity(s.intensity, w.theatre)
    refugees.relief(p.asset_relief, s.asset_on, s.asset_holder, st.node_host, w.relief)
    refugees.feared_control(s.control, p.control0, st.node_objective, p.node_regard, w.feared)
    refugees.route_potential(s.people, s.displaced_at, w.theatre, w.relief, st.node_conflict,
                             st.edge_src, st.edge_dst, st.edge_gate, p.capacity, p.node_onward,
                             p.edge_rate, p.gate_release, _flows(p), w.feared, p.population0,
                             w.potential)
    refugees.gate_reach(s.people, w.theatre, w.relief, st.node_conflict, st.edge_src,
                        st.edge_dst, st.edge_gate, p.capacity, p.node_onward, p.edge_rate,
                        _flows(p), w.feared, p.population0, s.gate_open, p.gate_leakage,
                        st.node_host, w.potential, p.horizon, p.bargaining_horizon,
                        w.flow_work, w.route_factor, w.reach)  # gates, over the network
    _in_conflict(s.people, st.node_conflict, w.conflict_people)
    _open_windows(p.asset_available_day, day, released, w.available)
    # who would accept each asset (``w.requests``: scratch here, as in ``resolve``)
    terms.consents(st, p, s, w.cover, p.horizon, w.requests, w.consent)
    # the status quo path: yesterday's postures across each deal's ceasefire continued
    # (fighting where there is fighting, peace where there is peace), not all-out war
    for d in range(st.deal_sides.shape[0]):
        _status_quo(s.attack_prev, st.deal_ceasefire[d], w.status_quo)
        fighting.intensity(s.rung, p.rung_intensity, st.armed_from, w.status_quo,
                           p.attack_boost, w.heat)
        _ceasefire_heat(w.heat, st.deal_ceasefire[d], w.spared[d])
        fighting.loss_rates(w.heat, w.fire, s.exposure, p.loss_rate, w.war_losses[d])
        air_support.status_quo_strikes(s.air_target, s.air_client, s.intensity, p.air, w.cover,
                                       s.exposure, p.loss_rate, st.deal_ceasefire[d],
                                       w.war_losses[d])
        _out_of_contact(s.withdrawn, w.war_losses[d])
        fighting.shift_control(s.control, w.heat, w.status_quo, w.win, p.speed, can_hold,
                               p.attack_boost, p.front, w.ones, w.control_work,
                               w.war_drift[d])
        _subtract(w.war_drift[d], s.control)
    if st.deal_sides.shape[0] > 0:
        terms.deal_values(st, p, s, w.cover, w.reach[1], w.available, p.bargaining_horizon,
                          w.acts)
        bargaining.surplus(
            s.control, w.war_drift, w.war_losses, s.rung, s.pressure, s.affinity, w.armed,
            s.weariness, st.deal_ceasefire, st.deal_transfers, st.deal_sides,
            p.bargaining_horizon, p.interests, p.risk_attitude, p.rung_severity, p.value,
            p.deal_control, p.deal_cap, p.war_cost, p.war_weariness, p.territory_unit,
            p.loss_unit_of, p.concession, w.acts, w.spared, w.conflict_people,
            p.displacement_fighting, p.people_unit, s.provoked, p.reciprocity, s.pledged,
            p.upkeep, w.terms_work, w.gains, w.stake)
        bargaining.perceive(w.gains, w.stake, private, s.information, p.optimism, st.deal_sides,
                            p.bargaining_noise, p.learning, w.shrink, w.perceived)
    _barred(s.agreement, st.deal_ceasefire, w.barred)


@kernel
def bargaining_noise(st, keys):
    """``(R, D, S)`` each side's private resolve in each deal: drawn once per run (day 0).

    The first two parties of deal d draw normals ``2 d + side`` of a block of ``2 D`` (as
    two-party deals always have); further parties draw from a block after it, by their place
    in the deal. Mediators (sides that do not sign) have none: 0. So adding a mediator, or a
    third party, changes no other draw (paired comparisons stay paired).
    """
    d_count, width = st.deal_sides.shape[0], st.deal_sides.shape[1]
    out = np.zeros((keys.size, d_count, width))
    extra = 4 * d_count  # the first block uses uniforms 0 .. 4 D - 1
    for r in range(keys.size):
        key = stream_key(keys[r], 0, _BARGAINING)
        for d in range(d_count):
            for side in range(width):
                if not st.deal_signs[d, side]:
                    continue
                if side < 2:
                    out[r, d, side] = normal_at(key, 2 * d + side, 2 * d_count)
                else:
                    out[r, d, side] = normal_at(key, extra + MAX_SIDES * d + side,
                                                MAX_SIDES * d_count)
    return out


@kernel
def resolve(st, p, s, can_hold, chosen, keys, day, exogenous, w, events):
    """Everything that happens in a day once the actors have chosen, in place.

    Args:
        st: ``PackedStructure``.
        p: ``PackedParams``.
        s: ``PackedState``: updated in place.
        can_hold: ``(P, O, A)`` 1 where an actor can hold an objective.
        chosen: ``(R, M)`` bool: the menu entries chosen today (each actor picks a posture
            and a move: ``sim.actors.StateActor.decide``).
        keys: ``(R,)`` the replications' random keys (``CounterRNG.keys``).
        day: Today.
        exogenous: Today's timeline shocks, ``(4, A, A)``: mediation effort, affinity
            shocks, casualties (losses of i caused by j) and, in row 0 of the last, pressure.
        w: ``PackedWorkspace``, with this morning's ``perceived`` gains, ``shrink`` and
            ``available`` from ``observe``.
        events: ``(R, E)`` bool, written: what happened today (``sim.outcomes.event_names``).
    """
    events[:, :] = False

    # 1. today's acts, from the choices
    _acts(st.menu_verb, st.menu_actor, st.menu_target, chosen, w.attack, w.sanction,
          w.deescalate, w.threat, s.sanction_prev)
    air_support.acts(st.menu_verb, st.menu_actor, st.menu_target, st.menu_client, p.air_blame,
                     chosen, _AIR_SUPPORT, s.air_target, s.air_client, w.air_blame)
    w.delta[:, :, :] = 0.0

    # 2. deals: breakdowns, new agreements, their terms and ceasefires
    if st.deal_sides.shape[0] > 0:
        # w.losses_today still holds yesterday's losses: violations of the ceasefires
        bargaining.breakdown_hazard(s.affinity, s.pressure, w.losses_today, st.deal_ceasefire,
                                    st.deal_sides, st.deal_signs, p.breakdown_base,
                                    p.breakdown_hostility, p.breakdown_violation, w.hazard)
    _deals(st, chosen, keys, day, w.perceived, p.deal_control, p.deal_cap, p.cooling_off,
           p.talks, s.talks_from,
           p.rejection_info, w.hazard, w.forced_break, s.agreement, s.broken_day,
           s.information, s.control, s.rung, w.attack, w.sanction, w.cap, events)

    _offensives(st.menu_verb, st.menu_actor, st.menu_target, st.menu_to_rung, chosen, w.attack,
                w.cap, s.rung)

    # 3. gates, assets and requests: as chosen, and as the deals in force bind them
    _gates(st.menu_verb, st.menu_gate, st.gate_policy, chosen, s.agreement, st.deal_gates,
           s.gate_open, events, st.ev_gate)
    for k in range(s.asset_on.shape[1]):
        _asset(k, st.menu_actor, st.menu_verb, st.menu_target, st.menu_asset, chosen,
               st.asset_owner[k], w.available, s.agreement, st.deal_grants, st.deal_withhold,
               s.asset_on, s.asset_holder, s.requested,
               p.asset_requires_inactive, p.asset_affinity, p.asset_holder_affinity,
               p.aff_support, w.delta, w.requests, events, st.ev_asset + 3 * k, w.consent,
               st.deal_sides, st.deal_signs)

    air_support.cancel_barred(s.agreement, st.deal_ceasefire, s.air_target, s.air_client)

    # 4. fighting: losses and control
    fighting.air_cover(p.air_defence, p.asset_air_defence, s.asset_on, s.asset_holder, w.cover)
    fighting.firepower(p.ground, p.air, w.cover, w.fire)
    fighting.intensity(s.rung, p.rung_intensity, st.armed_from, w.attack, p.attack_boost,
                       s.intensity)
    fighting.loss_rates(s.intensity, w.fire, s.exposure, p.loss_rate, w.rates)
    _out_of_contact(s.withdrawn, w.rates)
    _losses(w.rates, p.event_size, p.event_dispersion, p.mass_share, p.mass_threshold,
            p.mass_tail, s.exposure, keys, day, exogenous[2], w.losses_today, s.losses_by)
    air_support.strike(s.air_target, s.air_client, s.intensity, p.air, w.cover, s.exposure,
                       p.loss_rate, p.event_size, p.event_dispersion, p.mass_share,
                       p.mass_threshold, p.mass_tail, keys, day, _AIR, _STRIKES, w.struck,
                       w.losses_today, s.losses_by, w.rates, s.air_losses, s.support_days)
    air_support.attribute(s.air_target, s.air_client, w.air_blame, w.attack, w.losses_today,
                          w.struck, w.hostile, w.blamed, s.blamed_by)
    _armed(s.rung, st.armed_from, w.attack, w.armed)
    fighting.contest_power(p.ground, p.air, w.cover, s.affinity, w.armed, w.power)
    air_support.add_power(p.air, w.cover, s.affinity, w.armed, s.air_target, s.air_client,
                          w.power)
    fighting.culminate(s.fatigue, w.power)
    _left_ground(s.withdrawn, w.power)
    fighting.win_share(w.power, p.contest_exponent, w.attack, w.powered, w.win)
    _control_noise(keys, day, w.attack, w.noise)
    _copy(s.control, w.before)
    fighting.shift_control(w.before, s.intensity, w.attack, w.win, p.speed, can_hold,
                           p.attack_boost, p.front, w.noise, w.control_work, s.control)
    _ground_lost(w.before, s.control, p.value, w.lost_ground, w.shifted)
    fighting.fatigue_step(w.attack, p.culmination, p.recovery, s.fatigue)
    bargaining.weariness_step(w.armed, s.losses_by, p.loss_unit, p.weariness_days, s.war_days,
                              s.weariness)
    bargaining.learn(s.intensity, w.losses_today, exogenous[2], w.rates, exogenous[0],
                     st.deal_ceasefire, p.event_size, p.event_dispersion, p.mediation_info,
                     s.information)

    # people of third parties present where a dyad fights (after the sides' losses have been
    # learnt from and attributed: nobody is blamed for them; they weigh on their own pressure)
    fighting.third_party(s.intensity, st.present, p.third_party_rate, keys, day, _THIRD_PARTY,
                         w.losses_today, s.third_losses)

    # 5. the ladder
    # the ladder and grievances answer acts and losses as their targets attribute them
    escalation.campaign_step(s.campaign, w.sanction, w.threat, p.sanction_drive,
                             p.threat_drive, p.persistence)
    escalation.drive(w.hostile, w.sanction, w.deescalate, w.blamed, s.blamed_by, p.trade,
                     exogenous[0], s.rung, p.rung_rest, p.base_drift, p.hostility,
                     p.sanction_drive, p.provocation, p.conciliation, p.weariness,
                     p.trade_damping, p.mediation, w.threat, p.threat_drive, s.campaign,
                     st.armed_from, w.drive)
    escalation.step(s.rung, w.drive, keys, day, _ESCALATION, w.cap, st.n_rungs, p.rate_up,
                    p.rate_down)
    escalation.incidents(s.rung, st.contact, keys, day, _INCIDENTS, w.cap, st.incident_from,
                         st.armed_from, p.incident_rate, s.incidents, s.withdrawn)
    _wars(s.rung, st.war_from, s.rung_max, events, st.ev_war)

    # 6. refugees
    _hosted(st.node_host, s.people, -1, w.hosted)
    _node_shift(st.node_objective, w.shifted, w.node_shift)
    refugees.theatre_intensity(s.intensity, w.theatre)
    refugees.relief(p.asset_relief, s.asset_on, s.asset_holder, st.node_host, w.relief)
    # who holds each node's ground after today's deals and fighting, and whom its people fear
    refugees.feared_control(s.control, p.control0, st.node_objective, p.node_regard, w.feared)
    refugees.step(s.people, s.displaced_at, s.dead, s.displaced, st.node_conflict,
                  st.edge_src, st.edge_dst, st.edge_gate, p.capacity, p.node_onward,
                  p.edge_rate, p.edge_return, p.edge_push_back, p.gate_leakage,
                  p.gate_release, p.civilian_death_rate, _flows(p),
                  p.calm_threshold, w.theatre, w.node_shift, s.gate_open, w.relief, w.feared,
                  p.population0, keys, day, (_DEATHS, _REFUGEES), w.flow_work, w.moves)
    _hosted(st.node_host, s.people, 1, w.hosted)  # now the net arrivals
    _arrivals(w.hosted, s.people, s.people_peak, s.arrivals)

    # 7. domestic pressure and grievances
    pressure.sanction_step(s.sanction_cost, w.sanction, p.sanction_recovery)
    pressure.step(s.pressure, w.losses_today, w.hosted, w.lost_ground, exogenous[3, 0],
                  p.pressure_per_loss, p.pressure_per_refugees, p.pressure_per_ground,
                  p.pressure_decay, s.sanction_cost, p.pressure_per_sanction)
    _running_max(s.pressure, s.pressure_max)
    pressure.grievance_step(s.grievance, w.blamed, GRIEVANCE_MEMORY)
    pressure.provoked_step(s.provoked, w.hostile, GRIEVANCE_MEMORY)

    # 8. affinities: acts, open gates, dated shocks; then the day's dynamics
    _acts_delta(w.hostile, w.sanction, w.deescalate, w.threat, p.aff_attack, p.aff_sanction,
                p.aff_deescalation, p.aff_threat, st.gate_owner, st.gate_hosts, s.gate_open,
                p.gate_cost, exogenous[1], w.square, w.delta)
    alliances.step(s.affinity, w.delta, keys, day, _ALLIANCES, p.anchor_strength, p.anchor,
                   p.affinity0, p.baseline_pull, p.trade, p.trade_pull, p.balance, p.aff_noise,
                   w.square)
    alliances.alignment_of(s.affinity, st.bloc_sign, w.align)
    _realignments(w.align, s.alignment0, p.realignment_threshold, events, st.ev_realigned)
    _remember_attacks(w.attack, w.sanction, s.attack_prev, s.sanction_prev, s.attack_days,
                      w.threat, s.threat_days)


@helper
def _flows(p):
    """The refugee movement rates ``refugees._mover_rate`` takes, each ``(P,)``."""
    return (p.displacement_base, p.displacement_fighting, p.displacement_ground,
            p.settle_rate, p.move_rate, p.displacement_fear)


@helper
def _armed(rung, armed_from, attack, out):
    """``(R, A, A)`` bool: i is fighting j (an armed rung or an attack by i)."""
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[r, i, j] = rung[r, i, j] >= armed_from or attack[r, i, j] > 0


@helper
def _out_of_contact(withdrawn, rates):
    """No losses either way in a dyad one of whose sides has withdrawn from the other.

    ``rates[r, i, j]`` (expected losses of i caused by j) is set to 0 where i has withdrawn
    its forces from j or j from i (verb ``withdraw``): out of contact, neither side's fire
    reaches the other's forces there. Without withdrawals nothing changes.
    """
    for r in range(rates.shape[0]):
        for i in range(rates.shape[1]):
            for j in range(rates.shape[2]):
                if withdrawn[r, i, j] or withdrawn[r, j, i]:
                    rates[r, i, j] = 0.0


@helper
def _left_ground(withdrawn, power):
    """An actor that has withdrawn from j no longer contests the ground j attacks.

    ``power[r, i, j]`` (i's contest power against ground held by j) is set to 0 where i has
    withdrawn from j: what i holds there is j's to take when j attacks (its win share is 1),
    and i takes nothing from j.
    """
    for r in range(power.shape[0]):
        for i in range(power.shape[1]):
            for j in range(power.shape[2]):
                if withdrawn[r, i, j]:
                    power[r, i, j] = 0.0


@helper
def _status_quo(attack_prev, ceasefire, out):
    """``out``: yesterday's attacks across one deal's ceasefire dyads, else 0."""
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[r, i, j] = attack_prev[r, i, j] if ceasefire[i, j] else 0.0


@helper
def _ceasefire_heat(heat, ceasefire, out):
    """``(R,)`` intensity felt by civilians from the fighting across one deal's ceasefire.

    ``1 - prod(1 - min(I_ij, 1))`` over its dyads (``refugees.theatre_intensity``'s rule).
    """
    for r in range(out.shape[0]):
        calm = 1.0
        for i in range(heat.shape[1]):
            for j in range(i + 1, heat.shape[2]):
                if ceasefire[i, j]:
                    calm *= 1.0 - min(heat[r, i, j], 1.0)
        out[r] = 1.0 - calm


@helper
def _subtract(x, y):
    """``x -= y`` for ``(R, O, A)`` arrays."""
    for r in range(x.shape[0]):
        for o in range(x.shape[1]):
            for a in range(x.shape[2]):
                x[r, o, a] -= y[r, o, a]


@helper
def _copy(x, out):
    """``out[...] = x`` for ``(R, O, A)`` arrays."""
    for r in range(x.shape[0]):
        for o in range(x.shape[1]):
            for a in range(x.shape[2]):
                out[r, o, a] = x[r, o, a]


@helper
def _open_windows(available_day, day, released, out):
    """``(R, K)`` bool: each asset's window is open (its day has come, or it was released)."""
    for r in range(out.shape[0]):
        q = pick(available_day.shape[0], r)
        for k in range(out.shape[1]):
            out[r, k] = day >= available_day[q, k] or released[k]


@helper
def _in_conflict(people, conflict, out):
    """``(R,)`` people in conflict nodes."""
    for r in range(out.size):
        out[r] = 0
        for node in range(conflict.size):
            if conflict[node]:
                out[r] += people[r, node]


@helper
def _barred(agreement, ceasefire, out):
    """``(R, A, A)`` bool: dyads under the ceasefire of an agreement in force."""
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[r, i, j] = False
        for d in range(ceasefire.shape[0]):
            if agreement[r, d]:
                for i in range(out.shape[1]):
                    for j in range(out.shape[2]):
                        out[r, i, j] |= ceasefire[d, i, j]


@helper
def _acts(menu_verb, menu_actor, menu_target, chosen, attack, sanction, deescalate, threat,
          sanction_prev):
    """``(R, A, A)`` 0/1 matrices of today's attacks, sanctions, de-escalations, threats.

    A sanction is a state, not a daily act: those in force yesterday (``sanction_prev``) stay
    in force, and a chosen ``sanction`` entry toggles its own: it imposes a sanction not in
    force and lifts one in force (``decisions`` scores it so). A deal in force that lifts
    sanctions clears them afterwards (``_deals``).
    """
    for r in range(chosen.shape[0]):
        for i in range(attack.shape[1]):
            for j in range(attack.shape[2]):
                attack[r, i, j], deescalate[r, i, j], threat[r, i, j] = 0.0, 0.0, 0.0
                sanction[r, i, j] = 1.0 if sanction_prev[r, i, j] > 0 else 0.0
        for e in range(menu_verb.size):
            if not chosen[r, e]:
                continue
            a, verb, t = menu_actor[e], menu_verb[e], menu_target[e]
            if verb == _ATTACK:
                attack[r, a, t] = 1.0
            elif verb == _SANCTION:
                sanction[r, a, t] = 0.0 if sanction_prev[r, a, t] > 0 else 1.0
            elif verb == _DEESCALATE:
                deescalate[r, a, t] = 1.0
            elif verb == _THREATEN:
                threat[r, a, t] = 1.0


@helper
def _offensives(menu_verb, menu_actor, menu_target, menu_to_rung, chosen, attack, cap, rung):
    """An offensive launched today puts its dyad on its rung at once (``Action.to_rung``).

    A deliberate offensive or air campaign does not climb the ladder a rung a day: the day it
    starts, the dyad is at the rung it was planned for (below an agreement's cap; an attack a
    ceasefire barred is not launched).
    """
    for r in range(chosen.shape[0]):
        for e in range(menu_verb.size):
            jump = menu_to_rung[e]
            if jump < 0 or not chosen[r, e] or menu_verb[e] != _ATTACK:
                continue
            a, t = menu_actor[e], menu_target[e]
            if attack[r, a, t] <= 0.0:
                continue
            new = min(max(rung[r, a, t], jump), cap[r, a, t])
            rung[r, a, t] = new
            rung[r, t, a] = new


@helper
def _gates(menu_verb, menu_gate, gate_policy, chosen, agreement, deal_gates, gate_open, events,
           first):
    """Open and close gates as chosen, unless a deal in force or the scenario fixes them.

    The gates' events are ``events[:, first:]``: opened, closed for each gate.
    """
    for r in range(chosen.shape[0]):
        for g in range(gate_open.shape[1]):
            opens, closes = False, False
            for e in range(menu_verb.size):
                if menu_gate[e] == g and chosen[r, e]:
                    opens |= menu_verb[e] == _OPEN_GATE
                    closes |= menu_verb[e] == _CLOSE_GATE
            before = gate_open[r, g]
            after = True if opens else (False if closes else before)
            bound = terms.bound(agreement, r, deal_gates, g)
            if bound >= 0:  # a deal in force holds the gate (signed today, it moves it now)
                after = bound == 1
            if gate_policy[g] == GATE_OPEN:
                after = True
            elif gate_policy[g] == GATE_CLOSED:
                after = False
            gate_open[r, g] = after
            events[r, first + 2 * g] = after and not before
            events[r, first + 2 * g + 1] = before and not after


@helper
def _asset(k, menu_actor, menu_verb, menu_target, menu_asset, chosen, decider, available,
           agreement, deal_grants, deal_withhold, asset_on, asset_holder, requested, requires,
           effects, holder_affinity, support, delta, requests, events, first, consent,
           deal_sides, deal_signs):
    """Grants, activation and requests of asset k today, in every replication.

    A grant needs the asset idle and available, the recipient not holding an asset in
    effect that bars it (``requires``) and its consent (``consent``: this morning's
    ``terms.accepts``, an open request or a value of holding it not below 0); the first such
    grant chosen counts, unless a deal in force withholds the asset; failing a chosen grant,
    a deal in force that grants the asset grants it (``sim.mechanisms.terms``), with the
    recipient's consent, which signing the deal gives. A grant moves ties
    between supplier and recipient by ``holder_affinity + support``. Switching the asset on
    moves its decider's ties with the actors its ``effects`` name. Open requests fade by
    ``REQUEST_MEMORY``. The asset's events are ``events[:, first:]``: granted, activated,
    requested.
    """
    n = delta.shape[1]
    mine = np.empty(menu_verb.size, dtype=np.int64)  # the menu entries of asset k, in order
    m = 0
    for e in range(menu_verb.size):
        if menu_asset[e] == k:
            mine[m] = e
            m += 1
    for r in range(chosen.shape[0]):
        q = pick(requires.shape[0], r)
        recipient, activated = -1, False
        withheld = terms.withheld(agreement, r, deal_withhold, k)
        bound = terms.bound(agreement, r, deal_grants, k)
        for x in range(m):
            e = mine[x]
            if not chosen[r, e]:
                continue
            if menu_verb[e] == _GRANT:
                t = menu_target[e]
                # a deal in force decides where the asset goes (or that it stays)
                if recipient < 0 and not withheld and bound < 0 and consent[r, k, t] \
                        and terms.receivable(r, q, k, t, asset_on, asset_holder, available,
                                             requires):
                    recipient = t
            elif menu_verb[e] == _ACTIVATE:
                activated |= not asset_on[r, k] and available[r, k]
        if bound >= 0 and not withheld and terms.receivable(
                r, q, k, bound, asset_on, asset_holder, available, requires) and (
                consent[r, k, bound] or terms.signed_for(agreement, r, deal_grants, deal_sides,
                                                         deal_signs, k, bound)):
            recipient = bound
        granted = recipient >= 0
        if granted:
            asset_holder[r, k] = recipient
            bump = holder_affinity[q, k] + support[q]
            delta[r, decider, recipient] += bump
            delta[r, recipient, decider] += bump
        if granted or activated:
            asset_on[r, k] = True
            actor = decider if granted else asset_holder[r, k]
            actor = actor + n if actor < 0 else actor
            for b in range(n):
                delta[r, actor, b] += effects[q, k, b]
            for b in range(n):
                delta[r, b, actor] += effects[q, k, b]
        for a in range(n):
            requests[a] = 0.0
        for x in range(m):
            e = mine[x]
            if menu_verb[e] == _REQUEST and chosen[r, e]:
                requests[menu_actor[e]] = 1.0
        asked = False
        for a in range(n):
            requested[r, k, a] = max(REQUEST_MEMORY * requested[r, k, a], requests[a])
            asked |= requests[a] > 0
        events[r, first] = granted
        events[r, first + 1] = activated
        events[r, first + 2] = asked


@helper
def _deals(st, chosen, keys, day, perceived, terms, deal_cap, cooling_off, talks, talks_from,
           rejection_info,
           hazard, forced_break, agreement, broken_day, information, control, rung, attack,
           sanction, cap, events):
    """Breakdowns and new agreements, their terms and ceasefires.

    A deal forms when a party proposes it, it is not in force, its cooling-off after a
    breakdown is over, no rival deal (same parties, or a common ceasefire dyad) formed earlier
    today, and every party's perceived surplus is positive. It replaces the rival deals in
    force, so contradictory terms are never in force together. A rejected proposal reveals
    information (``rejection_info``). An agreement's terms re-divide ground; everything else
    stays where it is (ceasefire in place); its ceasefire caps the rung and bars attacks, and
    sanctions across the dyads it lifts them in are barred (its other terms over actions bind
    gates and assets: ``_gates``, ``_asset``). ``cap`` is written: the highest rung allowed
    today. A deal may be proposed by a party or a mediator; every party must accept. A dated
    gate event against a deal's gate term breaks the deal whatever its hazard
    (``forced_break``, reset here). Talks take time: a deal's first proposal opens talks
    (``talks_from``), and it can be signed only by a proposal ``talks`` days or more later
    (Pillar 1983); signing or a breakdown closes them.
    """
    n, o_count = rung.shape[1], control.shape[1]
    top = st.n_rungs - 1
    menu_verb, menu_deal = st.menu_verb, st.menu_deal
    ceasefire, transfers, rival = st.deal_ceasefire, st.deal_transfers, st.deal_rival
    d_count, ev_deal, ev_breakdown = st.deal_sides.shape[0], st.ev_deal, st.ev_breakdown
    ev_agreement = st.ev_agreement
    for r in range(rung.shape[0]):
        q = pick(terms.shape[0], r)
        for i in range(n):
            for j in range(n):
                cap[r, i, j] = top
        if d_count == 0:
            continue
        key = stream_key(keys[r], day, _BREAKDOWN)
        for d in range(d_count):  # breakdowns first: a deal broken today frees its rivals
            breaks = agreement[r, d] and (uniform_at(key, d) < hazard[r, d]
                                          or forced_break[r, d])
            forced_break[r, d] = False
            if breaks:
                agreement[r, d] = False
                broken_day[r, d] = day
                talks_from[r, d] = -1
            events[r, ev_breakdown + d] = breaks
        for d in range(d_count):
            proposed = False
            for e in range(menu_verb.size):
                proposed |= menu_verb[e] == _NEGOTIATE and menu_deal[e] == d and chosen[r, e]
            if not proposed or agreement[r, d]:
                continue
            blocked = day - broken_day[r, d] <= cooling_off[q]
            for other in range(d_count):
                blocked |= rival[d, other] and events[r, ev_deal + other]
            if blocked:
                continue
            if talks_from[r, d] < 0:
                talks_from[r, d] = day  # the first proposal opens the talks
            if day - talks_from[r, d] < talks[q]:
                continue  # still talking: nothing to sign yet
            if not bargaining.accepted(perceived, st.deal_signs, r, d):
                information[r, d] += rejection_info[q]
                continue
            agreement[r, d] = True
            talks_from[r, d] = -1
            for other in range(d_count):
                if rival[d, other]:
                    agreement[r, other] = False  # replaced by the new deal
            for o in range(o_count):
                if transfers[d, o]:
                    for a in range(n):
                        control[r, o, a] = terms[q, d, o, a]
            events[r, ev_deal + d] = True
            events[r, ev_agreement] = True
        for d in range(d_count):
            allowed = deal_cap[q, d] if agreement[r, d] else top
            for i in range(n):
                for j in range(n):
                    if ceasefire[d, i, j]:
                        cap[r, i, j] = min(cap[r, i, j], allowed)
                        if agreement[r, d]:
                            attack[r, i, j] = 0.0  # attacks across a ceasefire are barred
                    if agreement[r, d] and st.deal_no_sanction[d, i, j]:
                        sanction[r, i, j] = 0.0
        for i in range(n):
            for j in range(n):
                rung[r, i, j] = min(rung[r, i, j], cap[r, i, j])


@helper
def _losses(rates, event_size, dispersion, mass_share, threshold, tail, exposure, keys, day,
            casualties, out, total):
    """Today's losses of i caused by j: heavy-tailed event tolls plus dated casualties.

    ``fighting.split_losses`` of each dyad's expected rate: ordinary events from counters
    ``(i A + j) LOSS_BLOCK`` of the losses stream and, where troops are declared
    (``mass_share`` > 0), mass-casualty strikes from counters ``(i A + j) STRIKE_BLOCK`` of
    the strikes stream, at most i's troops in contact each (``exposure`` x 1,000). They are
    written to ``out`` and added to ``total``. A dyad whose rate is 0 draws nothing (as
    ``split_losses`` would not), and is not passed to it.
    """
    n = rates.shape[1]
    for r in range(rates.shape[0]):
        q = pick(event_size.shape[0], r)
        qe = pick(exposure.shape[0], r)
        key = stream_key(keys[r], day, _LOSSES)
        strike_key = stream_key(keys[r], day, _STRIKES)
        for i in range(n):
            for j in range(n):
                if rates[r, i, j] == 0.0:  # split_losses draws nothing (0): the dated ones
                    out[r, i, j] = np.int64(casualties[i, j])
                    total[r, i, j] += out[r, i, j]
                    continue
                out[r, i, j] = fighting.split_losses(
                    key, (i * n + j) * fighting.LOSS_BLOCK, strike_key,
                    (i * n + j) * fighting.STRIKE_BLOCK, rates[r, i, j], event_size[q],
                    dispersion[q], mass_share[q], threshold[q], tail[q],
                    exposure[qe, i] * 1000.0) + np.int64(casualties[i, j])
                total[r, i, j] += out[r, i, j]


@helper
def _control_noise(keys, day, attack, out):
    """``(R, A, A)`` factors of mean 1 on each attack's transfer of control.

    Drawn for today's attacks only: the others are not read.
    """
    n = out.shape[1]
    for r in range(out.shape[0]):
        key = stream_key(keys[r], day, _CONTROL)
        for i in range(n):
            for j in range(n):
                out[r, i, j] = 0.5 + uniform_at(key, i * n + j) if attack[r, i, j] != 0 else 1.0


@helper
def _ground_lost(before, after, value, lost_ground, shifted):
    """Ground lost today: valued, per actor ``(R, A)``; per objective ``(R, O)``."""
    o_count, n = before.shape[1], before.shape[2]
    for r in range(before.shape[0]):
        q = pick(value.shape[0], r)
        for a in range(n):
            lost_ground[r, a] = 0.0
        for o in range(o_count):
            shifted[r, o] = 0.0
            for a in range(n):
                gone = max(before[r, o, a] - after[r, o, a], 0.0)
                lost_ground[r, a] += gone * value[q, o, a]
                shifted[r, o] += gone


@helper
def _wars(rung, war_from, rung_max, events, first):
    """Running highest rungs; the ``war`` events of the dyads at or above ``war_from``."""
    n = rung.shape[1]
    for r in range(rung.shape[0]):
        war = first
        for i in range(n):
            for j in range(n):
                rung_max[r, i, j] = max(rung_max[r, i, j], rung[r, i, j])
                if j > i:
                    events[r, war] = rung[r, i, j] >= war_from
                    war += 1


@helper
def _hosted(node_host, people, sign, out):
    """``out += sign * `` people on each actor's soil ``(R, A)`` (``sign`` -1 first resets)."""
    for r in range(out.shape[0]):
        if sign < 0:
            for a in range(out.shape[1]):
                out[r, a] = 0
        for node in range(node_host.size):
            if node_host[node] >= 0:
                out[r, node_host[node]] += sign * people[r, node]


@helper
def _node_shift(node_objective, shifted, out):
    """``(R, N)`` share of each node's objective that changed hands today."""
    for r in range(out.shape[0]):
        for node in range(out.shape[1]):
            objective = node_objective[node]
            out[r, node] = shifted[r, objective] if objective >= 0 else 0.0


@helper
def _arrivals(net, people, people_peak, arrivals):
    """Peaks of people per node, and new arrivals on each actor's soil.

    ``net`` (people on the soil, after minus before) becomes the new arrivals (at least 0),
    and ``arrivals`` their smoothed daily number.
    """
    for r in range(people.shape[0]):
        for node in range(people.shape[1]):
            people_peak[r, node] = max(people_peak[r, node], people[r, node])
        for a in range(net.shape[1]):
            net[r, a] = max(net[r, a], 0)
            arrivals[r, a] = 0.7 * arrivals[r, a] + 0.3 * net[r, a]


@helper
def _running_max(x, out):
    """``out = max(out, x)`` for ``(R, A)`` arrays."""
    for r in range(x.shape[0]):
        for a in range(x.shape[1]):
            out[r, a] = max(out[r, a], x[r, a])


@helper
def _acts_delta(attack, sanction, deescalate, threat, aff_attack, aff_sanction,
                aff_deescalation, aff_threat, gate_owner, gate_hosts, gate_open, gate_cost, shock,
                work, delta):
    """Add to ``delta`` the affinity change of today's acts, open gates and dated shocks.

    Attacks, sanctions and threats by either side lower a dyad's affinity, de-escalation
    raises it; an
    open gate costs its owner ties with the hosts beyond it (``gate_hosts``), daily.
    """
    n = delta.shape[1]
    for r in range(delta.shape[0]):
        q = pick(aff_attack.shape[0], r)
        for i in range(n):
            for j in range(n):
                work[i, j] = 0.0
        for g in range(gate_open.shape[1]):
            owner = gate_owner[g]
            for h in range(n):
                if gate_hosts[g, h]:
                    cost = (1.0 if gate_open[r, g] else 0.0) * gate_cost[q, g]
                    work[owner, h] -= cost
                    work[h, owner] -= cost
        for i in range(n):
            for j in range(n):
                delta[r, i, j] += (-aff_attack[q] * (attack[r, i, j] + attack[r, j, i])
                                   - aff_sanction[q] * (sanction[r, i, j] + sanction[r, j, i])
                                   - aff_threat[q] * (threat[r, i, j] + threat[r, j, i])
                                   + aff_deescalation[q] * (deescalate[r, i, j]
                                                            + deescalate[r, j, i]))
                delta[r, i, j] += work[i, j]
                delta[r, i, j] += shock[i, j]


@helper
def _realignments(align, align0, threshold, events, first):
    """The ``realigned`` events: alignment past the threshold, opposite to day 0's side."""
    for r in range(align.shape[0]):
        q = pick(threshold.shape[0], r)
        for a in range(align.shape[1]):
            events[r, first + a] = alliances.realigned(align[r, a], align0[r, a], threshold[q])


@helper
def _remember_attacks(attack, sanction, attack_prev, sanction_prev, attack_days, threat,
                      threat_days):
    """Yesterday's attacks and sanctions in force, for tomorrow; attack and threat days."""
    for r in range(attack.shape[0]):
        for i in range(attack.shape[1]):
            for j in range(attack.shape[2]):
                attack_prev[r, i, j] = attack[r, i, j]
                sanction_prev[r, i, j] = sanction[r, i, j]
                attack_days[r, i, j] += np.int64(attack[r, i, j])
                threat_days[r, i, j] += np.int64(threat[r, i, j])
