"""The app's controls, generated from a scenario: what a user may change and how it is applied.

Every control names a scenario path and becomes one ``PATH=VALUE`` override, the same string
``sim run --set`` takes, so a change in the page goes through the schema's validation exactly
as a command-line override does (bounds, types, references), and nothing here repeats a bound
or a default: slider ranges are only a convenient span around the scenario's own value.

The module is pure (no solara) so the tests can check the controls of any scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.scenario.loader import LoadedScenario
from sim.scenario.schema import Asset, Scenario

DECIDED_IN_RUN = "decided during the run"
MAIN_INTERESTS = 2  # the weights shown per actor: its largest ones


@dataclass(frozen=True)
class Control:
    """One input of the page.

    Attributes:
        path: Scenario path it sets (``actors.<id>.rationality``).
        label: What the page shows.
        kind: ``"SliderFloat"`` or ``"Select"`` (Mesa's ``UserInputs`` types).
        value: The scenario's own value (the control's starting value).
        low, high, step: Slider span (sliders only).
        choices: Select labels mapped to the overrides each one applies (selects only).
    """

    path: str
    label: str
    kind: str
    value: Any
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def overrides(self, value: Any) -> list[str]:
        """The ``PATH=VALUE`` strings this control applies when set to ``value``."""
        if self.kind == "Select":
            if value not in self.choices:
                raise ValueError(f"{self.label}: '{value}' is not one of {list(self.choices)}")
            return list(self.choices[value])
        return [f"{self.path}={float(value):g}"]

    def as_mesa_param(self) -> dict[str, Any]:
        """The entry of SolaraViz's ``model_params`` for this control."""
        if self.kind == "Select":
            return {"type": "Select", "label": self.label, "value": self.value,
                    "values": list(self.choices)}
        return {"type": "SliderFloat", "label": self.label, "value": self.value,
                "min": self.low, "max": self.high, "step": self.step}


def _slider(path: str, label: str, value: float) -> Control:
    """A slider from 0 to a round span above the value (unbounded fields have no schema max)."""
    high = 1.0 if value <= 1.0 else _round_up(3 * value)
    step = 0.01 if high <= 2 else (0.1 if high <= 20 else 1.0)
    return Control(path=path, label=label, kind="SliderFloat", value=float(value), low=0.0,
                   high=high, step=step)


def _round_up(x: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above x."""
    power = 10.0 ** math.floor(math.log10(x))
    return next((m * power for m in (1, 2, 5) if m * power >= x), 10 * power)


# gate policy -> (label, what else it sets: a gate held open or closed starts that way)
_GATE_POLICIES = {"decide": ("decided daily by its owner", ()),
                  "open": ("held open", ("open=true",)),
                  "closed": ("held closed", ("open=false",))}


def _asset_control(spec: Scenario, asset_id: str, asset: Asset) -> Control:
    """Decided during the run, or in effect from day 0 (per recipient, for a supplied asset)."""
    path = f"assets.{asset_id}"
    choices: dict[str, tuple[str, ...]] = {DECIDED_IN_RUN: ()}
    current = DECIDED_IN_RUN
    if asset.holder is not None:
        label = f"active from day 0 ({spec.actors[asset.holder].name})"
        choices[label] = (f"{path}.active_at_start=true",)
        if asset.active_at_start:
            current = label
    else:
        for action in spec.actors[asset.owner].actions:
            if action.verb == "grant_support" and action.asset == asset_id:
                label = f"granted to {spec.actors[action.target].name} on day 0"
                choices[label] = (f"{path}.deployed_at_start={action.target}",)
                if asset.deployed_at_start == action.target:
                    current = label
    return Control(path=path, label=asset.name, kind="Select", value=current, choices=choices)


def controls_for(loaded: LoadedScenario) -> list[Control]:
    """The controls a scenario offers, in the order the page lists them.

    Per actor: its rationality and its largest interest weights. Per asset: whether it is
    decided during the run or in effect from day 0 (for a supplied asset, one choice per
    recipient its owner can grant it to). Per gate: its policy (decide, open, closed).
    """
    spec = loaded.spec
    controls: list[Control] = []
    for actor_id, actor in spec.actors.items():
        controls.append(_slider(f"actors.{actor_id}.rationality",
                                f"{actor.name}: rationality", actor.rationality))
        ranked = sorted(actor.interests.items(), key=lambda kv: (-kv[1], kv[0]))
        for interest, weight in ranked[:MAIN_INTERESTS]:
            controls.append(_slider(f"actors.{actor_id}.interests.{interest}",
                                    f"{actor.name}: weight of {interest}", weight))
    controls += [_asset_control(spec, asset_id, asset)
                 for asset_id, asset in spec.assets.items()]
    for gate_id, gate in spec.refugees.gates.items():
        path = f"refugees.gates.{gate_id}"
        choices = {label: tuple(f"{path}.{setting}" for setting in (f"policy={policy}", *also))
                   for policy, (label, also) in _GATE_POLICIES.items()}
        controls.append(Control(path=path, label=gate.name, kind="Select",
                                value=_GATE_POLICIES[gate.policy][0], choices=choices))
    return controls


def overrides_for(controls: list[Control], values: dict[str, Any]) -> list[str]:
    """Overrides for the controls whose value differs from the scenario's own.

    Unchanged controls add nothing, so the model built from untouched controls is the
    scenario itself (same digest, same results as ``sim run``).
    """
    out: list[str] = []
    for control in controls:
        if control.path in values and values[control.path] != control.value:
            out += control.overrides(values[control.path])
    return out


def parse_settings(text: str) -> list[str]:
    """Free-form overrides typed in the page: ``PATH=VALUE`` separated by ``;`` or new lines."""
    parts = [p.strip() for chunk in (text or "").splitlines() for p in chunk.split(";")]
    return [p for p in parts if p]
