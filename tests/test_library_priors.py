"""The library's priors (scenarios/library/README.md#priors) and the files that drop them."""

from __future__ import annotations

import re

import pytest

from sim.scenario.loader import format_path, load_scenario, parse_path

from .conftest import SCENARIOS

LIBRARY = sorted(p for p in (SCENARIOS / "library").glob("*.yaml")
                 if not p.name.endswith(".observations.yaml"))
POINT_FILES = {
    "idlib_2020_point.yaml": SCENARIOS / "idlib_2020.yaml",
    "georgia_2008_point.yaml": SCENARIOS / "library" / "georgia_2008.yaml",
    "nagorno_karabakh_2020_point.yaml": SCENARIOS / "library" / "nagorno_karabakh_2020.yaml",
}


@pytest.mark.parametrize("path", [SCENARIOS / "idlib_2020.yaml", *LIBRARY], ids=lambda p: p.stem)
def test_every_library_crisis_carries_the_schemes_priors(path):
    """Each crisis has priors on its interest weights, its scale constants and the ladder's
    rates, each centred on (or containing) the point value written, with its reason."""
    loaded = load_scenario(path)
    paths = {format_path(k) for k in loaded.uncertain}
    assert {"ladder.rate_up", "ladder.rate_down", "bargaining.noise"} <= paths
    assert any(".interests." in p for p in paths)
    assert any(p.endswith(".rationality") for p in paths)
    for key, prior in loaded.uncertain.items():
        if prior.dist == "lognormal":
            point = _point(loaded.spec.model_dump(by_alias=True), format_path(key))
            assert prior.median == pytest.approx(point), format_path(key)
        # its own note, or its entry's (an action's cost); a quoted source keeps its place,
        # and the reason is then a comment on its line
        note = loaded.note_for(key)
        assert note is not None and (note.kind == "source" or "priors" in note.text), \
            format_path(key)


#: The second pass (scenarios/library/README.md#priors): what every crisis writes and carries.
SECOND_PASS = {f"decisions.{k}" for k in ("loss_unit", "territory_unit", "people_unit",
                                          "retaliation", "concession", "request_weight")} | {
    f"alliances.{k}" for k in ("attack", "sanction", "support", "deescalation", "baseline_pull",
                               "trade_pull", "balance", "gate_cost", "noise")} | {
    f"refugees.flows.{k}" for k in ("displacement_base", "displacement_fighting",
                                    "displacement_ground", "move_rate", "settle_rate")}


def _written(data, *keys):
    for key in keys:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data


def _point(dumped: dict, name: str) -> float:
    """The point value at a path (``actors.x.actions[2].cost``) of a dumped spec."""
    for part in parse_path(name):
        dumped = dumped[part]
    return dumped


def _is_scale_prior(prior, point: float, high: float, name: str) -> None:
    """The rule's prior of a positive scale: lognormal, median the value, sigma 0.5, cut at
    /3 and at x3 or the schema's bound."""
    assert prior.dist == "lognormal" and prior.sigma == 0.5, name
    assert prior.median == pytest.approx(point), name
    assert prior.low == pytest.approx(point / 3, rel=1e-3), name
    assert prior.high == pytest.approx(min(3 * point, high), rel=1e-3), name


@pytest.mark.parametrize("path", [SCENARIOS / "idlib_2020.yaml", *LIBRARY], ids=lambda p: p.stem)
def test_the_second_pass_gives_every_judged_rate_its_prior(path):
    """Risk attitudes, pressure traits, breakdown rates, refugee rates, alliance and decision
    constants: each written non-zero value carries the rule's prior, centred on it (a
    lognormal of sigma 0.5 cut at /3 and x3 and at the schema's bound; risk +-0.1)."""
    from sim.execution.variation import schema_bounds

    loaded = load_scenario(path)
    priors = {format_path(k): v for k, v in loaded.uncertain.items()}
    assert set(priors) >= SECOND_PASS
    wanted = set()
    for actor, spec in loaded.data["actors"].items():
        if spec.get("risk_attitude", 0):
            wanted.add(f"actors.{actor}.risk_attitude")
        wanted |= {f"actors.{actor}.pressure.{k}" for k, v in _written(spec, "pressure").items()
                   if v}
    for deal, spec in loaded.data.get("deals", {}).items():
        wanted |= {f"deals.{deal}.{k}" for k in ("breakdown_base", "breakdown_hostility",
                                                 "breakdown_violation") if spec.get(k, 0)}
    for i, edge in enumerate(_written(loaded.data, "refugees").get("edges", [])):
        wanted |= {f"refugees.edges[{i}].{k}" for k in ("rate", "return_rate", "push_back")
                   if edge.get(k, 0)}
    assert wanted <= set(priors)
    dumped = loaded.spec.model_dump(by_alias=True)
    for name in wanted | SECOND_PASS:
        prior, point = priors[name], _point(dumped, name)
        low, high = schema_bounds(re.sub(r"\[\d+\]", "", name))  # an edge's: any edge's
        if name.endswith("risk_attitude"):
            assert prior.dist == "uniform", name
            assert (prior.low, prior.high) == pytest.approx(
                (max(low, point - 0.1), min(high, point + 0.1))), name
        else:
            _is_scale_prior(prior, point, high, name)


