"""The event log in words: what an actor chose and what happened, with the scenario's names.

Used by replays (``events.txt``) and by the app's event log. Pure functions of the scenario's
display names, so a log reads "<actor's name> attacks <target's name>" rather than
``attack:<target id>``, whatever the scenario.
"""

from __future__ import annotations

from sim.scenario.schema import Scenario

_VERB_PHRASES = {
    "attack": "attacks {target}",
    "deescalate": "steps back from {target}",
    "negotiate": "proposes {deal}",
    "request_support": "asks for {asset}",
    "grant_support": "grants {asset} to {target}",
    "threaten": "threatens {target}",
    "sanction": "sanctions {target}",
    "lift_sanction": "lifts its sanctions on {target}",  # the sanction entry, on one in force
    "open_gate": "opens {gate}",
    "close_gate": "closes {gate}",
    "activate": "activates {asset}",
    "air_support": "flies air support for {asset} against {target}",
    "withdraw": "withdraws its forces from {target}",
}

_EVENT_PHRASES = {
    "agreement": "{0} agreed",
    "breakdown": "{0} broke down",
    "granted": "{0} granted",
    "activated": "{0} activated",
    "requested": "{0} requested",
    "opened": "{0} opened",
    "closed": "{0} closed",
    "realigned": "{0} realigned away from its bloc",
    "war": "war between {0}",
    "crossed": "red line {0} crossed",
    "answered": "red line {0} answered",
}


def display_names(spec: Scenario) -> dict[str, str]:
    """Display name of every actor, asset, gate and deal id of a scenario."""
    names = {k: v.name for k, v in spec.actors.items()}
    names |= {k: v.name for k, v in spec.assets.items()}
    names |= {k: v.name for k, v in spec.refugees.gates.items()}
    names |= {k: v.name for k, v in spec.deals.items()}
    return names


def describe_action(actor: str, label: str, names: dict[str, str]) -> str:
    """``attack:<b>`` chosen by ``<a>`` -> ``<name of a> attacks <name of b>``."""
    verb, _, obj = label.partition(":")
    once = verb.endswith("_once")  # a one-off act (``Action.once``)
    verb = verb.removesuffix("_once")
    asset, _, target = (obj.partition(">") if verb in ("grant_support", "air_support")
                        else (obj, "", obj))
    phrase = _VERB_PHRASES.get(verb)
    if phrase is None:
        return f"{names.get(actor, actor)} chose {label}"
    return f"{names.get(actor, actor)} " + phrase.format(
        target=names.get(target, target), deal=names.get(obj, obj),
        asset=names.get(asset, asset), gate=names.get(obj, obj)) + (" (once)" if once else "")


def describe_reasons(utility: float, parts: dict[str, float], runner_up: str | None,
                     runner_up_utility: float | None) -> str:
    """Why an act was chosen: its utility, its main components and the next-best option.

    ``(utility +0.12: territory +0.30, cost -0.10, losses -0.08; next best: hold, 0.00)``:
    the three components largest in size, in utility units (docs/ODD.md, M1).
    """
    main = sorted(((k, v) for k, v in parts.items() if abs(v) >= 0.005),
                  key=lambda kv: -abs(kv[1]))[:3]
    text = f"utility {utility:+.2f}"
    if main:
        text += ": " + ", ".join(f"{k} {v:+.2f}" for k, v in main)
    if runner_up is not None:
        text += f"; next best: {runner_up}, {runner_up_utility:+.2f}"
    return f"({text})"


def describe_event(name: str, names: dict[str, str]) -> str:
    """``breakdown.<deal>`` -> ``<deal's name> broke down``; ``agreement`` -> a deal agreed."""
    kind, _, what = name.partition(".")
    if not what:
        return "a deal was agreed" if kind == "agreement" else kind
    if kind == "war":
        what = " and ".join(names.get(a, a) for a in what.split("~"))
    else:
        what = names.get(what, what)
    return _EVENT_PHRASES.get(kind, kind + " {0}").format(what)
