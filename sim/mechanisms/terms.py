"""Deal terms over actions: what they are worth to each actor, and what a deal in force binds.

A deal may bind what its parties *do* while it holds, not only where the line runs: a gate's
state, an asset granted or withheld, sanctions lifted, and a payment on signing (an aid
package). A breakdown releases the acts it bound. Terms over actions are what make coercion
possible (Schelling 1966, *Arms and Influence*: the power to hurt is bargaining power;
Greenhill 2010, *Weapons of Mass Migration*: a state that can release migrants across a border
opens the gate to raise the other side's cost of no deal, and closes it once it is paid).

Each term is valued like everything else in the bargaining surplus
(``sim.mechanisms.bargaining.surplus``): as the change it makes to the status quo path over the
bargaining horizon, in the units of docs/ODD.md's utility scale, through the same predictions
the actors use to score acts (``sim.mechanisms.decisions``):

- a **gate** held open rather than closed moves ``potential x (1 - leakage)`` people a day off
  the soil of the hosts on its near side, followed through the nodes beyond to where they
  stop (``refugees.gate_reach``: the network's flow rule run forward, so a gate whose routes
  first reach its owner's transit nodes is worth what reaches the neighbour), and costs its
  owner ties with the far side's hosts (``gate_cost``); its value to each actor is
  ``gate_value``;
- a **grant** gives the recipient the asset's air-defence cover (the losses it avoids at today's
  fighting) and moves ties as a grant does (``holder_affinity + alliances.support`` between
  supplier and recipient; the asset's ``effects`` between its decider and the others); it
  counts only if the recipient consents (it signs the deal, or ``accepts`` the asset); a
  **withholding** is worth nothing on the status quo path (nothing is granted there either): it
  only removes an option;
- **lifting sanctions** spares both sides of each sanction in force (a sanction is a state: it
  stays in force until lifted) the ties it costs them, and costs the sanctioner the standing it
  gained from it;
- a **payment** is its value to the payee and its cost to the payer; the model keeps no budget.

References:
    Greenhill, K. M. (2010). Weapons of Mass Migration: Forced Displacement, Coercion, and
        Foreign Policy. Cornell University Press.
    Schelling, T. C. (1966). Arms and Influence. Yale University Press.
"""

from __future__ import annotations

from sim.jit import helper, inlined, pick
from sim.world import OBJ

_LOSSES, _REFUGEES, _TIES = OBJ["losses"], OBJ["refugees"], OBJ["ties"]
_STANDING = OBJ["standing"]


@inlined
def gate_value(x, g, r, q, reach, gate_owner, gate_hosts, gate_cost, partner, interests,
               horizon, people_unit):
    """Value to actor ``x``, over ``horizon`` days, of gate ``g`` open rather than closed.

    The people a day the open gate keeps off x's ground, followed over the network to where
    they stop (``reach``: ``sim.mechanisms.refugees.gate_reach``, ``(R, G, A)`` people a day
    it adds to each actor's ground; a gate whose routes pass through its owner's transit
    nodes is worth, to the owner and to the neighbour beyond, what reaches the neighbour),
    and the ties it costs: its owner loses ``gate_cost`` a day with the hosts beyond it, and
    they with the owner.
    """
    through = -reach[r, g, x]
    owner = gate_owner[g]
    ties = 0.0
    if x == owner:
        for h in range(gate_hosts.shape[1]):
            if gate_hosts[g, h]:
                ties += partner[q, x, h]
    elif gate_hosts[g, x]:
        ties = partner[q, x, owner]
    return horizon * (interests[q, x, _REFUGEES] * through / people_unit[q]
                      - interests[q, x, _TIES] * ties * gate_cost[q, g])


