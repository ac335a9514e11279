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

import weakref
from dataclasses import dataclass

import numpy as np

from sim.jit import helper, inlined, kernel, packed, pick, tuple_type
from sim.mechanisms import terms
from sim.mechanisms.bargaining import answer_value
from sim.mechanisms.fighting import within_reach
from sim.world import BLAME_CODE, OBJ, VERB, gate_hosts_of


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
    air_target: np.ndarray  # (R, A) int whom each actor's air support struck yesterday, or -1
    air_client: np.ndarray  # (R, A) int whose offensive it backed, or -1
    win: np.ndarray  # (R, A, A) contest share of i attacking j
    power: np.ndarray  # (R, A, A) contest power of i against ground held by j
    powered: np.ndarray  # (R, A, A) power to the contest exponent (0 on the diagonal)
    can_hold: np.ndarray  # (P, O, A)
    grievance: np.ndarray  # (R, A, A)
    provoked: np.ndarray  # (R, A, A) attacks of j on i not yet answered (fading)
    pledged: np.ndarray  # (R, A, A) standing i has at stake against j: crossed red lines
    asset_on: np.ndarray  # (R, K)
    asset_holder: np.ndarray  # (R, K)
    asset_available: np.ndarray  # (R, K) bool: the asset's window is open
    requested: np.ndarray  # (R, K, A)
    gate_open: np.ndarray  # (R, G)
    gate_reach: np.ndarray  # (2, R, G, A) people a day each gate open adds to each actor's
    # ground, over the network (``refugees.gate_reach``): [0] over the decision horizon, [1]
    # over the bargaining horizon
    arrivals: np.ndarray  # (R, A) recent daily arrivals on each actor's soil (smoothed)
    conflict_people: np.ndarray  # (R,) people in conflict nodes
    deal_gains: np.ndarray  # (R, D, 2)
    deal_perceived: np.ndarray  # (R, D, 2) each party's surplus as it sees it
    deal_shrink: np.ndarray  # (R, D) share of private information still unrevealed
    deal_stake: np.ndarray  # (R, D, S) each side's stake in fighting on (optimism's scale)
    deal_private: np.ndarray  # (R, D, S) each side's private resolve, standard normal
    agreement: np.ndarray  # (R, D) bool
    cooling: np.ndarray  # (R, D) bool: in the cooling-off period after a breakdown
    barred: np.ndarray  # (R, A, A) bool: attacks barred by a ceasefire
    weariness: np.ndarray  # (R, A) war weariness
    exposure: np.ndarray  # (R, A) forces exposed to fire (state: raised by reinforcements)
    sanction_prev: np.ndarray  # (R, A, A) sanctions i -> j in force (a state)
    sanction_review: np.ndarray  # (R, A, A) uniforms: i reviews its sanction on j if below
    # decisions.sanction_review
    withdrawn: np.ndarray  # (R, A, A) bool: i has withdrawn its forces from j (verb withdraw)


#: ``Situation`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedSituation = tuple_type(Situation, "PackedSituation")


def score_menu(s: Situation, layout, p, lookahead: bool = True,
               direct: np.ndarray | None = None) -> np.ndarray:
    """Utility of every menu entry, ``(R, M)`` (``-inf`` where an action is unavailable).

    ``lookahead=False`` leaves out what a gate move, a sanction or an attack does to the
    deals on the table (``_leverage``, ``_sanction_leverage``, ``_force_leverage``): what
    ``explain`` separates from the act's direct effects. ``direct``, ``(R, M)``, if given,
    receives each attack's value before its look-ahead (``-inf`` elsewhere): what fighting
    itself is worth to its actor today, the course a deal would bar (``commitment``).
    """
    if direct is None:
        direct = np.empty((s.rung.shape[0], layout.menu.verb.size))
    return _score_menu(packed(s, PackedSituation), p.packed, _structure(layout),
                       layout.armed_from, lookahead, direct)


_STRUCTURES: dict[int, tuple] = {}  # id(layout) -> (a weak reference to it, its arrays)


def _structure(layout) -> tuple:
    """The layout's arrays ``_score_menu`` reads, as int64, made once per layout."""
    cached = _STRUCTURES.get(id(layout))
    if cached is not None and cached[0]() is layout:
        return cached[1]
    menu = layout.menu
    can_propose = np.zeros((layout.n_actors, len(layout.deals)), dtype=np.int64)
    for e in np.flatnonzero(menu.verb == _NEGOTIATE):
        can_propose[menu.actor[e], menu.deal[e]] = 1
    arrays = (menu.actor, menu.verb, menu.target, menu.asset, menu.gate, menu.deal,
              menu.client, layout.deal_sides, layout.deal_signs, layout.asset_owner,
              layout.gate_owner, gate_hosts_of(layout), layout.deal_gates,
              layout.deal_withhold, layout.deal_no_sanction, layout.deal_grants, can_propose,
              layout.deal_ceasefire, menu.to_rung, menu.once)
    arrays = tuple(np.ascontiguousarray(x, dtype=np.int64) for x in arrays)
    _STRUCTURES[id(layout)] = (weakref.ref(layout), arrays)
    return arrays


_TERRITORY, _LOSSES, _ESCALATION = OBJ["territory"], OBJ["losses"], OBJ["escalation"]
_REFUGEES, _TIES, _STANDING = OBJ["refugees"], OBJ["ties"], OBJ["standing"]
_HUMANITARIAN = OBJ["humanitarian"]
_ATTACK, _DEESCALATE, _SANCTION = VERB["attack"], VERB["deescalate"], VERB["sanction"]
_NEGOTIATE, _REQUEST, _GRANT = VERB["negotiate"], VERB["request_support"], VERB["grant_support"]
_ACTIVATE, _OPEN_GATE, _CLOSE_GATE = VERB["activate"], VERB["open_gate"], VERB["close_gate"]
_AIR_SUPPORT, _THREATEN, _WITHDRAW = VERB["air_support"], VERB["threaten"], VERB["withdraw"]
_BLAME_CLIENT = BLAME_CODE["client"]


@helper
def _tanh_pos(x: float) -> float:
    """``tanh(max(x, 0))``, without calling tanh for the zero."""
    return np.tanh(x) if x > 0.0 else 0.0


@helper
def _moved_rung(rung: int, delta: int, n_rungs: int) -> int:
    """The rung after a move by ``delta``, clipped to the ladder."""
    return min(max(rung + delta, 0), n_rungs - 1)


