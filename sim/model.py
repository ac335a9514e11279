"""The crisis model: a ``mesa.Model`` stepping R replications of one scenario in lockstep.

One step is one day. Order within a day (docs/ODD.md, "Process overview and scheduling"):

0. dated timeline events for the day (Mesa's event list, at ``day + 0.5``);
1. every actor observes the same state and chooses (simultaneous moves);
2. gates and assets change hands or switch on; requests are lodged;
3. deals form or break down;
4. fighting: losses and control;
5. the ladder moves;
6. refugees die, flee, move on and return;
7. domestic pressure and grievances update;
8. affinities move; realignments are noted.

Every random number comes from ``CounterRNG`` keyed by (seed, replication, day, stream), so a
replication's path does not depend on the batch it is stepped in.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.actors import StateActor
from sim.jit import kernel
from sim.mechanisms import alliances, bargaining, escalation, fighting, pressure, refugees
from sim.mechanisms.decisions import Situation, score_menu
from sim.narrative import describe_action, describe_event, display_names
from sim.rng import CounterRNG, Stream
from sim.scenario.loader import LoadedScenario, load_data, load_scenario
from sim.world import EVENT_KIND, VERB, World, compile_scenario, sc

GATE_OPEN, GATE_CLOSED = 1, 2


@dataclass
class State:
    """The world's mutable state; every array has the replication axis first."""

    rung: np.ndarray  # (R, A, A) int
    affinity: np.ndarray  # (R, A, A)
    pressure: np.ndarray  # (R, A)
    control: np.ndarray  # (R, O, A)
    losses_by: np.ndarray  # (R, A, A) int: losses of i caused by j, cumulative
    grievance: np.ndarray  # (R, A, A)
    people: np.ndarray  # (R, N) int
    dead: np.ndarray  # (R,) int
    displaced: np.ndarray  # (R,) int: people who ever left a conflict node
    gate_open: np.ndarray  # (R, G) bool
    asset_on: np.ndarray  # (R, K) bool
    asset_holder: np.ndarray  # (R, K) int
    asset_released: np.ndarray  # (K,) bool: opened early by a timeline event
    requested: np.ndarray  # (R, K, A)
    agreement: np.ndarray  # (R, D) bool
    attack_prev: np.ndarray  # (R, A, A)
    intensity: np.ndarray  # (R, A, A): today's fighting intensity
    arrivals: np.ndarray  # (R, A): smoothed daily new people on each actor's soil
    mediation: list = field(default_factory=list)  # [(a, b, amount, last_day)]
    pressure_shock: np.ndarray | None = None  # (A,)
    affinity_shock: np.ndarray | None = None  # (A, A)
    casualty_shock: np.ndarray | None = None  # (A, A) int: losses of i caused by j today


