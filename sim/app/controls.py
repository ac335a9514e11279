"""The app's controls, generated from a scenario: what a user may change and how it is applied.

Every control names a scenario path and becomes one ``PATH=VALUE`` override, the same string
``sim run --set`` takes, so a change in the page goes through the schema's validation exactly
as a command-line override does (bounds, types, references), and nothing here repeats a bound
or a default: slider ranges are only a convenient span around the scenario's own value.

The module is pure (no solara) so the tests can check the controls of any scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.scenario.loader import LoadedScenario

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


def _slider(path: str, label: str, value: float, *, high: float | None = None) -> Control:
    """A slider from 0 to a round span above the value (unbounded fields have no schema max)."""
    if high is None:
        high = 1.0 if value <= 1.0 else float(_round_up(3 * value))
    step = 0.01 if high <= 2 else (0.1 if high <= 20 else 1.0)
    return Control(path=path, label=label, kind="SliderFloat", value=float(value), low=0.0,
                   high=high, step=step)


def _round_up(x: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above x."""
    import math

    power = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * power >= x:
            return m * power
    return 10 * power  # pragma: no cover - the loop always returns


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
    for asset_id, asset in spec.assets.items():
        path = f"assets.{asset_id}"
        choices: dict[str, tuple[str, ...]] = {DECIDED_IN_RUN: ()}
        if asset.holder is not None:
            choices[f"active from day 0 ({spec.actors[asset.holder].name})"] = (
                f"{path}.active_at_start=true",)
        else:
            recipients = [a.target for a in spec.actors[asset.owner].actions
                          if a.verb == "grant_support" and a.asset == asset_id and a.target]
            for target in dict.fromkeys(recipients):
                choices[f"granted to {spec.actors[target].name} on day 0"] = (
                    f"{path}.deployed_at_start={target}",)
        current = DECIDED_IN_RUN
        for label, sets in choices.items():
            if sets and ((asset.holder is not None and asset.active_at_start)
                         or (asset.deployed_at_start and sets[0].endswith(
                             f"={asset.deployed_at_start}"))):
                current = label
        controls.append(Control(path=path, label=f"{asset.name}", kind="Select",
                                value=current, choices=choices))
    for gate_id, gate in spec.refugees.gates.items():
        path = f"refugees.gates.{gate_id}"
        choices = {
            "decided daily by its owner": (f"{path}.policy=decide",),
            "held open": (f"{path}.policy=open", f"{path}.open=true"),
            "held closed": (f"{path}.policy=closed", f"{path}.open=false"),
        }
        current = {"decide": "decided daily by its owner", "open": "held open",
                   "closed": "held closed"}[gate.policy]
        controls.append(Control(path=path, label=f"{gate.name}", kind="Select",
                                value=current, choices=choices))
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
