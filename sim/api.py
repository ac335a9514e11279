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

Every function documented here is listed, with an example, in ``docs/api.md``. Errors a user
can make raise ``sim.errors.SimError`` subclasses with a one-line message (the command line
prints that line and exits with code 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UsageError

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
    "Ensemble", "Results", "Sweep", "Versus", "compare", "compile_model", "default_out",
    "discover", "load", "make_sweep_design", "open_results", "plot", "replay", "report",
    "results_folder", "run", "sensitivity_table", "sweep",
]

#: Files that mark a results folder of each kind (run, sweep, compare).
RESULT_MARKERS = {"summary.json": "run", "sweep.parquet": "sweep", "comparison.json": "compare"}

#: A sweep's settings when neither the call nor a sweep file gives them.
SWEEP_DEFAULTS = {"design": "lhs", "points": 100, "reps": 50}


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
        raise UsageError(f"{path}: file not found")
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

    def figure(self) -> Figure:
        """Outcome probabilities with their intervals (``sim.plots.outcome_bars``)."""
        from sim.plots import outcome_bars

        return outcome_bars(self.result.outcomes, f"outcome probabilities "
                            f"({self.manifest['runs']} runs)")


def run(scenario: LoadedScenario | str | Path, *, runs: int | None = None,
        seed: int | None = None, batch_size: int | None = None, workers: int | None = None,
        scheduler: str | None = None, out: str | Path | None = None,
        progress: bool = True, varied=None) -> Ensemble:
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

    Returns:
        The ensemble: ``.outcomes``, ``.indicators`` and ``.runs`` tables, ``.figure()``.

    Raises:
        RunInterruptedError: On Ctrl-C (or a notebook's interrupt), after saving the finished
            batches in ``out``; running again resumes.
    """
    from sim.execution.ensemble import run_ensemble

    loaded = _scenario(scenario)
    out_dir = None if out is None else Path(out)
    result = run_ensemble(loaded, runs=runs, seed=seed, batch_size=batch_size,
                          workers=workers, scheduler=scheduler, out_dir=out_dir,
                          progress=progress, varied=varied)
    from sim.validation.recalibration import run_calibration

    return Ensemble(result=result, out_dir=out_dir,
                    calibration=run_calibration(loaded, result.outcomes, out_dir))


def replay(scenario: LoadedScenario | str | Path, run_index: int, *, seed: int | None = None,
           out: str | Path | None = None, runs: int | None = None) -> Replay:
    """Re-run one replication alone, with its trajectory and event log (``sim run --replay``).

    Args:
        scenario: A loaded scenario or a file.
        run_index: The replication to re-run (a row of ``runs.parquet``).
        seed: The ensemble's seed (default: the scenario's).
        out: The ensemble's folder: the trajectory goes to ``out/replay-K/`` and the row is
            checked against the ensemble's.
        runs: The ensemble's size when there is no saved one (``run_index`` must be below
            it; default the folder's, else the scenario's ``run.runs``).

    Returns:
        ``.row`` (indicators and outcomes), ``.log`` (event lines), ``.matches_ensemble``.
    """
    from sim.execution.replay import replay as replay_run

    loaded = _scenario(scenario)
    seed = loaded.spec.run.seed if seed is None else seed
    return replay_run(loaded, seed, run_index, None if out is None else Path(out), runs)


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


def make_sweep_design(scenario: LoadedScenario, parameters: Any = None, *,
                      design: str | None = None, points: int | None = None,
                      reps: int | None = None, seed: int | None = None,
                      sweep_file: str | Path | None = None) -> tuple[Design, int, int]:
    """The design, replications and seed of a sweep, without running it.

    The call's values win over the sweep file's, which win over ``SWEEP_DEFAULTS`` and the
    scenario's seed.

    Returns:
        ``(design, reps, seed)``.
    """
    from sim.design import load_sweep_file, make_design

    spec = {**SWEEP_DEFAULTS, "seed": None, "parameters": []}
    if sweep_file is not None:
        spec = load_sweep_file(Path(sweep_file))
    params = list(spec["parameters"]) + _parameters(parameters)
    seed = seed if seed is not None else (
        spec["seed"] if spec["seed"] is not None else scenario.spec.run.seed)
    kind, points, reps = design or spec["design"], points or spec["points"], reps or spec["reps"]
    # a design too big to run is refused before it is built (its bound: run.runs' in the schema)
    from sim.execution.budget import check_sweep_size
    from sim.scenario.schema import RunSettings

    max_runs = next(b.le for b in RunSettings.model_fields["runs"].metadata if hasattr(b, "le"))
    check_sweep_size(kind, [None if p.levels is None else len(p.levels) for p in params],
                     points, reps, max_runs)
    return make_design(kind, params, points, seed), reps, seed


def sweep(scenario: LoadedScenario | str | Path, parameters: Any = None, *,
          design: str | Design | None = None, points: int | None = None, reps: int | None = None,
          seed: int | None = None, sweep_file: str | Path | None = None,
          batch_size: int | None = None, workers: int | None = None,
          scheduler: str | None = None, out: str | Path | None = None,
          progress: bool = True) -> Sweep:
    """Run a design of parameter points (``sim sweep``).

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

    Returns:
        The sweep: ``.points``, ``.runs`` and ``.sensitivity`` tables.
    """
    from sim.execution.sweep import run_sweep

    loaded = _scenario(scenario)
    if design is None or isinstance(design, str):
        made, reps, seed = make_sweep_design(loaded, parameters, design=design, points=points,
                                             reps=reps, seed=seed, sweep_file=sweep_file)
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

    loaded = [_scenario(s) for s in scenarios]
    first = loaded[0].spec.run
    runs = runs or first.runs
    seed = first.seed if seed is None else seed
    out_dir = None if out is None else Path(out)
    result = compare_runs(loaded, runs=runs, seed=seed, workers=workers,
                          batch_size=batch_size, out_dir=out_dir, progress=progress)
    return Versus(result=result, out_dir=out_dir, runs_per_scenario=runs, seed=seed)


# ----------------------------------------------------------------------------- saved results


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
        keep = [c for c in points.columns if c.startswith(("point", "param.", "outcome."))]
        return points[keep]

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run (``runs.parquet`` or ``sweep.parquet``)."""
        name = "sweep.parquet" if self.kind == "sweep" else "runs.parquet"
        return _read_table(self.folder / name)

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
        raise UsageError(f"--format: unknown format {unknown[0]!r}; use png, svg or pdf")
    return plot_folder(folder, formats)