class Trackers:
    """Running maxima, peaks and first days of events: what the indicators are made from."""

    def __init__(self, r: int) -> None:
        self.r = r
        self.first_day: dict[str, np.ndarray] = {}
        self.today: list[tuple[str, np.ndarray]] = []

    def mark(self, name: str, happened: np.ndarray, day: int) -> None:
        """Note that ``name`` happened today in the replications where ``happened``."""
        happened = np.asarray(happened, dtype=bool)
        if not happened.any():
            return
        first = self.first_day.setdefault(name, np.full(self.r, np.nan))
        first[np.isnan(first) & happened] = day
        self.today.append((name, happened))


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
        self._series_names = series_names(self.layout)
        self.trajectory = (np.zeros((self.days + 1, self.replications.size,
                                     len(self._series_names)), dtype=np.float32)
                           if record_paths else None)
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

        def rep(x: np.ndarray) -> np.ndarray:
            return np.array(np.broadcast_to(x, (r, *x.shape[1:])))

        self.state = State(
            rung=rep(p.rung0).astype(np.int64), affinity=rep(p.affinity0),
            pressure=rep(p.pressure0), control=rep(p.control0),
            losses_by=np.zeros((r, n, n), dtype=np.int64), grievance=np.zeros((r, n, n)),
            people=rep(p.population0).astype(np.int64), dead=np.zeros(r, dtype=np.int64),
            displaced=np.zeros(r, dtype=np.int64), gate_open=rep(p.gate_open0).astype(bool),
            asset_on=rep(p.asset_on0).astype(bool),
            asset_holder=rep(p.asset_holder0).astype(np.int64),
            asset_released=np.zeros(k, dtype=bool), requested=np.zeros((r, k, n)),
            agreement=np.zeros((r, len(lay.deals)), dtype=bool),
            attack_prev=np.zeros((r, n, n)), intensity=np.zeros((r, n, n)),
            arrivals=np.zeros((r, n)),
        )
        s = self.state
        policy = lay.gate_policy
        s.gate_open = np.where(policy == GATE_OPEN, True,
                               np.where(policy == GATE_CLOSED, False, s.gate_open))
        s.intensity = fighting.intensity(s.rung, p.rung_intensity, lay.armed_from,
                                         s.attack_prev, p.attack_boost)
        # assets in effect from day 0 have just been granted or switched on: apply their
        # one-off affinity effects, as a grant or activation during the run would
        size = p.asset_on0.shape[0]
        rows = np.arange(size)
        for k in range(len(lay.assets)):
            on = p.asset_on0[:, k].astype(float)  # (P,)
            decider = lay.asset_owner[k]
            shock = np.zeros((size, n, n))
            shock[:, decider, :] += p.asset_affinity[:, k, :] * on[:, None]
            shock[:, :, decider] += p.asset_affinity[:, k, :] * on[:, None]
            holder = p.asset_holder0[:, k]
            other = (holder >= 0) & (holder != decider)
            bump = (p.asset_holder_affinity[:, k] + p.aff_support) * on * other
            target = np.where(other, holder, decider)
            shock[rows, decider, target] += bump
            shock[rows, target, decider] += bump
            shock[:, np.arange(n), np.arange(n)] = 0.0
            s.affinity = np.clip(s.affinity + shock, -1.0, 1.0)
        self.trackers = Trackers(r)
        self.rung_max = s.rung.copy()
        self.people_peak = s.people.copy()
        self.pressure_max = s.pressure.copy()
        self.attack_days = np.zeros((r, n, n), dtype=np.int64)
        self.alignment0 = alliances.alignment(s.affinity, lay.bloc_sign)
        self.can_hold = ((p.ground[:, None, :] > 0)
                         & ((p.value > 0) | (p.control0 > 0))).astype(float)
        self.host_onehot = (lay.node_host[:, None] == np.arange(n)[None, :]).astype(np.int64)
        self._scatter = {verb: self._scatter_matrix(verb) for verb in
                         ("attack", "deescalate", "sanction")}

    def _scatter_matrix(self, verb: str) -> tuple[np.ndarray, np.ndarray]:
        """Entries of a targeted verb and a one-hot map from entries to (actor, target) cells."""
        menu, n = self.layout.menu, self.layout.n_actors
        entries = menu.entries(verb)
        onehot = np.zeros((entries.size, n * n))
        onehot[np.arange(entries.size), menu.actor[entries] * n + menu.target[entries]] = 1.0
        return entries, onehot

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
        s, lay = self.state, self.layout
        for ev in lay.timeline:
            if ev.day != day:
                continue
            if ev.kind == EVENT_KIND["mediation"]:
                s.mediation.append((ev.a, ev.b, ev.amount, day + ev.days - 1))
            elif ev.kind == EVENT_KIND["pressure"]:
                shock = np.zeros(lay.n_actors) if s.pressure_shock is None else s.pressure_shock
                shock[ev.a] += ev.amount
                s.pressure_shock = shock
            elif ev.kind == EVENT_KIND["affinity"]:
                shock = (np.zeros((lay.n_actors,) * 2) if s.affinity_shock is None
                         else s.affinity_shock)
                shock[ev.a, ev.b] += ev.amount
                shock[ev.b, ev.a] += ev.amount
                s.affinity_shock = shock
            elif ev.kind == EVENT_KIND["gate"]:
                s.gate_open[:, ev.gate] = ev.open
            elif ev.kind == EVENT_KIND["casualties"]:
                shock = (np.zeros((lay.n_actors,) * 2, dtype=np.int64)
                         if s.casualty_shock is None else s.casualty_shock)
                shock[ev.a, ev.b] += round(ev.amount)
                s.casualty_shock = shock
            elif ev.kind == EVENT_KIND["asset_available"]:
                s.asset_released[ev.asset] = True
            if self.log_events:
                self.log.append((day, f"{self._date(day)} event: {ev.name}"))

    def _observe(self, day: int) -> tuple[Situation, dict]:
        """Everything the actors see today, plus quantities the world reuses."""
        s, p, lay = self.state, self.params, self.layout
        n = lay.n_actors
        cover = fighting.air_cover(p.air_defence, p.asset_air_defence, s.asset_on,
                                   s.asset_holder, n)
        fire = fighting.firepower(p.ground, p.air, cover)
        armed = (s.rung >= lay.armed_from) | (s.attack_prev > 0)
        power = fighting.contest_power(p.ground, p.air, cover, s.affinity, armed)
        win = fighting.win_share(power, p.contest_exponent)
        gains = bargaining.surplus(
            control=s.control, rung=s.rung, pressure=s.pressure, affinity=s.affinity,
            layout=lay, params=p,
            **self._war_prospects(fire, win))
        theatre = refugees.theatre_intensity(s.intensity)
        relief = self._relief()
        potential = refugees.route_potential(s.people, theatre, relief, lay, p)
        available = (day >= p.asset_available_day) | s.asset_released
        situation = Situation(
            day=day, rung=s.rung, affinity=s.affinity, pressure=s.pressure, control=s.control,
            cover=cover, fire=fire, attack_prev=s.attack_prev, win=win, power=power,
            can_hold=self.can_hold,
            grievance=s.grievance, asset_on=s.asset_on, asset_holder=s.asset_holder,
            asset_available=np.broadcast_to(available, s.asset_on.shape),
            requested=s.requested, gate_open=s.gate_open, route_potential=potential,
            arrivals=s.arrivals, conflict_people=s.people[:, lay.node_conflict].sum(axis=1),
            deal_gains=gains, agreement=s.agreement, barred=self._barred(),
        )
        return situation, {"cover": cover, "fire": fire, "gains": gains, "win": win,
                           "available": available}

    def _war_prospects(self, fire: np.ndarray, win: np.ndarray) -> dict[str, np.ndarray]:
        """Expected daily drift of control and losses if each deal's ceasefire dyads fight all out.

        This is the "fighting on" that bargaining compares a deal with (Fearon 1995).
        """
        s, p, lay = self.state, self.params, self.layout
        r, n = self.replications.size, lay.n_actors
        d_count = len(lay.deals)
        drift = np.zeros((r, d_count, *s.control.shape[1:]))
        losses = np.zeros((r, d_count, n, n))
        for d in range(d_count):
            war = lay.deal_ceasefire[d][None].astype(float)  # (1, A, A): every side attacks
            heat = fighting.intensity(s.rung, p.rung_intensity, lay.armed_from, war,
                                      p.attack_boost)
            losses[:, d] = fighting.loss_rates(heat, fire, p.exposure, p.loss_rate)
            drift[:, d] = fighting.shift_control(s.control, heat, war, win, p.speed,
                                                 self.can_hold, p.attack_boost) - s.control
        return {"war_drift": drift, "war_losses": losses}

    def _relief(self) -> np.ndarray:
        """Share by which aid held by each node's host reduces onward movement, ``(R, N)``."""
        s, p, lay = self.state, self.params, self.layout
        held = (s.asset_holder[:, :, None] == lay.node_host[None, None, :]) & s.asset_on[:, :, None]
        held &= lay.node_host[None, None, :] >= 0
        return 1.0 - np.prod(1.0 - p.asset_relief[:, :, None] * held, axis=1)

    def _barred(self) -> np.ndarray:
        """``(R, A, A)`` dyads under the ceasefire of an agreement in force."""
        cease = self.layout.deal_ceasefire  # (D, A, A)
        if cease.shape[0] == 0:
            n = self.layout.n_actors
            return np.zeros((self.replications.size, n, n), dtype=bool)
        return (self.state.agreement[:, :, None, None] & cease[None]).any(axis=1)

    def _acts(self, chosen: np.ndarray, verb: str) -> np.ndarray:
        """``(R, A, A)`` 0/1 matrix of today's acts of one targeted verb."""
        entries, onehot = self._scatter[verb]
        n = self.layout.n_actors
        if entries.size == 0:
            return np.zeros((chosen.shape[0], n, n))
        return np.minimum(chosen[:, entries] @ onehot, 1.0).reshape(-1, n, n)

    def step(self) -> None:
        """Simulate one day for every replication."""
        day = self.steps - 1
        s, p, lay = self.state, self.params, self.layout
        rng = self.random_numbers
        n, r = lay.n_actors, self.replications.size
        menu = lay.menu
        self.trackers.today = []

        # 1. observe and decide, simultaneously
        situation, seen = self._observe(day)
        utility = score_menu(situation, lay, p)
        u_choice = rng.uniform(day, Stream.DECISION, (n,))
        choice = np.empty((r, n), dtype=np.int64)
        for actor in self.actors:
            choice[:, actor.index] = actor.decide(utility, u_choice[:, actor.index])
        chosen = (choice[:, menu.actor] == np.arange(menu.verb.size)[None, :]).astype(float)
        attack = self._acts(chosen, "attack")
        deescalate = self._acts(chosen, "deescalate")
        sanction = self._acts(chosen, "sanction")
        affinity_delta = np.zeros((r, n, n))

        # 2. gates, assets and requests
        for g in range(len(lay.gates)):
            opens = chosen[:, (menu.verb == VERB["open_gate"]) & (menu.gate == g)].any(axis=1)
            closes = chosen[:, (menu.verb == VERB["close_gate"]) & (menu.gate == g)].any(axis=1)
            before = s.gate_open[:, g].copy()
            after = np.where(opens, True, np.where(closes, False, before))
            if lay.gate_policy[g] == GATE_OPEN:
                after[:] = True
            elif lay.gate_policy[g] == GATE_CLOSED:
                after[:] = False
            s.gate_open[:, g] = after
            self.trackers.mark(f"opened.{lay.gates[g]}", after & ~before, day)
            self.trackers.mark(f"closed.{lay.gates[g]}", ~after & before, day)
        available = np.broadcast_to(seen["available"], s.asset_on.shape)
        for k in range(len(lay.assets)):
            decider = lay.asset_owner[k]
            grant_entries = np.flatnonzero((menu.verb == VERB["grant_support"])
                                           & (menu.asset == k))
            granted = np.zeros(r, dtype=bool)
            for e in grant_entries:
                t = menu.target[e]
                ok = chosen[:, e].astype(bool) & ~s.asset_on[:, k] & available[:, k] & ~granted
                ok &= ~self._blocked(k, t)
                s.asset_holder[:, k] = np.where(ok, t, s.asset_holder[:, k])
                granted |= ok
                bump = ok * (p.asset_holder_affinity[:, k] + p.aff_support)
                affinity_delta[:, decider, t] += bump
                affinity_delta[:, t, decider] += bump
            activate_entries = np.flatnonzero((menu.verb == VERB["activate"]) & (menu.asset == k))
            activated = np.zeros(r, dtype=bool)
            for e in activate_entries:
                activated |= chosen[:, e].astype(bool) & ~s.asset_on[:, k] & available[:, k]
            switched = granted | activated
            s.asset_on[:, k] |= switched
            # the decider's ties with the actors named in the asset's effects
            actor = np.where(granted, decider, s.asset_holder[:, k])
            shock = switched[:, None] * p.asset_affinity[:, k, :]  # (R, A)
            rows = np.arange(r)
            affinity_delta[rows, actor, :] += shock
            affinity_delta[rows, :, actor] += shock
            self.trackers.mark(f"granted.{lay.assets[k]}", granted, day)
            self.trackers.mark(f"activated.{lay.assets[k]}", activated, day)
            requests = np.zeros((r, n))
            for e in np.flatnonzero((menu.verb == VERB["request_support"]) & (menu.asset == k)):
                requests[:, menu.actor[e]] = np.maximum(requests[:, menu.actor[e]], chosen[:, e])
            s.requested[:, k] = np.maximum(0.8 * s.requested[:, k], requests)
            self.trackers.mark(f"requested.{lay.assets[k]}", requests.any(axis=1), day)

        # 3. deals
        if lay.deals:
            d_count = len(lay.deals)
            hazard = bargaining.breakdown_hazard(s.affinity, s.pressure, lay, p)
            breaks = s.agreement & (rng.uniform(day, Stream.BREAKDOWN, (d_count,)) < hazard)
            proposed = np.zeros((r, d_count), dtype=bool)
            for e in menu.entries("negotiate"):
                proposed[:, menu.deal[e]] |= chosen[:, e].astype(bool)
            # private information is a fixed type per run (each side's resolve), not daily luck
            noise = rng.normal(0, Stream.BARGAINING, (d_count, 2))
            formed = bargaining.form(proposed, s.agreement, seen["gains"], noise, p)
            s.agreement = (s.agreement & ~breaks) | formed
            for d in range(d_count):
                transfer = lay.deal_transfers[d][None, :, None] & formed[:, d, None, None]
                s.control = np.where(transfer, p.deal_control[:, d], s.control)
                self.trackers.mark(f"agreement.{lay.deals[d]}", formed[:, d], day)
                self.trackers.mark(f"breakdown.{lay.deals[d]}", breaks[:, d], day)
            self.trackers.mark("agreement", formed.any(axis=1), day)
            barred = self._barred()
            cap = self._rung_cap()
            s.rung = np.minimum(s.rung, cap)
            attack = attack * ~barred
        else:
            cap = np.full(s.rung.shape, len(lay.rungs) - 1)

        # 4. fighting
        cover = fighting.air_cover(p.air_defence, p.asset_air_defence, s.asset_on,
                                   s.asset_holder, n)
        fire = fighting.firepower(p.ground, p.air, cover)
        s.intensity = fighting.intensity(s.rung, p.rung_intensity, lay.armed_from, attack,
                                         p.attack_boost)
        rates = fighting.loss_rates(s.intensity, fire, p.exposure, p.loss_rate)
        losses_today = rng.poisson(day, Stream.LOSSES, rates)
        if s.casualty_shock is not None:  # a dated mass-casualty event (timeline)
            losses_today = losses_today + s.casualty_shock
            s.casualty_shock = None
        s.losses_by = s.losses_by + losses_today
        armed = (s.rung >= lay.armed_from) | (attack > 0)
        power = fighting.contest_power(p.ground, p.air, cover, s.affinity, armed)
        win = fighting.win_share(power, p.contest_exponent)
        noise = 0.5 + rng.uniform(day, Stream.CONTROL, (n, n))
        control_before = s.control
        s.control = fighting.shift_control(s.control, s.intensity, attack, win, p.speed,
                                           self.can_hold, p.attack_boost, noise)
        lost = np.maximum(control_before - s.control, 0.0)
        lost_ground = (lost * p.value).sum(axis=1)  # (R, A)
        shifted = lost.sum(axis=2)  # (R, O) share of each objective that changed hands

        # 5. the ladder
        casualties = ((losses_today + np.swapaxes(losses_today, 1, 2)) > 0).astype(float)
        weariness = (s.losses_by + np.swapaxes(s.losses_by, 1, 2)).astype(float)
        drive = escalation.drive(attack, sanction, deescalate, casualties, weariness, p.trade,
                                 self._mediation(day), p)
        u_ladder = rng.symmetric_uniform(day, Stream.ESCALATION, n)
        s.rung = escalation.step(s.rung, drive, u_ladder, cap, len(lay.rungs), p)
        self.rung_max = np.maximum(self.rung_max, s.rung)
        for i, j in lay.dyads():
            self.trackers.mark(f"war.{lay.dyad_name(i, j)}", s.rung[:, i, j] >= lay.war_from,
                               day)

        # 6. refugees
        hosted_before = s.people @ self.host_onehot
        node_shift = np.where(lay.node_objective >= 0,
                              shifted[:, np.maximum(lay.node_objective, 0)], 0.0)
        moved = refugees.step(
            s.people, s.dead, lay, p, fighting=refugees.theatre_intensity(s.intensity),
            ground_shift=node_shift, gate_open=s.gate_open, relief=self._relief(),
            u_deaths=rng.uniform(day, Stream.DEATHS, (len(lay.nodes),)),
            u_moves=rng.uniform(day, Stream.REFUGEES, (2 * lay.edge_src.size,)))
        s.people, s.dead = moved["people"], moved["dead"]
        s.displaced = s.displaced + moved["left_conflict"]
        self.people_peak = np.maximum(self.people_peak, s.people)
        new_on_soil = np.maximum(s.people @ self.host_onehot - hosted_before, 0)
        s.arrivals = 0.7 * s.arrivals + 0.3 * new_on_soil

        # 7. pressure and grievances
        shock = 0.0 if s.pressure_shock is None else s.pressure_shock
        s.pressure = pressure.step(s.pressure, losses_today.sum(axis=2), new_on_soil,
                                   lost_ground, shock, p)
        s.pressure_shock = None
        self.pressure_max = np.maximum(self.pressure_max, s.pressure)
        s.grievance = pressure.grievance_step(s.grievance, losses_today)

        # 8. affinities
        both = lambda x: x + np.swapaxes(x, 1, 2)  # noqa: E731
        affinity_delta += (-sc(p.aff_attack, 3) * both(attack)
                           - sc(p.aff_sanction, 3) * both(sanction)
                           + sc(p.aff_deescalation, 3) * both(deescalate))
        affinity_delta += self._gate_costs()
        if s.affinity_shock is not None:
            affinity_delta += s.affinity_shock
            s.affinity_shock = None
        noise = rng.symmetric_normal(day, Stream.ALLIANCES, n)
        s.affinity = alliances.step(s.affinity, affinity_delta, noise, p)
        align = alliances.alignment(s.affinity, lay.bloc_sign)
        moved_over = alliances.realigned(align, self.alignment0, p.realignment_threshold)
        for a in range(n):
            self.trackers.mark(f"realigned.{lay.actors[a]}", moved_over[:, a], day)

        s.attack_prev = attack
        self.attack_days += attack.astype(np.int64)
        if self.log_events:
            self._log_day(day, choice)
        self._record(day + 1)
        if self.steps >= self.days:
            self.running = False
        if self.replications.size == 1:
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ helpers

    def _blocked(self, k: int, t: int) -> np.ndarray:
        """``(R,)`` True where recipient t has activated an asset that bars asset k."""
        s, p = self.state, self.params
        bars = p.asset_requires_inactive[:, k, :]  # (P, K)
        return ((s.asset_holder == t) & s.asset_on & bars).any(axis=1)

    def _rung_cap(self) -> np.ndarray:
        lay, p, s = self.layout, self.params, self.state
        top = len(lay.rungs) - 1
        cap = np.full(s.rung.shape, top)
        for d in range(len(lay.deals)):
            deal_cap = np.where(s.agreement[:, d], p.deal_cap[:, d] * np.ones(s.rung.shape[0],
                                                                             dtype=np.int64), top)
            cap = np.where(lay.deal_ceasefire[d][None], np.minimum(cap, deal_cap[:, None, None]),
                           cap)
        return cap

    def _mediation(self, day: int) -> np.ndarray:
        n = self.layout.n_actors
        out = np.zeros((n, n))
        active = []
        for a, b, amount, last in self.state.mediation:
            if day <= last:
                out[a, b] += amount
                out[b, a] += amount
                active.append((a, b, amount, last))
        self.state.mediation = active
        return out

    def _gate_costs(self) -> np.ndarray:
        """Daily affinity cost between a gate's owner and the hosts beyond it while it is open."""
        s, p, lay = self.state, self.params, self.layout
        n = lay.n_actors
        out = np.zeros((self.replications.size, n, n))
        for g in range(len(lay.gates)):
            owner = lay.gate_owner[g]
            routes = np.flatnonzero(lay.edge_gate == g)
            hosts = {int(h) for h in lay.node_host[lay.edge_dst[routes]] if h >= 0 and h != owner}
            for h in hosts:
                cost = s.gate_open[:, g] * p.gate_cost
                out[:, owner, h] -= cost
                out[:, h, owner] -= cost
        return out

    def _log_day(self, day: int, choice: np.ndarray) -> None:
        """Replication 0's choices (other than holding) and events of the day, in words."""
        lay = self.layout
        when = self._date(day)
        names = self._names
        for actor in self.actors:
            label = lay.menu.labels[int(choice[0, actor.index])]
            if not label.startswith("hold"):
                self.log.append((day, f"{when} {describe_action(actor.actor_id, label, names)}"))
        for name, happened in self.trackers.today:
            if happened[0] and name != "agreement":  # the named deal's entry says which
                self.log.append((day, f"{when} {describe_event(name, names)}"))
        rung, before = self.state.rung[0], self._logged_rung
        for i, j in lay.dyads():
            if rung[i, j] != before[i, j]:
                self.log.append((day, f"{when} {lay.actor_names[i]} – {lay.actor_names[j]}: "
                                      f"{lay.rung_names[before[i, j]]} → "
                                      f"{lay.rung_names[rung[i, j]]}"))
        self._logged_rung = rung.copy()

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


def series_names(layout) -> list[str]:
    """Daily series recorded per replication (trajectories, fan charts)."""
    names = [f"rung.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    names += [f"affinity.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    names += [f"losses.{a}" for a in layout.actors]
    names += [f"pressure.{a}" for a in layout.actors]
    names += [f"alignment.{a}" for a in layout.actors]
    names += [f"people.{node}" for node in layout.nodes]
    names += [f"control.{o}.{a}" for o in layout.objectives for a in layout.actors]
    return names


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
                   alliances.alignment(s.affinity, lay.bloc_sign), s.people, s.control, out)
    return out


@kernel
def _series_values(rung, affinity, losses_by, pressure, align, people, control, out):
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


__all__ = ["CrisisModel", "State", "series_names", "series_values"]
