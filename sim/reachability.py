"""Which outcomes the scenario's structure makes impossible (or certain), whatever the dice.

An outcome seen in no run may be *rare* (possible, but rarer than one run in the ensemble) or
*impossible by construction* (nothing in the scenario can make it happen: a deal nobody can
propose, an asset nobody can grant, an objective nobody can take). A user must tell them apart:
the first is a forecast of "unlikely", the second a property of the scenario file that a
probability of 0 does not explain. Likewise an outcome in every run may be forced (the
negation of an impossible one).

The analysis reads the scenario, never the runs, and is conservative: a condition is called
impossible (or certain) only when the mechanisms provably forbid (or force) it in every run,
from these facts of the model (docs/ODD.md):

* a deal comes into force only when an actor chooses ``negotiate`` for it, so a deal on no
  menu is never in force (``agreement.<deal>``; its ``breakdown``; its transfers, gates and
  grants never apply);
* an asset is in effect only if it is on at the start, granted (``grant_support`` on a menu, or
  a deal that can come into force grants it) or activated (``activate`` on a menu); requested
  only through ``request_support``; one on at the start (``deployed_at_start``,
  ``active_at_start``) is in effect on day 0, which a state condition ``at: any`` counts;
* a gate changes only by ``open_gate``/``close_gate`` on a menu, a deal's gate term, a dated
  gate event or its fixed ``policy``;
* control of an objective moves only by an attack (an actor with ``attack`` on its menu, ground
  forces and a stake in the objective, against someone who holds or can come to hold a share)
  or by a deal's transfer; an actor that can never hold a share keeps 0;
* no spell of a state is longer than the run.

Anything else (the ladder's dynamics, losses, refugees, affinities) is left undecided: the
outcome is then "not seen", never "impossible". Of such an outcome, when it needs a deal, the
runs' own record (``reach.<deal>`` indicators, ``deal_reach``) can still say that no run ever
had the deal within reach: every party's perceived surplus above zero on one day is what
signing needs, so a deal never within reach was kept out by the scenario's values, not by the
number of runs. Values drawn per run (``--uncertain``,
``--posterior``) are taken as possibly anything: a fact resting on a varied value is dropped.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from sim.scenario.schema import Condition, Scenario

IMPOSSIBLE, CERTAIN = "impossible", "certain"
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class Verdict:
    """What the structure says of a condition: ``impossible``, ``certain`` or None, and why."""

    verdict: str | None
    why: str = ""


_UNKNOWN = Verdict(None)


class _Facts:
    """What a scenario's structure allows: deals, assets, gates, control, states at day 0."""

    def __init__(self, spec: Scenario, varied: frozenset[str]):
        self.spec = spec
        self.varied = varied
        menu = [(a, act) for a, actor in spec.actors.items() for act in actor.actions]
        self.menu = menu
        self.proposable = {act.deal for _, act in menu if act.verb == "negotiate"}
        self.deals_possible = {d for d in spec.deals if d in self.proposable}

    # ----------------------------------------------------------------- deals

    def deal_why_not(self, deal: str) -> str | None:
        if deal in self.deals_possible:
            return None
        return f"no actor has 'negotiate' for deal '{deal}' on its menu, so it never comes " \
               "into force"

    # ----------------------------------------------------------------- assets

    def _asset_at_start(self, k: str) -> bool:
        a = self.spec.assets[k]
        return (a.active_at_start or a.deployed_at_start is not None
                or any(p.startswith(f"assets.{k}.") for p in self.varied))

    def asset_why_never(self, k: str, event: str = "in effect") -> str | None:
        """Why asset k is never in effect (or never granted/activated), or None."""
        if self._asset_at_start(k):
            return None
        verbs = {"granted": ("grant_support",), "activated": ("activate",),
                 "in effect": ("grant_support", "activate")}[event]
        if any(act.verb in verbs and act.asset == k for _, act in self.menu):
            return None
        if event != "activated" and any(k in self.spec.deals[d].grants
                                        for d in self.deals_possible):
            return None
        how = {"granted": "no menu has 'grant_support' for it and no deal that can come into "
                          "force grants it",
               "activated": "no menu has 'activate' for it",
               "in effect": "no menu has 'grant_support' or 'activate' for it and no deal that "
                            "can come into force grants it"}[event]
        return f"asset '{k}' is not on at the start and {how}"

    # ----------------------------------------------------------------- gates

    def _gate_moves(self, g: str, to_open: bool) -> bool:
        gate = self.spec.refugees.gates[g]
        if any(p.startswith(f"refugees.gates.{g}.") for p in self.varied):
            return True
        if gate.policy == ("open" if to_open else "closed") or any(
                e.kind == "gate" and e.gate == g and e.open is to_open
                for e in self.spec.timeline):
            return True
        if gate.policy != "decide":
            return False  # the policy fixes it the other way every day
        verb = "open_gate" if to_open else "close_gate"
        state = "open" if to_open else "closed"
        return (any(act.verb == verb and act.gate == g for _, act in self.menu)
                or any(self.spec.deals[d].gates.get(g) == state for d in self.deals_possible))

    def gate_why_never_open(self, g: str) -> str | None:
        gate = self.spec.refugees.gates[g]
        if gate.open or self._gate_moves(g, True):
            return None
        return (f"gate '{g}' is closed at the start and nothing can open it (policy "
                f"'{gate.policy}'; no 'open_gate' on a menu, no deal that can come into force "
                "opens it, no dated event)")

    def gate_why_never_closed(self, g: str) -> str | None:
        gate = self.spec.refugees.gates[g]
        if self._gate_moves(g, False):
            return None
        if not gate.open:
            return None  # closed at the start: "closed" in effect, though never "closed" event
        return (f"gate '{g}' is open at the start and nothing can close it (policy "
                f"'{gate.policy}'; no 'close_gate' on a menu, no deal that can come into force "
                "closes it, no dated event)")

    # ----------------------------------------------------------------- control

    def _can_hold(self, o: str, a: str) -> bool:
        obj = self.spec.theatre.objectives[o]
        if any(p.startswith(f"actors.{a}.capabilities.ground") for p in self.varied):
            ground = True
        else:
            ground = self.spec.actors[a].capabilities.ground > 0
        return ground and (obj.value.get(a, 0) > 0 or obj.control.get(a, 0) > 0)

    def control_fixed(self, o: str) -> tuple[dict[str, bool], str | None]:
        """Who can ever hold a share of objective o; and why it never changes hands (or None)."""
        obj = self.spec.theatre.objectives[o]
        if any(o in self.spec.deals[d].transfer for d in self.deals_possible) or any(
                p.startswith(f"theatre.objectives.{o}.") for p in self.varied):
            return {a: True for a in self.spec.actors}, None
        holders = {a for a, share in obj.control.items() if share > 0}
        attacks = [(a, act.target) for a, act in self.menu if act.verb == "attack"]
        moving = False
        changed = True
        while changed:
            changed = False
            for a, t in attacks:
                if t in holders and self._can_hold(o, a):
                    moving = True
                    if a not in holders:
                        holders.add(a)
                        changed = True
        can = {a: a in holders for a in self.spec.actors}
        if moving:
            return can, None
        return can, (f"objective '{o}' cannot change hands: no actor with ground forces and a "
                     "stake in it has an attack on a holder on its menu, and no deal that can "
                     "come into force transfers it")

    def control_at_start(self, o: str, a: str) -> float:
        return float(self.spec.theatre.objectives[o].control.get(a, 0.0))


