"""The Python API: what the ``sim`` command does, as functions a notebook can call.

Why: researchers work in notebooks, and the command line is one way of calling the same
steps. Every command of ``sim`` is a thin layer over a function here (it parses arguments,
calls the function, prints); the functions return plain pandas tables and matplotlib figures,
and write the same results folders as the command line when given ``out``.

Typical use::

    import sim.api as sa

    baseline = sa.load("scenarios/my_crisis.yaml", {"run.runs": 200})
    ens = sa.run(baseline, out="outputs/my_crisis")   # outcome table: ens.outcomes
    sw = sa.sweep(baseline, {"fighting.loss_rate": (0.1, 0.3)}, points=50, reps=20)
    found = sa.discover(sw.out_dir, outcome="war")     # PRIM boxes and a CART tree
    box = sa.discover(x_table, y_flags)                 # on tables: a Box with .limits
    scores = sa.score(ens, "observations.yaml")         # Brier, log score, CRPS (sim score)

Every function documented here is listed, with an example, in ``docs/api.md``. Errors a user
can make raise ``sim.errors.SimError`` subclasses with a one-line message (the command line
prints that line and exits with code 2); raised here, they name keyword arguments, not the
command line's flags. A script that would re-run itself in every worker process (no ``if
__name__ == "__main__":`` around its calls) is refused before any worker starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import CLI_WORDING, UsageError, not_found

if TYPE_CHECKING:  # imported lazily below: `import sim.api` stays light
    import pandas as pd
    from matplotlib.figure import Figure

    from sim.design import Design, Parameter
    from sim.execution.compare import Comparison
    from sim.execution.ensemble import EnsembleResult
    from sim.execution.replay import Replay
    from sim.execution.sweep import SweepResult
    from sim.scenario.loader import LoadedScenario

__all__ = [
    "Box",
    "Calibration",
    "Ensemble",
    "PooledCalibration",
    "Results",
    "Scores",
    "Sweep",
    "Versus",
    "calibrate",
    "calibrate_library",
    "compare",
    "compile_model",
    "default_out",
    "discover",
    "ema_name",
    "load",
    "make_sweep_design",
    "open_results",
    "plot",
    "replay",
    "report",
    "results_folder",
    "run",
    "score",
    "sensitivity_table",
    "sweep",
    "to_ema",
    "write_ema",
]

#: Files that mark a results folder of each kind (run, sweep, compare).
RESULT_MARKERS = {"summary.json": "run", "sweep.parquet": "sweep", "comparison.json": "compare"}

#: A sweep's settings when neither the call nor a sweep file gives them.
SWEEP_DEFAULTS = {"design": "lhs", "points": 100, "reps": 50}

#: The command line's flags and the keyword arguments that are the same thing here: an error
#: raised under the API names the argument the caller wrote, not a flag they never typed.
KEYWORDS = {"--param": "parameters", "--set": "overrides", "--format": "formats",
            "--runs": "runs", "--points": "points", "--reps": "reps", "--seed": "seed",
            "--batch-size": "batch_size", "--workers": "workers", "--out": "out",
            "--outcome": "outcome", "--where": "where", "--min-coverage": "min_coverage",
            "--design": "design", "--sweep": "sweep_file", "--scheduler": "scheduler",
            "--posterior": "varied", "--uncertain": "varied", "--simulations": "simulations",
            "--population": "population", "--batch": "batch",
            "--generations": "generations", "--min-epsilon": "min_epsilon",
            "--library": "library", "--cv-simulations": "cv_simulations",
            "--cv-runs": "cv_runs", "--daily": "daily", "--ema": "path"}
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z-]*)")


def _keywords(function):
    """Re-raise a ``UsageError`` of the layers below with keyword names for CLI flags.

    The execution and analysis layers are shared with the command line and word their errors
    for it (``--points must be a power of 2``); from Python the same message names the
    argument (``points=``). ``ScenarioError`` (a scenario's problems, with file:line) passes
    through as it is.
    """
    import functools

    def word(match: re.Match) -> str:
        flag = match.group(0)
        return KEYWORDS.get(flag, flag[2:].replace("-", "_")) + "="

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UsageError as exc:
            if CLI_WORDING.get():  # the command line called: its flags are the user's words
                raise
            message = str(exc)
            worded = _FLAG.sub(word, message)
            if worded == message:
                raise
            raise UsageError(worded) from None

    return wrapper


def _check_main_guard(workers: int | None, scheduler: str | None = None) -> None:
    """Refuse, in one line, a script whose top level would run again in every worker.

    Local worker processes start by ``forkserver`` (or ``spawn``): each imports the parent's
    ``__main__`` file, so a script that calls ``run``/``sweep``/``compare`` at its top level,
    outside ``if __name__ == "__main__":``, runs again inside every worker (which then finds
    the results folder in use and dies, and the ensemble retries for minutes). Found here
    before any worker starts: the call's line in the script (the ``<module>`` frame of
    ``__main__`` on the stack) is checked against the script's ``if __name__ ==
    "__main__":`` blocks. Nothing is checked for one worker, a Dask cluster, a notebook or
    an interactive session (no script file: those fork), or a script that cannot be parsed.
    """
    import multiprocessing
    import sys

    if multiprocessing.parent_process() is not None \
            and multiprocessing.current_process().name != "MainProcess":
        raise UsageError("sim.api was called while a worker process imported your script: "
                         "put the script's calls under 'if __name__ == \"__main__\":' "
                         "(docs/api.md, Scripts)")
    if scheduler is not None:
        return
    from sim.execution.executors import _context, default_workers

    if (default_workers() if workers is None else workers) <= 1 \
            or _context().get_start_method() == "fork":
        return
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if spec is not None and (spec.name == "__main__" or spec.name.endswith(".__main__")):
        return  # `python -m package`: workers do not re-run a package's __main__ (as in
        # multiprocessing.spawn._fixup_main_from_name), so `python -m sim run` needs no guard
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "<module>"
                                     and frame.f_globals is getattr(main, "__dict__", None)):
        frame = frame.f_back
    if frame is None or main_file is None:
        return  # called from a function the script's guarded code calls, or no script
    line = frame.f_lineno
    if not _guarded(Path(main_file), line):
        raise UsageError(f"{main_file}:{line}: worker processes re-import this script and "
                         "would run this call again in each: put the script's calls under "
                         "'if __name__ == \"__main__\":' (docs/api.md, Scripts), or pass "
                         "workers=1")


def _guarded(script: Path, line: int) -> bool:
    """Whether ``line`` of ``script`` lies in an ``if __name__ == "__main__":`` block.

    True when the script cannot be read or parsed (then nothing is claimed about it).
    """
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 \
                and isinstance(test.ops[0], ast.Eq):
            sides = [test.left, *test.comparators]
            names = {s.id for s in sides if isinstance(s, ast.Name)}
            texts = {s.value for s in sides if isinstance(s, ast.Constant)}
            if names == {"__name__"} and texts == {"__main__"} and node.body \
                    and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line):
                return True
    return False


def _frame(rows: Any) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows)


def _read_json(path: Path) -> Any:
    """JSON of a results folder, read as untrusted input (bounded; one-line errors)."""
    from sim.execution.outdir import read_json

    return read_json(path)


def _read_yaml(path: Path) -> dict:
    """A results folder's ``scenario.resolved.yaml``, read like a scenario file (safely)."""
    from sim.execution.outdir import read_results_yaml

    return read_results_yaml(path)


def _read_table(path: Path) -> pd.DataFrame:
    from sim.execution.storage import read_table

    return read_table(path).to_pandas()  # sizes checked before anything is decoded


# ----------------------------------------------------------------------------- set-up