def report(folder: str | Path) -> Path:
    """Write one self-contained HTML page of a results folder (``sim report``)."""
    from sim.report import write_report

    return write_report(results_folder(folder))


# ----------------------------------------------------------------------------- discovery


def discover(folder: str | Path | Sweep, *, outcome: str | None = None,
             where: str | None = None, min_coverage: float = 0.5,
             write: bool = True) -> dict:
    """Scenario discovery on a saved sweep: which parameter ranges make an outcome likely.

    What ``sim discover`` does.

    Runs PRIM (Friedman & Fisher 1999; Bryant & Lempert 2010) on every run of the sweep, the
    target being an outcome flag or a condition on an indicator, and a CART tree (Breiman et
    al. 1984) as a second view. See ``sim.discovery``.

    Args:
        folder: A sweep's results folder (or a ``Sweep`` written to one).
        outcome: An outcome of the scenario (``war``); or
        where: A condition on an indicator, ``"losses.a>=50"`` (ops ``>= > <= < == !=``; a
            rung name as the value of a ``rung.*`` indicator; ``"day.war.a~b happened"``).
        min_coverage: The chosen box is the densest on the peeling trajectory with at least
            this coverage.
        write: Write ``discovery.json`` and figures ``discovery_*.png`` into the folder.

    Returns:
        The discovery (as written to ``discovery.json``): target, base rate, the peeling
        trajectory, the chosen box's limits per parameter with quasi-p values, the tree.
    """
    from sim.discovery import discover_folder

    if isinstance(folder, Sweep):
        if folder.out_dir is None:
            raise UsageError("discover reads a saved sweep: run the sweep with out=FOLDER")
        folder = folder.out_dir
    folder = Path(folder)
    if not (folder / "sweep.parquet").exists():
        raise UsageError(f"{folder} holds no sweep results (sweep.parquet); run "
                         "'sim sweep' first, or give the folder it wrote")
    return discover_folder(folder, outcome=outcome, where=where, min_coverage=min_coverage,
                           write=write)


# ----------------------------------------------------------------------------- scoring
# SCORING (issue #13): the `validation` helper adds `score(...)` here, a function that scores
# saved results against a crisis's observations file, returning tables; the CLI's `sim score`
# calls it. Nothing to see yet.
