"""Indicators and outcomes of a run (mechanism 10).

*Indicators* are one number per run, named by kind and subject (the columns of
``runs.parquet``):

=================================  ==========================================================
``losses.<actor>``                 military losses over the run
``losses.<actor>.by.<other>``      of which caused by that other actor's fire
``losses.<actor>.third_party``     its people killed where others fight (for each actor present
                                   in another dyad's theatre, ``actors.<actor>.present_in``;
                                   not part of ``losses.<actor>``)
``people.<node>.peak`` / ``.final`` people at a node: highest daily count, last day
``displaced.total``                people who ever left a conflict node
``dead.total``                     civilian deaths
``rung.<a>~<b>.max`` / ``.final``  escalation rung (position on the ladder, 0 = lowest)
``affinity.<a>~<b>.final``         affinity on the last day
``alignment.<actor>.final``        alignment on the last day (+ first bloc, - second)
``pressure.<actor>.max``/``.final`` domestic pressure
``sanction_cost.<actor>.final``    economic cost of the sanctions on the actor, last day
``attacks.<a>.<b>``                days on which a attacked b (for each attack in a's menu)
``threats.<a>.<b>``                days on which a threatened b (for each threaten in a's menu)
``incidents.<a>~<b>``              incidents nobody chose between the two (for each dyad whose
                                   forces are in contact, ``relations.<a>~<b>.contact``)
``air_support.<a>.<b>.days``       days on which a flew air support against b (for each
                                   air_support in a's menu, whatever the client)
``air_losses.<b>.by.<a>``          losses of b from a's air support (part of
                                   ``losses.<b>.by.<a>``, whoever b blamed)
``control.<objective>.<actor>.final`` share of the objective held on the last day
``agreement.<deal>.final``         1 if the agreement is in force on the last day
``<state>.days``                   days on which the state was in effect (see below)
``<state>.held``                   longest spell in effect, in days in a row
``<state>.final``                  1 if in effect on the last day
``day.<event>``                    first day (0 = start date) the event happened; empty if never
=================================  ==========================================================

*States* are what is in effect or not on each day (``state_names``): ``agreement`` (any deal
in force), ``agreement.<deal>``, ``asset.<asset>`` (granted or activated), ``gate.<gate>``
(open), ``sanctions.<actor>.<target>`` (the actor's sanctions on the target in force that
day, for each sanction in its menu or in force on day 0: a sanction stays in force until
lifted) and ``war.<a>~<b>`` (the dyad at or above the ladder's ``war_from``). A state in
effect from day 0 counts from day 0.

Events for ``day.<event>``: ``agreement`` (any deal), ``agreement.<deal>``,
``breakdown.<deal>``, ``crossed.<red line>``, ``answered.<red line>`` (the author's first
attack or air support against the offender after the line was crossed), ``granted.<asset>``,
``activated.<asset>``, ``requested.<asset>``, ``opened.<gate>``, ``closed.<gate>``,
``realigned.<actor>``, ``war.<a>~<b>`` (the dyad reached the ladder's ``war_from`` rung); and
from the states, ``sanctioned.<actor>.<target>`` (first
day imposed) and ``lifted.<actor>.<target>`` (first day without, after a day with); and from
the one-off acts in the menus (``once``, ``withdraw``), ``once.<actor>.<verb>.<target>`` and
``withdrew.<actor>.<target>`` (the day it was taken). An asset
in effect on day 0 counts as granted on day 0 (as activated if its holder is its owner), a
gate open on day 0 as opened on day 0: a counterfactual that puts them in place shows them.

*Outcomes* are named classes defined in the scenario by structured conditions over these
indicators (never code): a comparison ``{indicator, op, value | rung}``, a state ``{state,
at: any | end}`` (in effect at any time, or at the end) or ``{state, held: N}`` (in effect N
days in a row), or ``all``/``any``/``not`` of conditions. A day indicator that never happened
compares false, except with ``never``.
"""

from __future__ import annotations

import operator
from difflib import get_close_matches

import numpy as np

