"""The ``sim`` command line: a thin layer over the scenario, execution and analysis modules.

Errors in scenarios and arguments are printed as one line per problem (file:line:column: key:
what is wrong) with exit code 2 and no traceback. Ctrl-C stops cleanly with exit code 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from sim.arguments import int_between, run_setting
from sim.errors import (
    CLI_WORDING,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    RunInterruptedError,
    ScenarioError,
    SimError,
    UsageError,
    not_found,
)


def _is_main(name: str) -> bool:
    """Indicators worth a line in the terminal summary (everything is in summary.json)."""
    parts = name.split(".")
    if name in ("displaced.total", "dead.total", "day.agreement"):
        return True
    if parts[0] == "losses":
        return len(parts) == 2
    if parts[0] in ("people", "pressure", "rung"):
        return parts[-1] in ("peak", "max")
    return parts[0] == "control" or parts[0] == "day"


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and a one-line hint, as the other errors do."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # one line, no usage block above it: '--help' is named for the rest
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


#: uncertain values named in sim run's first line; more are counted, not listed (the
#: baseline's 98 made a line of 3,000 characters)
SHOWN_PRIORS = 6

MAX_WORKERS = 1024  # more local processes than any machine has cores


def _execution_options(parser: argparse.ArgumentParser, out_default: str, set_help: str,
                       scheduler: bool = True) -> None:
    """Options shared by the commands that run the model (run, sweep, compare)."""
    parser.add_argument("--seed", type=run_setting("seed"),
                        help="seed (default: the scenario's)")
    parser.add_argument("--workers", type=int_between(1, MAX_WORKERS),
                        help="local worker processes (default: all cores)")
    parser.add_argument("--batch-size", type=run_setting("batch_size"),
                        help="replications stepped in lockstep per batch")
    parser.add_argument("--out", type=Path, help=f"output folder (default: {out_default})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE", help=set_help)
    if scheduler:
        parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                            help="run the batches on a Dask cluster (default: $SIM_SCHEDULER, "
                            "else local processes)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI in the README)."""
    parser = _Parser(prog="sim", description="Agent-based crisis simulator: run scenario "
                     "ensembles and read outcome probabilities.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="validate a scenario file and summarise it")
    check.add_argument("file", type=Path, help="scenario YAML")
    check.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="PATH=VALUE", help="override a value (repeatable)")
    check.add_argument("--assumptions", action="store_true",
                       help="list every value with its source quote or assumption")

    run = sub.add_parser("run", help="run an ensemble and print outcome probabilities")
    run.add_argument("file", type=Path, help="scenario YAML")
    run.add_argument("--runs", type=run_setting("runs"),
                     help="replications (default: the scenario's)")
    run.add_argument("--replay", type=run_setting("runs", offset=-1), metavar="K",
                     help="re-run replication K alone; write its trajectory and event log")
    run.add_argument("--uncertain", action="store_true",
                     help="draw each run's uncertain values (range:/prior:) from their priors "
                     "(the default when the scenario declares any)")
    run.add_argument("--point", action="store_true",
                     help="run the point values even when the scenario declares priors "
                     "(range:/prior:); the intervals then hold no parameter uncertainty")
    run.add_argument("--posterior", type=Path, metavar="FILE",
                     help="draw each run's values from a posterior written by sim calibrate")
    run.add_argument("--daily", metavar="SERIES",
                     help="keep every run's daily values of these series (comma-separated "
                     "names or patterns, e.g. 'rung.*,losses.*') in daily.parquet; "
                     "refused when the table would not fit this machine")
    run.add_argument("--no-pooled", action="store_true",
                     help="do not scale the generic constants of a crisis of the library by "
                     "its pooled posterior (pooled_posterior.json of sim calibrate --library), "
                     "used by default when there is one")
    _execution_options(run, "outputs/<scenario>/", "override a value (repeatable)")

    sweep = sub.add_parser("sweep", help="run a design of parameter points (grid, lhs, sobol, "
                           "morris)")
    sweep.add_argument("file", type=Path, help="scenario YAML")
    sweep.add_argument("--sweep", dest="sweep_file", type=Path,
                       help="sweep file (YAML) with design, points, reps, parameters (the "
                       "uncertainties) and levers (policies crossed with them)")
    sweep.add_argument("--design", choices=("grid", "lhs", "sobol", "morris"),
                       help="design (default lhs)")
    sweep.add_argument("--points", type=run_setting("runs"),
                       help="lhs: points; grid: levels per range; sobol: base samples (power "
                       "of 2); morris: trajectories (default 100)")
    sweep.add_argument("--reps", type=run_setting("runs"),
                       help="replications per point (default 50)")
    sweep.add_argument("--param", dest="params", action="append", default=[],
                       metavar="PATH=LOW:HIGH|V1,V2", help="a swept value (repeatable)")
    _execution_options(sweep, "outputs/<scenario>-sweep/", "override a value for every point")

    comp = sub.add_parser("compare", help="compare scenarios with common random numbers "
                          "(the first is the reference)")
    comp.add_argument("files", type=Path, nargs="+", help="scenario YAMLs, baseline first")
    comp.add_argument("--runs", type=run_setting("runs"), help="runs per scenario (default: the "
                      "first scenario's)")
    _execution_options(comp, "outputs/compare-<first scenario>/",
                       "override a value in every scenario", scheduler=False)

    plot = sub.add_parser("plot", help="draw the figures of a results folder (no re-run)")
    plot.add_argument("folder", type=Path, help="a folder written by run, sweep or compare")
    plot.add_argument("--format", dest="formats", default="png,svg",
                      help="comma-separated image formats (default png,svg)")

    disc = sub.add_parser("discover", help="scenario discovery on a saved sweep: the parameter "
                          "ranges that make an outcome likely (PRIM and a CART tree)")
    disc.add_argument("folder", type=Path, help="a folder written by sim sweep")
    target = disc.add_mutually_exclusive_group(required=True)
    target.add_argument("--outcome", help="an outcome of the scenario (e.g. war)")
    target.add_argument("--where", metavar="CONDITION",
                        help="a condition on an indicator, e.g. 'losses.a>=50' "
                        "(ops >= > <= < == !=; 'INDICATOR happened|never')")
    disc.add_argument("--min-coverage", type=float, default=0.5,
                      help="choose the densest PRIM box covering at least this share of the "
                      "cases (default 0.5)")

    report = sub.add_parser("report", help="write one self-contained HTML page of a results "
                            "folder")
    report.add_argument("folder", type=Path, help="a folder written by run, sweep or compare")

    export = sub.add_parser("export", help="write a results folder in another tool's format "
                            "(the EMA Workbench's results archive)")
    export.add_argument("folder", type=Path, help="a folder written by run, sweep or compare")
    export.add_argument("--ema", metavar="FILE.tar.gz", type=Path, required=True,
                        help="write the EMA Workbench's results archive (what "
                        "ema_workbench.load_results reads); never overwrites a file")
    export.add_argument("--no-daily", action="store_true",
                        help="leave out the per-run daily series of a run made with --daily")

    from sim.validation.commands import add_parsers as add_validation_parsers

    add_validation_parsers(sub)

    app = sub.add_parser("app", help="explore a scenario in the browser (Mesa SolaraViz page)")
    app.add_argument("file", type=Path, nargs="?", default=Path("scenarios/idlib_2020.yaml"),
                     help="scenario YAML to open first (default scenarios/idlib_2020.yaml)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                     "127.0.0.1: this machine only)")
    app.add_argument("--port", type=int_between(0, 65535), default=8765,
                     help="port (default 8765; 0 picks a free one)")
    app.add_argument("--results", type=Path, default=None, metavar="DIR",
                     help="folder whose results the 'Saved results' page may open (default "
                     "./outputs); nothing outside it is opened")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sim`` script and ``python -m sim``."""
    # errors name this command's flags, not the API's keywords, while the command runs (and
    # only then: a caller in the same process gets the API's wording back)
    token = CLI_WORDING.set(True)
    try:
        return _main(argv)
    finally:
        CLI_WORDING.reset(token)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    commands = {"check": _check, "run": _run, "sweep": _sweep, "compare": _compare,
                "plot": _plot, "report": _report, "app": _app, "discover": _discover,
                "export": _export}
    from sim.validation.commands import COMMANDS as VALIDATION_COMMANDS

    commands.update(VALIDATION_COMMANDS)
    commands["calibrate"] = _calibrate  # --library goes through sim.api (this layer's own)
    if args.command == "app":  # usage errors before a minute of compiling, not after it
        try:
            _app_arguments(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if args.command in ("run", "sweep", "compare", "app", "validate", "calibrate"):
        from sim.jit import compiled_code_cached

        # a missing input file is said at once, not after minutes of compiling
        named = [*(getattr(args, "files", None) or []), getattr(args, "file", None),
                 getattr(args, "observations", None)]
        missing = next((f for f in named if f is not None and not Path(f).exists()), None)
        if missing is not None:
            print(f"error: {missing}: {not_found(missing)}", file=sys.stderr)
            return EXIT_ERROR
        if not compiled_code_cached():
            from sim.api import compile_model

            print("compiling the model for this machine (only the first run of this version "
                  "of crisis-sim; two to three minutes)...", file=sys.stderr, flush=True)
            seconds = compile_model() or 0.0
            print(f"compiled in {seconds:.0f} s (not counted in the runs per second)",
                  file=sys.stderr, flush=True)
    if _uses_local_pool(args):  # its workers' server starts while this process loads
        from sim.execution.executors import start_local_server

        start_local_server()
    try:
        return commands[args.command](args)
    except ScenarioError as exc:
        count = len(exc.problems)
        print(f"error: {count} problem{'s' if count != 1 else ''} in the scenario:",
              file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERROR
    except RunInterruptedError as exc:
        import shlex

        print(f"\ninterrupted: the batches finished so far are saved in {exc.out_dir}/parts."
              f"\nresume with the same command:\n  {shlex.join(['sim', *sys.argv[1:]])}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a full disk, a read-only folder: what the system said, in one line
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot read or write{where}: {exc.strerror or exc}; free space or "
              "choose another folder, and run the command again", file=sys.stderr)
        return EXIT_ERROR


def _uses_local_pool(args: argparse.Namespace) -> bool:
    """Whether the command will probably run batches on the local process pool."""
    from sim.execution.executors import default_workers, scheduler_address

    workers = getattr(args, "workers", 1)
    return (args.command in ("run", "sweep", "compare") and getattr(args, "replay", None) is None
            and scheduler_address(getattr(args, "scheduler", None)) is None
            and (default_workers() if workers is None else workers) > 1)


def _load(args: argparse.Namespace):
    from sim.api import load

    return load(args.file, getattr(args, "overrides", []))


def _check(args: argparse.Namespace) -> int:
    loaded = _load(args)
    spec = loaded.spec
    memory = _memory_estimate(spec)  # refused before the scenario is called valid
    rows = loaded.provenance()
    sourced = sum(1 for *_, note in rows if note is not None and note.kind == "source")
    assumed = sum(1 for *_, note in rows if note is not None
                  and (note.kind == "assumption" or note.assumption))  # both: counted in both
    bare = [path for path, _, note in rows if note is None]
    print(f"{args.file}: valid scenario '{spec.name}'")
    print(f"  {len(spec.actors)} actors, {len(spec.ladder.rungs)} rungs, "
          f"{len(spec.theatre.objectives)} objectives, {len(spec.refugees.nodes)} refugee nodes, "
          f"{len(spec.assets)} assets, {len(spec.deals)} deals, {len(spec.timeline)} dated "
          f"events, {len(spec.outcomes)} outcomes")
    print(f"  {spec.run.days} days from {spec.run.start}; default {spec.run.runs} runs, "
          f"seed {spec.run.seed}")
    print(f"  values: {len(rows)}; with a source quote {sourced}, with an assumption "
          f"{assumed}, without a note {len(bare)}")
    print(f"  memory of a run: {memory.describe()}")
    if loaded.uncertain:
        print(f"  parameter uncertainty: {len(loaded.uncertain)} values with a range or prior; "
              "sim run draws them per run (--point runs the point values)")
    else:
        print("  parameter uncertainty: none declared (no range: or prior:), so the intervals "
              "of sim run hold only the runs' chance, not uncertainty in the scenario's values")
    from sim.reachability import horizon_warnings

    for line in horizon_warnings(spec, loaded.uncertain):  # before a run finds them at 0%
        print(f"  warning: {line}")
    if args.assumptions:
        from sim.analysis import prior_text
        from sim.scenario.loader import format_path

        priors = {format_path(k): prior_text(prior.model_dump(exclude_none=True))
                  for k, prior in loaded.uncertain.items()}
        print()
        for path, value, note in rows:
            label = "NO NOTE" if note is None else note.kind
            text = "" if note is None else note.text
            if note is not None and note.assumption:
                text += f"  [assumption] {note.assumption}"
            drawn = f"  [prior] {priors[path]}" if path in priors else ""
            print(f"{path} = {value}{drawn}  [{label}] {text}")
    return EXIT_OK


def _memory_estimate(spec):
    """The run's memory estimate; refuse (exit 2) one this machine cannot hold."""
    from sim.execution.budget import check_memory, estimate_memory
    from sim.execution.executors import default_workers
    from sim.world import compile_scenario

    estimate = estimate_memory(spec, compile_scenario(spec).layout,
                               min(spec.run.batch_size, spec.run.runs), default_workers())
    check_memory(estimate)
    return estimate


