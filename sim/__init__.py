"""Agent-based geopolitical crisis simulator: scenario files -> lockstep Mesa ensembles.

Data flows one way: ``sim.scenario`` (schema, loading) -> ``sim.world`` (compiled arrays) ->
``sim.model`` (the Mesa model stepping ``sim.mechanisms``) -> ``sim.outcomes`` (indicators and
outcome flags per run) -> ``sim.execution`` (batches, executors, storage) -> ``sim.analysis``
(probabilities, intervals, quantiles) -> ``sim.cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crisis-sim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"
