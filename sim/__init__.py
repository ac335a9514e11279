"""Agent-based geopolitical crisis simulator: scenario files -> lockstep Mesa ensembles.

Data flows one way: ``sim.scenario`` (schema, loading) -> ``sim.world`` (compiled arrays) ->
``sim.model`` (the Mesa model stepping ``sim.mechanisms``) -> ``sim.outcomes`` (indicators and
outcome flags per run) -> ``sim.execution`` (batches, executors, storage) -> ``sim.analysis``
(probabilities, intervals, quantiles) -> ``sim.cli``. Imports go down the layers written as
import-linter contracts in pyproject.toml and checked by tests/test_layers.py (README, Layers).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crisis-sim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

#: Names of the Python API (``sim.api``) that ``import sim`` offers, loaded on first use so
#: that ``import sim`` (and every worker process) stays light.
_API = ("load", "run", "sweep", "compare", "replay", "discover", "open_results", "plot",
        "report")


def __getattr__(name: str):
    """``sim.api`` and its main functions (``sim.run``, ...), imported when first used."""
    if name == "api" or name in _API:
        import importlib

        api = importlib.import_module("sim.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "api", *_API])