#: The third pass: the ladder's positive drives (every crisis writes all but `threat`) and
#: bargaining's rates (where written); with the costs of actions, lognormal; stakes uniform.
LADDER_DRIVES = ("hostility", "provocation", "conciliation", "sanction", "threat", "mediation",
                 "weariness", "trade_damping")
BARGAINING_RATES = ("learning", "rejection_info", "mediation_info", "weariness_days")


@pytest.mark.parametrize("path", [SCENARIOS / "idlib_2020.yaml", *LIBRARY], ids=lambda p: p.stem)
def test_the_third_pass_gives_every_cost_stake_and_drive_its_prior(path):
    """Costs of actions, stakes in objectives, the ladder's positive constants and bargaining's
    rates: each written non-zero value carries the rule's prior, centred on it (a lognormal of
    sigma 0.5 cut at /3 and x3; a stake uniform +-30% within [0, 1]); `base_drift` none."""
    from sim.execution.variation import schema_bounds

    loaded = load_scenario(path)
    priors = {format_path(k): v for k, v in loaded.uncertain.items()}
    assert {f"ladder.{k}" for k in LADDER_DRIVES if k != "threat"} <= set(priors)
    assert "ladder.base_drift" not in priors
    scales, stakes = set(), set()
    for actor, spec in loaded.data["actors"].items():
        scales |= {f"actors.{actor}.actions[{i}].cost"
                   for i, act in enumerate(spec.get("actions", [])) if act.get("cost", 0)}
    for name, spec in _written(loaded.data, "theatre").get("objectives", {}).items():
        stakes |= {f"theatre.objectives.{name}.value.{actor}"
                   for actor, v in spec.get("value", {}).items() if v}
    for block, keys in (("ladder", LADDER_DRIVES), ("bargaining", BARGAINING_RATES)):
        scales |= {f"{block}.{k}" for k in keys if _written(loaded.data, block).get(k, 0)}
    assert (scales | stakes) <= set(priors)
    dumped = loaded.spec.model_dump(by_alias=True)
    for name in scales | stakes:
        prior, point = priors[name], _point(dumped, name)
        if name in stakes:
            assert prior.dist == "uniform", name
            assert (prior.low, prior.high) == pytest.approx(
                (max(0.0, 0.7 * point), min(1.0, 1.3 * point)), rel=1e-3), name
        else:
            high = schema_bounds(re.sub(r"\[\d+\]", "", name))[1]  # an action's: any action's
            _is_scale_prior(prior, point, high, name)


@pytest.mark.parametrize("name", sorted(POINT_FILES))
def test_a_point_file_is_its_base_without_priors(name):
    """The calibration variants' bases: the same point values as the scenario they extend,
    with no uncertain value left (so a variant fits only what it declares)."""
    point = load_scenario(SCENARIOS / "calibration" / name)
    base = load_scenario(POINT_FILES[name])
    assert not point.uncertain and base.uncertain
    assert point.spec == base.spec


def test_a_drawn_numpy_value_is_written_as_a_plain_number():
    """Runs whose values are not affine (interest weights are normalised) are compiled one by
    one from overrides; a numpy float must become a number there, not 'np.float64(...)'."""
    import numpy as np

    from sim.execution.variation import _text

    assert _text(np.float64(0.25)) == "0.25" and _text(np.float64(3.0)) == "3"