@kernel
def _score_menu(s, p, structure, armed_from, lookahead, direct):
    (actor, verb, target, asset, gate, deal, client, sides, signs, asset_owner, gate_owner,
     gate_hosts, deal_gates, deal_withhold, no_sanction, deal_grants, can_propose,
     deal_ceasefire, to_rung, once) = structure
    r_count, n = s.rung.shape[0], s.rung.shape[1]
    k_count, o_count = s.asset_on.shape[1], s.control.shape[1]
    utility = np.zeros((r_count, verb.size))
    n_rungs = p.rung_severity.shape[1]
    coalition = np.zeros((r_count, n, n))
    direct[:, :] = -np.inf
    wanted = np.zeros((n, n), dtype=np.bool_)  # the pairs with an attack in a menu
    for e in range(verb.size):
        if verb[e] == _ATTACK:
            wanted[actor[e], target[e]] = True
    _coalition_gains(armed_from, wanted, p.contest_exponent, p.attack_boost, p.air, s.cover,
                     s.rung, s.affinity, s.attack_prev, s.power, s.powered, p.rung_intensity,
                     p.value, s.control, p.speed, p.horizon, p.front, s.barred, s.withdrawn,
                     coalition)
    air_part = np.empty((n, n))
    blocked = np.zeros((k_count, n), dtype=np.bool_)
    objection = np.zeros((k_count, n))
    no_shift = np.zeros(sides.shape[1])  # scratch for deal acceptance (``_acceptance``)
    shift = np.zeros(sides.shape[1])
    shift_hold = np.zeros(sides.shape[1])
    # the state and parameters read below, taken out of their tuples once
    rung, affinity, cover, fire = s.rung, s.affinity, s.cover, s.fire
    attack_prev, win = s.attack_prev, s.win
    control, can_hold, pressure_, grievance = s.control, s.can_hold, s.pressure, s.grievance
    asset_on, asset_holder, available = s.asset_on, s.asset_holder, s.asset_available
    requested, gate_open, reach = s.requested, s.gate_open, s.gate_reach
    arrivals, conflict_people, gains = s.arrivals, s.conflict_people, s.deal_gains
    agreement, barred, cooling = s.agreement, s.barred, s.cooling
    perceived, shrink, weariness = s.deal_perceived, s.deal_shrink, s.weariness
    private = s.deal_private
    stake = s.deal_stake
    war_weariness, optimism = p.war_weariness, p.optimism
    horizon, boost, intensity_of, severity = (p.horizon, p.attack_boost, p.rung_intensity,
                                              p.rung_severity)
    w, risk_attitude, loss_unit, people_unit = (p.interests, p.risk_attitude, p.loss_unit_of,
                                                p.people_unit)
    partner, trade, air, exposure, loss_rate = p.partner, p.trade, p.air, s.exposure, p.loss_rate
    hostility, rate_up, rate_down, retaliation = p.hostility, p.rate_up, p.rate_down, p.retaliation
    reciprocity, provoked, pledged = p.reciprocity, s.provoked, s.pledged
    air_defence_of, affinity_of, relief_of = (p.asset_air_defence, p.asset_affinity,
                                              p.asset_relief)
    requires, penalty = p.asset_requires_inactive, p.asset_held_penalty
    base_drift, trade_damping, conciliation = p.base_drift, p.trade_damping, p.conciliation
    value_of, speed, front = p.value, p.speed, p.front
    displacement, territory_unit = p.displacement_fighting, p.territory_unit
    aff_attack, aff_deescalation, aff_sanction = p.aff_attack, p.aff_deescalation, p.aff_sanction
    aff_support, holder_affinity = p.aff_support, p.asset_holder_affinity
    war_cost, concession, sanction_drive = p.war_cost, p.concession, p.sanction_drive
    entrapment = p.entrapment
    noise_scale, request_weight = p.bargaining_noise, p.request_weight
    per_refugees, gate_cost = p.pressure_per_refugees, p.gate_cost
    action_cost, air_blame, provocation = p.action_cost, p.air_blame, p.provocation
    air_target, air_client, power, powered = s.air_target, s.air_client, s.power, s.powered
    event_size, exponent = p.event_size, p.contest_exponent
    # (read out of their tuples here, not in the loop: each read there counts a reference)
    compellence, bargaining_horizon, recipient_cost = (p.compellence, p.bargaining_horizon,
                                                       p.asset_recipient_cost)
    threat_drive, aff_threat, review_threshold = p.threat_drive, p.aff_threat, p.sanction_review
    sanction_prev, sanction_review = s.sanction_prev, s.sanction_review
    withdrawn = s.withdrawn
    for r in range(r_count):
        q = pick(horizon.shape[0], r)
        by_front = front[pick(front.shape[0], r)]
        # what the actors see: air losses of i from j, assets barred and objected to
        for i in range(n):
            for j in range(n):
                air_part[i, j] = (loss_rate[q] * intensity_of[q, rung[r, i, j]] * air[q, j]
                                  * (1.0 - cover[r, i]) * exposure[r, i])
        for k in range(k_count):
            for a in range(n):
                blocked[k, a] = False
                objection[k, a] = 0.0
                for other in range(k_count):
                    if asset_holder[r, other] == a:
                        objection[k, a] += penalty[q, k, other]
                        if asset_on[r, other] and requires[q, k, other]:
                            blocked[k, a] = True
        for e in range(verb.size):
            a, v = actor[e], verb[e]
            value = 0.0
            # a one-off act (``Action.once``) is scored over its one day: its daily effects
            # once, not over the look-ahead; a posture over the look-ahead
            h = 1.0 if once[e] else horizon[q]
            if v in (_ATTACK, _DEESCALATE, _SANCTION, _AIR_SUPPORT, _THREATEN, _WITHDRAW):
                t = target[e]
                # drive from the other side's posture alone (others keep yesterday's posture)
                d0 = (base_drift[q] + hostility[q] * attack_prev[r, t, a]
                      - trade_damping[q] * trade[q, a, t])
            if v == _ATTACK:
                if barred[r, a, t] or withdrawn[r, a, t]:
                    # barred by a ceasefire in force, or out of contact: off the menu (-inf,
                    # as scored in full below would give), with no value before its look-ahead
                    utility[r, e] = -np.inf
                    continue
                other = attack_prev[r, t, a]
                base = intensity_of[q, rung[r, a, t]]
                i_hold = base * (1.0 + boost[q] * other)
                jump = to_rung[e]  # an offensive: the dyad goes to its rung at once
                launched = jump > rung[r, a, t]
                i_att = (max(base, intensity_of[q, jump if launched else armed_from])
                         * (1.0 + boost[q] * (1.0 + other)))
                d_int = i_att - i_hold
                # out of contact (a side has withdrawn from the other): nobody's fire reaches
                apart = withdrawn[r, a, t] or withdrawn[r, t, a]
                own_losses = 0.0 if apart else loss_rate[q] * d_int * fire[r, a, t] * exposure[r, a]
                gain = 0.0
                for o in range(o_count):
                    gain += (value_of[q, o, a] * speed[q, o]
                             * within_reach(control[r, o, t], speed[q, o], h, by_front)
                             * can_hold[q, o, a])
                territory = gain * i_att / (1.0 + 2.0 * boost[q]) * 2.0 * win[r, a, t]
                territory += coalition[r, a, t]
                d_up = rate_up[q] * (_tanh_pos(d0 + hostility[q]) - _tanh_pos(d0))
                escalation = (min(d_up * h, 1.0)
                              * abs(severity[q, _moved_rung(rung[r, a, t], 1, n_rungs)]
                                  - severity[q, rung[r, a, t]]))
                if launched:  # the offensive's own jump, for certain
                    escalation = abs(severity[q, jump] - severity[q, rung[r, a, t]])
                displaced = displacement[q] * d_int * conflict_people[r]
                value = (
                    w[q, a, _TERRITORY] * territory * h / territory_unit[q]
                    - w[q, a, _LOSSES] * own_losses * h / loss_unit[q, a]
                    - w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * escalation
                    + w[q, a, _STANDING] * retaliation[q] * pressure_[r, a]
                    * grievance[r, a, t] / loss_unit[q, a]
                    + w[q, a, _STANDING] * answer_value(reciprocity[q], pressure_[r, a],
                                                        provoked[r, a, t])
                    + w[q, a, _STANDING] * pledged[r, a, t] * (1.0 + pressure_[r, a])
                    - w[q, a, _TIES] * partner[q, a, t] * aff_attack[q] * h
                    - w[q, a, _HUMANITARIAN] * displaced * h / people_unit[q]
                    - (war_cost[q, a] + war_weariness[q, a] * weariness[r, a]) * h
                )
                if not (barred[r, a, t] or withdrawn[r, a, t]):
                    # a one-off's value is its day's: commitment scales a course of fighting
                    # from the look-ahead to the bargaining horizon, not a single strike
                    direct[r, e] = (value - action_cost[q, e]) * (
                        horizon[q] / bargaining_horizon[pick(bargaining_horizon.shape[0], r)]
                        if once[e] else 1.0)
                # force used to obtain a deal: compellence (a course of force the status quo
                # path continues; a one-off strike does not continue, so it has none)
                if lookahead and not once[e]:
                    hurt = (w[q, t, _LOSSES] * loss_rate[q] * d_int * fire[r, t, a]
                            * exposure[r, t] * (0.0 if apart else 1.0) / loss_unit[q, t]
                            + w[q, t, _TERRITORY] * ground_at_stake(t, a, r, q, value_of,
                                                                    speed, control, can_hold,
                                                                    horizon[q], by_front)
                            * i_att
                            / (1.0 + 2.0 * boost[q]) * 2.0 * win[r, a, t] / territory_unit[q])
                    value += compellence[q] * _force_leverage(
                                             a, t, r, q, hurt, gains, stake, perceived,
                                             shrink, optimism, noise_scale, private, sides,
                                             signs, deal_ceasefire, agreement, cooling,
                                             attack_prev, bargaining_horizon, can_propose,
                                             shift_hold, shift)
                if barred[r, a, t] or withdrawn[r, a, t]:
                    value = -np.inf
            elif v == _AIR_SUPPORT:
                # patron a backs client c against t: scored as attack is (see the docstring
                # of _coalition_gains for the territory rule); inline, as a call passing the
                # state's arrays cost more than the scoring itself
                t, c = target[e], client[e]
                value = -np.inf  # a ceasefire bars a or c from t, or c and t are not fighting
                pushed = attack_prev[r, c, t] + attack_prev[r, t, c]
                heat = intensity_of[q, rung[r, c, t]]
                if pushed > 0:
                    heat = max(heat, intensity_of[q, armed_from])
                heat *= 1.0 + boost[q] * pushed
                if heat > 0.0 and not (barred[r, a, t] or barred[r, c, t] or withdrawn[r, a, t]
                                       or withdrawn[r, c, t] or withdrawn[r, t, c]):
                    blamed = 0.0 if air_blame[q, e] == _BLAME_CLIENT else 1.0
                    strikes = (loss_rate[q] * heat * air[q, a] * (1.0 - cover[r, t])
                               * exposure[r, t])
                    # the client's contest with the sorties and without them
                    friend = max(affinity[r, a, c], 0.0)
                    fights = rung[r, a, t] >= armed_from or attack_prev[r, a, t] > 0
                    help_ = air[q, a] * (1.0 - cover[r, t]) * (1.0 - (friend if fights
                                                                      else 0.0))
                    flew = air_target[r, a] == t and air_client[r, a] == c  # in the power
                    with_help = power[r, c, t] if flew else power[r, c, t] + help_
                    without = max(with_help - help_, 0.0)
                    against = powered[r, t, c]  # every contest is computed in the morning
                    with_m = with_help ** exponent[q]
                    without_m = without ** exponent[q]
                    decided = ((with_m / (with_m + against) if with_m + against > 0 else 0.5)
                               - (without_m / (without_m + against)
                                  if without_m + against > 0 else 0.5))
                    push = intensity_of[q, max(rung[r, c, t], armed_from)] / (1.0 + 2.0 * boost[q])
                    held = 0.0  # a's value of the ground c can take from t
                    for o in range(o_count):
                        held += (value_of[q, o, a] * speed[q, o]
                                 * within_reach(control[r, o, t], speed[q, o], h, by_front)
                                 * can_hold[q, o, c])
                    territory = held * friend * attack_prev[r, c, t] * push * 2.0 * decided
                    # own escalation with t: a hostile act and a day with casualties, if blamed
                    struck = 1.0 - np.exp(-strikes / event_size[q])  # a strike event today
                    d_up = rate_up[q] * (_tanh_pos(d0 + hostility[q] + provocation[q] * struck)
                                         - _tanh_pos(d0))
                    escalation = blamed * (min(d_up * h, 1.0)
                                           * abs(severity[q, _moved_rung(rung[r, a, t], 1,
                                                                         n_rungs)]
                                                 - severity[q, rung[r, a, t]]))
                    value = (
                        w[q, a, _TERRITORY] * territory * h / territory_unit[q]
                        - w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * escalation
                        + blamed * w[q, a, _STANDING] * retaliation[q] * pressure_[r, a]
                        * grievance[r, a, t] / loss_unit[q, a]
                        # a red line is honoured by the strike, whoever is blamed for it
                        + w[q, a, _STANDING] * pledged[r, a, t] * (1.0 + pressure_[r, a])
                        - blamed * w[q, a, _TIES] * partner[q, a, t] * aff_attack[q] * h
                        - (war_cost[q, a] + war_weariness[q, a] * weariness[r, a]) * h
                    )
            elif v == _DEESCALATE:
                d_down = rate_down[q] * (_tanh_pos(-(d0 - conciliation[q])) - _tanh_pos(-d0))
                escalation = (min(d_down * h, 1.0)
                              * abs(severity[q, _moved_rung(rung[r, a, t], -1, n_rungs)]
                                  - severity[q, rung[r, a, t]]))
                value = (
                    w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * escalation
                    + w[q, a, _TIES] * partner[q, a, t] * aff_deescalation[q] * h
                    - w[q, a, _STANDING] * concession[q] * pressure_[r, a]
                )
            elif v == _SANCTION:
                if terms.sanctions_lifted(agreement, r, no_sanction, a, target[e]):
                    utility[r, e] = -np.inf  # a deal in force lifted them
                    continue
                if once[e] and sanction_prev[r, a, t] > 0:
                    utility[r, e] = -np.inf  # a one-day sanction adds nothing to one in force
                    continue
                d_up = rate_up[q] * (_tanh_pos(d0 + sanction_drive[q]) - _tanh_pos(d0))
                escalation = (min(d_up * h, 1.0)
                              * abs(severity[q, _moved_rung(rung[r, a, t], 1, n_rungs)]
                                  - severity[q, rung[r, a, t]]))
                value = (
                    -w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * escalation
                    + w[q, a, _STANDING] * 0.5 * retaliation[q] * pressure_[r, a]
                    * grievance[r, a, t] / loss_unit[q, a]
                    - w[q, a, _TIES] * (partner[q, a, t] + trade[q, a, t]) * aff_sanction[q]
                    * h
                )
                if sanction_prev[r, a, t] > 0:
                    # a sanction in force stays until lifted: the entry lifts it, worth what
                    # keeping it is worth, negated, less the standing a unilateral lifting
                    # concedes (de-escalation's rule: concession x pressure)
                    value = -value - w[q, a, _STANDING] * concession[q] * pressure_[r, a]
                    if sanction_review[r, a, t] >= review_threshold[q]:
                        utility[r, e] = -np.inf  # not under review today: it stays
                        continue
                # sanctions imposed to be lifted by a deal: leverage (a one-day sanction is
                # lifted the next morning anyway: none)
                if lookahead and not once[e]:
                    value += _sanction_leverage(
                        a, t, r, q, gains, stake, perceived, shrink, optimism, noise_scale,
                        private, sides, signs, no_sanction, agreement, cooling, sanction_prev,
                        w, partner, trade, aff_sanction, retaliation, loss_unit, pressure_,
                        grievance, bargaining_horizon, can_propose, shift_hold, shift)
            elif v == _THREATEN:
                # a hostile act short of force: half an answer to a grievance or to strikes
                # not yet answered (it does not spend them), at the ladder's risk and the
                # ties it costs (escalation.campaign_step builds sustained threats up)
                d_up = rate_up[q] * (_tanh_pos(d0 + threat_drive[q]) - _tanh_pos(d0))
                escalation = (min(d_up * h, 1.0)
                              * abs(severity[q, _moved_rung(rung[r, a, t], 1, n_rungs)]
                                  - severity[q, rung[r, a, t]]))
                value = (
                    -w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * escalation
                    + w[q, a, _STANDING] * 0.5 * (
                        retaliation[q] * pressure_[r, a] * grievance[r, a, t] / loss_unit[q, a]
                        + answer_value(reciprocity[q], pressure_[r, a], provoked[r, a, t]))
                    - w[q, a, _TIES] * partner[q, a, t] * aff_threat[q] * h
                )
            elif v == _WITHDRAW:
                # a's forces out of contact with t for the rest of the run: the losses t's
                # fire inflicts on them today spared, over the look-ahead; the ground a holds
                # that t, attacking, now takes uncontested (a's win share against it falls
                # to 0); the standing a unilateral concession costs (de-escalation's rule)
                pushed = attack_prev[r, a, t] + attack_prev[r, t, a]
                heat = intensity_of[q, rung[r, a, t]]
                if pushed > 0:
                    heat = max(heat, intensity_of[q, armed_from])
                heat *= 1.0 + boost[q] * pushed
                spared = (0.0 if withdrawn[r, t, a]
                          else loss_rate[q] * heat * fire[r, a, t] * exposure[r, a])
                left = (ground_at_stake(a, t, r, q, value_of, speed, control, can_hold,
                                        horizon[q], by_front)
                        * heat / (1.0 + 2.0 * boost[q]) * 2.0 * (1.0 - win[r, t, a])
                        * attack_prev[r, t, a])
                value = (
                    w[q, a, _LOSSES] * spared * horizon[q] / loss_unit[q, a]
                    - w[q, a, _TERRITORY] * left * horizon[q] / territory_unit[q]
                    - w[q, a, _STANDING] * concession[q] * pressure_[r, a]
                )
                if withdrawn[r, a, t]:
                    value = -np.inf  # done already: irreversible
            elif v == _NEGOTIATE:
                d = deal[e]
                if agreement[r, d] or cooling[r, d]:
                    utility[r, e] = -np.inf  # in force, or cooling off: off the menu
                    continue
                side = _side_of(sides, d, a)
                # every other party accepts if its perceived surplus is positive: its surplus
                # and public optimism are seen, its private type is not (bargaining's rule)
                chance = _acceptance(gains, stake, shrink, optimism, noise_scale, private, sides,
                                     signs, r, q, d, side, no_shift)
                value = chance * perceived[r, d, side]
            elif v in (_REQUEST, _ACTIVATE, _GRANT):
                k = asset[e]
                if asset_on[r, k] or (v != _REQUEST and not available[r, k]):
                    # in effect already (to grant or switch on: not available yet): off the
                    # menu, before anything is scored
                    utility[r, e] = -np.inf
                    continue
                # the value of air cover to its holder, and the asset's effects on ties
                avoided = 0.0
                effect = 0.0
                for j in range(n):
                    avoided += air_part[a, j] * air_defence_of[q, k]
                    effect += partner[q, a, j] * affinity_of[q, k, j]
                cover_value = w[q, a, _LOSSES] * avoided * horizon[q] / loss_unit[q, a]
                ties_effect = w[q, a, _TIES] * effect
                unavailable = False
                if v == _REQUEST:
                    supplier = asset_owner[k]
                    chance = 1.0 / (1.0 + np.exp(-4.0 * affinity[r, a, supplier]))
                    if blocked[k, a]:
                        chance = 0.0
                    value = chance * (cover_value + w[q, a, _TIES] * partner[q, a, supplier]
                                      * holder_affinity[q, k] - recipient_cost[q, k])
                    # nothing to ask for while a deal in force withholds it or decides its holder
                    unavailable = (terms.withheld(agreement, r, deal_withhold, k)
                                   or terms.bound(agreement, r, deal_grants, k) >= 0)
                elif v == _ACTIVATE:
                    value = cover_value + ties_effect
                else:
                    t = target[e]
                    arriving = arrivals[r, a]
                    # entrapment: arming a client in a crisis ties the patron to its quarrels
                    drawn_in = 0.0
                    for j in range(n):
                        if j != a and j != t:
                            drawn_in = max(drawn_in, severity[q, rung[r, t, j]])
                    value = (
                        - w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a]) * entrapment[q]
                        * drawn_in
                        + w[q, a, _TIES] * partner[q, a, t]
                        * (holder_affinity[q, k] + aff_support[q])
                        + w[q, a, _TIES] * request_weight[q] * requested[r, k, t]
                        + ties_effect
                        + w[q, a, _REFUGEES] * relief_of[q, k] * arriving * horizon[q]
                        / people_unit[q]
                        # relief of the supplier's own domestic pressure, by the pressure rule
                        + w[q, a, _STANDING] * per_refugees[q, a] * relief_of[q, k]
                        * arriving * horizon[q] / 100_000.0
                        - objection[k, t]
                    )
                    # consent: a grant the recipient would refuse is not on offer
                    unavailable = (blocked[k, t]
                                   or terms.withheld(agreement, r, deal_withhold, k)
                                   or terms.bound(agreement, r, deal_grants, k) >= 0
                                   or not terms.accepts_of(
                                       t, k, r, q, a, horizon[q], requested, rung, cover,
                                       exposure, loss_rate, intensity_of, air, w,
                                       air_defence_of, loss_unit, partner, holder_affinity,
                                       aff_support, affinity_of, recipient_cost))
                if unavailable:
                    value = -np.inf
            elif v in (_OPEN_GATE, _CLOSE_GATE):
                g = gate[e]
                sign = 1.0 if v == _OPEN_GATE else -1.0
                changes = (sign < 0) if gate_open[r, g] else (sign > 0)  # acting moves it
                # a no-op (opening an open gate) is not on the menu today, nor is moving a gate
                # a deal in force holds
                value = -np.inf
                if changes and terms.bound(agreement, r, deal_gates, g) < 0:
                    # the burden the gate shifts off the actor's ground, followed over the
                    # network, and the ties it costs (``terms.gate_value``), plus what the move
                    # does to the deals that name the gate (a one-move look-ahead: the leverage
                    # it gives)
                    value = sign * terms.gate_value(
                        a, g, r, q, reach[0], gate_owner, gate_hosts, gate_cost, partner, w,
                        horizon[q], people_unit)
                    if lookahead:
                        value += _leverage(a, g, sign > 0, r, q, gains, stake, perceived, shrink,
                                           optimism, noise_scale, private, sides, signs,
                                           deal_gates, agreement, cooling, reach[1], gate_owner,
                                           gate_hosts, gate_cost, partner, w,
                                           bargaining_horizon, people_unit, can_propose,
                                           no_shift, shift)
            utility[r, e] = value - action_cost[q, e]
    return utility