@inlined
def bound(agreement, r, terms, column):
    """The term a deal in force sets in ``column`` of ``terms`` ``(D, X)``, or -1 if none does.

    For ``deal_gates`` the state a gate is held in (1 open, 0 closed); for ``deal_grants`` the
    actor an asset is granted to. Rival deals (``sim.world._rivals``) never disagree on one.
    """
    for d in range(terms.shape[0]):
        if agreement[r, d] and terms[d, column] >= 0:
            return terms[d, column]
    return -1


@inlined
def withheld(agreement, r, deal_withhold, k):
    """Whether a deal in force bars granting asset ``k``."""
    found = False
    for d in range(deal_withhold.shape[0]):
        found |= agreement[r, d] and deal_withhold[d, k]
    return found


@inlined
def sanctions_lifted(agreement, r, deal_no_sanction, i, j):
    """Whether a deal in force bars sanctions between i and j."""
    found = False
    for d in range(deal_no_sanction.shape[0]):
        found |= agreement[r, d] and deal_no_sanction[d, i, j]
    return found


@inlined
def receivable(r, q, k, t, asset_on, asset_holder, available, requires):
    """Whether asset k can be granted to t today.

    It must be idle and available, and t must hold no asset in effect whose activation bars
    it (``requires``).
    """
    if asset_on[r, k] or not available[r, k]:
        return False
    for other in range(asset_on.shape[1]):
        if asset_holder[r, other] == t and asset_on[r, other] and requires[q, k, other]:
            return False
    return True


@inlined
def uncovered_air_losses(t, r, q, loss_rate, rung_intensity, air, rung, cover, exposure):
    """``t``'s expected air losses a day at today's rungs, what cover it lacks lets through.

    ``sum_j loss_rate x intensity x air_j x (1 - cover_t) x exposure_t``: an asset's cover
    spares ``air_defence`` times it (``cover_value_of``). It does not depend on the asset, so
    a loop over assets computes it once per actor.
    """
    avoided = 0.0
    for j in range(rung.shape[1]):
        avoided += (loss_rate[q] * rung_intensity[q, rung[r, t, j]] * air[q, j]
                    * (1.0 - cover[r, t]) * exposure[r, t])
    return avoided


@inlined
def cover_value_from(uncovered, t, k, q, interests, air_defence, loss_unit, horizon):
    """``cover_value_of`` given ``uncovered_air_losses`` of ``t``."""
    return (interests[q, t, _LOSSES] * uncovered * air_defence[q, k] * horizon
            / loss_unit[q, t])


@inlined
def cover_value_of(t, k, r, q, loss_rate, rung_intensity, air, interests, air_defence,
                   loss_unit, rung, cover, exposure, horizon):
    """Value to ``t``, over ``horizon`` days, of asset ``k``'s air-defence cover.

    The air losses the cover would spare it at today's rungs (the prediction ``decisions``
    makes for a request): ``loss_rate x intensity x air_j x (1 - cover_t) x exposure_t`` a day
    from each actor j, times the asset's ``air_defence``. (It takes the parameters it reads,
    not the whole ``PackedParams``, and is inlined: a call passing the parameters' 124 arrays
    counted references to every one of them, 40 times the cost of the arithmetic; see
    ``sim.jit``.)
    """
    return cover_value_from(uncovered_air_losses(t, r, q, loss_rate, rung_intensity, air,
                                                 rung, cover, exposure),
                            t, k, q, interests, air_defence, loss_unit, horizon)


@helper
def cover_value(t, k, r, q, p, rung, cover, exposure, horizon):
    """``cover_value_of`` with the parameters read from ``p`` (outside loops)."""
    return cover_value_of(t, k, r, q, p.loss_rate, p.rung_intensity, p.air, p.interests,
                          p.asset_air_defence, p.loss_unit_of, rung, cover, exposure, horizon)


#: An open request: the recipient asked for the asset on one of the four days before (a request
#: is 1 the next morning and fades by ``sim.day.REQUEST_MEMORY``, 0.8, a day: 0.8^3 ~ 0.51 on
#: the fourth morning, 0.41 on the fifth). What it asked for it accepts.
REQUEST_OPEN = 0.5


