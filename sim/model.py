"""The crisis model: a ``mesa.Model`` stepping R replications of one scenario in lockstep.

One step is one day. Order within a day (docs/ODD.md, "Process overview and scheduling"):

0. dated timeline events for the day (Mesa's event list, at ``day + 0.5``);
1. every actor observes the same state and chooses (simultaneous moves);
2. deals form or break down; an offensive launched today puts its dyad on its rung;
3. gates and assets change hands or switch on; requests are lodged;
4. fighting: losses and control;
5. the ladder moves;
6. refugees die, flee, move on and return;
7. domestic pressure and grievances update (then, in Python, red lines are read);
8. affinities move; realignments are noted (then the day's one-off acts end).

Steps 1 and 2-8 are compiled passes over all replications (``sim/day.py``); between them the
Mesa agents (``sim/actors.py``) choose. Every random number comes from the counter-based
streams of ``sim/rng.py`` keyed by (seed, replication, day, stream), so a replication's path
does not depend on the batch it is stepped in.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim import day as compiled_day
from sim.actors import StateActor, choose, track_table
from sim.day import GATE_CLOSED, GATE_OPEN
from sim.jit import kernel, tuple_type
from sim.mechanisms import alliances, fighting
from sim.mechanisms.decisions import (
    ONE_OFF_VERBS,
    PARTS,
    Situation,
    apply_private_values,
    commitment,
    disposition_counters,
    explain,
    private_values,
    score_menu,
)
from sim.mechanisms.red_lines import RedLines
from sim.narrative import describe_action, describe_event, describe_reasons, display_names
from sim.outcomes import (
    Holdings,
    event_names,
    in_effect_at_start,
    one_off_events,
    red_line_events,
)
from sim.rng import CounterRNG, Stream
from sim.scenario.loader import LoadedScenario, load_data, load_scenario
from sim.world import (
    EVENT_KIND,
    VERB,
    World,
    compile_scenario,
    series_names,
    structure_of,
)

NEVER = 1_000_000  # a day long before any run starts (no breakdown yet)

#: rows of ``Timeline.shocks`` (``sim.day.resolve``'s ``exogenous``)
SHOCK_MEDIATION, SHOCK_AFFINITY, SHOCK_CASUALTIES, SHOCK_PRESSURE = 0, 1, 2, 3


@dataclass
class State:
    """The world's mutable state; every array has the replication axis first.

    ``sim.day.resolve`` updates the arrays in place, so a reference to one stays current.
    """

    rung: np.ndarray  # (R, A, A) int
    affinity: np.ndarray  # (R, A, A)
    pressure: np.ndarray  # (R, A)
    control: np.ndarray  # (R, O, A)
    losses_by: np.ndarray  # (R, A, A) int: losses of i caused by j, cumulative
    blamed_by: np.ndarray  # (R, A, A) int: losses of i attributed to j (air support's blame)
    grievance: np.ndarray  # (R, A, A)
    provoked: np.ndarray  # (R, A, A): attacks of j on i that i has not answered, fading
    pledged: np.ndarray  # (R, A, A): standing i has at stake against j (crossed red lines)
    campaign: np.ndarray  # (R, A, A): drive of i's sustained acts short of force against j
    sanction_cost: np.ndarray  # (R, A, A): economic cost on j of i's sanctions, fading
    people: np.ndarray  # (R, N) int
    displaced_at: np.ndarray  # (R, N) int: the displaced among them (sim.mechanisms.refugees)
    dead: np.ndarray  # (R,) int
    displaced: np.ndarray  # (R,) int: people who ever left a conflict node
    gate_open: np.ndarray  # (R, G) bool
    asset_on: np.ndarray  # (R, K) bool
    asset_holder: np.ndarray  # (R, K) int
    requested: np.ndarray  # (R, K, A)
    agreement: np.ndarray  # (R, D) bool
    broken_day: np.ndarray  # (R, D) int: day of each deal's last breakdown (cooling-off)
    talks_from: np.ndarray  # (R, D) int: first day of the talks on each deal, -1 none open
    information: np.ndarray  # (R, D): information revealed about each deal's parties
    fatigue: np.ndarray  # (R, A, A): offensive fatigue of i attacking j (culmination)
    war_days: np.ndarray  # (R, A) int: days each actor has been at war
    weariness: np.ndarray  # (R, A): war weariness
    attack_prev: np.ndarray  # (R, A, A)
    sanction_prev: np.ndarray  # (R, A, A) sanctions i -> j in force (since yesterday: a state)
    air_target: np.ndarray  # (R, A) int: whom each patron's air support struck today, -1 none
    air_client: np.ndarray  # (R, A) int: whose offensive it backed (sim.mechanisms.air_support)
    withdrawn: np.ndarray  # (R, A, A) bool: i has withdrawn its forces from j (verb withdraw)
    intensity: np.ndarray  # (R, A, A): today's fighting intensity
    arrivals: np.ndarray  # (R, A): smoothed daily new people on each actor's soil
    exposure: np.ndarray  # (R, A): forces exposed to fire (fighting.reinforce)
    # running records the indicators are made from
    rung_max: np.ndarray  # (R, A, A) int
    people_peak: np.ndarray  # (R, N) int
    pressure_max: np.ndarray  # (R, A)
    attack_days: np.ndarray  # (R, A, A) int: days on which i attacked j
    threat_days: np.ndarray  # (R, A, A) int: days on which i threatened j
    incidents: np.ndarray  # (R, A, A) int: incidents between forces in contact (symmetric)
    third_losses: np.ndarray  # (R, A) int: losses of third parties present where others fight
    support_days: np.ndarray  # (R, A, A) int: days on which i flew air support against j
    air_losses: np.ndarray  # (R, A, A) int: losses of i from j's air support, cumulative
    alignment0: np.ndarray  # (R, A): alignment on day 0 (realignment is measured from it)


#: ``State`` as one argument of a compiled kernel (``sim.jit.tuple_type``).
PackedState = tuple_type(State, "PackedState")


@dataclass
class Timeline:
    """Today's dated events, gathered by Mesa's event list before the day is stepped."""

    mediation: list = field(default_factory=list)  # [(a, b, amount, last_day)]
    released: np.ndarray | None = None  # (K,) bool: assets opened early by an event
    shocks: np.ndarray | None = None  # (4, A, A): see ``sim.day.resolve``'s ``exogenous``


class Trackers:
    """First days of events, per replication: what the ``day.<event>`` indicators are.

    Args:
        names: The events (``sim.outcomes.event_names``), in the order of a day's events.
        r: Number of replications.
    """

    def __init__(self, names: list[str], r: int) -> None:
        self.names = list(names)
        self.first = np.full((r, len(names)), np.nan)
        self.events = np.zeros((r, len(names)), dtype=bool)

    def mark(self, events: np.ndarray, day: int) -> None:
        """Note the day's events ``(R, E)``: the first day of each that happened."""
        self.events = events
        first = np.isnan(self.first) & events
        self.first[first] = day

    @property
    def first_day(self) -> dict[str, np.ndarray]:
        """Event name -> ``(R,)`` first day it happened (NaN: never)."""
        return {name: self.first[:, e] for e, name in enumerate(self.names)}

    def today(self, replication: int = 0) -> list[str]:
        """Events of the last marked day in one replication."""
        return [name for e, name in enumerate(self.names) if self.events[replication, e]]