@inlined
def _side_of(sides, d, a):
    """The side (column of ``sides``) actor a takes in deal d, or -1."""
    for x in range(sides.shape[1]):
        if sides[d, x] == a:
            return x
    return -1


@inlined
def _acceptance(gains, stake, shrink, optimism, noise_scale, private, sides, signs, r, q, d,
                side, shift):
    """The proposer's chance that every other party of deal d accepts it, ``(0, 1]``.

    Each other party accepts if its perceived surplus is positive; the proposer sees its
    surplus and public optimism, and of its private resolve ``noise x z`` what has been
    revealed: it expects ``(1 - shrink) noise z`` with a normal spread ``noise x shrink``
    around it (the logistic approximation of the normal cdf, 1.702). So with no information
    it expects an average resolve (0) with the prior's spread, and as fighting, rejections and
    mediation reveal the other side its estimate converges on the truth (Slantchev 2003).
    Parties' resolves are independent, so the chances multiply. ``shift`` ``(S,)`` is added to
    each side's surplus (a look-ahead's changed state; zeros otherwise).
    """
    spread = max(noise_scale[q] * shrink[r, d], 1e-9)
    chance = 1.0
    for x in range(sides.shape[1]):
        if x == side or not signs[d, x]:
            continue
        other = sides[d, x]
        theirs = (gains[r, d, x] + shift[x]
                  + (1.0 - shrink[r, d]) * noise_scale[q] * private[r, d, x]
                  - shrink[r, d] * optimism[q, other] * stake[r, d, x])
        z = min(max(theirs / spread, -30.0), 30.0)
        chance *= 1.0 / (1.0 + np.exp(-1.702 * z))
    return chance


