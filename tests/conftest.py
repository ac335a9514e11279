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


# `make test` runs the suite on every core with pytest-xdist (`--dist loadgroup`): tests are
# handed out one at a time, except those of the files below, which share an expensive
# module-scoped fixture (an ensemble, a served app, a finished run) and so go to one worker
# together, each group computing its fixtures once. The stylized facts and the counterfactuals
# share one group: both read the same baseline ensembles (``shared_ensemble``); the Dask
# cluster's tests are a group of their own (test_execution.py), so the file's long
# kill-and-resume tests, about 400 s of CPU together, can go to both workers. xdist starts
# the largest groups first and fills in with the single tests, which balances the workers.
XDIST_GROUPS = {
    "test_stylized_facts.py": "baseline-ensembles",
    "test_counterfactuals.py": "baseline-ensembles",
    **{name: name.removesuffix(".py") for name in (
        "test_air_support.py", "test_app.py", "test_app_browser.py", "test_bargaining.py",
        "test_deal_terms.py", "test_exact_outcomes.py",
        "test_discovery.py", "test_figure_content.py", "test_hostile.py",
        "test_plots.py", "test_report_browser.py")},
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = XDIST_GROUPS.get(item.path.name)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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


_SHARED: dict = {}


def shared_ensemble(path: Path, runs: int, seed: int = 11, overrides=()) -> dict:
    """``ensemble`` of a scenario file, computed once per test process for each (file,
    overrides, runs, seed) and shared by every test that asks for the same.

    The stylized facts and the counterfactuals compare the same baseline and counterfactual
    ensembles of 1,000 runs. The arrays are made read-only: a test that changed one in place
    would otherwise change it for the others (copy it first).
    """
    key = (str(path), tuple(overrides), runs, seed)
    if key not in _SHARED:
        columns = ensemble(path, runs, seed=seed, overrides=list(overrides))
        for column in columns.values():
            if isinstance(column, np.ndarray):
                column.flags.writeable = False
        _SHARED[key] = columns
    return _SHARED[key]


def paired_effect(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean of b - a over runs paired by index (common random numbers) and its 95% interval."""
    from sim.analysis import paired_difference

    return paired_difference(np.asarray(a, float), np.asarray(b, float))


#: The fictional valley's pace in patterns that need a war the ground does not decide within
#: the run (a patron drawn into a client's war, a mediator's leverage, talks before a costly
#: war's deal, the commitment problem). Under a front's advance (docs/ODD.md M4) the valley's
#: own pace, 0.03, drives the weaker side out within weeks at war, and a war that has ended
#: by conquest tests none of these; model v2 took ground as a share of the holder's, so the
#: war never ended by conquest. At 0.005 the weaker side keeps ground over the 60 days.
LASTING_SPEED = 0.005


def lasting_war(data: dict) -> dict:
    """``data`` (the fictional scenario's, a copy) with the valley at ``LASTING_SPEED``."""
    data["theatre"]["objectives"]["valley"]["speed"] = LASTING_SPEED
    return data
