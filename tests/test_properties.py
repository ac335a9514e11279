"""Property-based tests over randomly generated valid scenarios (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.execution.batches import collect_rows
from sim.model import CrisisModel
from sim.outcomes import indicators
from sim.scenario.loader import load_data, load_scenario

from .conftest import FICTIONAL
from .strategies import scenarios

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow,
                                                         HealthCheck.data_too_large]}


def check_invariants(model: CrisisModel, people0: np.ndarray) -> None:
    s, lay = model.state, model.layout
    assert np.array_equal(s.people.sum(axis=1) + s.dead, people0)
    assert (s.people >= 0).all()
    assert ((s.rung >= 0) & (s.rung < len(lay.rungs))).all()
    assert ((s.affinity >= -1) & (s.affinity <= 1)).all()
    assert ((s.control >= 0) & (s.control <= 1)).all()
    if s.control.size:
        assert np.allclose(s.control.sum(axis=2), 1.0)
    assert ((s.pressure >= 0) & (s.pressure <= 1)).all()


def _reference(cond, values, rungs) -> np.ndarray:
    """A second, independent reading of an outcome condition."""
    if cond.all is not None:
        return np.all([_reference(c, values, rungs) for c in cond.all], axis=0)
    if cond.any is not None:
        return np.any([_reference(c, values, rungs) for c in cond.any], axis=0)
    if cond.not_ is not None:
        return ~_reference(cond.not_, values, rungs)
    x = values[cond.indicator]
    if cond.op in ("happened", "never"):
        return ~np.isnan(x) if cond.op == "happened" else np.isnan(x)
    target = rungs.index(cond.rung) if cond.rung is not None else cond.value
    return np.array([v == v and {">=": v >= target, ">": v > target, "<=": v <= target,
                                 "<": v < target, "==": v == target, "!=": v != target}[cond.op]
                     for v in x])


@settings(max_examples=150, **SETTINGS)
@given(scenarios())
def test_invariants_hold_in_generated_scenarios(data):
    loaded = load_data(data)
    model = CrisisModel(loaded, replications=6, seed=loaded.spec.run.seed, record_paths=False)
    people0 = model.state.people.sum(axis=1) + model.state.dead
    while model.running:
        model.step()
        check_invariants(model, people0)
    values = indicators(model)
    rows = collect_rows(model, loaded)
    rungs = list(loaded.spec.ladder.rungs)
    for name, outcome in loaded.spec.outcomes.items():
        assert np.array_equal(rows[f"outcome.{name}"], _reference(outcome.when, values, rungs))


@settings(max_examples=60, **SETTINGS)
@given(scenarios(max_actors=5), st.integers(0, 5))
def test_determinism_and_replay_in_generated_scenarios(data, k):
    loaded = load_data(data)
    seed = loaded.spec.run.seed
    a = collect_rows(CrisisModel(loaded, replications=6, seed=seed, record_paths=False).run(),
                     loaded)
    b = collect_rows(CrisisModel(loaded, replications=6, seed=seed, record_paths=False).run(),
                     loaded)
    alone = collect_rows(CrisisModel(loaded, replications=np.array([k]), seed=seed,
                                     record_paths=False).run(), loaded)
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
        assert np.array_equal(a[name][k:k + 1], alone[name],
                              equal_nan=a[name].dtype.kind == "f"), name


_TEXT = FICTIONAL.read_bytes()


@settings(max_examples=300, **SETTINGS)
@given(st.lists(st.tuples(st.integers(0, len(_TEXT) - 1), st.binary(max_size=4)),
                min_size=1, max_size=6))
def test_fuzzed_files_load_or_fail_with_a_scenario_error(tmp_path_factory, edits):
    """Random byte edits of a valid file: the loader answers, never crashes."""
    text = bytearray(_TEXT)
    for position, insert in edits:
        text[position:position + len(insert) or position + 1] = insert
    path = tmp_path_factory.mktemp("fuzz") / "case.yaml"
    path.write_bytes(bytes(text))
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
