"""Compile a validated scenario into index maps (``Layout``) and parameter arrays (``Params``).

The mechanisms never see ids: they see integer indices and numpy arrays. ``Layout`` holds the
structure (which actors, rungs, nodes, menu entries exist); it must be identical for every
replication of a batch. ``Params`` holds every number; each array has a leading axis of length
1 (shared by all replications) or R (one value per replication, as a sweep needs), and the
mechanisms broadcast over it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from sim.jit import packed, tuple_type
from sim.scenario.schema import BLAME, OBJECTIVES, VERBS, Scenario, split_dyad

VERB = {name: i for i, name in enumerate(VERBS)}
OBJ = {name: i for i, name in enumerate(OBJECTIVES)}
GATE_POLICY = {"decide": 0, "open": 1, "closed": 2}
#: codes of ``Params.air_blame`` (``sim.mechanisms.air_support``)
BLAME_CODE = {name: i for i, name in enumerate(BLAME)}
EVENT_KIND = {"mediation": 0, "pressure": 1, "affinity": 2, "gate": 3, "asset_available": 4,
              "casualties": 5, "reinforcement": 6}


@dataclass(frozen=True)
class Menu:
    """All actors' action menus as flat arrays (one entry per row), grouped by actor."""

    actor: np.ndarray
    verb: np.ndarray
    target: np.ndarray  # actor index or -1
    asset: np.ndarray  # asset index or -1
    gate: np.ndarray  # gate index or -1
    deal: np.ndarray  # deal index or -1
    client: np.ndarray  # air_support: the ally backed (actor index), else -1
    to_rung: np.ndarray  # attack: rung an offensive puts the dyad on (-1: the ladder's pace)
    once: np.ndarray  # 1: a one-off act (``Action.once``, and every withdraw), else 0
    labels: tuple[str, ...]
    offsets: np.ndarray  # entries of actor a are offsets[a]:offsets[a+1]

    def entries(self, verb: str) -> np.ndarray:
        """Indices of the entries with this verb."""
        return np.flatnonzero(self.verb == VERB[verb])


@dataclass(frozen=True)
class TimelineEvent:
    """A dated event in index form."""

    day: int
    kind: int
    name: str
    a: int = -1
    b: int = -1
    gate: int = -1
    asset: int = -1
    amount: float = 0.0
    days: int = 1
    open: bool = False


@dataclass(frozen=True)
class Layout:
    """Structure of a scenario: ids, index maps, menus and the timeline."""

    actors: tuple[str, ...]
    actor_names: tuple[str, ...]
    rungs: tuple[str, ...]
    rung_names: tuple[str, ...]
    armed_from: int
    war_from: int
    incident_from: int  # lowest rung with incidents between forces in contact
    contact: np.ndarray  # (A, A) bool: forces in contact (incidents possible)
    objectives: tuple[str, ...]
    nodes: tuple[str, ...]
    gates: tuple[str, ...]
    assets: tuple[str, ...]
    deals: tuple[str, ...]
    outcomes: tuple[str, ...]
    menu: Menu
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_gate: np.ndarray
    node_conflict: np.ndarray  # bool (N,)
    node_objective: np.ndarray  # (N,) objective index or -1
    node_host: np.ndarray  # (N,) actor index or -1
    gate_owner: np.ndarray
    gate_policy: np.ndarray
    asset_owner: np.ndarray
    asset_decider: np.ndarray  # actor whose affinity changes on grant/activation (owner)
    deal_sides: np.ndarray  # (D, S) actor of each side: parties, then mediators; -1 pads
    deal_signs: np.ndarray  # bool (D, S): the side is a party (must accept)
    deal_ceasefire: np.ndarray  # bool (D, A, A)
    deal_transfers: np.ndarray  # bool (D, O): objective re-divided by the deal
    deal_gates: np.ndarray  # (D, G) the gate state a deal holds: 1 open, 0 closed, -1 none
    deal_grants: np.ndarray  # (D, K) the actor an asset is granted to on signing, or -1
    deal_withhold: np.ndarray  # bool (D, K): assets not to be granted while it holds
    deal_no_sanction: np.ndarray  # bool (D, A, A): sanctions barred while it holds
    bloc_sign: np.ndarray  # (A,) +1 first bloc, -1 second, 0 none
    sanctions0: np.ndarray  # bool (A, A): i's sanctions on j in force on day 0
    timeline: tuple[TimelineEvent, ...]
    start: object  # datetime.date
    days: int
    # red lines (L of them): who declared each, whom it warns, what crosses it, from when
    red_lines: tuple[str, ...] = ()
    line_author: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    line_offender: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    line_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    line_subject: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    line_rung: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    line_from: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # third parties (issue #23, item 8): present[k, i, j] people k has in dyad (i, j)'s theatre
    present: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))

    def third_parties(self) -> list[int]:
        """The actors with people present in some other dyad's theatre (``present_in``)."""
        if self.present.size == 0:
            return []
        return [int(k) for k in np.flatnonzero(self.present.reshape(self.n_actors, -1)
                                                 .any(axis=1))]

    @property
    def n_actors(self) -> int:
        """Number of actors A."""
        return len(self.actors)

    def dyads(self) -> list[tuple[int, int]]:
        """Unordered actor pairs (i < j)."""
        n = self.n_actors
        return [(i, j) for i in range(n) for j in range(i + 1, n)]

    def dyad_name(self, i: int, j: int) -> str:
        """``a~b`` for actors i and j (in index order)."""
        i, j = min(i, j), max(i, j)
        return f"{self.actors[i]}~{self.actors[j]}"