@inlined
def _proposal_change(gains, stake, shrink, optimism, noise_scale, private, sides, signs,
                     perceived, r, q, d, side, before, after):
    """Change in the value to ``side`` of proposing deal d, its gains moved by ``after``.

    Against the gains moved by ``before`` (both ``(S,)``): ``max(chance x surplus, 0)`` after
    less before (a party does not propose a deal it would not sign; ``_acceptance`` gives the
    chance).
    """
    was = _acceptance(gains, stake, shrink, optimism, noise_scale, private, sides, signs, r, q,
                      d, side, before)
    will = _acceptance(gains, stake, shrink, optimism, noise_scale, private, sides, signs, r, q,
                       d, side, after)
    return (max(will * (perceived[r, d, side] + after[side]), 0.0)
            - max(was * (perceived[r, d, side] + before[side]), 0.0))


@inlined
def _leverage(a, g, opening, r, q, gains, stake, perceived, shrink, optimism, noise_scale,
              private, sides, signs, deal_gates, agreement, cooling, reach, gate_owner,
              gate_hosts, gate_cost, partner, w, horizon, people_unit, can_propose, no_shift,
              shift):
    """What moving gate g does to the deals a can propose that name g: a one-move look-ahead.

    The move changes the status quo path each side of such a deal weighs (the gate as the move
    leaves it, over the bargaining ``horizon``): a gate opened raises the value of a deal that
    closes it to those it burdens, so the other parties' chance of accepting (their quantal
    response, ``_acceptance``) rises, and so does the proposal's value to a: the chance that
    all accept times a's surplus (Schelling 1966: the power to hurt is bargaining power). The
    value is the change of ``max(chance x surplus, 0)`` (a does not propose a deal it would
    not sign), summed over the deals that name the gate, that a can propose (a ``negotiate``
    entry) and that are open to a proposal.
    """
    total = 0.0
    width = sides.shape[1]
    for d in range(deal_gates.shape[0]):
        term = deal_gates[d, g]
        if term < 0 or agreement[r, d] or cooling[r, d] or can_propose[a, d] == 0:
            continue
        side = _side_of(sides, d, a)  # a proposer (can_propose): a side of the deal
        now = 0 if opening else 1  # the gate today, and after the move
        after = 1 - now
        for x in range(width):
            y = sides[d, x]
            shift[x] = 0.0
            if y < 0:
                continue
            value = terms.gate_value(y, g, r, q, reach, gate_owner, gate_hosts, gate_cost,
                                     partner, w, horizon[q], people_unit)
            # the term's worth to y against the status quo: 0 where the gate already is
            # as the deal holds it, else +-value (``terms.deal_values``)
            before_term = 0.0 if term == now else (value if term == 1 else -value)
            after_term = 0.0 if term == after else (value if term == 1 else -value)
            shift[x] = after_term - before_term
        total += _proposal_change(gains, stake, shrink, optimism, noise_scale, private, sides,
                                  signs, perceived, r, q, d, side, no_shift, shift)
    return total