@inlined
def holding_value_of(t, k, r, q, owner, horizon, rung, cover, exposure, loss_rate,
                     rung_intensity, air, interests, air_defence, loss_unit, partner,
                     holder_affinity, support, effects, recipient_cost):
    """Value to ``t``, over ``horizon`` days, of holding asset ``k`` granted by ``owner``.

    What ``t`` gains by accepting a grant, by the predictions it scores its own acts with: the
    air losses the asset's cover spares it (``cover_value``, a request's value), the ties a
    grant moves between it and the owner (``holder_affinity + alliances.support``, and the
    asset's own ``effects.affinity`` on t), weighted by how much t cares for the owner
    (``partner``), less the cost of accepting it (``conditions.recipient_cost``: sovereignty,
    neighbours' reactions, the obligations it brings). The parameters are those of
    ``PackedParams``: ``asset_air_defence``, ``asset_holder_affinity``, ``aff_support``,
    ``asset_affinity``, ``asset_recipient_cost`` and the others by their names.
    """
    return holding_value_from(
        uncovered_air_losses(t, r, q, loss_rate, rung_intensity, air, rung, cover, exposure),
        t, k, q, owner, horizon, interests, air_defence, loss_unit, partner, holder_affinity,
        support, effects, recipient_cost)


@inlined
def holding_value_from(uncovered, t, k, q, owner, horizon, interests, air_defence, loss_unit,
                       partner, holder_affinity, support, effects, recipient_cost):
    """``holding_value_of`` given ``uncovered_air_losses`` of ``t``."""
    ties = partner[q, t, owner] * (holder_affinity[q, k] + support[q] + effects[q, k, t])
    return (cover_value_from(uncovered, t, k, q, interests, air_defence, loss_unit, horizon)
            + interests[q, t, _TIES] * ties - recipient_cost[q, k])


@helper
def holding_value(t, k, r, q, p, rung, cover, exposure, owner, horizon):
    """``holding_value_of`` with the parameters read from ``p`` (outside loops)."""
    return holding_value_of(t, k, r, q, owner, horizon, rung, cover, exposure, p.loss_rate,
                            p.rung_intensity, p.air, p.interests, p.asset_air_defence,
                            p.loss_unit_of, p.partner, p.asset_holder_affinity, p.aff_support,
                            p.asset_affinity, p.asset_recipient_cost)


@inlined
def accepts_of(t, k, r, q, owner, horizon, requested, rung, cover, exposure, loss_rate,
               rung_intensity, air, interests, air_defence, loss_unit, partner,
               holder_affinity, support, effects, recipient_cost):
    """Whether ``t`` consents to hold asset ``k`` granted by ``owner`` today (issue #23, 6).

    A grant, or a deployment onto another actor's ground, takes effect only if the recipient
    accepts it: it asked for it (an open request, ``REQUEST_OPEN``: a request is how a
    recipient asks), or holding it is worth something to it (``holding_value`` >= 0, the
    utility it would score the asset by). A state is not a passive receptacle of what its
    allies send (a host nation's consent to foreign forces: the status-of-forces agreements
    that precede any deployment; Cooley 2008 on the politics of basing). A recipient that
    neither asked nor gains refuses, so nothing happens. (Parameters as ``holding_value_of``
    takes them: a loop over replications reads them out of ``PackedParams`` once.)
    """
    if requested[r, k, t] >= REQUEST_OPEN:
        return True
    return holding_value_of(t, k, r, q, owner, horizon, rung, cover, exposure, loss_rate,
                            rung_intensity, air, interests, air_defence, loss_unit, partner,
                            holder_affinity, support, effects, recipient_cost) >= 0.0