def series_names(layout: Layout) -> list[str]:
    """Daily series recorded per replication (trajectories, fan charts).

    Here, beside the layout they are made of, rather than with the model that records them:
    the process that plans a run and keeps its histogram needs the names, not the model (whose
    import brings in Mesa, pandas and the compiled day: a second of a run's start-up).
    """
    names = [f"rung.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    names += [f"affinity.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    names += [f"losses.{a}" for a in layout.actors]
    names += [f"pressure.{a}" for a in layout.actors]
    names += [f"alignment.{a}" for a in layout.actors]
    names += [f"people.{node}" for node in layout.nodes]
    names += [f"control.{o}.{a}" for o in layout.objectives for a in layout.actors]
    # categorical series (0 or 1), so the figures can show each level's share per day
    names += [f"deal.{d}" for d in layout.deals]
    names += [f"gate.{g}" for g in layout.gates]
    return names


@dataclass(frozen=True)
class Structure:
    """A layout's index maps as arrays and integers only: what compiled code reads.

    ``ev_*`` are the first columns of each kind of event in a day's events (the order of
    ``sim.outcomes.event_names``).
    """

    menu_actor: np.ndarray
    menu_verb: np.ndarray
    menu_target: np.ndarray
    menu_asset: np.ndarray
    menu_gate: np.ndarray
    menu_deal: np.ndarray
    menu_client: np.ndarray
    menu_to_rung: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_gate: np.ndarray
    node_conflict: np.ndarray
    node_objective: np.ndarray
    node_host: np.ndarray
    gate_owner: np.ndarray
    gate_policy: np.ndarray
    gate_hosts: np.ndarray  # (G, A) bool: actors hosting a node beyond the gate (not its owner)
    asset_owner: np.ndarray
    deal_sides: np.ndarray
    deal_signs: np.ndarray
    deal_ceasefire: np.ndarray
    deal_rival: np.ndarray  # (D, D) bool: cannot be in force together (same parties or dyads)
    deal_transfers: np.ndarray
    deal_gates: np.ndarray
    deal_grants: np.ndarray
    deal_withhold: np.ndarray
    deal_no_sanction: np.ndarray
    bloc_sign: np.ndarray
    n_rungs: int
    armed_from: int
    war_from: int
    incident_from: int
    contact: np.ndarray  # (A, A) bool
    present: np.ndarray  # (A, A, A) people k has present in dyad (i, j)'s theatre
    ev_agreement: int
    ev_deal: int
    ev_breakdown: int
    ev_asset: int
    ev_gate: int
    ev_realigned: int
    ev_war: int
    n_events: int


#: ``Structure`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedStructure = tuple_type(Structure, "PackedStructure")


def structure_of(layout: Layout) -> tuple:
    """The ``PackedStructure`` of a layout."""
    n, menu = layout.n_actors, layout.menu
    d, k, g = len(layout.deals), len(layout.assets), len(layout.gates)
    gate_hosts = gate_hosts_of(layout)
    ev_asset = 1 + 2 * d
    ev_gate = ev_asset + 3 * k
    ev_realigned = ev_gate + 2 * g
    ev_war = ev_realigned + n
    return packed(Structure(
        menu_actor=menu.actor, menu_verb=menu.verb, menu_target=menu.target,
        menu_asset=menu.asset, menu_gate=menu.gate, menu_deal=menu.deal,
        menu_client=menu.client, menu_to_rung=menu.to_rung,
        edge_src=layout.edge_src, edge_dst=layout.edge_dst, edge_gate=layout.edge_gate,
        node_conflict=layout.node_conflict, node_objective=layout.node_objective,
        node_host=layout.node_host, gate_owner=layout.gate_owner,
        gate_policy=layout.gate_policy, gate_hosts=gate_hosts,
        asset_owner=layout.asset_owner, deal_sides=layout.deal_sides,
        deal_signs=layout.deal_signs, deal_gates=layout.deal_gates,
        deal_grants=layout.deal_grants, deal_withhold=layout.deal_withhold,
        deal_no_sanction=layout.deal_no_sanction,
        deal_ceasefire=layout.deal_ceasefire,
        deal_rival=_rivals(layout),
        deal_transfers=layout.deal_transfers, bloc_sign=layout.bloc_sign,
        n_rungs=len(layout.rungs), armed_from=int(layout.armed_from),
        war_from=int(layout.war_from), incident_from=int(layout.incident_from),
        contact=np.ascontiguousarray(layout.contact, dtype=np.bool_),
        present=np.ascontiguousarray(_present(layout), dtype=np.float64),
        ev_agreement=0, ev_deal=1, ev_breakdown=1 + d,
        ev_asset=ev_asset, ev_gate=ev_gate, ev_realigned=ev_realigned, ev_war=ev_war,
        n_events=ev_war + n * (n - 1) // 2,
    ), PackedStructure)


def _present(layout: Layout) -> np.ndarray:
    """``(A, A, A)`` the layout's third parties present per dyad (zeros if it has none)."""
    n = layout.n_actors
    return layout.present if layout.present.shape == (n, n, n) else np.zeros((n, n, n))


def gate_hosts_of(layout: Layout) -> np.ndarray:
    """``(G, A)`` bool: the hosts of the first nodes beyond each gate not its owner's.

    Followed over the network: from the gate's routes' destinations on through nodes its owner
    hosts (or nobody does), so a gate whose routes first reach a transit node of its owner
    faces the neighbour beyond it; not through another gate of the same owner (which it opens
    or closes on its own).
    """
    n, g = layout.n_actors, len(layout.gates)
    out = np.zeros((g, n), dtype=bool)
    host, owner_of = layout.node_host, layout.gate_owner
    for gate in range(g):
        owner = owner_of[gate]
        frontier = list(layout.edge_dst[layout.edge_gate == gate])
        seen: set[int] = set()
        while frontier:
            node = int(frontier.pop())
            if node in seen:
                continue
            seen.add(node)
            if host[node] >= 0 and host[node] != owner:
                out[gate, host[node]] = True
                continue
            for e in np.flatnonzero(layout.edge_src == node):
                other = layout.edge_gate[e]
                if other == gate or (other >= 0 and owner_of[other] == owner):
                    continue
                frontier.append(layout.edge_dst[e])
    return out


def _rivals(layout: Layout) -> np.ndarray:
    """``(D, D)`` bool: deals that cannot be in force at once.

    Two deals between the same parties, or whose ceasefires cover a common dyad, settle the
    same quarrel; so do two that bind an act differently (a gate held in opposite states, an
    asset granted to different actors, or granted by one and withheld by the other). A new
    one replaces the old (``sim.day._deals``), so contradictory terms are never in force
    together.
    """
    sides, signs, ceasefire = layout.deal_sides, layout.deal_signs, layout.deal_ceasefire
    gates, grants, withhold = layout.deal_gates, layout.deal_grants, layout.deal_withhold
    d = sides.shape[0]
    out = np.zeros((d, d), dtype=bool)
    for a in range(d):
        for b in range(d):
            if a == b:
                continue
            same = set(sides[a][signs[a]].tolist()) == set(sides[b][signs[b]].tolist())
            gate_clash = bool(((gates[a] >= 0) & (gates[b] >= 0) & (gates[a] != gates[b])).any())
            grant_clash = bool(((grants[a] >= 0) & (grants[b] >= 0)
                                & (grants[a] != grants[b])).any())
            grant_clash |= bool(((grants[a] >= 0) & withhold[b]).any()
                                or ((grants[b] >= 0) & withhold[a]).any())
            out[a, b] = (same or bool((ceasefire[a] & ceasefire[b]).any()) or gate_clash
                         or grant_clash)
    return out


@dataclass
class Params:
    """Every number of a scenario as arrays with a leading axis of 1 or R."""

    # actors (P, A) / (P, A, K)
    interests: np.ndarray  # (P, A, n_objectives), rows sum to 1
    rationality: np.ndarray
    risk_attitude: np.ndarray
    war_cost: np.ndarray
    optimism: np.ndarray
    war_weariness: np.ndarray
    ground: np.ndarray
    air: np.ndarray
    air_defence: np.ndarray
    exposure: np.ndarray
    pressure0: np.ndarray
    pressure_decay: np.ndarray
    pressure_per_loss: np.ndarray
    pressure_per_refugees: np.ndarray
    pressure_per_ground: np.ndarray
    pressure_per_sanction: np.ndarray
    sanction_recovery: np.ndarray
    action_cost: np.ndarray  # (P, M)
    air_blame: np.ndarray  # (P, M) int: BLAME_CODE of each air_support entry (else 0)
    # relations (P, A, A)
    affinity0: np.ndarray
    trade: np.ndarray
    rung0: np.ndarray  # int
    rung_rest: np.ndarray  # int: resting rung of each dyad
    anchor: np.ndarray
    anchor_strength: np.ndarray
    partner: np.ndarray  # partner weight for 'ties', rows sum to <= 1
    # ladder
    rung_intensity: np.ndarray  # (P, L)
    rung_severity: np.ndarray  # (P, L)
    base_drift: np.ndarray
    hostility: np.ndarray
    provocation: np.ndarray
    sanction_drive: np.ndarray
    threat_drive: np.ndarray  # (P,) drive per threat (verb threaten)
    persistence: np.ndarray  # (P,) share of yesterday's drive of acts short of force kept
    conciliation: np.ndarray
    weariness: np.ndarray
    trade_damping: np.ndarray
    mediation: np.ndarray
    rate_up: np.ndarray
    rate_down: np.ndarray
    incident_rate: np.ndarray  # (P,) daily chance of an incident between forces in contact
    upkeep: np.ndarray  # (P,) share of war_cost a standoff costs per unit of rung severity
    # assets (P, K) / (P, K, A) / (P, K, K)
    asset_air_defence: np.ndarray
    asset_relief: np.ndarray
    asset_affinity: np.ndarray
    asset_holder_affinity: np.ndarray
    asset_requires_inactive: np.ndarray  # bool
    asset_held_penalty: np.ndarray  # (P, K, K)
    asset_recipient_cost: np.ndarray  # (P, K) utility cost to a recipient of accepting it
    asset_available_day: np.ndarray
    asset_holder0: np.ndarray  # int, -1 none
    asset_on0: np.ndarray  # bool
    # theatre (P, O, A) / (P, O)
    value: np.ndarray
    control0: np.ndarray
    speed: np.ndarray
    loss_rate: np.ndarray  # with troops declared: lethality / the average firepower, per 1,000
    event_size: np.ndarray  # mean losses per strike or engagement event
    event_dispersion: np.ndarray  # negative-binomial shape of an event's toll
    mass_share: np.ndarray  # share of losses in mass-casualty strikes (0 without troops)
    third_party_rate: np.ndarray  # (P,) killed a day per 1,000 present at intensity 1
    mass_threshold: np.ndarray  # smallest toll of a mass-casualty strike
    mass_tail: np.ndarray  # power-law exponent of those tolls
    attack_boost: np.ndarray
    contest_exponent: np.ndarray
    front: np.ndarray  # (P,) 1: ground taken at a front's pace; 0: a share of the holder's
    culmination: np.ndarray
    recovery: np.ndarray
    civilian_death_rate: np.ndarray
    # refugees
    population0: np.ndarray  # (P, N) int
    capacity: np.ndarray  # (P, N)
    node_onward: np.ndarray  # (P, N): 1 / dwell in transit nodes, else 0
    edge_rate: np.ndarray  # (P, E)
    edge_return: np.ndarray  # (P, E)
    edge_push_back: np.ndarray  # (P, E)
    gate_open0: np.ndarray  # (P, G) bool
    gate_leakage: np.ndarray  # (P, G)
    gate_release: np.ndarray  # (P, G): daily share of the displaced at its routes' sources let
    # through while it is open (the surge of a crowd gathered at a closed border)
    displacement_base: np.ndarray
    displacement_fighting: np.ndarray
    displacement_ground: np.ndarray
    displacement_fear: np.ndarray  # (P,) daily share fleeing a feared controller
    node_regard: np.ndarray  # (P, N, A) how each node's people regard each actor, [-1, 1]
    move_rate: np.ndarray
    settle_rate: np.ndarray
    calm_threshold: np.ndarray
    # deals (P, D, ...) and bargaining
    deal_control: np.ndarray  # (P, D, O, A)
    deal_cap: np.ndarray  # (P, D) int
    deal_payment: np.ndarray  # (P, D, A) net payment each actor receives on signing (utility)
    breakdown_base: np.ndarray
    breakdown_hostility: np.ndarray
    breakdown_violation: np.ndarray
    bargaining_noise: np.ndarray
    bargaining_horizon: np.ndarray
    learning: np.ndarray
    rejection_info: np.ndarray
    mediation_info: np.ndarray
    cooling_off: np.ndarray  # int days
    talks: np.ndarray  # int days of talks before a deal can be signed
    weariness_days: np.ndarray
    # alliances
    aff_attack: np.ndarray
    aff_sanction: np.ndarray
    aff_threat: np.ndarray
    aff_support: np.ndarray
    aff_deescalation: np.ndarray
    baseline_pull: np.ndarray
    trade_pull: np.ndarray
    balance: np.ndarray
    gate_cost: np.ndarray  # (P, G): each gate's own, or alliances.gate_cost
    aff_noise: np.ndarray
    realignment_threshold: np.ndarray
    # decisions
    horizon: np.ndarray
    loss_unit: np.ndarray  # soldiers a unit of war weariness (a public counts deaths: M6)
    loss_unit_of: np.ndarray  # (P, A) losses a unit of utility to each actor (``loss_units``)
    territory_unit: np.ndarray
    people_unit: np.ndarray
    retaliation: np.ndarray
    reciprocity: np.ndarray  # (P,) value of answering an unanswered attack
    entrapment: np.ndarray  # (P,) share of a client's worst severity a patron's grant risks
    compellence: np.ndarray  # (P,) weight of an attack's look-ahead at the deals it coerces
    commitment: np.ndarray  # (P,) weight of a signatory's best new attack in its view of a deal
    intent: np.ndarray  # (P,) 1: one-off acts decided with intent; 0: a daily lottery
    private_value: np.ndarray  # (P,) spread of a one-off act's private value / bargaining noise
    opening_fire: np.ndarray  # (P,) 1: opening fire decided with intent; 0: a daily lottery
    nesting: np.ndarray  # (P,) dissimilarity of the acts in a track's nested logit
    concession: np.ndarray
    request_weight: np.ndarray
    sanction_review: np.ndarray
    audience_memory: np.ndarray  # (P,) share of a crossed red line's stakes kept a day
    red_line_stakes: np.ndarray  # (P, L) standing each red line's author has at stake

    @property
    def size(self) -> int:
        """Length P of the leading axis (1 or R)."""
        return int(self.rationality.shape[0])

    @functools.cached_property
    def packed(self) -> tuple:
        """These arrays as one named tuple for compiled kernels (``sim.jit.packed``), made once.

        Parameters do not change during a run, so packing them once saves a conversion of
        some hundred arrays per kernel call.
        """
        return packed(self, PackedParams)

    @staticmethod
    def stack(parts: list[Params], counts: list[int]) -> Params:
        """Per-replication parameters: ``parts[i]`` repeated ``counts[i]`` times along axis 0."""
        values = {}
        for f in dataclasses.fields(Params):
            arrays = [np.repeat(getattr(p, f.name), c, axis=0) for p, c in zip(parts, counts,
                                                                               strict=True)]
            values[f.name] = np.concatenate(arrays, axis=0)
        return Params(**values)

    def take(self, rows: np.ndarray) -> Params:
        """Rows of a per-replication parameter set (shared P=1 sets are returned as is)."""
        if self.size == 1:
            return self
        return Params(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})