@inlined
def _sanction_leverage(a, t, r, q, gains, stake, perceived, shrink, optimism, noise_scale,
                       private, sides, signs, no_sanction, agreement, cooling, sanction_prev, w,
                       partner, trade, aff_sanction, retaliation, loss_unit, pressure, grievance,
                       horizon, can_propose, shift_hold, shift_act):
    """What a's sanction entry on t does today to the deals a can propose that lift it.

    ``_leverage``'s look-ahead for a sanction: a sanction is a state, so tomorrow's status quo
    path keeps today's if a holds, and the entry toggles it (imposes one not in force, lifts
    one in force); each side's gain from a deal that lifts it moves by the lifting's worth to
    that side (``terms.lifting_value``, over the bargaining ``horizon``), up when imposed and
    down when lifted. Sanctions imposed to be traded for a concession (Schelling 1966; the
    economic coercion of Drezner 2003) are worth the change of ``max(chance x surplus, 0)``;
    lifting one without a deal forfeits that leverage.
    """
    total = 0.0
    width = sides.shape[1]
    toggle = -1.0 if sanction_prev[r, a, t] > 0 else 1.0
    for d in range(no_sanction.shape[0]):
        if not no_sanction[d, a, t] or agreement[r, d] or cooling[r, d] or can_propose[a, d] == 0:
            continue
        side = _side_of(sides, d, a)  # a proposer (can_propose): a side of the deal
        for x in range(width):
            y = sides[d, x]
            shift_hold[x], shift_act[x] = 0.0, 0.0
            if y < 0:
                continue
            value = terms.lifting_value(y, a, t, r, q, w, partner, trade, aff_sanction,
                                        retaliation, loss_unit, pressure, grievance, horizon[q])
            shift_hold[x] = 0.0  # today's gains count the sanctions in force, which stay
            shift_act[x] = toggle * value
        total += _proposal_change(gains, stake, shrink, optimism, noise_scale, private, sides,
                                  signs, perceived, r, q, d, side, shift_hold, shift_act)
    return total