def _run(args: argparse.Namespace) -> int:
    from sim import api
    from sim.analysis import degeneracy, format_degeneracy, format_indicators
    from sim.validation.recalibration import format_outcomes_calibrated

    loaded = _load(args)
    out_dir = args.out or api.default_out(loaded, "run")
    from sim.execution.outdir import refuse_foreign

    refuse_foreign(out_dir)  # before the first line about the run: a refusal comes first
    from sim.validation.commands import varied_for_run

    seed = loaded.spec.run.seed if args.seed is None else args.seed
    varied = varied_for_run(args, loaded, seed)
    if getattr(args, "point", False):
        _point_values_note(loaded, "--point")
    if args.replay is not None:
        if args.daily is not None:
            raise UsageError("--daily keeps series of every run of an ensemble; a --replay "
                             "writes every series of its one run already (its trajectory)")
        return _replay(loaded, args.seed, args.replay, out_dir, args.runs, varied)
    if varied is not None and varied.mode == "uncertain":  # said first, before any progress
        why = ("--uncertain" if args.uncertain else
               "the scenario declares priors; --point runs the point values")
        from sim.scenario.loader import format_path

        # the scenario's own priors (a pooled posterior's scaled paths are the next line's)
        own = sorted((format_path(k) for k in loaded.uncertain), key=varied.paths.index)
        count = len(own)
        listed = ", ".join(own) if count <= SHOWN_PRIORS else (
            f"{', '.join(own[:SHOWN_PRIORS])} and {count - SHOWN_PRIORS} more ('sim check "
            f"{args.file} --assumptions' lists each with its prior)")
        print(f"priors (uncertain mode): each run draws its own values of {count} uncertain "
              f"assumption{'s' if count != 1 else ''} ({why}): {listed}", flush=True)
    if varied is not None and varied.pooled is not None:
        p = varied.pooled
        fitted = ("fitted on the other crises of the library" if not p.get("in_sample") else
                  "fitted on every crisis of the library, this one included")
        print(f"pooled constants: each run's {', '.join(p['constants'])} multiply its values, "
              f"drawn from {p['file']} ({fitted}); --no-pooled runs without them", flush=True)
    ensemble = api.run(loaded, runs=args.runs, seed=args.seed, batch_size=args.batch_size,
                       workers=args.workers, scheduler=args.scheduler, out=out_dir,
                       progress=not args.no_progress, varied=varied, daily=args.daily)
    result = ensemble.result
    m = result.manifest
    if varied is not None and varied.mode != "uncertain":
        print(f"{varied.mode} mode: each run draws its own values of "
              f"{', '.join(varied.paths)}")
    resumed = (f", {m['resumed_batches']} batches resumed from an earlier run"
               if m["resumed_batches"] else "")
    print(f"{loaded.spec.name}: {m['runs']} runs, seed {m['seed']}, "
          f"{m['wall_seconds']:.1f} s ({m['runs_per_second'] or 0:.0f} runs/s on "
          f"{m['executor']}{resumed})\n")
    print(format_outcomes_calibrated(result.outcomes, ensemble.calibration))
    from sim.reachability import explain_extremes, format_extremes
    from sim.report import runs_reach

    found = degeneracy(result.outcomes, result.indicators)
    # outcomes at 0% / 100% are listed with whether the structure forces them (item 6)
    extremes = format_extremes(explain_extremes(
        loaded.spec, result.outcomes, frozenset(varied.paths) if varied is not None else
        frozenset(), runs_reach(out_dir)))
    degenerate = "\n".join(x for x in (extremes, format_degeneracy(
        {**found, "never": [], "always": []}, len(result.indicators))) if x)
    print(f"\n{degenerate}" if degenerate else "")
    print()
    main = [r for r in result.indicators if _is_main(r["indicator"])]
    varying = [r for r in main if "q05" in r and (r["q05"] != r["q95"] or r["missing"])]
    print(format_indicators(varying))
    if len(varying) < len(main):
        print(f"({len(main) - len(varying)} main indicators constant across runs not shown; "
              "all are in summary.json)")
    daily = (f", daily.parquet ({len(result.daily_series)} series per run and day)"
             if result.daily_series else "")
    print(f"\nresults in {out_dir}/ (runs.parquet, trajectories.parquet{daily}, summary.json, "
          "manifest.json)")
    return EXIT_OK