from sim.jit import kernel
from sim.scenario.schema import VERBS, Condition, Scenario

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne}


def indicator_names(layout) -> list[str]:
    """Every indicator column a run of this layout has, in a stable order."""
    dyads = [layout.dyad_name(i, j) for i, j in layout.dyads()]
    names = [f"losses.{a}" for a in layout.actors]
    names += [f"losses.{a}.by.{b}" for a in layout.actors for b in layout.actors if a != b]
    names += [f"losses.{layout.actors[k]}.third_party" for k in layout.third_parties()]
    for node in layout.nodes:
        names += [f"people.{node}.peak", f"people.{node}.final"]
    names += ["displaced.total", "dead.total"]
    for d in dyads:
        names += [f"rung.{d}.max", f"rung.{d}.final"]
    names += [f"affinity.{d}.final" for d in dyads]
    names += [f"alignment.{a}.final" for a in layout.actors]
    for a in layout.actors:
        names += [f"pressure.{a}.max", f"pressure.{a}.final"]
    names += [f"sanction_cost.{a}.final" for a in layout.actors]
    names += [f"attacks.{a}.{b}" for a, b in _attack_pairs(layout)]
    names += [f"threats.{a}.{b}" for a, b in _menu_pairs(layout, "threaten")]
    names += [f"incidents.{layout.dyad_name(i, j)}" for i, j in _contact_dyads(layout)]
    for a, b in _air_pairs(layout):
        names += [f"air_support.{a}.{b}.days", f"air_losses.{b}.by.{a}"]
    names += [f"control.{o}.{a}.final" for o in layout.objectives for a in layout.actors]
    names += [f"agreement.{d}.final" for d in layout.deals]
    names += [name for name, _, _ in _reach_columns(layout)]
    for x in state_names(layout):
        names += [f"{x}.days", f"{x}.held"]
        if not (x.startswith("agreement.") and x.removeprefix("agreement.") in layout.deals):
            names.append(f"{x}.final")
    names += [f"day.{e}" for e in event_names(layout)]
    names += [f"day.{e}" for e in _sanction_events(layout)]
    names += [f"day.{e}" for e in red_line_events(layout)]
    names += [f"day.{e}" for e in one_off_events(layout)]
    return names


def one_off_events(layout, per_entry: bool = False) -> list[str]:
    """The events of the one-off acts in the menus (``day.<event>``: the day it was taken).

    ``withdrew.<a>.<t>`` for a withdrawal, ``once.<a>.<verb>.<target>`` for a ``once`` entry.
    ``per_entry``: one name per one-off entry, in menu order (repeats where two entries share
    one, e.g. one-off air support of two clients against one target); else each once.
    """
    menu, actors = layout.menu, layout.actors
    names = []
    for e in np.flatnonzero(menu.once > 0):
        a, t, verb = actors[menu.actor[e]], actors[menu.target[e]], VERBS[menu.verb[e]]
        names.append(f"withdrew.{a}.{t}" if verb == "withdraw" else f"once.{a}.{verb}.{t}")
    return names if per_entry else list(dict.fromkeys(names))


def red_line_events(layout) -> list[str]:
    """The red lines' events: ``crossed.<line>`` for each line, then ``answered.<line>``."""
    return [f"{kind}.{line}" for kind in ("crossed", "answered") for line in layout.red_lines]