def compile_model() -> float | None:
    """Compile the model's code for this machine, once per version of the sources.

    Why: numba compiles the daily step on first use (about a minute) and caches it on disk;
    doing it here, before an ensemble starts, keeps that minute out of the ensemble's runs per
    second. ``scripts/bootstrap.sh`` (``make env``) calls it, and the command line calls it
    before a run when the cache is missing (after an edit of compiled code).

    Returns:
        Seconds spent compiling, or None if the compiled code was already on disk.
    """
    import time

    from sim.jit import compiled_code_cached

    if compiled_code_cached():
        return None
    started = time.perf_counter()
    from sim.execution.warmup import warm

    warm()  # the first import already warmed; a second call loads what is now cached
    return time.perf_counter() - started


# ----------------------------------------------------------------------------- scenarios


@_keywords
def load(path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None
         ) -> LoadedScenario:
    """Load and validate a scenario file, with overrides.

    Args:
        path: The scenario YAML.
        overrides: ``{"fighting.loss_rate": 0.2}`` or ``["fighting.loss_rate=0.2"]``, as
            ``--set`` on the command line: each path must exist in the schema (a typo is an
            error, with a suggestion).

    Returns:
        The validated scenario (``.spec`` is the typed scenario, ``.data`` the plain data).

    Raises:
        UsageError: The file does not exist.
        ScenarioError: The scenario or an override is invalid (every problem, with file:line).
    """
    from sim.scenario.loader import load_scenario

    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: {not_found(path)}")
    return load_scenario(path, _override_texts(overrides))