def _replay(loaded, seed: int | None, run: int, out_dir: Path, runs: int | None,
            varied=None) -> int:
    from sim.api import replay

    result = replay(loaded, run, seed=seed, out=out_dir, runs=runs, varied=varied)
    seed = loaded.spec.run.seed if seed is None else seed
    print(f"replay of run {run} (seed {seed}): {len(result.log)} log lines")
    for name, value in result.row.items():
        if name.startswith("outcome."):
            print(f"  {name.removeprefix('outcome.')}: {'yes' if value else 'no'}")
    folder = out_dir / f"replay-{run}"
    print(f"trajectory and event log in {folder}/")
    if result.matches_ensemble is True:
        print(f"matches row {run} of {out_dir}/runs.parquet exactly")
    elif result.matches_ensemble is False:
        print(f"warning: differs from row {run} of {out_dir}/runs.parquet", file=sys.stderr)
        return EXIT_ERROR
    elif (out_dir / "runs.parquet").exists():
        print(f"not compared with {out_dir}/runs.parquet: its runs took other values (point "
              "values, drawn priors or a posterior); replay with the options of that run")
    return EXIT_OK


def _point_values_note(loaded, what: str) -> None:
    """A word when a scenario's priors are not drawn (issue #26: they went unmentioned)."""
    if loaded.uncertain:
        print(f"note: {loaded.spec.name!r} declares {len(loaded.uncertain)} values with a "
              f"range or prior; {what} runs their point values, so its intervals hold only the "
              "runs' chance, not uncertainty in those values (sim run draws them)",
              file=sys.stderr)