# --------------------------------------------------------------------------- states, events


def _state_never(facts: _Facts, state: str) -> str | None:
    """Why a state is never in effect in any run, or None."""
    spec = facts.spec
    if state == "agreement":
        if facts.deals_possible:
            return None
        return "no deal can come into force: no actor has 'negotiate' on its menu" \
            if spec.deals else "the scenario has no deals"
    kind, _, name = state.partition(".")
    if kind == "agreement" and name in spec.deals:
        return facts.deal_why_not(name)
    if kind == "asset" and name in spec.assets:
        return facts.asset_why_never(name)
    if kind == "gate" and name in spec.refugees.gates:
        return facts.gate_why_never_open(name)
    return None


def _state_at_start(facts: _Facts, state: str) -> str | None:
    """Why a state is in effect on day 0 of every run (an asset or a gate on at the start).

    A counterfactual that deploys an asset on day 0 makes "the asset is in effect at some
    time" certain: its +85 points against the baseline are the premise, not a finding (issue
    #26: ``sim report`` marks such effects "by construction"); so does one that opens a gate
    for good (open at the start with nothing that can close it: a gate open on day 0 that its
    owner may close that very morning is not recorded open in every run).
    """
    kind, _, name = state.partition(".")
    if kind == "gate" and name in facts.spec.refugees.gates:
        return facts.gate_why_never_closed(name)
    if kind != "asset" or name not in facts.spec.assets \
            or any(p.startswith(f"assets.{name}.") for p in facts.varied):
        return None
    asset = facts.spec.assets[name]
    if asset.deployed_at_start is not None:
        return f"asset '{name}' is deployed to '{asset.deployed_at_start}' on day 0"
    if asset.active_at_start:
        return f"asset '{name}' is active on day 0"
    return None