@inlined
def ground_at_stake(t, a, r, q, value_of, speed, control, can_hold, days, front):
    """Valued ground t can lose to a in a day at full push, as t values it.

    ``sum_o v_ot speed_o min(1, c_ot / (speed_o days)) [a can hold o]``: the attack's own
    territory term seen from the side that loses the ground (a front's pace, until what t
    holds runs out over the ``days`` looked ahead: ``fighting.within_reach``).
    """
    lost = 0.0
    for o in range(control.shape[1]):
        lost += (value_of[q, o, t] * speed[q, o]
                 * within_reach(control[r, o, t], speed[q, o], days, front)
                 * can_hold[q, o, a])
    return lost


@inlined
def _force_leverage(a, t, r, q, hurt, gains, stake, perceived, shrink, optimism,
                    noise_scale, private, sides, signs, ceasefire, agreement, cooling,
                    attack_prev, horizon, can_propose, shift_hold, shift_act):
    """What attacking t today does to the deals a can propose whose ceasefire covers (a, t).

    Compellence (Schelling 1966: the power to hurt is bargaining power; Pape 1996; Sechser
    2011): ``_sanction_leverage``'s look-ahead for force. Attacked today, t's status quo path
    tomorrow includes a's attack, so t's gain from a ceasefire that ends it rises by what the
    attack costs t a day (``hurt``: its losses and the ground it loses, in utility) over the
    bargaining ``horizon``. The attack is worth the change of ``max(chance x surplus, 0)`` over
    the deals a can propose that cover the dyad, a's own surplus left as it is without the
    attack: a coercer is paid by the target's acceptance, not by the peace its own attack
    would make worth buying (crediting a with the war costs a ceasefire would spare it, over
    the bargaining horizon, made an attack worth launching to make peace valuable to the
    attacker itself: the library's ablation, scenarios/library/notes_ablation.md). Once a deal
    is signed its ceasefire bars the attack, so force used to coerce stops when it has obtained
    what it was for.
    """
    total = 0.0
    width = sides.shape[1]
    was = 1.0 if attack_prev[r, a, t] > 0 else 0.0
    for d in range(ceasefire.shape[0]):
        if (not ceasefire[d, a, t] or agreement[r, d] or cooling[r, d]
                or can_propose[a, d] == 0):
            continue
        side = _side_of(sides, d, a)
        for x in range(width):
            worth = hurt * horizon[q] if sides[d, x] == t else 0.0
            shift_hold[x] = -was * worth  # today's gains count yesterday's attack
            shift_act[x] = (1.0 - was) * worth
        total += _proposal_change(gains, stake, shrink, optimism, noise_scale, private, sides,
                                  signs, perceived, r, q, d, side, shift_hold, shift_act)
    return total


@helper
def _coalition_gains(armed_from, wanted, exponent, boost, air, cover, rung, affinity, attack_prev,
                     power, powered, rung_intensity, value, control, speed, horizon, front,
                     barred, withdrawn, out):
    """Daily territory value to a of backing its friends' offensives against t, ``(R, A, A)``.

    Written for the ``wanted`` pairs (a can attack t) only, where the attack is neither
    barred by a ceasefire in force nor out of contact (``withdrawn``): ``_score_menu`` does
    not score those.

    A patron's air power counts in a friend's contest against t while the patron itself
    fights t (``fighting.contest_power``). Attacking keeps it in the fight; the gain is what
    the friends' push against t is worth to the attacker, through its value of each objective
    and its affinity with each friend, times the share of their contest the support decides.
    """
    n = rung.shape[1]
    for r in range(out.shape[0]):
        q = pick(exponent.shape[0], r)
        m = exponent[q]
        heat_scale = 1.0 + 2.0 * boost[q]
        for a in range(n):
            for t in range(n):
                if not wanted[a, t] or barred[r, a, t] or withdrawn[r, a, t]:
                    continue
                help_unit = air[q, a] * (1.0 - cover[r, t])
                in_fight = rung[r, a, t] >= armed_from
                total = 0.0
                for b in range(n):
                    friend = max(affinity[r, a, b], 0.0)
                    pushing = attack_prev[r, b, t]
                    if b in (a, t) or friend * pushing == 0.0:
                        continue
                    help_ = friend * help_unit
                    power_bt = power[r, b, t]
                    with_help = power_bt if in_fight else power_bt + help_
                    without = max(with_help - help_, 0.0)
                    theirs = powered[r, t, b]
                    with_m = powered[r, b, t] if in_fight else with_help ** m
                    without_m = without ** m
                    decided = ((with_m / (with_m + theirs) if with_m + theirs > 0 else 0.5)
                               - (without_m / (without_m + theirs)
                                  if without_m + theirs > 0 else 0.5))
                    heat = rung_intensity[q, max(rung[r, b, t], armed_from)] / heat_scale
                    total += friend * pushing * heat * 2.0 * decided
                # value to a of ground its friends take from t at a front's pace, within
                # what t holds over the look-ahead (fighting.within_reach)
                stake = 0.0
                if total != 0.0:
                    days = horizon[pick(horizon.shape[0], r)]
                    by_front = front[pick(front.shape[0], r)]
                    for o in range(control.shape[1]):
                        stake += (value[q, o, a] * speed[q, o]
                                  * within_reach(control[r, o, t], speed[q, o], days,
                                                by_front))
                out[r, a, t] = stake * total


#: Components of ``explain``: the objective vocabulary, then costs (``cost``) and ``deal``:
#: for deal proposals the whole value, for gate moves what the move does to the deals on the
#: table (``_leverage``); neither is linear in the weights (acceptance chance times perceived
#: surplus).
PARTS = (*OBJ, "cost", "deal")