def state_names(layout) -> list[str]:
    """Every state whose days in effect are indicators, in the order of ``in_effect``."""
    names = ["agreement"] + [f"agreement.{d}" for d in layout.deals]
    names += [f"asset.{k}" for k in layout.assets]
    names += [f"gate.{g}" for g in layout.gates]
    names += [f"sanctions.{a}.{b}" for a, b in _sanction_pairs(layout)]
    names += [f"war.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    return names


def _menu_pairs(layout, verb: str) -> list[tuple[str, str]]:
    """(actor, target) of every ``verb`` in the menus, once each, in menu order."""
    menu = layout.menu
    entries = menu.entries(verb)
    pairs = [(layout.actors[menu.actor[e]], layout.actors[menu.target[e]]) for e in entries]
    return list(dict.fromkeys(pairs))


def _reach_columns(layout) -> list[tuple[str, int, int | None]]:
    """(name, deal, side) of the ``reach.*`` indicators, in column order.

    ``reach.<deal>`` (side None: the best day's least willing party), then
    ``reach.<deal>.<party>`` for each signatory.
    """
    out: list[tuple[str, int, int | None]] = []
    for d, deal in enumerate(layout.deals):
        out.append((f"reach.{deal}", d, None))
        out += [(f"reach.{deal}.{layout.actors[a]}", d, side)
                for side, a in enumerate(layout.deal_sides[d]) if layout.deal_signs[d, side]]
    return out


def _contact_dyads(layout) -> list[tuple[int, int]]:
    """The dyads whose forces are in contact (incidents possible), in dyad order."""
    return [(i, j) for i, j in layout.dyads() if layout.contact[i, j]]


def _sanction_pairs(layout) -> list[tuple[str, str]]:
    """(actor, target) of every sanction in a menu, then of those in force on day 0 only."""
    pairs = _menu_pairs(layout, "sanction")
    start = getattr(layout, "sanctions0", None)
    if start is not None:
        pairs += [(layout.actors[i], layout.actors[j]) for i, j in zip(*np.nonzero(start),
                                                                       strict=True)]
    return list(dict.fromkeys(pairs))


def _sanction_events(layout) -> list[str]:
    pairs = _sanction_pairs(layout)
    return ([f"sanctioned.{a}.{b}" for a, b in pairs] + [f"lifted.{a}.{b}" for a, b in pairs])


def in_effect(model) -> np.ndarray:
    """``(R, X)`` bool: each state of ``state_names`` in effect now (after the day)."""
    s, lay = model.state, model.layout
    index = {a: i for i, a in enumerate(lay.actors)}
    sanction = model.workspace.sanction
    parts = [s.agreement.any(axis=1)[:, None], s.agreement, s.asset_on, s.gate_open]
    parts += [sanction[:, index[a], index[b]][:, None] > 0 for a, b in _sanction_pairs(lay)]
    i, j = np.triu_indices(lay.n_actors, 1)
    parts.append(s.rung[:, i, j] >= lay.war_from)
    return np.concatenate(parts, axis=1)


class Holdings:
    """Days in effect, longest spells and first days of every state, per replication.

    Args:
        layout: The model's layout (``state_names``).
        r: Number of replications.
    """

    def __init__(self, layout, r: int) -> None:
        self.names = state_names(layout)
        x = len(self.names)
        self.days = np.zeros((r, x), dtype=np.int64)
        self.spell = np.zeros((r, x), dtype=np.int64)
        self.held = np.zeros((r, x), dtype=np.int64)
        self.now = np.zeros((r, x), dtype=bool)
        self.first_on = np.full((r, x), np.nan)
        self.first_off = np.full((r, x), np.nan)
        self._sanctions = [self.names.index(f"sanctions.{a}.{b}")
                           for a, b in _sanction_pairs(layout)]
        self._sanction_names = [f"{a}.{b}" for a, b in _sanction_pairs(layout)]
        index = {a: i for i, a in enumerate(layout.actors)}
        self._pairs = np.array([[index[a], index[b]] for a, b in _sanction_pairs(layout)],
                               dtype=np.int64).reshape(-1, 2)
        self._war_from = int(getattr(layout, "war_from", 0))
        self._flags = np.zeros((r, x), dtype=bool)

    def note(self, model, day: int) -> None:
        """``update`` with the states of ``in_effect``, in one compiled pass (a day's cost)."""
        s = model.state
        _note(s.agreement, s.asset_on, s.gate_open, model.workspace.sanction, self._pairs,
              s.rung, self._war_from, day, self._flags, self.days, self.spell, self.held,
              self.now, self.first_on, self.first_off)

    def update(self, flags: np.ndarray, day: int) -> None:
        """Note the states in effect after ``day`` (``in_effect``)."""
        on_before = ~np.isnan(self.first_on)
        lifted = on_before & ~flags & np.isnan(self.first_off)
        self.first_off[lifted] = day
        self.first_on[~on_before & flags] = day
        self.days += flags
        self.spell += 1
        self.spell *= flags
        np.maximum(self.held, self.spell, out=self.held)
        self.now = flags

    def values(self) -> dict[str, np.ndarray]:
        """The state indicators (``<state>.days``, ``.held``, ``.final``) and sanction days."""
        out: dict[str, np.ndarray] = {}
        for x, name in enumerate(self.names):
            out[f"{name}.days"] = self.days[:, x].astype(float)
            out[f"{name}.held"] = self.held[:, x].astype(float)
            out[f"{name}.final"] = self.now[:, x].astype(float)
        for x, name in zip(self._sanctions, self._sanction_names, strict=True):
            out[f"day.sanctioned.{name}"] = self.first_on[:, x].copy()
        for x, name in zip(self._sanctions, self._sanction_names, strict=True):
            out[f"day.lifted.{name}"] = self.first_off[:, x].copy()
        return out


@kernel
def _note(agreement, asset_on, gate_open, sanction, pairs, rung, war_from, day, flags, days,
          spell, held, now, first_on, first_off):
    """``Holdings.update`` of the states of ``in_effect``, for every replication, in place."""
    n = rung.shape[1]
    for r in range(flags.shape[0]):
        x = 1
        flags[r, 0] = False
        for d in range(agreement.shape[1]):
            flags[r, 0] |= agreement[r, d]
            flags[r, x] = agreement[r, d]
            x += 1
        for k in range(asset_on.shape[1]):
            flags[r, x] = asset_on[r, k]
            x += 1
        for g in range(gate_open.shape[1]):
            flags[r, x] = gate_open[r, g]
            x += 1
        for p in range(pairs.shape[0]):
            flags[r, x] = sanction[r, pairs[p, 0], pairs[p, 1]] > 0
            x += 1
        for i in range(n):
            for j in range(i + 1, n):
                flags[r, x] = rung[r, i, j] >= war_from
                x += 1
        for x in range(flags.shape[1]):
            on = flags[r, x]
            if np.isnan(first_on[r, x]):
                if on:
                    first_on[r, x] = day
            elif not on and np.isnan(first_off[r, x]):
                first_off[r, x] = day
            days[r, x] += 1 if on else 0
            spell[r, x] = spell[r, x] + 1 if on else 0
            held[r, x] = max(held[r, x], spell[r, x])
            now[r, x] = on


def in_effect_at_start(layout, state) -> dict[str, np.ndarray]:
    """Events that count as happened on day 0 because their result is in place from the start.

    An asset in effect on day 0 counts as granted (as activated if its holder is its owner);
    a gate open on day 0 as opened. Returns ``{event name: (R,) bool}``.
    """
    out = {}
    for k, asset in enumerate(layout.assets):
        on = state.asset_on[:, k]
        own = state.asset_holder[:, k] == layout.asset_owner[k]
        out[f"granted.{asset}"] = on & ~own
        out[f"activated.{asset}"] = on & own
    for g, gate in enumerate(layout.gates):
        out[f"opened.{gate}"] = state.gate_open[:, g].copy()
    return out


def _attack_pairs(layout) -> list[tuple[str, str]]:
    """(actor, target) of every attack in the menus, once each.

    A one-off attack beside a held one on the same target counts in the same days.
    """
    return _menu_pairs(layout, "attack")


def _air_pairs(layout) -> list[tuple[str, str]]:
    """(patron, target) of every air_support in the menus, once each."""
    return _menu_pairs(layout, "air_support")


def event_names(layout) -> list[str]:
    """Every event whose first day is an indicator (``day.<event>``)."""
    names = ["agreement"]
    names += [f"agreement.{d}" for d in layout.deals]
    names += [f"breakdown.{d}" for d in layout.deals]
    for k in layout.assets:
        names += [f"granted.{k}", f"activated.{k}", f"requested.{k}"]
    for g in layout.gates:
        names += [f"opened.{g}", f"closed.{g}"]
    names += [f"realigned.{a}" for a in layout.actors]
    names += [f"war.{layout.dyad_name(i, j)}" for i, j in layout.dyads()]
    return names


def indicators(model) -> dict[str, np.ndarray]:
    """Indicator values of every replication of a model, each ``(R,)``."""
    from sim.mechanisms.alliances import alignment

    s, lay = model.state, model.layout
    r = model.replications.size
    out: dict[str, np.ndarray] = {}
    losses = s.losses_by.sum(axis=2)
    for i, a in enumerate(lay.actors):
        out[f"losses.{a}"] = losses[:, i].astype(float)
    for i, a in enumerate(lay.actors):
        for j, b in enumerate(lay.actors):
            if i != j:
                out[f"losses.{a}.by.{b}"] = s.losses_by[:, i, j].astype(float)
    for k in lay.third_parties():
        out[f"losses.{lay.actors[k]}.third_party"] = s.third_losses[:, k].astype(float)
    for i, node in enumerate(lay.nodes):
        out[f"people.{node}.peak"] = model.state.people_peak[:, i].astype(float)
        out[f"people.{node}.final"] = s.people[:, i].astype(float)
    out["displaced.total"] = s.displaced.astype(float)
    out["dead.total"] = s.dead.astype(float)
    for i, j in lay.dyads():
        d = lay.dyad_name(i, j)
        out[f"rung.{d}.max"] = model.state.rung_max[:, i, j].astype(float)
        out[f"rung.{d}.final"] = s.rung[:, i, j].astype(float)
    for i, j in lay.dyads():
        out[f"affinity.{lay.dyad_name(i, j)}.final"] = s.affinity[:, i, j].copy()
    align = alignment(s.affinity, lay.bloc_sign)
    for i, a in enumerate(lay.actors):
        out[f"alignment.{a}.final"] = align[:, i].copy()
    for i, a in enumerate(lay.actors):
        out[f"pressure.{a}.max"] = model.state.pressure_max[:, i].copy()
        out[f"pressure.{a}.final"] = s.pressure[:, i].copy()
    for i, a in enumerate(lay.actors):
        out[f"sanction_cost.{a}.final"] = s.sanction_cost[:, :, i].sum(axis=1)
    index = {a: i for i, a in enumerate(lay.actors)}
    for a, b in _attack_pairs(lay):
        out[f"attacks.{a}.{b}"] = model.state.attack_days[:, index[a], index[b]].astype(float)
    for a, b in _menu_pairs(lay, "threaten"):
        out[f"threats.{a}.{b}"] = model.state.threat_days[:, index[a], index[b]].astype(float)
    for i, j in _contact_dyads(lay):
        out[f"incidents.{lay.dyad_name(i, j)}"] = model.state.incidents[:, i, j].astype(float)
    for a, b in _air_pairs(lay):
        i, j = index[a], index[b]
        out[f"air_support.{a}.{b}.days"] = model.state.support_days[:, i, j].astype(float)
        out[f"air_losses.{b}.by.{a}"] = model.state.air_losses[:, j, i].astype(float)
    for o, obj in enumerate(lay.objectives):
        for i, a in enumerate(lay.actors):
            out[f"control.{obj}.{a}.final"] = s.control[:, o, i].copy()
    for d, deal in enumerate(lay.deals):
        out[f"agreement.{deal}.final"] = s.agreement[:, d].astype(float)
    for name, d, side in _reach_columns(lay):  # how close each deal came to acceptance
        out[name] = (model.deal_margin[:, d] if side is None
                     else model.deal_best[:, d, side]).copy()
    held = model.holdings.values()
    for x in state_names(lay):
        out[f"{x}.days"], out[f"{x}.held"] = held[f"{x}.days"], held[f"{x}.held"]
        if f"{x}.final" not in out:
            out[f"{x}.final"] = held[f"{x}.final"]
    for e in event_names(lay):
        out[f"day.{e}"] = model.trackers.first_day.get(e, np.full(r, np.nan)).copy()
    for e in _sanction_events(lay):
        out[f"day.{e}"] = held[f"day.{e}"]
    for e, first in model.red_line_days.first_day.items():
        out[f"day.{e}"] = first.copy()
    for e, first in model.one_off_days().items():
        out[f"day.{e}"] = first
    return out


def evaluate(cond: Condition, values: dict[str, np.ndarray], rungs: list[str]) -> np.ndarray:
    """Evaluate a structured condition on indicator arrays; returns ``(R,)`` bool."""
    if cond.all is not None:
        out = np.ones_like(next(iter(values.values())), dtype=bool)
        for sub in cond.all:
            out &= evaluate(sub, values, rungs)
        return out
    if cond.any is not None:
        out = np.zeros_like(next(iter(values.values())), dtype=bool)
        for sub in cond.any:
            out |= evaluate(sub, values, rungs)
        return out
    if cond.not_ is not None:
        return ~evaluate(cond.not_, values, rungs)
    if cond.state is not None:
        if cond.held is not None:
            return values[f"{cond.state}.held"] >= cond.held
        if cond.at == "end":
            return values[f"{cond.state}.final"] > 0
        return values[f"{cond.state}.days"] > 0
    x = values[cond.indicator]
    if cond.op == "happened":
        return ~np.isnan(x)
    if cond.op == "never":
        return np.isnan(x)
    target = float(rungs.index(cond.rung)) if cond.rung is not None else float(cond.value)
    with np.errstate(invalid="ignore"):
        return _OPS[cond.op](x, target) & ~np.isnan(x)


def evaluate_outcomes(spec: Scenario, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every outcome of the scenario, ``{name: (R,) bool}``."""
    rungs = list(spec.ladder.rungs)
    return {name: evaluate(o.when, values, rungs) for name, o in spec.outcomes.items()}


def _swap_dyad(name: str) -> str:
    """``rung.b~a.max`` -> ``rung.a~b.max``."""
    parts = name.split(".")
    return ".".join("~".join(reversed(p.split("~"))) if "~" in p else p for p in parts)


def outcome_problems(spec: Scenario) -> list[tuple[str, str]]:
    """``(key path, message)`` for outcome conditions on indicators that do not exist."""
    from sim.world import compile_scenario

    layout = compile_scenario(spec).layout
    known, states = set(indicator_names(layout)), set(state_names(layout))
    problems = []


    def walk(cond: Condition, path: str) -> None:
        if cond.state is not None and cond.state not in states:
            close = get_close_matches(cond.state, sorted(states), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known: {sorted(states)}"
            problems.append((f"{path}.state", f"unknown state '{cond.state}'{hint}"))
        if cond.indicator is not None and cond.indicator not in known:
            swapped = _swap_dyad(cond.indicator)
            if swapped in known:
                hint = (f"; did you mean '{swapped}'? (a dyad is written in the order its "
                        "actors are listed under 'actors')")
            else:
                close = get_close_matches(cond.indicator, sorted(known), n=1, cutoff=0.5)
                hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append((f"{path}.indicator",
                             f"unknown indicator '{cond.indicator}'{hint} "
                             "(see docs/ODD.md, Outcomes, for the indicator names)"))
        elif cond.indicator is not None:
            family = cond.indicator.split(".", 1)[0]
            if cond.op in ("happened", "never") and family != "day":
                problems.append((f"{path}.op", f"'{cond.op}' applies to day.* indicators (a "
                                 f"first day, empty if never); '{cond.indicator}' always has "
                                 "a value: compare it with op and value instead"))
            if cond.rung is not None and family != "rung":
                problems.append((f"{path}.rung", f"'{cond.indicator}' is not a rung; compare "
                                 "a rung only with a rung.* indicator, or give a value"))
        for key in ("all", "any"):
            for i, sub in enumerate(getattr(cond, key) or []):
                walk(sub, f"{path}.{key}[{i}]")
        if cond.not_ is not None:
            walk(cond.not_, f"{path}.not")

    for name, outcome in spec.outcomes.items():
        walk(outcome.when, f"outcomes.{name}.when")
    return problems