def _sweep(args: argparse.Namespace) -> int:
    from sim import api
    from sim.analysis import plural

    loaded = _load(args)
    _point_values_note(loaded, "a sweep")
    design, reps, seed = api.make_sweep_design(
        loaded, args.params, design=args.design, points=args.points, reps=args.reps,
        seed=args.seed, sweep_file=args.sweep_file)
    out_dir = args.out or api.default_out(loaded, "sweep")
    if design.policies:
        levers = f"{len(design.levers)} lever{'s' if len(design.levers) > 1 else ''}"
        points = (f"{design.kind} design of {design.size} points" if design.parameters else
                  "the scenario's own values (no uncertainties)")
        print(f"{len(design.policies)} policies ({levers}) x {points} x {reps} replications = "
              f"{len(design.policies) * design.size * reps} runs"
              + (f" over {plural(len(design.parameters), 'uncertainty', 'uncertainties')}"
                 if design.parameters else ""),
              file=sys.stderr)
    else:
        print(f"{design.kind} design: {design.size} points x {reps} replications = "
              f"{design.size * reps} runs over "
              f"{plural(len(design.parameters), 'parameter', 'parameters')}",
              file=sys.stderr)
    result = api.sweep(loaded, design=design, reps=reps, seed=seed,
                       batch_size=args.batch_size, workers=args.workers,
                       scheduler=args.scheduler, out=out_dir,
                       progress=not args.no_progress).result
    m = result.manifest
    resumed = (f", {m['resumed_runs']} runs of {m['resumed_batches']} batches resumed from an "
               "earlier sweep and not counted" if m["resumed_batches"] else "")
    print(f"{loaded.spec.name}: {m['runs']} runs, {m['wall_seconds']:.1f} s "
          f"({m['runs_per_second'] or 0:.0f} runs/s{resumed})\n")
    print(_format_sweep(result))
    if result.policies is not None:
        from sim.execution.sweep import format_policies

        print("\n" + format_policies(result))
    print(f"\nresults in {out_dir}/ (sweep.parquet, points.parquet, design.parquet"
          f"{', policies.json, policies.parquet' if result.policies is not None else ''}"
          f"{', sensitivity.json' if result.sensitivity else ''}, manifest.json)")
    return EXIT_OK