def explain(s: Situation, layout, p) -> np.ndarray:
    """Why each menu entry scored what it did: ``(R, M, len(PARTS))`` utility components.

    A score is linear in the actor's interest weights except for deal proposals (whose value
    is the chance of acceptance times the perceived surplus) and the look-ahead of gate moves,
    so scoring the menu without look-ahead once with no weights (what is left is costs) and
    once with each objective's weight alone gives each objective's contribution exactly:
    ``w_k (U(e_k) - U(0))``; the rest of a gate move's or a sanction's score is its ``deal``
    part. Components
    sum to the utility ``score_menu`` gives (to rounding). Meant for one replication's log
    (R = 1): it scores the menu ``len(OBJ) + 2`` times.
    """
    from dataclasses import replace

    weights = p.interests  # (P, A, K)
    negotiate = layout.menu.verb == _NEGOTIATE
    total = score_menu(s, layout, p)
    costs = score_menu(s, layout, replace(p, interests=np.zeros_like(weights)), False)
    out = np.zeros((*total.shape, len(PARTS)))
    for k in range(weights.shape[2]):
        alone = np.zeros_like(weights)
        alone[:, :, k] = 1.0
        u = score_menu(s, layout, replace(p, interests=alone), False)
        w = weights[:, layout.menu.actor, k]  # (P, M)
        with np.errstate(invalid="ignore"):  # -inf - -inf where an entry is off the menu
            out[..., k] = np.where(np.isfinite(u), w * (u - costs), 0.0)
    out[..., len(OBJ)] = np.where(np.isfinite(costs), costs, 0.0)
    # a gate move's or a sanction's look-ahead: what is left of its score
    gates = np.isin(layout.menu.verb, (_OPEN_GATE, _CLOSE_GATE, _SANCTION))
    with np.errstate(invalid="ignore"):
        rest = total[:, gates] - out[:, gates, :].sum(axis=2)
    out[:, gates, len(OBJ) + 1] = np.where(np.isfinite(total[:, gates]), rest, 0.0)
    out[:, negotiate, :] = 0.0
    out[:, negotiate, len(OBJ) + 1] = np.where(np.isfinite(total[:, negotiate]),
                                                total[:, negotiate], 0.0)
    return out


def commitment(perceived: np.ndarray, direct: np.ndarray, attack_prev: np.ndarray, layout,
               p) -> None:
    """Each party weighs a deal against its best course today, not only the status quo; in place.

    The status quo path continues yesterday's postures; a side about to launch an attack it
    did not make yesterday (the path does not include it), worth more to it than holding (its
    direct value, ``score_menu``'s ``direct``), gives that up by signing a ceasefire that bars
    it. An attack already under way is on the path, and the deal's gain already weighs it. So
    a party's perceived surplus from a deal loses its best new attack across the ceasefire,
    ``max(U_attack, 0)``, scaled from the decision horizon to the bargaining horizon: a side
    that expects to gain more by fighting does not sign (the commitment problem: Fearon 1995,
    Powell 2006 on shifting power).

    Args:
        perceived: ``(R, D, S)`` each side's perceived surplus, updated in place.
        direct: ``(R, M)`` each attack's direct value today (``-inf`` elsewhere).
        attack_prev: ``(R, A, A)`` yesterday's attacks (the status quo path's postures).
        layout: The scenario's layout.
        p: Its parameters.
    """
    if not len(layout.deals):
        return
    (actor, verb, target, _, _, _, _, sides, signs, *_, ceasefire, _, _) = _structure(layout)
    _commitment(perceived, direct, attack_prev, actor, verb, target, sides, signs, ceasefire,
                p.commitment, p.bargaining_horizon, p.horizon)


@kernel
def _commitment(perceived, direct, attack_prev, actor, verb, target, sides, signs, ceasefire,
                weight, bargaining_horizon, horizon):
    """``commitment`` for every replication, in place (one compiled pass, not numpy per deal)."""
    for r in range(perceived.shape[0]):
        # weight 0: off (each parameter's row: its own, as numpy's broadcasting would pick)
        scale = (weight[pick(weight.shape[0], r)]
                 * bargaining_horizon[pick(bargaining_horizon.shape[0], r)]
                 / horizon[pick(horizon.shape[0], r)])
        for d in range(sides.shape[0]):
            for side in range(sides.shape[1]):
                a = sides[d, side]
                if a < 0 or not signs[d, side]:
                    continue
                best, found = -np.inf, False
                for e in range(verb.size):  # a's attacks across the deal's ceasefire
                    if verb[e] != _ATTACK or actor[e] != a or not ceasefire[d, a, target[e]]:
                        continue
                    found = True
                    new = attack_prev[r, a, target[e]] <= 0  # not on the status quo path
                    best = max(best, direct[r, e] if new else 0.0)
                if found:
                    perceived[r, d, side] -= max(best, 0.0) * scale


#: Verbs of one-off, high-stakes acts, decided with intent (``intent``) rather than by a fresh
#: lottery every day: granting or activating an asset, opening or closing a gate.
ONE_OFF_VERBS = (_GRANT, _ACTIVATE, _OPEN_GATE, _CLOSE_GATE)


def disposition_counters(layout) -> np.ndarray:
    """``(M,)`` a stable counter per menu entry for its disposition draw (``intent``).

    A hash of the actor and the entry's label, not its position, so a counterfactual that adds
    an entry to a menu leaves every other entry's disposition as it was (common random
    numbers stay paired).
    """
    import zlib

    return np.asarray([zlib.crc32(f"{layout.actors[a]}|{label}".encode())
                       for a, label in zip(layout.menu.actor, layout.menu.labels, strict=True)],
                      dtype=np.int64)


def intent(utility: np.ndarray, one_off: np.ndarray, disposition: np.ndarray,
           rationality: np.ndarray, on: np.ndarray | None = None,
           private: np.ndarray | None = None) -> None:
    """One-off acts come from a private value drawn once per run, not a daily lottery; in place.

    A fresh logit draw every day turns a small daily chance into near certainty over a long
    horizon (a 3% daily chance is a 97% chance over 120 days): an act nobody wanted much
    happens in almost every run by accumulation alone. Instead, each run draws once, for each
    one-off entry, the actor's private value of the act: how much more (or less) the leader
    cares about it than its public value ``U`` says, unknown to the analyst as a party's
    resolve in bargaining is unknown to the other (Fearon 1995; Harsanyi's types). The act
    is on the menu on a day only when its private value ``U + s eps`` is positive, and it
    is chosen by that value; ``eps`` is a standard logistic variate fixed for the run
    (``logit(1 - u)`` of the run's uniform ``u``), ``s = sqrt((1 / beta)^2 + (sigma /
    1.702)^2)`` the spread of the logit's own error ``1 / beta`` and of the private value's,
    ``sigma`` (normal, in utility units, ``decisions.private_value`` x ``bargaining.noise``;
    1.702 matches a logistic to a normal as in bargaining's acceptance). So the chance that
    the act is ever taken is about the highest daily ``1 / (1 + exp(-U / s))`` over the run
    (which events move), not the sum of daily chances; with ``sigma = 0`` the act's own
    logit error decides alone.

    Args:
        utility: ``(R, M)`` utilities, updated in place: a one-off entry's private value, or
            ``-inf`` where the run's private value keeps it off today's menu.
        one_off: ``(M1,)`` indices of the one-off entries.
        disposition: ``(R, M1)`` each run's uniform ``u``, drawn once.
        rationality: ``(P, M1)`` logit precision of each entry's actor.
        on: ``(P,)`` 1 where the rule applies (``decisions.intent``), 0 where one-off acts
            are a fresh lottery every day (model v2); default: everywhere.
        private: ``(P,)`` ``sigma``, the private value's spread in utility units (default 0).
    """
    if one_off.size == 0 or (on is not None and not np.any(on)):
        return
    apply_private_values(utility, one_off, private_values(disposition, rationality, private),
                         on)