@helper
def accepts(t, k, r, q, p, rung, cover, exposure, requested, owner, horizon):
    """``accepts_of`` with the parameters read from ``p`` (outside loops)."""
    return accepts_of(t, k, r, q, owner, horizon, requested, rung, cover, exposure,
                      p.loss_rate, p.rung_intensity, p.air, p.interests, p.asset_air_defence,
                      p.loss_unit_of, p.partner, p.asset_holder_affinity, p.aff_support,
                      p.asset_affinity, p.asset_recipient_cost)


@inlined
def signed_for(agreement, r, deal_grants, deal_sides, deal_signs, k, t):
    """Whether ``t`` signed a deal in force that grants it asset ``k``: its consent given."""
    found = False
    for d in range(deal_grants.shape[0]):
        if agreement[r, d] and deal_grants[d, k] == t:
            for x in range(deal_sides.shape[1]):
                found |= deal_sides[d, x] == t and deal_signs[d, x]
    return found


@helper
def consents(st, p, s, cover, horizon, uncovered, out):
    """``(R, K, A)`` bool: each actor would accept each asset today (``accepts``), into ``out``.

    The morning's view, which the grants resolved later that day use (``sim.day._asset``).
    ``uncovered`` ``(A,)`` is scratch.
    """
    owners, rung, exposure, requested = st.asset_owner, s.rung, s.exposure, s.requested
    loss_rate, rung_intensity, air, interests = p.loss_rate, p.rung_intensity, p.air, p.interests
    air_defence, loss_unit, partner = p.asset_air_defence, p.loss_unit_of, p.partner
    holder_affinity, support, effects = p.asset_holder_affinity, p.aff_support, p.asset_affinity
    recipient_cost = p.asset_recipient_cost
    for r in range(out.shape[0]):
        q = pick(horizon.shape[0], r)
        for t in range(out.shape[2]):  # the same for every asset: computed once per actor
            uncovered[t] = uncovered_air_losses(t, r, q, loss_rate, rung_intensity, air, rung,
                                                cover, exposure)
        for k in range(out.shape[1]):
            owner = owners[k]
            for t in range(out.shape[2]):
                # ``accepts_of``, with t's uncovered losses computed above
                out[r, k, t] = (t == owner or requested[r, k, t] >= REQUEST_OPEN
                                or holding_value_from(uncovered[t], t, k, q, owner, horizon[q],
                                                      interests, air_defence, loss_unit,
                                                      partner, holder_affinity, support,
                                                      effects, recipient_cost) >= 0.0)