def _format_sweep(result) -> str:
    """Outcome probability range over the design and, if computed, sensitivity indices."""
    points = result.points
    names = [n for n in points if n.startswith("outcome.") and not n.endswith((".low", ".high"))]
    width = max(len(n) for n in names) - len("outcome.")
    lines = [f"{'outcome':<{width}}  {'min P':>6}  {'median P':>8}  {'max P':>6}   over points"]
    for n in names:
        p = points[n]
        lines.append(f"{n.removeprefix('outcome.'):<{width}}  {p.min():6.1%}  "
                     f"{np.median(p):8.1%}  {p.max():6.1%}")
    if result.sensitivity:
        s = result.sensitivity
        params = s["parameters"]
        lines.append("")
        if s.get("policy"):
            lines.append(f"(indices of the reference policy, {s['policy']}; every policy's "
                         "are in sensitivity.json)")
        if s["method"] == "sobol":
            lines.append("Sobol indices (first order S1 and total ST, each +- its 95% interval):")
            keys = ("S1", "ST")
        else:
            lines.append("Morris screening (mu* +- its 95% interval; sigma):")
            keys = ("mu_star", "sigma")
        for target, res in sorted(s["results"].items()):  # as sensitivity.json and the report
            if not target.startswith("outcome."):
                continue
            lines.append(f"  {target.removeprefix('outcome.')}")
            for i, p in enumerate(params):
                cells = []
                for k in keys:
                    conf = res.get(f"{k}_conf")
                    cells.append(f"{k} {res[k][i]:6.3f}" + (f" +-{conf[i]:5.3f}" if conf else ""))
                lines.append(f"    {p:<40} " + "   ".join(cells))
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    from sim import api
    from sim.execution.compare import format_comparison

    scenarios = [api.load(path, args.overrides) for path in args.files]
    for loaded in scenarios:
        _point_values_note(loaded, "a comparison")
    out_dir = args.out or api.default_out(scenarios[0], "compare")
    versus = api.compare(scenarios, runs=args.runs, seed=args.seed, workers=args.workers,
                         batch_size=args.batch_size, out=out_dir,
                         progress=not args.no_progress)
    print(f"{len(scenarios)} scenarios x {versus.runs_per_scenario} runs, seed {versus.seed} "
          "(common random numbers)\n")
    print(format_comparison(versus.result))
    print(f"\nresults in {out_dir}/ (comparison.json, comparison.parquet, runs.parquet)")
    return EXIT_OK