def _event_never(facts: _Facts, event: str) -> str | None:
    """Why the event of a ``day.<event>`` column never happens, or None."""
    spec = facts.spec
    if event == "agreement":
        return _state_never(facts, "agreement")
    kind, _, name = event.partition(".")
    if kind in ("agreement", "breakdown") and name in spec.deals:
        return facts.deal_why_not(name)
    if kind in ("granted", "activated") and name in spec.assets:
        return facts.asset_why_never(name, kind)
    if kind == "requested" and name in spec.assets:
        if any(act.verb == "request_support" and act.asset == name for _, act in facts.menu):
            return None
        return f"no menu has 'request_support' for asset '{name}'"
    if kind == "opened" and name in spec.refugees.gates:
        return facts.gate_why_never_open(name)
    if kind == "closed" and name in spec.refugees.gates:
        return (facts.gate_why_never_open(name) if not spec.refugees.gates[name].open
                else facts.gate_why_never_closed(name))
    return None


def _indicator_value(facts: _Facts, indicator: str) -> tuple[float | None, str]:
    """A value the indicator provably takes in every run (NaN: a day that never comes)."""
    parts = indicator.split(".")
    spec = facts.spec
    if parts[0] == "day" and len(parts) >= 2:
        why = _event_never(facts, ".".join(parts[1:]))
        return (math.nan, why) if why else (None, "")
    if parts[0] == "control" and len(parts) == 4 and parts[3] == "final" \
            and parts[1] in spec.theatre.objectives and parts[2] in spec.actors:
        o, a = parts[1], parts[2]
        can, why = facts.control_fixed(o)
        if why:
            return facts.control_at_start(o, a), why
        if not can[a]:
            return 0.0, (f"'{a}' can never hold a share of objective '{o}' (no ground forces "
                         "or no stake in it, or no attack on a holder on its menu), and no deal "
                         "that can come into force transfers it")
        return None, ""
    if parts[0] == "agreement" and len(parts) == 3 and parts[2] == "final" \
            and parts[1] in spec.deals:
        why = facts.deal_why_not(parts[1])
        return (0.0, why) if why else (None, "")
    if parts[-1] in ("days", "held", "final") and len(parts) >= 2:
        why = _state_never(facts, ".".join(parts[:-1]))
        return (0.0, why) if why else (None, "")
    return None, ""


def verdict(spec: Scenario, cond: Condition, varied: frozenset[str] = frozenset(),
            _facts: _Facts | None = None) -> Verdict:
    """Whether ``cond`` is impossible or certain in every run, by the scenario's structure."""
    facts = _facts or _Facts(spec, varied)
    if cond.all is not None:
        parts = [verdict(spec, c, varied, facts) for c in cond.all]
        no = next((v for v in parts if v.verdict == IMPOSSIBLE), None)
        if no is not None:
            return no
        if all(v.verdict == CERTAIN for v in parts):
            return Verdict(CERTAIN, "; ".join(v.why for v in parts))
        return _UNKNOWN
    if cond.any is not None:
        parts = [verdict(spec, c, varied, facts) for c in cond.any]
        yes = next((v for v in parts if v.verdict == CERTAIN), None)
        if yes is not None:
            return yes
        if all(v.verdict == IMPOSSIBLE for v in parts):
            return Verdict(IMPOSSIBLE, "; ".join(dict.fromkeys(v.why for v in parts)))
        return _UNKNOWN
    if cond.not_ is not None:
        inner = verdict(spec, cond.not_, varied, facts)
        flip = {IMPOSSIBLE: CERTAIN, CERTAIN: IMPOSSIBLE}.get(inner.verdict)
        return Verdict(flip, inner.why) if flip else _UNKNOWN
    if cond.state is not None:
        never = _state_never(facts, cond.state)
        if never:
            return Verdict(IMPOSSIBLE, never)
        if cond.held is not None and cond.held > spec.run.days + 1:
            return Verdict(IMPOSSIBLE, f"a spell of {cond.held} days cannot fit in a run of "
                           f"{spec.run.days} days")
        if cond.at == "any":  # in effect from day 0 counts: on at the start is certain
            start = _state_at_start(facts, cond.state)
            if start:
                return Verdict(CERTAIN, start)
        return _UNKNOWN
    value, why = _indicator_value(facts, cond.indicator)
    if value is None:
        return _UNKNOWN
    if cond.op in ("happened", "never"):
        if not math.isnan(value):
            return _UNKNOWN
        return Verdict(IMPOSSIBLE if cond.op == "happened" else CERTAIN, why)
    if cond.rung is not None:
        return _UNKNOWN  # no fact here bounds a rung
    if math.isnan(value):  # a day that never comes compares false
        return Verdict(IMPOSSIBLE, why)
    if abs(value - cond.value) <= 1e-6:  # stored in a narrower float, it could go either way
        return _UNKNOWN
    holds = _OPS[cond.op](value, cond.value)
    return Verdict(CERTAIN if holds else IMPOSSIBLE, why)