#: ``Params`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedParams = tuple_type(Params, "PackedParams")


@dataclass(frozen=True)
class World:
    """A compiled scenario: structure plus parameters."""

    layout: Layout
    params: Params
    extra: dict = field(default_factory=dict)


def _arr(values, dtype=np.float64) -> np.ndarray:
    return np.asarray(values, dtype=dtype)[None, ...]


def _declares_troops(caps) -> bool:
    """Whether any actor declares ``capabilities.troops``.

    Then losses follow the forces (M4) and are weighed against them (M1), for every actor.
    """
    return any(c.troops is not None for c in caps)


def _loss_scale(spec: Scenario, actors: list[str], per_actor) -> tuple:
    """``(loss_rate, exposure (1, A), forces)``: the scale of losses, by troops if declared.

    Without troops: the scenario's ``fighting.loss_rate`` and ``capabilities.exposure``, as
    before. With troops (docs/ODD.md M4), ``lambda_ij = lethality I_ij (F_ji / F_mean)
    exposure_i troops_i / 1000`` is the old formula with ``loss_rate = lethality / F_mean``
    and exposure in thousands of troops (times the declared exposure, a posture), so the
    actors' foresight, the bargaining's war prospects and air support's strikes use it
    unchanged. ``F_mean`` is the mean of ``ground + air`` over the actors with troops, which
    makes the scale free of the capabilities' relative units: facing the average firepower,
    1,000 troops lose ``lethality`` a day at intensity 1.
    """
    caps = [spec.actors[a].capabilities for a in actors]
    if not _declares_troops(caps):
        return spec.fighting.loss_rate, per_actor(lambda x: x.capabilities.exposure), False
    armed = [c.ground + c.air for c in caps if c.troops]
    f_mean = sum(armed) / len(armed) if armed and sum(armed) > 0 else 1.0
    exposure = np.asarray([[c.exposure * (c.troops or 0.0) / 1000.0 for c in caps]])
    return spec.fighting.lethality / f_mean, exposure, True