def private_values(disposition: np.ndarray, rationality: np.ndarray,
                   private: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each run's private value of each one-off act beyond its public value (``intent``).

    Fixed for the run (the uniforms are drawn once, the parameters do not change), so a model
    computes it once. Returns ``(shift, coin)``: ``s eps`` ``(R, M1)``, NaN where the spread
    is infinite (rationality 0), and there whether the act is on the menu (``eps > 0``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = 1.0 / rationality
        if private is not None:
            spread = np.sqrt(spread ** 2 + (np.asarray(private)[:, None] / 1.702) ** 2)
        eps = np.log1p(-disposition) - np.log(disposition)  # logit(1 - u): standard logistic
        shift = spread * eps
    # rationality 0 (a coin toss among the entries): the spread is infinite, the act's value
    # unchanged, and it is on the menu in half of the runs
    return np.where(np.isfinite(spread), shift, np.nan), eps > 0.0


def apply_private_values(utility: np.ndarray, one_off: np.ndarray,
                         values: tuple[np.ndarray, np.ndarray],
                         on: np.ndarray | None = None,
                         fighting: np.ndarray | None = None) -> None:
    """``intent`` with the run's ``private_values`` computed already; in place.

    ``fighting`` ``(R, M1)``, if given, marks the entries whose act is already under way
    (an attack on an actor attacked the day before): they keep their public value, chosen
    day by day; only opening fire is the one-off decision.
    """
    if one_off.size == 0 or (on is not None and not np.any(on)):
        return
    shift, coin = values
    # one compiled pass (elementwise: the same numbers as numpy's, without its temporaries)
    target = utility if utility.flags.c_contiguous and utility.flags.writeable else \
        np.ascontiguousarray(utility)
    _apply_private(target, np.asarray(one_off, dtype=np.int64), np.asarray(shift, dtype=float),
                   np.asarray(coin, dtype=bool),
                   _ALWAYS_ON if on is None else np.asarray(on, dtype=float),
                   np.zeros((1, one_off.size), dtype=bool) if fighting is None
                   else np.asarray(fighting, dtype=bool))
    if target is not utility:
        utility[...] = target


_ALWAYS_ON = np.ones(1)


@kernel
def _apply_private(utility, one_off, shift, coin, on, fighting):
    """``apply_private_values``'s rule, in place.

    ``shift``, ``coin`` and ``fighting`` are ``(R or 1, M1)`` (``fighting`` all False: none
    under way), ``on`` ``(P,)``.
    """
    for r in range(utility.shape[0]):
        off = on[pick(on.shape[0], r)] <= 0
        rs, rc, rf = pick(shift.shape[0], r), pick(coin.shape[0], r), pick(fighting.shape[0], r)
        for x in range(one_off.size):
            e = one_off[x]
            u = utility[r, e]
            finite = not np.isnan(shift[rs, x])
            value = u + shift[rs, x] if finite else u  # -inf (off the menu) stays -inf
            kept = value > 0.0 if finite else coin[rc, x]
            if off or fighting[rf, x]:
                kept, value = True, u
            utility[r, e] = value if kept else -np.inf


def quantal_choice(utility: np.ndarray, rationality: np.ndarray, u: np.ndarray,
                   null: int = -1, nesting: np.ndarray | None = None) -> np.ndarray:
    """Pick one entry per replication by the (nested) logit rule, ``(R,)`` local indices.

    Without ``null`` (or with ``nesting`` 1) this is the multinomial logit over all entries.
    With a ``null`` entry (doing nothing) and ``nesting`` ``lam`` in (0, 1], it is McFadden's
    nested logit with two branches, doing nothing and acting: first *whether* to act,
    ``P(act) = 1 / (1 + exp(beta (U_null - I)))`` with the acting branch's inclusive value
    ``I = (lam / beta) log sum_e exp(beta U_e / lam)``, then *which* act,
    ``P(e | act) ~ exp(beta U_e / lam)``. Entries in a branch are close substitutes, so an
    entry worth nothing added beside one worth much barely moves ``I`` and takes little
    from it: the independence of irrelevant alternatives that let a worthless entry crowd
    out a valuable one under the plain logit does not hold across the branches. One uniform
    decides both levels (the first ``P(null)`` of it is doing nothing), so results stay a
    pure function of the random numbers.

    Args:
        utility: ``(R, M_a)`` one actor's menu utilities (``-inf`` = unavailable).
        rationality: ``(P,)`` logit precision.
        u: ``(R,)`` uniforms.
        null: Local index of the "do nothing" entry, -1 for none.
        nesting: ``(P,)`` the acting branch's dissimilarity ``lam`` (1: plain logit).
    """
    if nesting is None:
        nesting = np.ones(1)
    return _quantal_choice(np.ascontiguousarray(utility), rationality, u, null, nesting)


@kernel
def _quantal_choice(utility, rationality, u, null, nesting):
    r_count, m = utility.shape
    out = np.empty(r_count, dtype=np.int64)
    values = np.empty(m)
    weights = np.empty(m)
    for r in range(r_count):
        for e in range(m):
            values[e] = utility[r, e]
        out[r] = logit_pick(values, m, null, rationality[pick(rationality.shape[0], r)],
                            nesting[pick(nesting.shape[0], r)], u[r], weights)
    return out


@inlined
def logit_pick(values, m, null, precision, lam, u, weights):
    """``quantal_choice`` for one replication: the local index picked among ``values[:m]``.

    Args:
        values: The entries' utilities (``-inf``: unavailable); only the first ``m`` are read.
        m: Number of entries.
        null: Local index of the "do nothing" entry, -1 for none.
        precision: Logit precision (the actor's rationality).
        lam: The acting branch's dissimilarity (``nesting``).
        u: A uniform.
        weights: Scratch, at least ``m`` long.
    """
    # (a precision of 0 is a coin toss among all entries, nesting or not)
    nested = null >= 0 and lam < 1.0 and precision > 0.0 and np.isfinite(values[null])
    inner = precision / lam if nested else precision  # precision within the act branch
    top = -np.inf
    for e in range(m):
        if np.isfinite(values[e]) and not (nested and e == null):
            top = max(top, values[e] * inner)
    total = 0.0
    for e in range(m):
        if not np.isfinite(top) and not nested:  # nothing available: the first (hold)
            weights[e] = 1.0
        elif np.isfinite(values[e]) and not (nested and e == null):
            weights[e] = np.exp(values[e] * inner - top)
        else:
            weights[e] = 0.0
        total += weights[e]
    if nested:
        if not np.isfinite(top):  # only doing nothing is available
            return null
        value = (top + np.log(total)) * lam / precision  # inclusive value I
        p_null = 1.0 / (1.0 + np.exp(min(precision * (value - values[null]), 700.0)))
        if u < p_null:
            return null
        threshold = (u - p_null) / (1.0 - p_null) * total
    else:
        threshold = u * total
    cdf, choice = 0.0, 0
    for e in range(m):
        cdf += weights[e]
        if cdf < threshold:
            choice += 1
    while nested and choice < m - 1 and weights[choice] == 0.0:
        choice += 1  # the threshold fell on a zero-weight entry (the null): the next
    return min(choice, m - 1)


__all__ = ["ONE_OFF_VERBS", "PARTS", "Situation", "commitment", "disposition_counters",
           "explain", "intent", "logit_pick", "quantal_choice", "score_menu"]