def outcome_verdicts(spec: Scenario, varied: frozenset[str] = frozenset()) -> dict[str, Verdict]:
    """Every outcome of the scenario with what its structure says of it."""
    facts = _Facts(spec, varied)
    return {name: verdict(spec, o.when, varied, facts) for name, o in spec.outcomes.items()}


def required_deals(cond: Condition) -> set[str]:
    """Deals that must have been signed for ``cond`` to hold (conservative: maybe fewer).

    A comparison on ``day.agreement.<d>`` (empty when never signed, which fails every
    comparison) or ``agreement.<d>.final`` above 0, and the state ``agreement.<d>`` in
    effect, need deal d; ``all`` needs what any of its parts needs, ``any`` what every part
    needs; ``not`` and anything else need nothing.
    """
    if cond.all is not None:
        return set().union(*(required_deals(c) for c in cond.all))
    if cond.any is not None:
        parts = [required_deals(c) for c in cond.any]
        return set.intersection(*parts) if parts else set()
    if cond.not_ is not None:
        return set()
    name = cond.state if cond.state is not None else cond.indicator or ""
    if cond.state is not None and name.startswith("agreement."):
        return {name.removeprefix("agreement.")}
    if name.startswith("day.agreement.") and cond.op != "never":
        return {name.removeprefix("day.agreement.")}
    if (name.startswith("agreement.") and name.endswith(".final") and cond.op in (">", ">=")
            and cond.value is not None and cond.value > 0):
        return {name.removeprefix("agreement.").removesuffix(".final")}
    return set()


def deal_reach(columns: dict) -> dict[str, dict]:
    """How close each deal came to acceptance, from a run's ``reach.*`` columns.

    Per deal, its best margin over the runs and each party's best perceived surplus
    (``{deal: {"margin": m, "parties": {party: x}}}``). ``reach.<deal>`` is a run's best
    day's smallest perceived surplus among the deal's parties (above 0: on that day every
    party would have signed it), ``reach.<deal>.<party>`` that party's best perceived
    surplus in the run (docs/ODD.md, M10).
    """
    out: dict[str, dict] = {}
    for name, values in columns.items():
        parts = name.split(".")
        if parts[0] != "reach" or len(parts) not in (2, 3):
            continue
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            continue
        best = float(finite.max())
        entry = out.setdefault(parts[1], {"margin": None, "parties": {}})
        if len(parts) == 2:
            entry["margin"] = best
        else:
            entry["parties"][parts[2]] = best
    return out


def _out_of_reach(deals: set[str], reach: dict[str, dict]) -> str:
    """Why a needed deal never formed, if no run ever had it within reach; else ''."""
    for d in sorted(deals):
        entry = reach.get(d)
        if not entry or entry["margin"] is None or entry["margin"] > 0 or not entry["parties"]:
            continue
        party, best = min(entry["parties"].items(), key=lambda kv: kv[1])
        return (f"deal {d} was never within reach: {party}'s perceived surplus from it "
                f"stayed below zero in every run (at best {best:.3g} utility units), held "
                "there by the scenario's values, not by chance")
    return ""