def _as_loaded(scenario: Any, overrides: list[str] | None) -> LoadedScenario:
    if isinstance(scenario, LoadedScenario):
        return scenario
    if isinstance(scenario, dict):
        return load_data(scenario, overrides)
    return load_scenario(Path(scenario), overrides)


class CrisisModel(mesa.Model):
    """R replications of a crisis scenario, stepped one day at a time in lockstep.

    Args:
        scenario: A scenario file path, scenario data (dict), or a ``LoadedScenario``.
        replications: Number of replications, or the explicit global replication indices
            (a batch covering runs 500..749 passes ``range(500, 750)``).
        seed: Ensemble seed; defaults to ``rng`` if it is an integer, else the scenario's.
        rng: Mesa's seed argument (``mesa.batch_run`` passes it); an integer is the seed.
        overrides: ``PATH=VALUE`` overrides when ``scenario`` is a path or data.
        params: Per-replication parameters (sweeps); default: the scenario's own.
        record_paths: Keep every day's values of every series (``trajectory``).
        trajectory: With ``record_paths``, a C-contiguous float32 array of shape
            ``(days + 1, R, S)`` to record into instead of a new one (a worker reuses one for
            batch after batch: a fresh 50 MB array costs page faults on every first write).
        log_events: Keep a readable log of choices and events (for R = 1 replays).
        world: A pre-compiled world (saves compiling the scenario again in a worker).
    """

    def __init__(
        self,
        scenario: Any = None,
        *,
        replications: int | range | np.ndarray = 1,
        seed: int | None = None,
        rng: Any = None,
        overrides: list[str] | None = None,
        params=None,
        record_paths: bool = True,
        trajectory: np.ndarray | None = None,
        log_events: bool = False,
        world: World | None = None,
    ) -> None:
        if world is None:
            self.loaded = _as_loaded(scenario, overrides)
            world = compile_scenario(self.loaded.spec)
        else:
            self.loaded = scenario if isinstance(scenario, LoadedScenario) else None
        if seed is None:
            if isinstance(rng, int | np.integer):
                seed = int(rng)
            elif isinstance(rng, np.random.Generator):
                seed = int(rng.integers(2**63))
            elif self.loaded is not None:
                seed = self.loaded.spec.run.seed
            else:
                seed = 0
        super().__init__(rng=seed)
        self.seed = int(seed)
        self.world = world
        self.layout = world.layout
        self.params = params if params is not None else world.params
        if isinstance(replications, int | np.integer):
            replications = np.arange(int(replications))
        self.replications = np.asarray(replications, dtype=np.int64).reshape(-1)
        self.random_numbers = CounterRNG(self.seed, self.replications)
        self.days = self.layout.days
        self.record_paths = record_paths
        self.log_events = log_events
        self.log: list[tuple[int, str]] = []
        self._init_state()
        self._logged_rung = self.state.rung[0].copy() if log_events else None
        self.actors = [StateActor(self, i) for i in range(self.layout.n_actors)]
        self._track_table = track_table(self.actors)
        self._chosen = np.zeros((self.replications.size, self.layout.menu.verb.size), dtype=bool)
        self._series_names = series_names(self.layout)
        shape = (self.days + 1, self.replications.size, len(self._series_names))
        if not record_paths:
            trajectory = None
        elif trajectory is None:
            trajectory = np.zeros(shape, dtype=np.float32)
        elif (trajectory.shape != shape or trajectory.dtype != np.float32
              or not trajectory.flags.c_contiguous):
            raise ValueError(f"trajectory buffer must be C-contiguous float32 {shape}, not "
                             f"{trajectory.dtype} {trajectory.shape}")
        self.trajectory = trajectory
        self._record(0)
        for day in sorted({ev.day for ev in self.layout.timeline}):
            if 0 <= day < self.days:
                self.schedule_event(self._timeline_day, at=day + 0.5)
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        if self.replications.size == 1:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up

    def _init_state(self) -> None:
        p, lay = self.params, self.layout
        r = self.replications.size
        n, k = lay.n_actors, len(lay.assets)

        def rep(x: np.ndarray) -> np.ndarray:  # C-ordered: the day updates it in place
            return np.broadcast_to(x, (r, *x.shape[1:])).copy()

        policy = lay.gate_policy
        gate_open = np.where(policy == GATE_OPEN, True,
                             np.where(policy == GATE_CLOSED, False,
                                      rep(p.gate_open0).astype(bool)))
        rung = rep(p.rung0).astype(np.int64)
        attack_prev = np.zeros((r, n, n))
        affinity = rep(p.affinity0)
        # assets in effect from day 0 have just been granted or switched on: apply their
        # one-off affinity effects, as a grant or activation during the run would
        size = p.asset_on0.shape[0]
        rows = np.arange(size)
        for asset in range(k):
            on = p.asset_on0[:, asset].astype(float)  # (P,)
            decider = lay.asset_owner[asset]
            shock = np.zeros((size, n, n))
            shock[:, decider, :] += p.asset_affinity[:, asset, :] * on[:, None]
            shock[:, :, decider] += p.asset_affinity[:, asset, :] * on[:, None]
            holder = p.asset_holder0[:, asset]
            other = (holder >= 0) & (holder != decider)
            bump = (p.asset_holder_affinity[:, asset] + p.aff_support) * on * other
            target = np.where(other, holder, decider)
            shock[rows, decider, target] += bump
            shock[rows, target, decider] += bump
            shock[:, np.arange(n), np.arange(n)] = 0.0
            affinity = np.clip(affinity + shock, -1.0, 1.0)
        pressure = rep(p.pressure0)
        people = rep(p.population0).astype(np.int64)
        self.state = State(
            rung=rung, affinity=affinity, pressure=pressure, control=rep(p.control0),
            losses_by=np.zeros((r, n, n), dtype=np.int64), grievance=np.zeros((r, n, n)),
            provoked=np.zeros((r, n, n)), pledged=np.zeros((r, n, n)),
            campaign=np.zeros((r, n, n)),
            blamed_by=np.zeros((r, n, n), dtype=np.int64),
            sanction_cost=np.zeros((r, n, n)),
            people=people, displaced_at=np.zeros_like(people), dead=np.zeros(r, dtype=np.int64),
            displaced=np.zeros(r, dtype=np.int64), gate_open=gate_open,
            asset_on=rep(p.asset_on0).astype(bool),
            asset_holder=rep(p.asset_holder0).astype(np.int64),
            requested=np.zeros((r, k, n)),
            agreement=np.zeros((r, len(lay.deals)), dtype=bool),
            broken_day=np.full((r, len(lay.deals)), -NEVER, dtype=np.int64),
            talks_from=np.full((r, len(lay.deals)), -1, dtype=np.int64),
            information=np.zeros((r, len(lay.deals))), fatigue=np.zeros((r, n, n)),
            war_days=np.zeros((r, n), dtype=np.int64), weariness=np.zeros((r, n)),
            attack_prev=attack_prev, sanction_prev=rep(lay.sanctions0[None].astype(float)),
            air_target=np.full((r, n), -1, dtype=np.int64),
            air_client=np.full((r, n), -1, dtype=np.int64),
            withdrawn=np.zeros((r, n, n), dtype=bool),
            intensity=fighting.intensities(rung, p.rung_intensity, lay.armed_from, attack_prev,
                                           p.attack_boost),
            arrivals=np.zeros((r, n)), exposure=rep(p.exposure),
            rung_max=rung.copy(), people_peak=people.copy(), pressure_max=pressure.copy(),
            attack_days=np.zeros((r, n, n), dtype=np.int64),
            threat_days=np.zeros((r, n, n), dtype=np.int64),
            incidents=np.zeros((r, n, n), dtype=np.int64),
            third_losses=np.zeros((r, n), dtype=np.int64),
            support_days=np.zeros((r, n, n), dtype=np.int64),
            air_losses=np.zeros((r, n, n), dtype=np.int64),
            alignment0=alliances.alignment(affinity, lay.bloc_sign),
        )
        self.structure = structure_of(lay)
        self.trackers = Trackers(event_names(lay), r)
        if len(self.trackers.names) != self.structure.n_events:  # pragma: no cover
            raise RuntimeError("sim.world.structure_of and sim.outcomes.event_names disagree")
        for name, flags in in_effect_at_start(lay, self.state).items():  # day 0 counts
            self.trackers.first[flags, self.trackers.names.index(name)] = 0.0
        self.holdings = Holdings(lay, r)  # states in effect: days, spells (sim.outcomes)
        # commitments stated in advance: crossing, answer, fading (sim.mechanisms.red_lines)
        self.red_lines = RedLines(len(lay.red_lines), r) if lay.red_lines else None
        self.red_line_days = Trackers(red_line_events(lay), r)  # day.crossed/answered.<line>
        self.timeline_today = Timeline(released=np.zeros(k, dtype=bool),
                                       shocks=np.zeros((4, n, n)))
        self.can_hold = ((p.ground[:, None, :] > 0)
                         & ((p.value > 0) | (p.control0 > 0))).astype(float)
        # each side's private type in each deal: fixed for the run (bargaining's noise)
        self.private_resolve = compiled_day.bargaining_noise(self.structure,
                                                             self.random_numbers.keys)
        # each run's reluctance toward each one-off act, drawn once (decisions.intent): the
        # grants, activations and gate moves, and the acts a scenario makes one-off (``once``,
        # withdraw)
        self.one_off = np.flatnonzero(np.isin(lay.menu.verb, ONE_OFF_VERBS)
                                      | (lay.menu.once > 0))
        # acts chosen at most once per run (``Action.once``, withdraw): whether each run has
        # taken each, and the first day it did (``day.once...``/``day.withdrew...`` indicators)
        self.once = np.flatnonzero(lay.menu.once > 0)
        self.once_used = np.zeros((r, self.once.size), dtype=bool)
        self.once_day = np.full((r, self.once.size), np.nan)
        # how close each deal came to being accepted: each party's best perceived surplus
        # over the run, and the best day's least willing party (``reach.<deal>`` indicators)
        self.deal_best = np.full((r, *lay.deal_sides.shape), -np.inf)
        self.deal_margin = np.full((r, lay.deal_sides.shape[0]), -np.inf)
        counters = disposition_counters(lay)
        self.disposition = self.random_numbers.uniform_at(
            0, Stream.DISPOSITION, counters[self.one_off])
        # and what each run privately makes of each, beyond its public value (ODD M1)
        self.private_values = private_values(
            self.disposition, p.rationality[:, lay.menu.actor[self.one_off]],
            p.private_value * p.bargaining_noise)
        # opening fire, a one-off decision too: each attack entry's private value, drawn once
        # (attacks a scenario made one-off, ``once``, have their private value above already;
        # none where no run decides it with intent, so the day spends nothing on them)
        self.opening_on = p.intent * p.opening_fire
        self.openers = np.flatnonzero((lay.menu.verb == VERB["attack"]) & (lay.menu.once == 0)
                                      & bool(np.any(self.opening_on)))
        self.opener_pairs = (lay.menu.actor[self.openers], lay.menu.target[self.openers])
        self.opening_values = private_values(
            self.random_numbers.uniform_at(0, Stream.DISPOSITION, counters[self.openers]),
            p.rationality[:, self.opener_pairs[0]], p.private_value * p.bargaining_noise)
        self._direct = np.empty((r, lay.menu.verb.size))  # attacks' direct values today
        self.workspace = compiled_day.workspace(
            r, n, len(lay.objectives), k, len(lay.deals), len(lay.nodes), lay.edge_src.size,
            lay.deal_sides.shape[1], len(lay.gates))

    def _packed_state(self) -> tuple:
        """The state as one kernel argument; its arrays are updated in place, never copied."""
        arrays = [getattr(self.state, name) for name in PackedState._fields]
        for name, x in zip(PackedState._fields, arrays, strict=True):
            if not (x.flags.c_contiguous and x.flags.writeable):
                raise RuntimeError(f"state.{name} must be a C-contiguous, writable array: the "
                                   "day's compiled pass updates it in place")
        return PackedState(*arrays)

    # ------------------------------------------------------------------ the day

    @property
    def day(self) -> int:
        """Days completed so far (the next step simulates this day)."""
        return self.steps

    @property
    def date(self):
        """Calendar date of the current day."""
        import datetime as dt

        return self.layout.start + dt.timedelta(days=self.steps)

    def _timeline_day(self) -> None:
        """Apply the timeline events dated today (scheduled with Mesa's event list)."""
        day = int(self.time)
        today, lay = self.timeline_today, self.layout
        for ev in lay.timeline:
            if ev.day != day:
                continue
            if ev.kind == EVENT_KIND["mediation"]:
                today.mediation.append((ev.a, ev.b, ev.amount, day + ev.days - 1))
            elif ev.kind == EVENT_KIND["pressure"]:
                today.shocks[SHOCK_PRESSURE, 0, ev.a] += ev.amount
            elif ev.kind == EVENT_KIND["affinity"]:
                today.shocks[SHOCK_AFFINITY, ev.a, ev.b] += ev.amount
                today.shocks[SHOCK_AFFINITY, ev.b, ev.a] += ev.amount
            elif ev.kind == EVENT_KIND["gate"]:
                self.state.gate_open[:, ev.gate] = ev.open
                # a deal in force that holds the gate otherwise is broken by the event
                held = lay.deal_gates[:, ev.gate]
                against = (held >= 0) & (held != int(ev.open))
                self.workspace.forced_break[:] |= self.state.agreement & against[None, :]
            elif ev.kind == EVENT_KIND["casualties"]:
                today.shocks[SHOCK_CASUALTIES, ev.a, ev.b] += round(ev.amount)
            elif ev.kind == EVENT_KIND["asset_available"]:
                today.released[ev.asset] = True
            elif ev.kind == EVENT_KIND["reinforcement"]:
                fighting.reinforce(self.state.exposure, ev.a, ev.amount)
            if self.log_events:
                self.log.append((day, f"{self._date(day)} event: {ev.name}"))

    def step(self) -> None:
        """Simulate one day for every replication (see the module docstring for the order)."""
        day = self.steps - 1
        s, p, lay = self.state, self.params, self.layout
        n, r = lay.n_actors, self.replications.size
        state, today = self._packed_state(), self.timeline_today

        # a dated strike is known the morning it lands: it calls for an answer today (M5)
        s.provoked += today.shocks[SHOCK_CASUALTIES] > 0

        # 1. observe and decide, simultaneously
        w = self.workspace
        compiled_day.observe(self.structure, p.packed, state, self.can_hold, day,
                             today.released, self.private_resolve, w)
        situation = Situation(
            day=day, rung=s.rung, affinity=s.affinity, pressure=s.pressure, control=s.control,
            cover=w.cover, fire=w.fire, attack_prev=s.attack_prev, air_target=s.air_target,
            air_client=s.air_client, win=w.win, power=w.power,
            powered=w.powered, can_hold=self.can_hold, grievance=s.grievance,
            provoked=s.provoked, pledged=s.pledged,
            asset_on=s.asset_on, asset_holder=s.asset_holder, asset_available=w.available,
            requested=s.requested, gate_open=s.gate_open, gate_reach=w.reach,
            arrivals=s.arrivals, conflict_people=w.conflict_people, deal_gains=w.gains,
            deal_perceived=w.perceived, deal_shrink=w.shrink, deal_stake=w.stake,
            deal_private=self.private_resolve,
            agreement=s.agreement, cooling=self._cooling(day), barred=w.barred,
            weariness=s.weariness, exposure=s.exposure,
            sanction_prev=s.sanction_prev, sanction_review=self.random_numbers.uniform(
                day, Stream.SANCTION_REVIEW, (n, n)),
            withdrawn=s.withdrawn)
        utility = score_menu(situation, lay, p, direct=self._direct)
        commitment(w.perceived, self._direct, s.attack_prev, lay, p)
        if lay.deal_sides.shape[0]:  # as the parties weigh each deal this morning
            signed = np.where(lay.deal_signs, w.perceived, np.inf)
            np.maximum(self.deal_margin, signed.min(axis=2), out=self.deal_margin)
            np.maximum(self.deal_best, np.where(lay.deal_signs, w.perceived, -np.inf),
                       out=self.deal_best)
        apply_private_values(utility, self.one_off, self.private_values, p.intent)
        if self.openers.size:  # a fight under way goes on day by day
            apply_private_values(utility, self.openers, self.opening_values, self.opening_on,
                                 fighting=s.attack_prev[:, *self.opener_pairs] > 0)
        if self.once.size:  # a one-off act taken already is off the menu for the run
            utility[:, self.once] = np.where(self.once_used, -np.inf, utility[:, self.once])
        if self.log_events:  # why each act was chosen, for the log (R = 1 replays, the app)
            self._why = (utility, explain(situation, lay, p))
        # a posture and a move per actor (sim.actors), from uniforms 0..A-1 and A..2A-1
        # (every actor's ``decide`` in one compiled pass: ``sim.actors.choose``)
        u_choice = self.random_numbers.uniform(day, Stream.DECISION, (2 * n,))
        chosen, choice = self._chosen, np.empty((r, n, 2), dtype=np.int64)
        choose(utility, *self._track_table, p.rationality, p.nesting, u_choice, chosen, choice)
        for actor in self.actors:
            if "decide" in vars(actor) or type(actor).decide is not StateActor.decide:
                # an actor whose decide was replaced (a test, an experiment) chooses itself
                picks = actor.decide(utility, u_choice[:, [actor.index, n + actor.index]])
                choice[:, actor.index] = picks
                chosen[:, actor.menu] = False
                for track in range(2):
                    made = np.flatnonzero(picks[:, track] >= 0)
                    chosen[made, picks[made, track]] = True
            actor.last_choice = choice[:, actor.index]
        if self.once.size:
            taken = self._take_one_offs(chosen, day)

        # 2.-8. everything else, in one compiled pass (sim.day)
        today.shocks[SHOCK_MEDIATION] = self._mediation(day)
        events = np.empty((r, self.structure.n_events), dtype=bool)
        compiled_day.resolve(self.structure, p.packed, state, self.can_hold, chosen,
                             self.random_numbers.keys, day, today.shocks, w, events)
        today.shocks[:] = 0.0
        self.trackers.mark(events, day)
        if self.red_lines is not None:  # before one-off acts end: a sortie flown today counts
            self.red_line_days.mark(self.red_lines.step(self, w.attack, day), day)
        if self.once.size:
            self._end_one_offs(taken)
        self.holdings.note(self, day)

        if self.log_events:
            self._log_day(day, choice)
        self._record(day + 1)
        if self.steps >= self.days:
            self.running = False
        if self.replications.size == 1:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ helpers

    def _take_one_offs(self, chosen: np.ndarray, day: int) -> np.ndarray:
        """Note today's one-off acts; a withdrawal takes effect at once. ``(R, M1)`` taken.

        Each is off the menu for the rest of the run: a limited reprisal (Schelling 1966,
        *Arms and Influence*, ch. 4), a single costly signal (Sartori 2005), a vote or public
        declaration that engages a government's standing (Fearon 1994) happen once, not as a
        routine held day after day. A withdrawal (ODD M2) puts the actor's
        forces out of contact with its target from today's fighting on (``State.withdrawn``).
        """
        lay, s = self.layout, self.state
        taken = chosen[:, self.once]
        self.once_used |= taken
        self.once_day[taken & np.isnan(self.once_day)] = day
        for x, e in enumerate(self.once):
            if lay.menu.verb[e] == VERB["withdraw"]:
                s.withdrawn[taken[:, x], lay.menu.actor[e], lay.menu.target[e]] = True
        return taken

    def _end_one_offs(self, taken: np.ndarray) -> None:
        """A one-off act's day is over: nobody expects it to continue (ODD M2, "One-off acts").

        Tomorrow's observed postures are yesterday's (M1's prediction): a one-day strike or
        sorties are not carried into them, and a one-day sanction is lifted the next morning
        (in force today: its drive, cost and affinity effects were charged).
        """
        lay, s = self.layout, self.state
        for x, e in enumerate(self.once):
            rows = np.flatnonzero(taken[:, x])
            if rows.size == 0:
                continue
            verb, a, t = lay.menu.verb[e], lay.menu.actor[e], lay.menu.target[e]
            if verb == VERB["attack"]:
                s.attack_prev[rows, a, t] = 0.0
            elif verb == VERB["sanction"]:
                s.sanction_prev[rows, a, t] = 0.0
            elif verb == VERB["air_support"]:
                s.air_target[rows, a] = -1
                s.air_client[rows, a] = -1

    def one_off_days(self) -> dict[str, np.ndarray]:
        """First day each one-off act was taken, by indicator event name (NaN: never)."""
        out: dict[str, np.ndarray] = {}
        for x, name in enumerate(one_off_events(self.layout, per_entry=True)):
            first = self.once_day[:, x]
            out[name] = first.copy() if name not in out else np.fmin(out[name], first)
        return out

    def _cooling(self, day: int) -> np.ndarray:
        """``(R, D)`` bool: deals in their cooling-off period after a breakdown."""
        return day - self.state.broken_day <= self.params.cooling_off[:, None]

    def _mediation(self, day: int) -> np.ndarray:
        n = self.layout.n_actors
        out = np.zeros((n, n))
        active = []
        for a, b, amount, last in self.timeline_today.mediation:
            if day <= last:
                out[a, b] += amount
                out[b, a] += amount
                active.append((a, b, amount, last))
        self.timeline_today.mediation = active
        return out

    def _log_day(self, day: int, choice: np.ndarray) -> None:
        """Replication 0's choices (other than holding) and events of the day, in words."""
        lay = self.layout
        when = self._date(day)
        names = self._names
        utility, parts = self._why
        for actor in self.actors:
            for track, entry in enumerate(choice[0, actor.index]):
                if entry < 0 or lay.menu.labels[int(entry)].startswith("hold"):
                    continue
                label = lay.menu.labels[int(entry)]
                if (lay.menu.verb[entry] == VERB["sanction"]  # it toggles: here, a lifting
                        and not lay.menu.once[entry]  # (a one-day sanction only imposes)
                        and self.state.sanction_prev[0, actor.index, lay.menu.target[entry]] == 0):
                    label = "lift_" + label
                why = self._reasons(actor, track, int(entry), utility[0], parts[0])
                self.log.append((day, f"{when} {describe_action(actor.actor_id, label, names)} "
                                      f"{why}"))
        for name in self.trackers.today(0) + self.red_line_days.today(0):
            if name != "agreement":  # the named deal's entry says which
                self.log.append((day, f"{when} {describe_event(name, names)}"))
        rung, before = self.state.rung[0], self._logged_rung
        for i, j in lay.dyads():
            if rung[i, j] != before[i, j]:
                self.log.append((day, f"{when} {lay.actor_names[i]} – {lay.actor_names[j]}: "
                                      f"{lay.rung_names[before[i, j]]} → "
                                      f"{lay.rung_names[rung[i, j]]}"))
        self._logged_rung = rung.copy()

    def _reasons(self, actor: StateActor, track: int, entry: int, utility: np.ndarray,
                 parts: np.ndarray) -> str:
        """An act's utility, its main components and the next-best option on its track."""
        entries, has_null = actor._tracks[track]
        others = [(float(utility[e]), self.layout.menu.labels[e]) for e in entries
                  if e != entry and np.isfinite(utility[e])]
        if not has_null:
            others.append((0.0, "nothing" if track else "hold"))
        best = max(others, default=None)
        return describe_reasons(float(utility[entry]), dict(zip(PARTS, parts[entry].tolist(),
                                                                strict=True)),
                                best[1] if best else None, best[0] if best else None)

    def _date(self, day: int) -> str:
        return (self.layout.start + dt.timedelta(days=day)).isoformat()

    @functools.cached_property
    def _names(self) -> dict[str, str]:
        if self.loaded is not None:
            return display_names(self.loaded.spec)
        return dict(zip(self.layout.actors, self.layout.actor_names, strict=True))

    def _record(self, day: int) -> None:
        """Today's value of every series: into the trajectory, and for Mesa's reporters."""
        if self.replications.size == 1:
            self.current_values = series_values(self)
        if self.trajectory is not None:  # written in place, in the trajectory's float32
            series_values(self, out=self.trajectory[day])

    def _reporters(self) -> dict:
        """Model reporters for Mesa's DataCollector (R = 1): the daily series."""
        names = self._series_names

        def reporter(index: int):
            def value(model: CrisisModel) -> float:
                return float(model.current_values[0, index])
            return value

        reporters = {name: reporter(i) for i, name in enumerate(names)}
        from sim.outcomes import evaluate_outcomes, indicators

        for name in self.layout.outcomes:
            reporters[f"outcome.{name}"] = (
                lambda m, name=name: bool(evaluate_outcomes(m.loaded.spec, indicators(m))[name][0])
                if not m.running else None)
        return reporters

    # ------------------------------------------------------------------ convenience

    def run(self) -> CrisisModel:
        """Step to the end of the horizon; return self."""
        while self.running:
            self.step()
        return self

    @property
    def series_names(self) -> list[str]:
        """Names of the daily series, in the order of ``trajectory``'s last axis."""
        return list(self._series_names)