def loss_units(spec: Scenario, actors: list[str]) -> np.ndarray:
    """``(1, A)`` the losses that weigh one unit of utility to each actor (docs/ODD.md M1).

    Without troops, ``decisions.loss_unit`` soldiers for every actor, as before. With troops
    declared (M4), losses are weighed against the force a side committed: ``loss_unit`` per
    1,000 of its troops in contact, and never more heavily than per soldier for a force
    under 1,000 (``loss_unit * max(troops, 1000) / 1000``). A commander and a government judge
    a war's attrition as a share of the force engaged (casualty rates: Dupuy 1990; Gartner &
    Segura 1998), so a side that sent 30,000 troops does not value a loss as one that sent
    3,000 does; war weariness, the public's, still counts deaths (``Params.loss_unit``:
    Mueller 1973).
    """
    unit = spec.decisions.loss_unit
    caps = [spec.actors[a].capabilities for a in actors]
    if not _declares_troops(caps):
        return np.full((1, len(actors)), unit)
    return np.asarray([[unit * max(c.troops or 0.0, 1000.0) / 1000.0 for c in caps]])


def compile_scenario(spec: Scenario) -> World:
    """Translate a validated scenario into a ``World``."""
    actors = list(spec.actors)
    ai = {a: i for i, a in enumerate(actors)}
    n = len(actors)
    rungs = list(spec.ladder.rungs)
    ri = {r: i for i, r in enumerate(rungs)}
    objectives = list(spec.theatre.objectives)
    oi = {o: i for i, o in enumerate(objectives)}
    nodes = list(spec.refugees.nodes)
    ni = {k: i for i, k in enumerate(nodes)}
    gates = list(spec.refugees.gates)
    gi = {g: i for i, g in enumerate(gates)}
    assets = list(spec.assets)
    ki = {k: i for i, k in enumerate(assets)}
    deals = list(spec.deals)
    start = spec.run.start

    def day_of(date) -> int:
        return (date - start).days

    # --- menus
    m_actor, m_verb, m_target, m_asset, m_gate, m_deal, m_cost, labels = ([] for _ in range(8))
    m_client, m_blame, m_to_rung, m_once = [], [], [], []
    offsets = [0]
    for a in actors:
        for act in spec.actors[a].actions:
            m_actor.append(ai[a])
            m_verb.append(VERB[act.verb])
            m_target.append(ai.get(act.target, -1) if act.target else -1)
            m_asset.append(ki[act.asset] if act.asset else -1)
            m_gate.append(gi[act.gate] if act.gate else -1)
            m_deal.append(deals.index(act.deal) if act.deal else -1)
            m_cost.append(act.cost)
            m_client.append(ai[act.client] if act.client else -1)
            m_to_rung.append(ri[act.to_rung] if act.to_rung else -1)
            m_once.append(int(act.once_per_run))
            # the action's own blame, else its actor's, else the scenario's
            m_blame.append(BLAME_CODE[act.blame or spec.actors[a].blame or spec.fighting.blame])
            labels.append(act.label())
        offsets.append(len(m_actor))
    # a negotiate entry's counterpart is the first other party of its deal
    for e, d in enumerate(m_deal):
        if d >= 0:
            parties = spec.deals[deals[d]].parties
            other = next(x for x in parties if x != actors[m_actor[e]])
            m_target[e] = ai[other]
    menu = Menu(*(np.asarray(x, dtype=np.int64) for x in
                  (m_actor, m_verb, m_target, m_asset, m_gate, m_deal, m_client, m_to_rung,
                   m_once)),
                labels=tuple(labels), offsets=np.asarray(offsets, dtype=np.int64))

    # --- actors
    interests = np.zeros((n, len(OBJECTIVES)))
    for a, actor in spec.actors.items():
        for obj, w in actor.interests.items():
            interests[ai[a], OBJ[obj]] = w
    interests /= interests.sum(axis=1, keepdims=True)

    def per_actor(getter) -> np.ndarray:
        return _arr([getter(spec.actors[a]) for a in actors])

    # --- relations
    affinity0 = np.eye(n)
    trade = np.zeros((n, n))
    rung0 = np.zeros((n, n), dtype=np.int64)
    rung_rest = np.zeros((n, n), dtype=np.int64)
    # forces in contact: both sides have ground forces in the theatre, unless a relation says
    ground = np.asarray([spec.actors[a].capabilities.ground > 0 for a in actors], dtype=bool)
    contact = ground[:, None] & ground[None, :] & ~np.eye(n, dtype=bool)
    sanctions0 = np.zeros((n, n), dtype=bool)
    present = np.zeros((n, n, n))
    for a, actor in spec.actors.items():
        for key, people in actor.present_in.items():
            i, j = (ai[x] for x in split_dyad(key))
            present[ai[a], i, j] = present[ai[a], j, i] = people
    for key, rel in spec.relations.items():
        a, b = (ai[x] for x in split_dyad(key))
        if rel.contact is not None:
            contact[a, b] = contact[b, a] = rel.contact
        for x in rel.sanctions:
            sanctions0[ai[x], b if ai[x] == a else a] = True
        affinity0[a, b] = affinity0[b, a] = rel.affinity
        trade[a, b] = trade[b, a] = rel.trade
        if rel.rung is not None:
            rung0[a, b] = rung0[b, a] = ri[rel.rung]
        if rel.resting_rung is not None:
            rung_rest[a, b] = rung_rest[b, a] = ri[rel.resting_rung]
    anchor = np.zeros((n, n))
    strength = np.zeros((n, n))
    for inst in spec.institutions.values():
        idx = [ai[m] for m in inst.members]
        for i in idx:
            for j in idx:
                # several shared institutions: the strongest spring, its anchor
                if i != j and inst.strength > strength[i, j]:
                    strength[i, j] = inst.strength
                    anchor[i, j] = inst.anchor
    partner = trade + (strength > 0)
    np.fill_diagonal(partner, 0.0)
    row = partner.sum(axis=1, keepdims=True)
    partner = np.divide(partner, row, out=np.zeros_like(partner), where=row > 0)

    bloc_sign = np.zeros(n)
    for sign, members in zip((1.0, -1.0), spec.blocs.values(), strict=False):
        for m in members:
            bloc_sign[ai[m]] = sign

    # --- ladder
    lad = spec.ladder
    # --- assets
    k = len(assets)
    asset_aff = np.zeros((k, n))
    requires = np.zeros((k, k), dtype=bool)
    held_penalty = np.zeros((k, k))
    holder0 = -np.ones(k, dtype=np.int64)
    on0 = np.zeros(k, dtype=bool)
    available = np.zeros(k)
    owner = np.zeros(k, dtype=np.int64)
    for key, asset in spec.assets.items():
        i = ki[key]
        owner[i] = ai[asset.owner]
        for other, delta in asset.effects.affinity.items():
            asset_aff[i, ai[other]] = delta
        for other in asset.conditions.requires_inactive:
            requires[i, ki[other]] = True
        for other, penalty in asset.conditions.penalty_if_held.items():
            held_penalty[i, ki[other]] = penalty
        if asset.holder:
            holder0[i] = ai[asset.holder]
        if asset.deployed_at_start:
            holder0[i] = ai[asset.deployed_at_start]
            on0[i] = True
        if asset.active_at_start:
            holder0[i] = holder0[i] if holder0[i] >= 0 else owner[i]
            on0[i] = True
        if asset.conditions.available_from is not None:
            available[i] = max(0, day_of(asset.conditions.available_from))

    # --- theatre
    o = len(objectives)
    value = np.zeros((o, n))
    control0 = np.zeros((o, n))
    for key, obj in spec.theatre.objectives.items():
        for a, v in obj.value.items():
            value[oi[key], ai[a]] = v
        for a, c in obj.control.items():
            control0[oi[key], ai[a]] = c

    # --- refugees
    ref = spec.refugees
    nn = len(nodes)
    node_objective = -np.ones(nn, dtype=np.int64)
    node_host = -np.ones(nn, dtype=np.int64)
    for key, node in ref.nodes.items():
        if node.objective:
            node_objective[ni[key]] = oi[node.objective]
        if node.host:
            node_host[ni[key]] = ai[node.host]
    regard = np.zeros((nn, n))
    for key, node in ref.nodes.items():
        for a, esteem in node.regard.items():
            regard[ni[key], ai[a]] = esteem
    edges = ref.edges

    # --- deals
    d = len(deals)
    width = max([2, *(len(spec.deals[x].proposers) for x in deals)])
    sides = np.full((d, width), -1, dtype=np.int64)
    signs = np.zeros((d, width), dtype=bool)
    ceasefire = np.zeros((d, n, n), dtype=bool)
    transfers = np.zeros((d, o), dtype=bool)
    deal_control = np.zeros((d, o, n))
    deal_gates = np.full((d, len(gates)), -1, dtype=np.int64)
    deal_grants = np.full((d, len(assets)), -1, dtype=np.int64)
    deal_withhold = np.zeros((d, len(assets)), dtype=bool)
    no_sanction = np.zeros((d, n, n), dtype=bool)
    payment = np.zeros((d, n))
    for di, key in enumerate(deals):
        deal = spec.deals[key]
        for side, x in enumerate(deal.proposers):
            sides[di, side] = ai[x]
            signs[di, side] = x in deal.parties
        # default: the parties' own dyads
        dyads = deal.ceasefire or [f"{a}~{b}" for i, a in enumerate(deal.parties)
                                   for b in deal.parties[i + 1:]]
        for dyad in dyads:
            a, b = (ai[x] for x in split_dyad(dyad))
            ceasefire[di, a, b] = ceasefire[di, b, a] = True
        for g, state in deal.gates.items():
            deal_gates[di, gi[g]] = 1 if state == "open" else 0
        for k, to in deal.grants.items():
            deal_grants[di, ki[k]] = ai[to]
        for k in deal.withhold:
            deal_withhold[di, ki[k]] = True
        for dyad in deal.lift_sanctions:
            a, b = (ai[x] for x in split_dyad(dyad))
            no_sanction[di, a, b] = no_sanction[di, b, a] = True
        for payer, paid in deal.payments.items():
            for payee, amount in paid.items():
                payment[di, ai[payer]] -= amount
                payment[di, ai[payee]] += amount
        for obj, shares in deal.transfer.items():
            transfers[di, oi[obj]] = True
            for a, share in shares.items():
                deal_control[di, oi[obj], ai[a]] = share

    # --- timeline
    events = []
    for ev in spec.timeline:
        a, b = (ai[x] for x in ev.between) if ev.between else (-1, -1)
        events.append(TimelineEvent(
            day=day_of(ev.date), kind=EVENT_KIND[ev.kind], name=ev.name,
            a=ai[ev.actor] if ev.actor else a, b=b,
            gate=gi[ev.gate] if ev.gate else -1, asset=ki[ev.asset] if ev.asset else -1,
            amount=ev.amount, days=ev.days, open=bool(ev.open)))

    layout = Layout(
        actors=tuple(actors), actor_names=tuple(spec.actors[a].name for a in actors),
        rungs=tuple(rungs), rung_names=tuple(r.name for r in lad.rungs.values()),
        armed_from=ri[lad.armed_from], war_from=ri[lad.war_from],
        incident_from=(ri[lad.armed_from] - 1 if lad.incident_from is None
                       else ri[lad.incident_from]),
        contact=contact,
        present=present,
        objectives=tuple(objectives), nodes=tuple(nodes), gates=tuple(gates),
        assets=tuple(assets), deals=tuple(deals), outcomes=tuple(spec.outcomes), menu=menu,
        edge_src=np.asarray([ni[e.source] for e in edges], dtype=np.int64),
        edge_dst=np.asarray([ni[e.target] for e in edges], dtype=np.int64),
        edge_gate=np.asarray([gi[e.gate] if e.gate else -1 for e in edges], dtype=np.int64),
        node_conflict=np.asarray([ref.nodes[x].conflict for x in nodes], dtype=bool),
        node_objective=node_objective, node_host=node_host,
        gate_owner=np.asarray([ai[ref.gates[g].owner] for g in gates], dtype=np.int64),
        gate_policy=np.asarray([GATE_POLICY[ref.gates[g].policy] for g in gates],
                               dtype=np.int64),
        asset_owner=owner, asset_decider=owner,
        deal_sides=sides, deal_signs=signs, deal_ceasefire=ceasefire,
        deal_transfers=transfers, deal_gates=deal_gates, deal_grants=deal_grants,
        deal_withhold=deal_withhold, deal_no_sanction=no_sanction,
        bloc_sign=bloc_sign, sanctions0=sanctions0,
        timeline=tuple(sorted(events, key=lambda e: e.day)),
        start=start, days=spec.run.days,
        **_red_lines(spec, ai, oi, ri, day_of),
    )
    f, fl, al, dec, bar = spec.fighting, ref.flows, spec.alliances, spec.decisions, spec.bargaining
    loss_rate, exposure, forces = _loss_scale(spec, actors, per_actor)
    params = Params(
        interests=interests[None],
        rationality=per_actor(lambda x: x.rationality),
        risk_attitude=per_actor(lambda x: x.risk_attitude),
        war_cost=per_actor(lambda x: x.war_cost),
        optimism=per_actor(lambda x: x.optimism),
        war_weariness=per_actor(lambda x: x.war_weariness),
        ground=per_actor(lambda x: x.capabilities.ground),
        air=per_actor(lambda x: x.capabilities.air),
        air_defence=per_actor(lambda x: x.capabilities.air_defence),
        exposure=exposure,
        pressure0=per_actor(lambda x: x.pressure.initial),
        pressure_decay=per_actor(lambda x: x.pressure.decay),
        pressure_per_loss=per_actor(lambda x: x.pressure.per_loss),
        pressure_per_refugees=per_actor(lambda x: x.pressure.per_refugees),
        pressure_per_ground=per_actor(lambda x: x.pressure.per_ground),
        pressure_per_sanction=per_actor(lambda x: x.pressure.per_sanction),
        sanction_recovery=per_actor(lambda x: x.pressure.sanction_recovery),
        action_cost=_arr(m_cost), air_blame=_arr(m_blame, np.int64),
        affinity0=affinity0[None], trade=trade[None], rung0=rung0[None],
        rung_rest=rung_rest[None],
        anchor=anchor[None], anchor_strength=strength[None], partner=partner[None],
        rung_intensity=_arr([r.intensity for r in lad.rungs.values()]),
        rung_severity=_arr([r.severity for r in lad.rungs.values()]),
        base_drift=_arr(lad.base_drift), hostility=_arr(lad.hostility),
        provocation=_arr(lad.provocation), sanction_drive=_arr(lad.sanction),
        threat_drive=_arr(lad.threat), persistence=_arr(lad.persistence),
        conciliation=_arr(lad.conciliation), weariness=_arr(lad.weariness),
        trade_damping=_arr(lad.trade_damping), mediation=_arr(lad.mediation),
        rate_up=_arr(lad.rate_up), rate_down=_arr(lad.rate_down),
        incident_rate=_arr(lad.incident_rate), upkeep=_arr(lad.upkeep),
        asset_air_defence=_arr([spec.assets[x].effects.air_defence for x in assets]),
        asset_relief=_arr([spec.assets[x].effects.refugee_relief for x in assets]),
        asset_affinity=asset_aff[None],
        asset_holder_affinity=_arr([spec.assets[x].effects.holder_affinity for x in assets]),
        asset_requires_inactive=requires[None], asset_held_penalty=held_penalty[None],
        asset_recipient_cost=_arr([spec.assets[x].conditions.recipient_cost for x in assets]),
        asset_available_day=available[None],
        asset_holder0=holder0[None], asset_on0=on0[None],
        value=value[None], control0=control0[None],
        speed=_arr([spec.theatre.objectives[x].speed for x in objectives]),
        loss_rate=_arr(loss_rate), event_size=_arr(f.event_size),
        event_dispersion=_arr(f.dispersion), attack_boost=_arr(f.attack_boost),
        mass_share=_arr(f.mass_share if forces else 0.0),
        third_party_rate=_arr(f.third_party_rate),
        mass_threshold=_arr(f.mass_threshold), mass_tail=_arr(f.mass_tail),
        contest_exponent=_arr(f.contest_exponent), front=_arr(float(f.advance == "front")),
        culmination=_arr(f.culmination), recovery=_arr(f.recovery),
        civilian_death_rate=_arr(f.civilian_death_rate),
        population0=_arr([ref.nodes[x].population for x in nodes], np.int64),
        capacity=_arr([ref.nodes[x].capacity for x in nodes]),
        node_onward=_arr([0.0 if ref.nodes[x].dwell is None else 1.0 / ref.nodes[x].dwell
                          for x in nodes]),
        edge_rate=_arr([e.rate for e in edges]), edge_return=_arr([e.return_rate for e in edges]),
        edge_push_back=_arr([e.push_back for e in edges]),
        gate_open0=_arr([ref.gates[g].open for g in gates], bool),
        gate_leakage=_arr([ref.gates[g].leakage for g in gates]),
        gate_release=_arr([ref.gates[g].release for g in gates]),
        displacement_base=_arr(fl.displacement_base),
        displacement_fighting=_arr(fl.displacement_fighting),
        displacement_ground=_arr(fl.displacement_ground),
        displacement_fear=_arr(fl.displacement_fear), node_regard=regard[None],
        move_rate=_arr(fl.move_rate), settle_rate=_arr(fl.settle_rate),
        calm_threshold=_arr(fl.calm_threshold),
        deal_control=deal_control[None], deal_payment=payment[None],
        deal_cap=_arr([ri[spec.deals[x].rung_cap] for x in deals], np.int64),
        breakdown_base=_arr([spec.deals[x].breakdown_base for x in deals]),
        breakdown_hostility=_arr([spec.deals[x].breakdown_hostility for x in deals]),
        breakdown_violation=_arr([spec.deals[x].breakdown_violation for x in deals]),
        bargaining_noise=_arr(bar.noise), bargaining_horizon=_arr(float(bar.horizon)),
        learning=_arr(bar.learning), rejection_info=_arr(bar.rejection_info),
        mediation_info=_arr(bar.mediation_info), cooling_off=_arr(bar.cooling_off, np.int64),
        talks=_arr(bar.talks, np.int64),
        weariness_days=_arr(bar.weariness_days),
        aff_attack=_arr(al.attack), aff_sanction=_arr(al.sanction), aff_support=_arr(al.support),
        aff_threat=_arr(al.threat),
        aff_deescalation=_arr(al.deescalation), baseline_pull=_arr(al.baseline_pull),
        trade_pull=_arr(al.trade_pull), balance=_arr(al.balance),
        gate_cost=_arr([al.gate_cost if ref.gates[g].cost is None else ref.gates[g].cost
                        for g in gates]),
        aff_noise=_arr(al.noise), realignment_threshold=_arr(al.realignment_threshold),
        horizon=_arr(float(dec.horizon)), loss_unit=_arr(dec.loss_unit),
        loss_unit_of=loss_units(spec, actors),
        territory_unit=_arr(dec.territory_unit),
        people_unit=_arr(dec.people_unit), retaliation=_arr(dec.retaliation),
        reciprocity=_arr(dec.reciprocity), entrapment=_arr(dec.entrapment),
        compellence=_arr(dec.compellence), commitment=_arr(dec.commitment),
        intent=_arr(float(dec.intent)), private_value=_arr(dec.private_value),
        opening_fire=_arr(float(dec.opening_fire)),
        nesting=_arr(dec.nesting),
        concession=_arr(dec.concession), request_weight=_arr(dec.request_weight),
        sanction_review=_arr(dec.sanction_review),
        audience_memory=_arr(dec.audience_memory),
        red_line_stakes=_arr([x.stakes for x in spec.red_lines.values()]),
    )
    return World(layout=layout, params=params)


#: what crosses a red line (``Layout.line_kind``)
LINE_ATTACKS, LINE_TAKES, LINE_REACHES = 0, 1, 2


def _red_lines(spec: Scenario, ai: dict, oi: dict, ri: dict, day_of) -> dict:
    """The layout's red-line arrays: author, offender, trigger kind, its subject, rung, day."""
    lines = spec.red_lines.values()

    def subject(x) -> int:
        if x.attacks is not None:
            return ai[x.attacks]
        return oi[x.takes] if x.takes is not None else ai[x.against]

    kind = [LINE_ATTACKS if x.attacks else LINE_TAKES if x.takes else LINE_REACHES
            for x in lines]
    as_int = lambda values: np.asarray(values, dtype=np.int64)  # noqa: E731
    return dict(
        red_lines=tuple(spec.red_lines),
        line_author=as_int([ai[x.author] for x in lines]),
        line_offender=as_int([ai[x.offender] for x in lines]),
        line_kind=as_int(kind), line_subject=as_int([subject(x) for x in lines]),
        line_rung=as_int([ri[x.reaches] if x.reaches else -1 for x in lines]),
        line_from=as_int([max(day_of(x.declared), 0) if x.declared else 0 for x in lines]),
    )
