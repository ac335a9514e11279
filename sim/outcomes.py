"""Indicators and outcomes of a run (mechanism 10).

*Indicators* are one number per run, named by kind and subject (the columns of
``runs.parquet``):

=================================  ==========================================================
``losses.<actor>``                 military losses over the run
``losses.<actor>.by.<other>``      of which caused by that other actor's fire
``people.<node>.peak`` / ``.final`` people at a node: highest daily count, last day
``displaced.total``                people who ever left a conflict node
``dead.total``                     civilian deaths
``rung.<a>~<b>.max`` / ``.final``  escalation rung (position on the ladder, 0 = lowest)
``affinity.<a>~<b>.final``         affinity on the last day
``alignment.<actor>.final``        alignment on the last day (+ first bloc, - second)
``pressure.<actor>.max``/``.final`` domestic pressure
``attacks.<a>.<b>``                days on which a attacked b (for each attack in a's menu)
``control.<objective>.<actor>.final`` share of the objective held on the last day
``agreement.<deal>.final``         1 if the agreement is in force on the last day
``day.<event>``                    first day (0 = start date) the event happened; empty if never
=================================  ==========================================================

Events for ``day.<event>``: ``agreement`` (any deal), ``agreement.<deal>``,
``breakdown.<deal>``, ``granted.<asset>``, ``activated.<asset>``, ``requested.<asset>``,
``opened.<gate>``, ``closed.<gate>``, ``realigned.<actor>``, ``war.<a>~<b>`` (the dyad reached
the ladder's ``war_from`` rung).

*Outcomes* are named classes defined in the scenario by structured conditions over these
indicators (never code): a comparison ``{indicator, op, value | rung}``, or ``all``/``any``/
``not`` of conditions. A day indicator that never happened compares false, except with
``never``.
"""

from __future__ import annotations

import operator
from difflib import get_close_matches

import numpy as np

from sim.scenario.schema import Condition, Scenario

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne}


def indicator_names(layout) -> list[str]:
    """Every indicator column a run of this layout has, in a stable order."""
    dyads = [layout.dyad_name(i, j) for i, j in layout.dyads()]
    names = [f"losses.{a}" for a in layout.actors]
    names += [f"losses.{a}.by.{b}" for a in layout.actors for b in layout.actors if a != b]
    for node in layout.nodes:
        names += [f"people.{node}.peak", f"people.{node}.final"]
    names += ["displaced.total", "dead.total"]
    for d in dyads:
        names += [f"rung.{d}.max", f"rung.{d}.final"]
    names += [f"affinity.{d}.final" for d in dyads]
    names += [f"alignment.{a}.final" for a in layout.actors]
    for a in layout.actors:
        names += [f"pressure.{a}.max", f"pressure.{a}.final"]
    names += [f"attacks.{a}.{b}" for a, b in _attack_pairs(layout)]
    names += [f"control.{o}.{a}.final" for o in layout.objectives for a in layout.actors]
    names += [f"agreement.{d}.final" for d in layout.deals]
    names += [f"day.{e}" for e in event_names(layout)]
    return names


def _attack_pairs(layout) -> list[tuple[str, str]]:
    menu = layout.menu
    entries = menu.entries("attack")
    return [(layout.actors[menu.actor[e]], layout.actors[menu.target[e]]) for e in entries]


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
    index = {a: i for i, a in enumerate(lay.actors)}
    for a, b in _attack_pairs(lay):
        out[f"attacks.{a}.{b}"] = model.state.attack_days[:, index[a], index[b]].astype(float)
    for o, obj in enumerate(lay.objectives):
        for i, a in enumerate(lay.actors):
            out[f"control.{obj}.{a}.final"] = s.control[:, o, i].copy()
    for d, deal in enumerate(lay.deals):
        out[f"agreement.{deal}.final"] = s.agreement[:, d].astype(float)
    for e in event_names(lay):
        out[f"day.{e}"] = model.trackers.first_day.get(e, np.full(r, np.nan)).copy()
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

    known = set(indicator_names(compile_scenario(spec).layout))
    problems = []

    def walk(cond: Condition, path: str) -> None:
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