@helper
def deal_values(st, p, s, cover, reach, available, horizon, out):
    """Each side's value of each deal's terms over actions, ``(R, D, S)``, into ``out``.

    Relative to the status quo path (today's gates, assets and sanctions in force
    continued) over the bargaining horizon ``horizon`` ``(P,)``; see the module docstring. A
    grant counts only if it can be made today (``receivable``: the asset idle, its window
    open, the recipient not barred) and the recipient consents (it signs the deal, or it
    ``accepts`` the asset): a promise that cannot be kept yet is worth nothing yet.
    """
    n = s.rung.shape[1]
    # every array read below, taken out of its tuple once (see ``cover_value_of``)
    sides, deal_signs, deal_gates, deal_grants = (st.deal_sides, st.deal_signs, st.deal_gates,
                                                  st.deal_grants)
    deal_no_sanction, gate_owner, gate_hosts, asset_owner = (st.deal_no_sanction, st.gate_owner,
                                                             st.gate_hosts, st.asset_owner)
    rung, exposure, requested, gate_open = s.rung, s.exposure, s.requested, s.gate_open
    asset_on, asset_holder, sanction_prev = s.asset_on, s.asset_holder, s.sanction_prev
    pressure, grievance = s.pressure, s.grievance
    payment, gate_cost, partner, interests = p.deal_payment, p.gate_cost, p.partner, p.interests
    people_unit, requires, decision_horizon = p.people_unit, p.asset_requires_inactive, p.horizon
    loss_rate, rung_intensity, air, air_defence = (p.loss_rate, p.rung_intensity, p.air,
                                                   p.asset_air_defence)
    loss_unit, holder_affinity, support = p.loss_unit_of, p.asset_holder_affinity, p.aff_support
    effects, recipient_cost = p.asset_affinity, p.asset_recipient_cost
    trade, aff_sanction, retaliation = p.trade, p.aff_sanction, p.retaliation
    for r in range(out.shape[0]):
        q = pick(horizon.shape[0], r)
        h = horizon[q]
        for d in range(out.shape[1]):
            for side in range(out.shape[2]):
                x = sides[d, side]
                out[r, d, side] = 0.0
                if x < 0:
                    continue
                value = payment[q, d, x]
                for g in range(deal_gates.shape[1]):
                    term = deal_gates[d, g]
                    now = 1 if gate_open[r, g] else 0
                    if term >= 0 and term != now:
                        sign = 1.0 if term == 1 else -1.0
                        value += sign * gate_value(
                            x, g, r, q, reach, gate_owner, gate_hosts, gate_cost,
                            partner, interests, h, people_unit)
                for k in range(deal_grants.shape[1]):
                    t = deal_grants[d, k]
                    if t < 0 or not receivable(r, q, k, t, asset_on, asset_holder,
                                               available, requires):
                        continue
                    owner = asset_owner[k]
                    signs = False
                    for y in range(sides.shape[1]):
                        signs |= sides[d, y] == t and deal_signs[d, y]
                    if not signs and not accepts_of(
                            t, k, r, q, owner, decision_horizon[q], requested, rung, cover,
                            exposure, loss_rate, rung_intensity, air, interests, air_defence,
                            loss_unit, partner, holder_affinity, support, effects,
                            recipient_cost):
                        continue  # the recipient would refuse it
                    ties = 0.0
                    if x == t:
                        value += cover_value_of(t, k, r, q, loss_rate, rung_intensity, air,
                                                interests, air_defence, loss_unit, rung, cover,
                                                exposure, h)
                        ties += partner[q, x, owner] * (holder_affinity[q, k] + support[q])
                    if x == owner:
                        ties += partner[q, x, t] * (holder_affinity[q, k] + support[q])
                        for b in range(n):
                            ties += partner[q, x, b] * effects[q, k, b]
                    else:
                        ties += partner[q, x, owner] * effects[q, k, x]
                    value += interests[q, x, _TIES] * ties
                for j in range(n):
                    if j == x:
                        continue
                    for i, t in ((x, j), (j, x)):  # x's sanctions on j, and j's on x
                        if deal_no_sanction[d, i, t] and sanction_prev[r, i, t] > 0:
                            value += lifting_value(x, i, t, r, q, interests, partner,
                                                   trade, aff_sanction, retaliation,
                                                   loss_unit, pressure, grievance, h)
                out[r, d, side] = value


@inlined
def lifting_value(x, i, t, r, q, interests, partner, trade, aff_sanction, retaliation,
                  loss_unit, pressure, grievance, horizon):
    """Value to ``x`` of i's sanctions on t lifted for ``horizon`` days (0 unless x is i or t).

    Both sides of the dyad keep the ties a day of sanctions costs them (``decisions``' rule for
    a sanction: ``(partner + trade) alliances.sanction`` a day); the sanctioner gives up the
    standing the sanction gave it (``0.5 retaliation p G / loss_unit``).
    """
    if x != i and x != t:
        return 0.0
    j = t if x == i else i
    value = interests[q, x, _TIES] * (partner[q, x, j] + trade[q, x, j]) * aff_sanction[q] * horizon
    if x == i:
        value -= (interests[q, x, _STANDING] * 0.5 * retaliation[q] * pressure[r, x]
                  * grievance[r, x, t] / loss_unit[q, x])
    return value