def series_values(model: CrisisModel, out: np.ndarray | None = None) -> np.ndarray:
    """Today's value of every series, ``(R, S)`` in the order of ``series_names``.

    Args:
        model: The model.
        out: A C-contiguous ``(R, S)`` array to write into (a day of the float32 trajectory,
            saving a temporary and a conversion); default: a new float64 array.
    """
    s, lay = model.state, model.layout
    if out is None:
        out = np.empty((s.rung.shape[0], len(model.series_names)))
    elif not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("series_values writes into a C-contiguous, writable array only")
    _series_values(s.rung, s.affinity, s.losses_by, s.pressure,
                   alliances.alignment(s.affinity, lay.bloc_sign), s.people, s.control,
                   s.agreement, s.gate_open, out)
    return out


@kernel
def _series_values(rung, affinity, losses_by, pressure, align, people, control, agreement,
                   gate_open, out):
    """Fill ``out`` (an output argument, so a trajectory's day is written in place)."""
    r_count, n = rung.shape[0], rung.shape[1]
    dyads = n * (n - 1) // 2
    for r in range(r_count):
        col = 0
        for i in range(n):
            for j in range(i + 1, n):
                out[r, col] = rung[r, i, j]
                out[r, dyads + col] = affinity[r, i, j]
                col += 1
        col = 2 * dyads
        for i in range(n):
            out[r, col + i] = losses_by[r, i].sum()
            out[r, col + n + i] = pressure[r, i]
            out[r, col + 2 * n + i] = align[r, i]
        col += 3 * n
        for node in range(people.shape[1]):
            out[r, col + node] = people[r, node]
        col += people.shape[1]
        for o in range(control.shape[1]):
            for a in range(n):
                out[r, col + o * n + a] = control[r, o, a]
        col += control.shape[1] * n
        for d in range(agreement.shape[1]):
            out[r, col + d] = 1.0 if agreement[r, d] else 0.0
        col += agreement.shape[1]
        for g in range(gate_open.shape[1]):
            out[r, col + g] = 1.0 if gate_open[r, g] else 0.0


__all__ = ["CrisisModel", "State", "series_names", "series_values"]
