"""The library's priors (scenarios/library/README.md#priors) and the files that drop them."""

from __future__ import annotations

import pytest

from sim.scenario.loader import format_path, load_scenario

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
            point = loaded.spec.model_dump(by_alias=True)
            for part in key:
                point = point[part]
            assert prior.median == pytest.approx(point), format_path(key)
        note = loaded.notes.get(key)  # a quoted source keeps its place; the reason is a comment
        assert note is not None and (note.kind == "source" or "priors" in note.text), \
            format_path(key)


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