def explain_extremes(spec: Scenario, outcomes: list[dict],
                     varied: frozenset[str] = frozenset(),
                     reach: dict[str, dict] | None = None) -> list[dict]:
    """Outcomes at 0% or 100% of the runs, each with whether the structure forces it.

    ``reach`` (``deal_reach`` of the runs), if given, says of an outcome seen in no run that
    needs a deal no run ever had within reach: the values held it there, not the dice.

    Returns:
        One row per such outcome: ``outcome``, ``seen`` ("no run" or "every run"), ``runs``,
        ``by_construction`` (True: the structure forbids it, or forces it; False: it is only
        rare, or only nearly certain, as far as the structure tells), ``why`` and
        ``held_by`` (why a rare one was out of reach in every run, or '').
    """
    verdicts = outcome_verdicts(spec, varied)
    rows = []
    for r in outcomes:
        if not r["runs"] or 0 < r["count"] < r["runs"]:
            continue
        never = r["count"] == 0
        v = verdicts.get(r["outcome"], _UNKNOWN)
        forced = v.verdict == (IMPOSSIBLE if never else CERTAIN)
        held = ""
        if never and not forced and reach and r["outcome"] in spec.outcomes:
            held = _out_of_reach(required_deals(spec.outcomes[r["outcome"]].when), reach)
        rows.append({"outcome": r["outcome"], "seen": "no run" if never else "every run",
                     "runs": r["runs"], "by_construction": forced,
                     "why": v.why if forced else "", "held_by": held})
    return rows


def format_extremes(rows: list[dict]) -> str:
    """Lines for ``sim run``: each outcome at 0% or 100%, impossible by construction or rare."""
    lines = []
    for r in rows:
        if r["by_construction"]:
            what = "impossible" if r["seen"] == "no run" else "certain"
            lines.append(f"  {r['outcome']}: {what} by construction ({r['why']})")
        elif r["seen"] == "no run":
            lines.append(f"  {r['outcome']}: possible but not seen in any of {r['runs']} runs: "
                         "rare, not impossible (the structure does not forbid it)"
                         + (f"; {r['held_by']}" if r.get("held_by") else ""))
        else:
            lines.append(f"  {r['outcome']}: in all {r['runs']} runs, but not forced by the "
                         "structure: failing is rare, not impossible")
    if lines:
        lines.insert(0, "outcomes at 0% or 100%:")
    return "\n".join(lines)


def extremes_html(folder, summary: dict, manifest: dict,
                  reach: dict[str, dict] | None = None) -> str:
    """The report's list of outcomes at 0% or 100%, impossible (certain) or only rare.

    The scenario is read from the folder's ``scenario.resolved.yaml`` (untrusted, through the
    scenario loader); anything that does not load leaves the section out. ``reach``: as
    ``explain_extremes``.
    """
    import html
    from pathlib import Path

    from sim.errors import SimError
    from sim.scenario.loader import load_scenario

    try:
        loaded = load_scenario(Path(folder) / "scenario.resolved.yaml")
        varied = manifest.get("varied") if isinstance(manifest, dict) else None
        paths = frozenset(str(k) for k in varied) if isinstance(varied, dict) else frozenset()
        rows = explain_extremes(loaded.spec, summary["outcomes"], paths, reach)
    except (SimError, OSError, KeyError, TypeError, ValueError, AttributeError):
        return ""
    if not rows:
        return ""
    items = []
    for r in rows:
        name = f"<code>{html.escape(r['outcome'])}</code>"
        if r["by_construction"]:
            what = "impossible" if r["seen"] == "no run" else "certain"
            items.append(f"<li>{name}: <b>{what} by construction</b>: "
                         f"{html.escape(r['why'])}</li>")
        elif r["seen"] == "no run":
            held = f"; {html.escape(r['held_by'])}" if r.get("held_by") else ""
            items.append(f"<li>{name}: possible but not seen in {r['runs']} runs (the "
                         f"structure does not forbid it): rare, not impossible{held}</li>")
        else:
            items.append(f"<li>{name}: in every one of {r['runs']} runs, but not forced by the "
                         "structure</li>")
    return ("<h3>Outcomes at 0% or 100%: impossible, or only rare?</h3><p class=note>An "
            "outcome is called impossible (or certain) by construction only when the "
            "scenario's structure provably forbids (or forces) it; everything else is "
            f"possible.</p><ul>{''.join(items)}</ul>")


# --------------------------------------------------------------------------- the horizon


def _largest(spec: Scenario, uncertain: dict, path: tuple, point: float) -> float:
    """A value's largest possible value: its point, or its prior's upper bound when drawn.

    A prior without an upper bound (a normal or lognormal tail) counts as unbounded.
    """
    prior = uncertain.get(path)
    if prior is None:
        return point
    return max(point, prior.high) if prior.high is not None else math.inf


