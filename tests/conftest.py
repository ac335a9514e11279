"""Shared fixtures: scenario paths, loaded scenarios and a small in-memory ensemble runner."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from sim.execution.ensemble import run_ensemble
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "idlib_2020.yaml"
FICTIONAL = SCENARIOS / "three_states.yaml"
COUNTERFACTUALS = SCENARIOS / "counterfactuals"
ARTICLE = ROOT.parent / "shared" / "seed" / "article.txt"


# Property tests draw their examples from a fixed seed by default, so a failure in CI fails the
# same way on every machine and every re-run (and no example database is needed to replay it).
# HYPOTHESIS_PROFILE=explore draws fresh examples each run, to look for new failures locally.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(BASELINE)


@pytest.fixture(scope="session")
def fictional():
    return load_scenario(FICTIONAL)


def ensemble(path_or_loaded, runs: int, seed: int = 11, overrides=None, **kwargs):
    """Run an in-memory ensemble in this process (workers=1) and return its columns."""
    loaded = (path_or_loaded if not isinstance(path_or_loaded, str | Path)
              else load_scenario(path_or_loaded, overrides))
    result = run_ensemble(loaded, runs=runs, seed=seed, workers=kwargs.pop("workers", 1),
                          progress=False, **kwargs)
    return result.columns


def paired_effect(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean of b - a over runs paired by index (common random numbers) and its 95% interval."""
    from sim.analysis import paired_difference

    return paired_difference(np.asarray(a, float), np.asarray(b, float))