def _from_results(folder: Path, work):
    """Run ``work`` on a results folder; a damaged folder or a failed write is one line.

    The folder is untrusted input (received, truncated by a full disk, edited by hand).
    """
    import pyarrow as pa

    try:
        return work()
    except (pa.ArrowException, KeyError, IndexError, TypeError, ValueError,
            AttributeError) as exc:
        raise UsageError(f"the results in {folder} are damaged or incomplete "
                         f"({type(exc).__name__}: {str(exc)[:120]}); run them again into a "
                         "new --out") from None
    except OSError as exc:
        raise UsageError(f"cannot write in {folder}: {exc.strerror or exc}") from None


def _plot(args: argparse.Namespace) -> int:
    from sim.api import plot

    written = _from_results(args.folder, lambda: plot(args.folder, args.formats.split(",")))
    print(f"{len(written)} files in {args.folder / 'figures'}/")
    for path in written:
        print(f"  {path.name}")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from sim.api import report

    path = _from_results(args.folder, lambda: report(args.folder))
    print(f"report: {path}")
    return EXIT_OK


def _discover(args: argparse.Namespace) -> int:
    from sim.api import discover
    from sim.discovery import format_discovery

    result = _from_results(args.folder, lambda: discover(
        args.folder, outcome=args.outcome, where=args.where, min_coverage=args.min_coverage))
    print(format_discovery(result))
    print(f"\nresults in {args.folder}/discovery.json and {args.folder}/figures/discovery_*.png")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from sim.api import open_results, write_ema

    results = _from_results(args.folder, lambda: open_results(args.folder))
    path = _from_results(args.folder, lambda: write_ema(results, args.ema,
                                                        daily=not args.no_daily))
    print(f"EMA Workbench results archive: {path} (ema_workbench.load_results reads it; "
          "experiments and outcomes as perform_experiments returns them)")
    return EXIT_OK