def _override_texts(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    """``PATH=VALUE`` texts; mapping values are written as JSON (which YAML reads back)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                for k, v in overrides.items()]
    return list(overrides)


def _scenario(scenario: LoadedScenario | str | Path) -> LoadedScenario:
    return scenario if hasattr(scenario, "spec") else load(scenario)


def default_out(scenario: LoadedScenario, kind: str = "run") -> Path:
    """The folder the command line writes to when ``--out`` is not given.

    ``outputs/<scenario>/`` for a run, ``outputs/<scenario>-sweep/`` for a sweep and
    ``outputs/compare-<first scenario>/`` for a comparison.
    """
    base = Path("outputs")
    return {"run": base / scenario.slug, "sweep": base / f"{scenario.slug}-sweep",
            "compare": base / f"compare-{scenario.slug}"}[kind]


# ----------------------------------------------------------------------------- ensembles


@dataclass
class Ensemble:
    """An ensemble's results as tables.

    Attributes:
        result: What the execution layer returned (lists of dicts, as summary.json holds).
        out_dir: The results folder, or None for a run kept in memory.
        calibration: Calibrated probabilities and their basis
            (``sim.validation.recalibration.calibrated_outcomes``), or None without a
            recalibration file.
    """

    result: EnsembleResult
    out_dir: Path | None
    calibration: dict | None = None

    @property
    def calibrated(self) -> pd.DataFrame | None:
        """Each outcome's calibrated probability beside the model's own, or None.

        Columns ``outcome``, ``probability`` (the model's share of runs) and ``calibrated``
        (the library's logistic recalibration); ``.attrs["basis"]`` says what it rests on
        (crises, events, leave-one-crisis-out Brier against the raw model's).
        """
        if self.calibration is None:
            return None
        frame = _frame(self.calibration["rows"])
        frame.attrs["basis"] = self.calibration["basis"]
        return frame

    @property
    def manifest(self) -> dict:
        """Seed, runs, wall time, runs per second, versions: how the results were made."""
        return self.result.manifest

    @property
    def outcomes(self) -> pd.DataFrame:
        """One row per outcome: probability, Wilson 95% interval (low, high), count, runs."""
        return _frame(self.result.outcomes)

    @property
    def indicators(self) -> pd.DataFrame:
        """One row per indicator: mean, quantiles, share of runs where it is missing."""
        return _frame(self.result.indicators)

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: every indicator and outcome flag (``runs.parquet``)."""
        return _frame(self.result.columns)

    @property
    def daily(self) -> pd.DataFrame | None:
        """Every run's values of the series asked for with ``daily=``, per day, or None.

        One row per run and day (``run``, ``day``, ``date``), one column per series
        (``daily.parquet``); None for a run without ``daily=``.
        """
        table = self.result.daily
        return None if table is None else table.to_pandas()

    def figure(self) -> Figure:
        """Outcome probabilities with their intervals (``sim.plots.outcome_bars``)."""
        from sim.plots import outcome_bars

        return outcome_bars(self.result.outcomes, f"outcome probabilities "
                            f"({self.manifest['runs']} runs)")


@_keywords
def run(scenario: LoadedScenario | str | Path, *, runs: int | None = None,
        seed: int | None = None, batch_size: int | None = None, workers: int | None = None,
        scheduler: str | None = None, out: str | Path | None = None,
        progress: bool = True, varied=None, daily: str | Sequence[str] | None = None
        ) -> Ensemble:
    """Run an ensemble of a scenario (``sim run``).

    Args:
        scenario: A loaded scenario (``load``) or a file.
        runs: Replications (default: the scenario's ``run.runs``).
        seed: Ensemble seed (default: the scenario's ``run.seed``).
        batch_size: Replications stepped together (default: the scenario's).
        workers: Local worker processes (default: one per core).
        scheduler: A Dask scheduler's address (``tcp://host:port``), else local processes.
        out: Results folder (resumable after an interruption); None keeps results in memory.
        progress: Show a progress bar (a widget in Jupyter, a bar on a terminal).
        varied: Per-run values of uncertain assumptions (``sim run --uncertain`` /
            ``--posterior``: ``sim.execution.variation.uncertain_set`` or ``posterior_set``).
        daily: Daily series to keep for every run (``sim run --daily``): names or patterns,
            ``["rung.*", "losses.a"]`` or ``"rung.*,losses.a"``; ``.daily`` then holds them
            (and ``out/daily.parquet``). Default none: the run is unchanged.

    Returns:
        The ensemble: ``.outcomes``, ``.indicators``, ``.runs`` and ``.daily`` tables,
        ``.figure()``.

    Raises:
        RunInterruptedError: On Ctrl-C (or a notebook's interrupt), after saving the finished
            batches in ``out``; running again resumes.
    """
    from sim.execution.ensemble import run_ensemble

    _check_main_guard(workers, scheduler)
    loaded = _scenario(scenario)
    out_dir = None if out is None else Path(out)
    result = run_ensemble(loaded, runs=runs, seed=seed, batch_size=batch_size,
                          workers=workers, scheduler=scheduler, out_dir=out_dir,
                          progress=progress, varied=varied, daily=daily)
    from sim.validation.recalibration import run_calibration

    return Ensemble(result=result, out_dir=out_dir,
                    calibration=run_calibration(loaded, result.outcomes, out_dir))


@_keywords
def replay(scenario: LoadedScenario | str | Path, run_index: int, *, seed: int | None = None,
           out: str | Path | None = None, runs: int | None = None, varied=None) -> Replay:
    """Re-run one replication alone, with its trajectory and event log (``sim run --replay``).

    Args:
        scenario: A loaded scenario or a file.
        run_index: The replication to re-run (a row of ``runs.parquet``).
        seed: The ensemble's seed (default: the scenario's).
        out: The ensemble's folder: the trajectory goes to ``out/replay-K/`` and the row is
            checked against the ensemble's.
        runs: The ensemble's size when there is no saved one (``run_index`` must be below
            it; default the folder's, else the scenario's ``run.runs``).
        varied: The ensemble's per-run values of uncertain assumptions, as ``run`` takes
            them (``sim.execution.variation.uncertain_set`` or ``posterior_set`` over at
            least ``run_index + 1`` runs); default None: the point values.

    Returns:
        ``.row`` (indicators and outcomes), ``.log`` (event lines), ``.matches_ensemble``.
    """
    from sim.execution.replay import replay as replay_run

    loaded = _scenario(scenario)
    seed = loaded.spec.run.seed if seed is None else seed
    return replay_run(loaded, seed, run_index, None if out is None else Path(out), runs,
                      varied)


# ----------------------------------------------------------------------------- sweeps


@dataclass
class Sweep:
    """A sweep's results as tables.

    Attributes:
        result: What the execution layer returned.
        out_dir: The results folder, or None for a sweep kept in memory.
    """

    result: SweepResult
    out_dir: Path | None

    @property
    def manifest(self) -> dict:
        """Design, points, replications, seed, wall time: how the results were made."""
        return self.result.manifest

    @property
    def points(self) -> pd.DataFrame:
        """One row per design point: parameter values, probabilities, indicator means.

        Each outcome's probability comes with its 95% bounds (``.low``, ``.high``).
        """
        return _frame(self.result.points)

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: point, parameter values, indicators, outcome flags."""
        return _frame(self.result.columns)

    @property
    def policies(self) -> pd.DataFrame | None:
        """Per outcome and policy (a sweep with levers): probability with its 95% bounds.

        And the paired difference against the reference policy with its 95% bounds (runs
        paired by point of the uncertainties and replication); None without levers.
        """
        return None if self.result.policies is None else _frame(self.result.policies)

    @property
    def sensitivity(self) -> pd.DataFrame | None:
        """Sobol (S1, ST) or Morris (mu*, sigma) indices with 95% intervals.

        One row per target and parameter; None for grid and LHS designs.
        """
        return None if self.result.sensitivity is None else sensitivity_table(
            self.result.sensitivity)


def sensitivity_table(sensitivity: dict) -> pd.DataFrame:
    """``sensitivity.json`` as a long table: target, parameter, then one column per index."""
    rows = []
    for target, res in sensitivity["results"].items():
        for i, name in enumerate(sensitivity["parameters"]):
            row = {"target": target, "parameter": name}
            row.update({k: v[i] for k, v in res.items() if isinstance(v, list)
                        and len(v) == len(sensitivity["parameters"])})
            rows.append(row)
    return _frame(rows)


def _parameters(parameters: Any) -> list[Parameter]:
    """Swept parameters from texts, ``Parameter`` objects or a mapping.

    Texts are ``PATH=LOW:HIGH`` or ``PATH=V1,V2``; a mapping is
    ``{path: (low, high) | [level, ...]}``.
    """
    from sim.design import Parameter, parse_parameter

    if parameters is None:
        return []
    if isinstance(parameters, Mapping):
        out = []
        for path, spec in parameters.items():
            if isinstance(spec, tuple) and len(spec) == 2:
                out.append(Parameter(path=path, low=float(spec[0]), high=float(spec[1])))
            else:
                out.append(Parameter(path=path, levels=tuple(float(v) for v in spec)))
        return out
    return [p if isinstance(p, Parameter) else parse_parameter(p) for p in parameters]


@_keywords
def make_sweep_design(scenario: LoadedScenario, parameters: Any = None, *,
                      design: str | None = None, points: int | None = None,
                      reps: int | None = None, seed: int | None = None,
                      sweep_file: str | Path | None = None, levers: Any = None,
                      policies: int | None = None,
                      reference: Mapping[str, Any] | None = None) -> tuple[Design, int, int]:
    """The design, replications and seed of a sweep, without running it.

    The call's values win over the sweep file's, which win over ``SWEEP_DEFAULTS`` and the
    scenario's seed. Levers (the file's and the call's) make it policies x scenarios.

    Returns:
        ``(design, reps, seed)``.
    """
    from sim.design import (
        load_sweep_file,
        make_design,
        make_policies,
        no_uncertainties,
        parse_levers,
        with_levers,
    )

    spec = {**SWEEP_DEFAULTS, "seed": None, "parameters": [], "levers": [], "policies": 5,
            "reference": None, "reference_where": "reference"}
    if sweep_file is not None:
        spec = load_sweep_file(Path(sweep_file))
    params = list(spec["parameters"]) + _parameters(parameters)
    lever_list = list(spec["levers"]) + (parse_levers(levers) if levers else [])
    where = spec["reference_where"] if reference is None else "reference"
    reference = reference if reference is not None else spec["reference"]
    count = policies or spec["policies"]
    seed = seed if seed is not None else (
        spec["seed"] if spec["seed"] is not None else scenario.spec.run.seed)
    kind, points, reps = design or spec["design"], points or spec["points"], reps or spec["reps"]
    # a design too big to run is refused before it is built (its bound: run.runs' in the schema)
    from sim.execution.budget import check_sweep_size
    from sim.scenario.schema import RunSettings

    max_runs = next(b.le for b in RunSettings.model_fields["runs"].metadata if hasattr(b, "le"))
    per_policy = len(make_policies(lever_list, count, seed)) if lever_list else 1
    if params or not lever_list:
        check_sweep_size(kind, [None if p.levels is None else len(p.levels) for p in params],
                         points, reps * per_policy, max_runs)
        made = make_design(kind, params, points, seed)
    else:  # levers alone: the scenario's own values, every policy
        made = no_uncertainties(seed)
    made = with_levers(made, lever_list, count, reference, where)
    if made.policies:  # every lever's edits checked now, before a line says what will run
        from sim.execution.variation import policy_scenarios

        policy_scenarios(scenario, made)
    return made, reps, seed


@_keywords
def sweep(scenario: LoadedScenario | str | Path, parameters: Any = None, *,
          design: str | Design | None = None, points: int | None = None, reps: int | None = None,
          seed: int | None = None, sweep_file: str | Path | None = None,
          batch_size: int | None = None, workers: int | None = None,
          scheduler: str | None = None, out: str | Path | None = None,
          progress: bool = True, levers: Any = None, policies: int | None = None,
          reference: Mapping[str, Any] | None = None) -> Sweep:
    """Run a design of parameter points (``sim sweep``), crossed with policies if levers.

    Args:
        scenario: A loaded scenario or a file.
        parameters: The swept values: ``{"fighting.loss_rate": (0.1, 0.3)}`` (a range),
            ``{"path": [1, 2, 3]}`` (levels) or ``["fighting.loss_rate=0.1:0.3"]``.
        design: ``grid``, ``lhs`` (default), ``sobol`` or ``morris``; or a design made by
            ``make_sweep_design`` (then ``parameters``, ``points`` and ``sweep_file`` are
            not used, and ``reps`` and ``seed`` must be given).
        points: LHS points; grid levels per range; Sobol base samples (a power of 2);
            Morris trajectories (default 100).
        reps: Replications per point (default 50).
        seed: Design and ensemble seed (default: the sweep file's, else the scenario's).
        sweep_file: A sweep file (YAML) giving any of the above; the call's values win.
        batch_size: Replications stepped together.
        workers: Local worker processes.
        scheduler: A Dask scheduler's address.
        out: Results folder; None keeps results in memory.
        progress: Show a progress bar.
        levers: Policy levers, crossed with the uncertainties (policies x scenarios, as the
            EMA Workbench's ``perform_experiments``): ``{"shield": {"options": {"withheld":
            {}, "day0": {"set": {"assets.shield.deployed_at_start": "a"}}}}}`` (categorical:
            each option a set of edits, ``set:`` paths and values or a ``counterfactual:``
            file that extends the scenario), ``{"actors.a.war_cost": [0.0, 0.1]}`` (numeric
            levels) or ``(low, high)`` (sampled). Added to the sweep file's.
        policies: Values sampled of the numeric levers given a range (default 5).
        reference: The policy the paired differences are against, ``{lever: option}``
            (default the first: each lever's first option or level).

    Returns:
        The sweep: ``.points``, ``.runs``, ``.policies`` and ``.sensitivity`` tables.
    """
    from sim.execution.sweep import run_sweep

    _check_main_guard(workers, scheduler)
    loaded = _scenario(scenario)
    if design is None or isinstance(design, str):
        made, reps, seed = make_sweep_design(loaded, parameters, design=design, points=points,
                                             reps=reps, seed=seed, sweep_file=sweep_file,
                                             levers=levers, policies=policies,
                                             reference=reference)
    else:
        made = design
    out_dir = None if out is None else Path(out)
    result = run_sweep(loaded, made, reps=reps, seed=seed, batch_size=batch_size,
                       workers=workers, scheduler=scheduler, out_dir=out_dir,
                       progress=progress)
    return Sweep(result=result, out_dir=out_dir)


# ----------------------------------------------------------------------------- comparisons


@dataclass
class Versus:
    """A comparison's results as tables.

    Attributes:
        result: What the execution layer returned.
        out_dir: The results folder, or None.
        runs_per_scenario: Runs of each scenario.
        seed: The common seed.
    """

    result: Comparison
    out_dir: Path | None
    runs_per_scenario: int
    seed: int

    @property
    def table(self) -> pd.DataFrame:
        """One row per outcome and scenario: probability, interval, paired difference.

        The difference is from the first scenario, with its paired 95% interval.
        """
        return _frame(self.result.rows)

    def figure(self) -> Figure:
        """Paired differences from the first scenario (``sim.plots.comparison_chart``)."""
        from sim.plots import comparison_chart

        return comparison_chart({"rows": self.result.rows, "scenarios": self.result.names})


@_keywords
def compare(scenarios: Sequence[LoadedScenario | str | Path], *, runs: int | None = None,
            seed: int | None = None, batch_size: int | None = None,
            workers: int | None = None, out: str | Path | None = None,
            progress: bool = True) -> Versus:
    """Run scenarios with common random numbers and compare them with the first (``sim compare``).

    Args:
        scenarios: Loaded scenarios or files, the reference (baseline) first.
        runs: Runs per scenario (default: the first scenario's ``run.runs``).
        seed: The common seed (default: the first scenario's).
        batch_size: Replications stepped together.
        workers: Local worker processes.
        out: Results folder (a subfolder per scenario); None keeps results in memory.
        progress: Show a progress bar.

    Returns:
        The comparison: ``.table`` and ``.figure()``.
    """
    from sim.execution.compare import compare as compare_runs

    _check_main_guard(workers)
    loaded = [_scenario(s) for s in scenarios]
    first = loaded[0].spec.run
    runs = runs or first.runs
    seed = first.seed if seed is None else seed
    out_dir = None if out is None else Path(out)
    result = compare_runs(loaded, runs=runs, seed=seed, workers=workers,
                          batch_size=batch_size, out_dir=out_dir, progress=progress)
    return Versus(result=result, out_dir=out_dir, runs_per_scenario=runs, seed=seed)


# ----------------------------------------------------------------------------- saved results


@_keywords
def results_folder(folder: str | Path) -> Path:
    """The folder, if it holds results of ``sim run``, ``sweep`` or ``compare``.

    Raises:
        UsageError: It does not.
    """
    folder = Path(folder)
    if not folder.is_dir() or not any((folder / m).exists() for m in RESULT_MARKERS):
        raise UsageError(f"{folder} holds no results of sim run, sweep or compare "
                         f"(looked for {', '.join(RESULT_MARKERS)})")
    return folder


@dataclass
class Results:
    """A saved results folder, read as tables (it is never written to, except figures).

    Attributes:
        folder: The folder.
        kind: ``run``, ``sweep`` or ``compare``.
        manifest: How the results were made (``manifest.json``; empty if absent).
    """

    folder: Path
    kind: str
    manifest: dict = field(default_factory=dict)

    @property
    def scenario(self) -> dict:
        """The scenario as run (``scenario.resolved.yaml``, read safely), or {}."""
        path = self.folder / "scenario.resolved.yaml"
        return _read_yaml(path) if path.exists() else {}

    @property
    def outcomes(self) -> pd.DataFrame:
        """The outcome table.

        Per outcome (run), per outcome and scenario (compare), or per design point with the
        outcome probabilities (sweep).
        """
        if self.kind == "run":
            return _frame(_read_json(self.folder / "summary.json")["outcomes"])
        if self.kind == "compare":
            return _frame(_read_json(self.folder / "comparison.json")["rows"])
        points = _read_table(self.folder / "points.parquet")
        keep = [c for c in points.columns if c.startswith(("policy", "lever.", "point",
                                                            "param.", "outcome."))]
        return points[keep]

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run (``runs.parquet`` or ``sweep.parquet``)."""
        name = "sweep.parquet" if self.kind == "sweep" else "runs.parquet"
        return _read_table(self.folder / name)

    @property
    def daily(self) -> pd.DataFrame | None:
        """A run's per-run daily series (``daily.parquet`` of ``sim run --daily``), or None."""
        path = self.folder / "daily.parquet"
        return _read_table(path) if self.kind == "run" and path.exists() else None

    @property
    def calibrated(self) -> pd.DataFrame | None:
        """A run's calibrated probabilities beside its own (``calibrated.json``), or None.

        ``.attrs["basis"]`` says what the calibration rests on.
        """
        path = self.folder / "calibrated.json"
        if not path.exists():
            return None
        data = _read_json(path)
        try:
            frame = _frame([{"outcome": str(r["outcome"]), "probability": float(r["probability"]),
                             "calibrated": float(r["calibrated"])} for r in data["rows"]])
            frame.attrs["basis"] = str(data["basis"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path} is damaged ({type(exc).__name__}); run again") from None
        return frame

    @property
    def sensitivity(self) -> pd.DataFrame | None:
        """Sensitivity indices of a Sobol or Morris sweep (``sensitivity.json``), or None."""
        path = self.folder / "sensitivity.json"
        return sensitivity_table(_read_json(path)) if path.exists() else None

    @property
    def discovery(self) -> dict | None:
        """The scenario discovery of a sweep (``discovery.json``, see ``discover``), or None."""
        path = self.folder / "discovery.json"
        return _read_json(path) if path.exists() else None

    def figures(self, formats: tuple[str, ...] = ("png",)) -> list[Path]:
        """Draw every figure that applies into ``figures/`` and return the files written."""
        return plot(self.folder, formats)


@_keywords
def open_results(folder: str | Path) -> Results:
    """Open a folder written by ``run``, ``sweep`` or ``compare`` (from Python or the CLI).

    Raises:
        UsageError: The folder holds no such results.
    """
    folder = results_folder(folder)
    kind = next(k for m, k in RESULT_MARKERS.items() if (folder / m).exists())
    if kind == "run" and (folder / "comparison.json").exists():
        kind = "compare"
    manifest = {}
    if (folder / "manifest.json").exists():
        manifest = _read_json(folder / "manifest.json")
    return Results(folder=folder, kind=kind, manifest=manifest)


@_keywords
def plot(folder: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw the figures of a results folder into ``folder/figures`` (``sim plot``).

    Args:
        folder: A results folder.
        formats: Image formats among png, svg and pdf.

    Returns:
        The files written.
    """
    from sim.plots import plot_folder

    folder = results_folder(folder)
    formats = tuple(f.strip().lower() for f in formats if f.strip())
    unknown = [f for f in formats if f not in ("png", "svg", "pdf")]
    if unknown:
        raise UsageError(f"unknown image format {unknown[0]!r} for --format; use png, svg or "
                         "pdf")  # worded for the command line; Python callers read formats=
    return plot_folder(folder, formats)


@_keywords
def report(folder: str | Path) -> Path:
    """Write one self-contained HTML page of a results folder (``sim report``)."""
    from sim.report import write_report

    return write_report(results_folder(folder))


# ----------------------------------------------------------------------------- discovery


@dataclass
class Box:
    """A PRIM box found by ``discover(x, y)``: the parameter limits that make the cases likely.

    Like the EMA Workbench's ``PrimBox`` (``prim.Prim(x, y).find_box()``): the chosen box on
    the peeling trajectory, its limits, coverage and density, and the trajectory to choose
    another. ``.result`` is the same dict ``discovery.json`` holds under ``prim``.

    Attributes:
        result: PRIM's result (``sim.discovery.prim_analysis``).
        cart: A CART tree's rules and leaves (``sim.discovery.cart_analysis``), or None.
        cases: Runs with the outcome.
        runs: All runs.
    """

    result: dict
    cart: dict | None
    cases: int
    runs: int

    @property
    def limits(self) -> pd.DataFrame:
        """The box's limits: one row per restricted parameter.

        Columns ``low``, ``high`` (the box), the swept range, the quasi-p value of each limit
        PRIM moved and whether it is significant (<= 0.05). Indexed by parameter, as the
        Workbench's ``box_lims`` are by column.
        """
        frame = _frame(self.result["box"])
        if frame.empty:
            import pandas as pd

            return pd.DataFrame(columns=["low", "high", "range_low", "range_high", "qp_low",
                                         "qp_high", "significant"])
        return frame.set_index("parameter")

    @property
    def coverage(self) -> float:
        """The share of all cases that fall in the box."""
        return self._chosen["coverage"]

    @property
    def density(self) -> float:
        """The share of the runs in the box that are cases: the outcome's probability there."""
        return self._chosen["density"]

    @property
    def mass(self) -> float:
        """The share of all runs that fall in the box."""
        return self._chosen["mass"]

    @property
    def base_rate(self) -> float:
        """The share of all runs that are cases (the density of the whole space)."""
        return self.cases / self.runs if self.runs else 0.0

    @property
    def significant(self) -> dict:
        """Coverage, density and runs of the box on its significant limits only: the answer."""
        return self.result["significant_box"]

    @property
    def trajectory(self) -> pd.DataFrame:
        """The peeling trajectory: coverage, density, mass, restricted dimensions per box."""
        return _frame(self.result["trajectory"])

    @property
    def unrestricted(self) -> list[str]:
        """Parameters the box leaves at their full range."""
        return list(self.result["unrestricted"])

    @property
    def _chosen(self) -> dict:
        return self.result["trajectory"][self.result["chosen"]]

    def rule(self) -> str:
        """The box on its significant limits as text: ``a >= 0.71 and b <= 0.39``."""
        from sim.discovery import box_rule

        return box_rule(self.result)

    def __str__(self) -> str:
        """What ``sim discover`` prints for the box: limits, coverage, density."""
        from sim.discovery import format_discovery

        result = {"target": "cases", "cases": self.cases, "runs": self.runs,
                  "base_rate": self.base_rate, "prim": self.result,
                  "cart": self.cart or {"leaves": [{"limits": {}, "density": 0.0,
                                                    "coverage": 0.0, "runs": 0}],
                                        "depth": 0}}
        text = format_discovery(result)
        return text if self.cart else text.split("\nCART")[0]


def _need_extra(module: str, extra: str, what: str) -> None:
    """Refuse, in one line, a feature whose optional extra is not installed.

    The baseline install (``make baseline``, ``pip install -e .``) leaves out the app's,
    discovery's and the notebooks' packages (pyproject's extras); a feature that needs one
    says which, instead of an ImportError's traceback.
    """
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{what} needs the '{extra}' extra, which is not installed: "
                         f"pip install -e '.[{extra}]' (or make test, which installs every "
                         "extra)")


def _discover_tables(x: Any, y: Any, min_coverage: float, tree: bool) -> Box:
    """PRIM (and CART) on tables given in Python: ``x`` one row per case, ``y`` its flag."""
    import numpy as np
    import pandas as pd

    from sim.discovery import cart_analysis, prim_analysis

    if not 0.0 < min_coverage <= 1.0:
        raise UsageError(f"min_coverage must be in (0, 1], not {min_coverage}")
    try:
        frame = pd.DataFrame(x).astype(float)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"x: give a table of numbers, one column per parameter ({exc})"
                         ) from None
    flags = np.asarray(y)
    if flags.ndim != 1 or len(flags) != len(frame):
        raise UsageError(f"y: give one value per row of x ({len(frame)}), not an array of "
                         f"shape {flags.shape}")
    if flags.dtype != bool:
        if not np.isin(flags, (0, 1)).all():
            raise UsageError("y: give the cases of interest as booleans (or 0/1), e.g. "
                             "runs['outcome.war'] or runs['losses.a'] >= 50")
        flags = flags.astype(bool)
    if not np.isfinite(frame.to_numpy()).all():
        raise UsageError("x: every value must be a finite number (drop or fill missing ones)")
    if frame.shape[1] == 0 or len(frame) < 2:
        raise UsageError("x: give at least one column and two rows")
    if not 0 < flags.sum() < len(flags):
        raise UsageError(f"y: {'every' if flags.all() else 'no'} row is a case; PRIM needs "
                         "cases and non-cases")
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.reset_index(drop=True)
    return Box(result=prim_analysis(frame, flags, min_coverage),
               cart=cart_analysis(frame, flags) if tree else None,
               cases=int(flags.sum()), runs=len(flags))


@_keywords
def discover(folder: str | Path | Sweep | Any, y: Any = None, *, outcome: str | None = None,
             where: str | None = None, min_coverage: float = 0.5,
             write: bool = True, tree: bool = True) -> dict | Box:
    """Scenario discovery: which parameter ranges make an outcome likely (``sim discover``).

    Runs PRIM (Friedman & Fisher 1999; Bryant & Lempert 2010), the EMA Workbench's
    implementation, and a CART tree (Breiman et al. 1984) as a second view. See
    ``sim.discovery``. Two forms:

    * ``discover(x, y)``: on tables, as the Workbench's ``prim.Prim(x, y)``: ``x`` a
      DataFrame (or mapping of columns) of parameter values, one row per case, ``y`` one
      boolean per row (``runs["outcome.war"]``, ``runs["losses.a"] >= 50``). Returns a
      ``Box``: ``.limits``, ``.coverage``, ``.density``, ``.trajectory``, ``.rule()``.
    * ``discover(folder, outcome=...)``: on a saved sweep (a folder, or a ``Sweep`` written
      to one), every run a case; returns the dict written to ``discovery.json``.

    Args:
        folder: A sweep's results folder or ``Sweep``; or ``x``, a table of parameter values.
        y: With a table ``x``: the cases of interest, one boolean per row.
        outcome: (Saved sweep) an outcome of the scenario (``war``); or
        where: (Saved sweep) a condition on an indicator, ``"losses.a>=50"`` (ops ``>= >
            <= < == !=``; a rung name as the value of a ``rung.*`` indicator;
            ``"day.war.a~b happened"``).
        min_coverage: The chosen box is the densest on the peeling trajectory with at least
            this coverage.
        write: (Saved sweep) write ``discovery.json`` and figures ``discovery_*.png`` into
            the folder.
        tree: (Tables) also fit the CART tree (``Box.cart``).

    Returns:
        A ``Box`` for tables; for a saved sweep, the discovery as written to
        ``discovery.json``: target, base rate, the peeling trajectory, the chosen box's
        limits per parameter with quasi-p values, the tree.
    """
    from sim.discovery import discover_folder

    _need_extra("ema_workbench", "discover", "scenario discovery (PRIM, the EMA Workbench's)")
    if y is not None or not isinstance(folder, str | Path | Sweep):
        if y is None:
            raise UsageError("discover(x, y): give y, the cases of interest (one boolean per "
                             "row of x); or give a saved sweep's folder")
        if outcome is not None or where is not None:
            raise UsageError("discover(x, y): outcome= and where= are for a saved sweep; "
                             "with tables, y is the target")
        return _discover_tables(folder, y, min_coverage, tree)
    if isinstance(folder, Sweep):
        if folder.out_dir is None:
            raise UsageError("discover reads a saved sweep: run the sweep with out=FOLDER, "
                             "or give discover(x, y) its tables (sweep.runs)")
        folder = folder.out_dir
    folder = Path(folder)
    if not (folder / "sweep.parquet").exists():
        raise UsageError(f"{folder} holds no sweep results (sweep.parquet); run "
                         "'sim sweep' first, or give the folder it wrote")
    return discover_folder(folder, outcome=outcome, where=where, min_coverage=min_coverage,
                           write=write)


# ----------------------------------------------------------------------------- scoring


@dataclass
class Scores:
    """A saved ensemble scored against what happened (``score``), as tables.

    Attributes:
        result: What ``score.json`` holds.
        folder: The scored results folder (``score.json`` is written there).
    """

    result: dict
    folder: Path

    @property
    def summary(self) -> dict:
        """Mean Brier and log score with their skill, coverage of the 50%/90% intervals."""
        return self.result["summary"]

    @property
    def events(self) -> pd.DataFrame:
        """One row per observed event: happened, probability, Brier, log score, source."""
        return _frame(self.result["events"])

    @property
    def days(self) -> pd.DataFrame:
        """One row per event day: observed day, the runs' median and 90% interval, CRPS, PIT.

        A day that never came is ``never_day`` (the day after the last simulated).
        """
        return _frame(self.result.get("days_of_events", []))

    @property
    def quantities(self) -> pd.DataFrame:
        """One row per observed quantity: observed, median, 90% interval, CRPS, PIT."""
        return _frame(self.result.get("quantities", []))


@_keywords
def score(folder: str | Path | Ensemble, observations: str | Path) -> Scores:
    """Score a saved ensemble against a crisis's observations (``sim score``).

    Brier and log score for events, CRPS, PIT and interval coverage for days and quantities
    (``sim.validation.scores``); the observations are checked against the scenario exactly
    as run (the folder's ``scenario.resolved.yaml``). Writes ``score.json`` into the folder,
    which ``report`` then shows.

    Args:
        folder: A folder written by ``run`` (or ``sim run``), or an ``Ensemble`` run with
            ``out``.
        observations: The observations YAML.

    Returns:
        The scores: ``.summary``, ``.events``, ``.days`` and ``.quantities``.

    Raises:
        UsageError: The folder holds no run, or its runs lack what the observations name.
        ScenarioError: The observations file is invalid (every problem, with file:line).
    """
    from sim.validation.scores import score_run

    if isinstance(folder, Ensemble):
        if folder.out_dir is None:
            raise UsageError("score reads a saved ensemble: run it with out=FOLDER")
        folder = folder.out_dir
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    return Scores(result=score_run(folder, Path(observations)), folder=folder)


# ----------------------------------------------------------------------------- calibration


@dataclass
class Calibration:
    """A calibration's result (``calibrate``): the posterior and its diagnostics.

    Attributes:
        diagnostics: What ``calibration.json`` holds (generations, tolerance, effective sample
            size, simulations, wall time).
        out_dir: The folder holding ``posterior.json``, ``calibration.json`` and
            ``calibration.png``.
    """

    diagnostics: dict
    out_dir: Path

    @property
    def posterior(self) -> pd.DataFrame:
        """One row per fitted value: weighted mean, median and 90% interval, and its prior."""
        return _frame([{"parameter": p, **q, "prior": self.diagnostics["priors"][p]}
                       for p, q in self.diagnostics["posterior"].items()])

    @property
    def posterior_file(self) -> Path:
        """``posterior.json``, for ``sim run --posterior`` or ``run(varied=posterior_set(...))``."""
        return self.out_dir / "posterior.json"

    @property
    def effective_sample_size(self) -> float:
        """Kish's effective sample size of the final population's weights."""
        return float(self.diagnostics["effective_sample_size"])

    @property
    def warnings(self) -> list[str]:
        """One line per value whose posterior piles against a bound of its prior.

        ``"the posterior of X is piled against its prior's upper bound 0.1 (31% of its
        weight in the prior's highest 5%): the prior may be too narrow"``
        (``sim.validation.calibrate.piled_against_bounds``); empty when none does.
        """
        return [x["message"] for x in self.diagnostics.get("piled_against_bounds", [])]


@_keywords
def calibrate(scenario: LoadedScenario | str | Path, observations: str | Path, *,
              out: str | Path | None = None, simulations: int = 100_000,
              population: int = 1000, batch: int = 20_000, generations: int = 10,
              min_epsilon: float = 0.0, seed: int | None = None,
              progress: bool = True) -> Calibration:
    """Fit a scenario's uncertain values to observations by ABC-SMC (``sim calibrate``).

    The values that carry a ``range:`` or ``prior:`` in the scenario are fitted to the
    observations (up to their cutoff, if any) by a vectorised ABC-SMC
    (``sim.validation.calibrate``); an unfinished calibration in ``out`` with the same
    settings is resumed, a finished one is never overwritten.

    Args:
        scenario: A loaded scenario or a file, with uncertain values.
        observations: The observations YAML.
        out: The output folder (default ``outputs/<scenario>-calibration``).
        simulations: The simulation budget.
        population: Particles accepted per generation, at least.
        batch: At most this many simulations per lockstep batch (results do not depend on
            it).
        generations: At most this many generations.
        min_epsilon: Stop once the tolerance is down to this (>= 0).
        seed: The seed (default: the scenario's).
        progress: Show a progress bar of the simulations.

    Returns:
        The calibration: ``.posterior`` (a table), ``.posterior_file``, ``.diagnostics``.
    """
    import math

    from sim.validation.calibrate import calibrate as run_abc
    from sim.validation.observations import load_observations

    loaded = _scenario(scenario)
    if not Path(observations).is_file():
        raise UsageError(f"{observations}: {not_found(observations)}")
    if not (isinstance(min_epsilon, int | float) and math.isfinite(min_epsilon)
            and min_epsilon >= 0):
        raise UsageError(f"min_epsilon={min_epsilon!r}: give a number >= 0")
    for name, value in (("simulations", simulations), ("population", population),
                        ("batch", batch), ("generations", generations)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"{name}={value!r}: give a whole number of at least 1")
    obs = load_observations(Path(observations), loaded)
    out_dir = Path(out) if out is not None else Path("outputs") / f"{loaded.slug}-calibration"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=simulations, unit="sim", desc="calibrating")

    def said(done: int, generation: int, eps: float) -> None:
        if bar is not None:
            bar.set_postfix_str(f"generation {generation}, tolerance {eps:.3g}")
            bar.update(max(0, min(done, simulations) - bar.n))

    try:
        diagnostics = run_abc(obs, out_dir=out_dir, simulations=simulations,
                              population=population, batch=batch, generations=generations,
                              min_epsilon=min_epsilon, seed=seed, progress=said)
    finally:
        if bar is not None:
            bar.close()
    return Calibration(diagnostics=diagnostics, out_dir=out_dir)


@dataclass
class PooledCalibration:
    """A pooled calibration of the library's generic constants (``calibrate_library``).

    Attributes:
        diagnostics: What ``calibration.json`` holds (crises, constants, generations,
            simulations, wall time, posterior summaries).
        out_dir: The folder holding ``posterior.json``, ``calibration.json`` and
            ``calibration.png`` (and ``loco/`` and ``loco.json`` with ``cv``).
        loco: The leave-one-crisis-out skill (``loco.json``), or None without ``cv``.
        library_file: The library's ``pooled_posterior.json`` written (``write_posterior``),
            or None.
    """

    diagnostics: dict
    out_dir: Path
    loco: dict | None = None
    library_file: Path | None = None

    @property
    def posterior(self) -> pd.DataFrame:
        """One row per constant (a multiplier): weighted mean, median, 90% interval, prior."""
        return _frame([{"constant": p, **q, "prior": self.diagnostics["priors"][p]}
                       for p, q in self.diagnostics["posterior"].items()])

    @property
    def posterior_file(self) -> Path:
        """The pooled ``posterior.json`` (``sim.validation.pooled.read_pooled_posterior``)."""
        return self.out_dir / "posterior.json"

    @property
    def warnings(self) -> list[str]:
        """One line per constant whose posterior piles against a bound of its prior."""
        return [x["message"] for x in self.diagnostics.get("piled_against_bounds", [])]


@_keywords
def calibrate_library(library: str | Path = "scenarios/library", *,
                      out: str | Path | None = None, simulations: int = 100_000,
                      population: int = 300, batch: int = 1000, generations: int = 10,
                      min_epsilon: float = 0.0, seed: int = 1, workers: int | None = None,
                      scheduler: str | None = None, cv: bool = False,
                      cv_simulations: int = 20_000, cv_runs: int = 200,
                      write_posterior: bool = False,
                      progress: bool = True) -> PooledCalibration:
    """Fit the library's generic constants on every crisis at once (``sim calibrate --library``).

    One multiplier per constant of ``<library>/pooled_priors.yml`` (the loss rate, the
    ladder's rates, the bargaining noise, the actors' rationality, the incident rate), shared
    by every crisis, fitted by one ABC-SMC whose distance is the mean of each crisis's
    normalised distance (``sim.validation.pooled``). Each generation is one lockstep batch per
    crisis, on the local process pool or a Dask cluster (identical results); an unfinished fit
    in ``out`` with the same settings is resumed, a finished one never overwritten.

    Args:
        library: The library folder.
        out: The output folder (default ``outputs/library-calibration``).
        simulations: The budget in model runs (each particle costs one run per crisis).
        population: Particles accepted per generation, at least.
        batch: At most this many replications per task (results do not depend on it).
        generations: At most this many generations.
        min_epsilon: Stop once the pooled tolerance is down to this (>= 0).
        seed: The seed of the proposals and (with each crisis's name) of its simulations.
        workers: Local worker processes (default one per core).
        scheduler: A Dask scheduler's address (``tcp://host:port``), else local processes.
        cv: Also measure the leave-one-crisis-out skill (a fit per crisis: expensive).
        cv_simulations: The budget of each leave-one-out fit, in model runs.
        cv_runs: Runs of each held-out crisis, scored without and with its fold's fit.
        write_posterior: Store the posterior (with ``cv``, and each crisis's leave-one-out
            posterior) as ``<library>/pooled_posterior.json``, which ``sim validate`` and
            ``sim run`` of the library's scenarios then use.
        progress: Show a progress bar of the simulations.

    Returns:
        The calibration: ``.posterior`` (a table), ``.diagnostics``, ``.loco``.
    """
    import math

    from sim.validation.pooled import fit_library, loco_posteriors, loco_skill

    _check_main_guard(workers, scheduler)
    if not (isinstance(min_epsilon, int | float) and math.isfinite(min_epsilon)
            and min_epsilon >= 0):
        raise UsageError(f"min_epsilon={min_epsilon!r}: give a number >= 0")
    for name, value in (("simulations", simulations), ("population", population),
                        ("batch", batch), ("generations", generations),
                        ("cv_simulations", cv_simulations), ("cv_runs", cv_runs)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"{name}={value!r}: give a whole number of at least 1")
    folder = Path(library)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    out_dir = Path(out) if out is not None else Path("outputs") / "library-calibration"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=simulations, unit="sim", desc="pooled calibration")

    def said(done: int, generation: int, eps: float) -> None:
        if bar is not None:
            bar.set_postfix_str(f"generation {generation}, tolerance {eps:.3g}")
            bar.update(max(0, min(done, bar.total) - bar.n))

    loco = None
    try:
        diagnostics = fit_library(folder, out_dir=out_dir, simulations=simulations,
                                  population=population, batch=batch,
                                  generations=generations, min_epsilon=min_epsilon, seed=seed,
                                  workers=workers, scheduler=scheduler, progress=said,
                                  reuse=cv)
        if cv:
            if bar is not None:
                bar.reset(total=cv_simulations)
                bar.set_description("leave one crisis out")

            def fold(row: dict) -> None:
                if bar is not None:
                    bar.write(f"  {row['crisis']} held out: fitted in {row['fit_seconds']} s")
                    bar.reset(total=cv_simulations)

            loco = loco_skill(folder, out_dir=out_dir, simulations=cv_simulations,
                              population=population, batch=batch, generations=generations,
                              min_epsilon=min_epsilon, seed=seed, runs=cv_runs,
                              workers=workers, scheduler=scheduler, progress=said,
                              on_fold=fold)
    finally:
        if bar is not None:
            bar.close()
    written = None
    if write_posterior:
        from sim.validation.pooled import write_library_posterior

        written = write_library_posterior(folder, out_dir,
                                          loco_posteriors(out_dir) if cv else None)
    return PooledCalibration(diagnostics=diagnostics, out_dir=out_dir, loco=loco,
                             library_file=written)


# ----------------------------------------------------------------------------- EMA Workbench


#: Columns of a runs table that say which run it is, not what it did (never EMA outcomes).
_RUN_KEYS = ("run", "point", "rep", "scenario")


def _ema_source(results: Any) -> tuple[str, Mapping[str, Any], Any, str, list[str] | None]:
    """``(kind, runs columns, daily table or None, model name, compare's scenario names)``."""
    if isinstance(results, str | Path):
        results = open_results(results)
    if isinstance(results, Versus):
        if results.out_dir is None:
            raise UsageError("to_ema reads a comparison's runs from its folder: run compare "
                             "with out=FOLDER")
        results = open_results(results.out_dir)
    if isinstance(results, Ensemble):
        r = results.result
        return "run", r.columns, r.daily, _model_name(r.manifest), None
    if isinstance(results, Sweep):
        r = results.result
        return "sweep", r.columns, None, _model_name(r.manifest), None
    if isinstance(results, Results):
        runs = results.runs
        if results.kind == "compare":
            names = [str(n) for n in _read_json(results.folder / "comparison.json")
                     ["scenarios"]]
            return "compare", runs, None, names[0], names
        path = results.folder / "daily.parquet"
        daily = None
        if results.kind == "run" and path.exists():
            from sim.execution.storage import read_table

            daily = read_table(path)
        return results.kind, runs, daily, _model_name(results.manifest), None
    raise UsageError(f"to_ema takes an Ensemble, a Sweep, a Versus, a Results or a results "
                     f"folder, not {type(results).__name__}")


def ema_name(name: str) -> str:
    """A column's name as the EMA Workbench 3 wants names: a Python identifier.

    Every character an identifier cannot hold (``.``, ``~``, ``-``) becomes ``_``:
    ``rung.a~b.final`` is ``rung_a_b_final``, ``fighting.loss_rate`` ``fighting_loss_rate``.
    """
    out = re.sub(r"\W", "_", name)
    return out if out.isidentifier() else f"_{out}"


def _model_name(manifest: Mapping[str, Any]) -> str:
    """The model's name in EMA's ``model`` column: the scenario file's stem, else its name."""
    if manifest.get("scenario"):
        return Path(str(manifest["scenario"])).stem
    return str(manifest.get("scenario_name") or "crisis-sim")


@_keywords
def to_ema(results: Any, *, daily: bool = True) -> tuple[pd.DataFrame, dict]:
    """Results in the EMA Workbench's shape: ``(experiments, outcomes)``.

    Exactly what ``ema_workbench.perform_experiments`` returns, so the Workbench's analyses
    (``prim.Prim(x, y)``, ``feature_scoring``, ``dimensional_stacking``, ``pairs_plotting``)
    take crisis-sim's results as they are. One experiment per run, in the order of ``run``:

    Names are Python identifiers, as the Workbench 3 requires (``ema_name``: ``.`` and ``~``
    become ``_``, so ``fighting.loss_rate`` is ``fighting_loss_rate`` and
    ``outcome.war`` ``outcome_war``); ``experiments.attrs["sim_names"]`` maps each back.

    - ``experiments``: a DataFrame with one column per varied input (a sweep's parameters, a
      run's uncertain or posterior draws: the ``param.`` columns without their prefix), then
      ``scenario`` (the draw of inputs a run used: its design point in a sweep, shared by the
      point's replications; its own run number in an ensemble, whose runs each draw chance
      and, with priors, their values), ``policy`` (a comparison's scenario name, each
      alternative being a policy; ``"None"`` otherwise, as EMA writes it) and ``model`` (the
      scenario file's stem), the last three categorical as in EMA.
    - ``outcomes``: a dict of numpy arrays: every outcome flag (``outcome_<name>``, bool) and
      indicator (``losses_<actor>``, ``day_<event>`` with NaN for never, ...) as a 1-d array
      over runs; with ``daily`` (default) and a run made with ``daily=``, every kept series
      as a 2-d array ``runs x days`` named ``daily_<series>``.

    Args:
        results: An ``Ensemble``, a ``Sweep``, a ``Versus`` run with ``out``, a ``Results``
            or a results folder of ``run``, ``sweep`` or ``compare``.
        daily: Include the per-run daily series where there are any.

    Returns:
        ``(experiments, outcomes)``.
    """
    import numpy as np
    import pandas as pd

    kind, runs, table, model, names = _ema_source(results)
    columns = {name: np.asarray(runs[name]) for name in runs.keys()}  # noqa: SIM118
    n = len(columns["run"])
    if kind == "sweep":  # rows by run, which is point-major: the design's order
        order = np.argsort(columns["run"], kind="stable")
        columns = {k: v[order] for k, v in columns.items()}
    names_of: dict[str, str] = {}  # the EMA name of each column -> crisis-sim's

    def named(name: str) -> str:
        short = ema_name(name)
        if names_of.setdefault(short, name) != name:
            raise UsageError(f"{name} and {names_of[short]} have the same EMA name {short}; "
                             "rename an actor or an outcome of the scenario")
        return short

    experiments = pd.DataFrame({named(name.removeprefix("param.")): values.astype(float)
                                for name, values in columns.items()
                                if name.startswith("param.")}, index=pd.RangeIndex(n))
    for name, values in columns.items():  # a sweep's levers: inputs, as EMA's levers are
        if name.startswith("lever."):
            experiments[named(name.removeprefix("lever."))] = (
                pd.Categorical(values.astype(str)) if values.dtype == object
                else values.astype(float))
    if kind == "sweep":
        scenario = columns["point"].astype(np.int64)
    else:
        scenario = columns["run"].astype(np.int64)
    if kind == "compare":
        policy = columns["scenario"].astype(str)
    elif "policy" in columns:  # a sweep with levers: each combination of them is a policy
        policy = columns["policy"].astype(str)
    else:
        policy = np.full(n, "None", dtype=object)
    experiments["scenario"] = pd.Categorical(scenario)
    experiments["policy"] = pd.Categorical(policy, categories=names) if names else \
        pd.Categorical(policy)
    experiments["model"] = pd.Categorical(np.full(n, model, dtype=object))
    outcomes: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if name in _RUN_KEYS or name.startswith(("param.", "lever.")) or name == "policy":
            continue
        if values.dtype == object:  # a nullable column: nulls become NaN (never happened)
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
        outcomes[named(name)] = values
    if daily and table is not None:
        from sim.execution.storage import daily_arrays

        try:
            arrays = daily_arrays(table)
        except ValueError as exc:
            raise UsageError(f"the daily series are damaged ({exc}); run them again") from None
        for series, values in arrays.items():
            if values.shape[0] != n:
                raise UsageError(f"the daily series hold {values.shape[0]} runs, the runs "
                                 f"table {n}: the results are damaged; run them again")
            outcomes[named(f"daily.{series}")] = values
    experiments.attrs["sim_names"] = names_of
    return experiments, outcomes


#: Version of the EMA Workbench's results archive (``ema_workbench.util.save_results``) that
#: ``write_ema`` writes: experiments.csv, one CSV per outcome, metadata.json.
EMA_ARCHIVE_VERSION = 0.1


@_keywords
def write_ema(results: Any, path: str | Path, *, daily: bool = True) -> Path:
    """Write ``to_ema(results)`` as the EMA Workbench's results archive (``sim export --ema``).

    The ``.tar.gz`` that ``ema_workbench.util.save_results`` writes, so that
    ``ema_workbench.load_results(path)`` reads it back as ``(experiments, outcomes)``:
    ``experiments.csv``, one headerless CSV per outcome (``<name>.cls`` for a 1-d outcome,
    as EMA's ScalarOutcome; ``<name>.csv`` for a 2-d one, as its ArrayOutcome) and
    ``metadata.json``. Written without the Workbench installed. An existing file is never
    overwritten: the archive is written beside it and linked into place only if the name is
    still free.

    Returns:
        The archive's path.

    Raises:
        UsageError: ``path`` exists, or its folder does not.
    """
    import io
    import os
    import tarfile
    import tempfile

    import pandas as pd

    path = Path(path)
    if os.path.lexists(path):
        raise UsageError(f"{path} exists; sim never overwrites a file: choose another name")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such folder")
    experiments, outcomes = to_ema(results, daily=daily)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            def add(name: str, data: bytes) -> None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

            add("experiments.csv", experiments.to_csv(index=False).encode())
            listed = []
            for name, values in outcomes.items():
                kind, suffix = ("ScalarOutcome", "cls") if values.ndim == 1 else \
                    ("ArrayOutcome", "csv")
                add(f"{name}.{suffix}",
                    pd.DataFrame(values).to_csv(header=False, index=False).encode())
                listed.append((kind, name, f"{name}.{suffix}"))
            add("metadata.json", json.dumps({
                "version": EMA_ARCHIVE_VERSION, "outcomes": listed,
                "experiments": {k: v.name for k, v in experiments.dtypes.to_dict().items()},
            }).encode())
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.link(tmp, path)  # fails if the name was taken meanwhile: never replaced
        except FileExistsError:
            raise UsageError(f"{path} exists; sim never overwrites a file: choose another "
                             "name") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _umask() -> int:
    from sim.execution.storage import _umask as umask

    return umask()