def control_reach(spec: Scenario, uncertain: dict | None = None) -> dict[str, float]:
    """Per objective, the largest share of it that can change hands within the run.

    At the fastest pace the mechanism allows (``shift_control``, docs/ODD.md): every day,
    every actor with an attack on its menu attacks at the ladder's most intense rung plus
    both sides' attack boost, wins every contest, with the daily noise at its mean; so a
    holder loses at most ``k x 2 x speed x (I + 2b) / (1 + 2b)`` of the objective a day (a
    front's advance, ``fighting.advance: front``), at most ``days`` times that over the run,
    or, under ``holdings``, that share of what it holds a day and ``1 - (1 - that)^days``
    over the run. Values drawn per run (``uncertain``, by key
    path) are taken at their prior's upper bound. An objective whose control is fixed by the
    structure is 0 (``_Facts.control_fixed`` says why).
    """
    uncertain = uncertain or {}
    facts = _Facts(spec, frozenset(".".join(map(str, k)) for k in uncertain))
    attackers = len({a for a, act in facts.menu if act.verb == "attack"})
    top = max((_largest(spec, uncertain, ("ladder", "rungs", k, "intensity"), r.intensity)
               for k, r in spec.ladder.rungs.items()), default=0.0)
    boost = spec.fighting.attack_boost
    if ("fighting", "attack_boost") in uncertain:
        boost = _largest(spec, uncertain, ("fighting", "attack_boost"), boost)
    out = {}
    for o, obj in spec.theatre.objectives.items():
        _, fixed = facts.control_fixed(o)
        if fixed or attackers == 0:
            out[o] = 0.0
            continue
        speed = _largest(spec, uncertain, ("theatre", "objectives", o, "speed"), obj.speed)
        scale = (top + 2 * boost) / (1 + 2 * boost) if math.isfinite(boost) else 1.0
        daily = min(1.0, attackers * 2.0 * speed * scale)
        if not math.isfinite(daily):
            out[o] = 1.0
        elif spec.fighting.advance == "front":
            out[o] = min(1.0, daily * spec.run.days)
        else:
            out[o] = 1.0 - (1.0 - daily) ** spec.run.days
    return out


def horizon_warnings(spec: Scenario, uncertain: dict | None = None,
                     least: float = 0.01) -> list[str]:
    """What ``sim check`` warns of before anything runs.

    Outcomes the structure makes impossible (``outcome_verdicts``), objectives of which less
    than ``least`` can change hands within the run (``control_reach``), and outcomes on an
    objective's final control that the most it can move cannot reach.
    """
    uncertain = uncertain or {}
    varied = frozenset(".".join(map(str, k)) for k in uncertain)
    lines = [f"outcome '{name}' cannot happen: {v.why}"
             for name, v in outcome_verdicts(spec, varied).items() if v.verdict == IMPOSSIBLE]
    reach = control_reach(spec, uncertain)
    days = spec.run.days
    for o, most in reach.items():
        if 0 < most < least:
            lines.append(f"objective '{o}' effectively cannot change hands: at most {most:.2%}"
                         f" of it in {days} days, even with every attack at the ladder's most "
                         f"intense rung every day (its speed {spec.theatre.objectives[o].speed}"
                         "); raise its speed or the rungs' intensity, or run more days")
    impossible = {line.split("'")[1] for line in lines}
    for name, outcome in spec.outcomes.items():
        if name in impossible:  # said already, with the structure's reason
            continue
        conds = [outcome.when, *(outcome.when.all or [])]
        for c in conds:
            parts = (c.indicator or "").split(".")
            if not (len(parts) == 4 and parts[0] == "control" and parts[3] == "final"
                    and parts[1] in reach and parts[2] in spec.actors
                    and c.op in (">=", ">", "<=", "<") and c.value is not None):
                continue
            start = float(spec.theatre.objectives[parts[1]].control.get(parts[2], 0.0))
            low, high = max(0.0, start - reach[parts[1]]), min(1.0, start + reach[parts[1]])
            if ((c.op in (">=", ">") and not _OPS[c.op](high, c.value))
                    or (c.op in ("<=", "<") and not _OPS[c.op](low, c.value))):
                lines.append(f"outcome '{name}' cannot be reached within {days} days: "
                             f"{c.indicator} {c.op} {c.value:g}, but it starts at {start:g} "
                             f"and can move at most {reach[parts[1]]:.1%} (objective "
                             f"'{parts[1]}', speed {spec.theatre.objectives[parts[1]].speed})")
                break
    return lines