def _app(args: argparse.Namespace) -> int:
    """Check the scenario, then serve the page with solara until Ctrl-C."""
    import os
    import socket
    import subprocess

    from sim.api import _need_extra

    results = _app_arguments(args)
    _need_extra("solara", "app", "sim app")  # the baseline install leaves the app out
    _load(args)  # a scenario that does not load is reported here, before any server starts
    with socket.socket() as probe:  # a busy port is a plain error, before solara starts
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                             "choose another port with --port, or --port 0 for a free one"
                             ) from None
        port = probe.getsockname()[1]
    folder = Path("scenarios") if Path("scenarios").is_dir() else args.file.parent
    env = {**os.environ, "SIM_APP_SCENARIO": str(args.file), "SIM_APP_SCENARIOS": str(folder),
           "SIM_APP_RESULTS": str(results),
           "SIM_APP_PARENT": str(os.getpid())}  # the server ends when this process does
    # solara's server behind a check of Origin (sim/app/server.py)
    command = [sys.executable, "-m", "sim.app.server", args.host, str(port)]
    shown = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address
    print(f"sim app: {args.file} at http://{shown}:{port}/  (Ctrl-C stops the server)",
          flush=True)
    import signal

    def stop(signum, frame):  # SIGTERM to sim app stops its server too, as Ctrl-C does
        raise KeyboardInterrupt

    server = subprocess.Popen(command, env=env)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _app_arguments(args: argparse.Namespace) -> Path:
    """``sim app``'s own arguments checked (the host, the results root); the root resolved."""
    if not args.host.strip():
        raise UsageError("--host is empty; give an address: 127.0.0.1 (this machine only, the "
                         "default) or 0.0.0.0 to listen on every interface")
    return _results_root(args.results)


def _results_root(given: Path | None) -> Path:
    """``--results DIR`` resolved (symlinks too): an existing folder.

    By default ./outputs, which need not exist yet (the page then says there are no results).
    """
    if given is None:
        return Path("outputs").resolve()
    if not str(given).strip():
        raise UsageError("--results is empty; give the folder holding your results "
                         "(default ./outputs)")
    if not given.is_dir():
        what = "is not a folder" if given.exists() else "does not exist"
        raise UsageError(f"--results {given}: {what}; give the folder holding your results "
                         "(default ./outputs)")
    return given.resolve()


def _calibrate(args: argparse.Namespace) -> int:
    """``sim calibrate``: one scenario, or the library's generic constants (``--library``).

    One scenario is ``sim.validation.commands``'s; the pooled fit goes through ``sim.api``,
    which the validation layer cannot import.
    """
    import shlex

    from sim import api
    from sim.validation.commands import COMMANDS as VALIDATION_COMMANDS

    if args.library is None:
        return VALIDATION_COMMANDS["calibrate"](args)
    if args.file is not None or args.observations is not None:
        raise UsageError("--library fits every crisis of the library: give no scenario or "
                         "observations file with it")
    if args.min_epsilon < 0 or args.min_epsilon != args.min_epsilon:
        raise UsageError(f"--min-epsilon {args.min_epsilon}: give a number >= 0")
    out = args.out or Path("outputs") / "library-calibration"
    try:
        cal = api.calibrate_library(
            args.library, out=out, simulations=args.simulations,
            population=300 if args.population is None else args.population,
            batch=1000 if args.batch is None else args.batch, generations=args.generations,
            min_epsilon=args.min_epsilon, seed=1 if args.seed is None else args.seed,
            workers=args.workers, scheduler=args.scheduler, cv=args.cv,
            cv_simulations=args.cv_simulations, cv_runs=args.cv_runs,
            write_posterior=args.write_posterior, progress=not args.no_progress)
    except (KeyboardInterrupt, RunInterruptedError):
        print(f"\ninterrupted: the generations finished so far are saved in {out}"
              f"\nresume with the same command:\n  {shlex.join(['sim', *sys.argv[1:]])}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    from sim.validation.pooled import format_loco, format_pooled

    print(format_pooled(cal.diagnostics))
    if cal.loco is not None:
        print(f"\nleave one crisis out (each crisis scored with the fit on the others; "
              f"{out / 'loco.json'}):\n{format_loco(cal.loco)}")
    print(f"\nposterior in {cal.posterior_file}; diagnostics in calibration.json and "
          "calibration.png")
    if cal.library_file is not None:
        print(f"written as {cal.library_file}: sim validate and sim run of the library's "
              "scenarios now scale their generic constants by it (--no-pooled: not)")
    return EXIT_OK
