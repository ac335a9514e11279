"""The validation commands of the ``sim`` command line: score, validate, calibrate.

The CLI dispatches here (``COMMANDS``); the work is in the modules beside this one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.arguments import int_between, run_setting
from sim.errors import EXIT_INTERRUPTED, EXIT_OK, UsageError, not_found


def _bounded(maximum: int, why: str = ""):
    """A whole number in 1..``maximum``: sizes are bounded before anything is allocated."""
    return int_between(1, maximum, why)


def _run_bound(name: str):
    """A whole number bounded as ``run.<name>`` in the schema (read there, not restated)."""
    return run_setting(name)


#: --population and --simulations: a generation keeps every accepted particle, and the
#: calibration checks its saved files fit what a resume reads (calibrate.check_sizes)
MAX_POPULATION, MAX_SIMULATIONS, MAX_GENERATIONS = 1_000_000, 10_000_000, 1000


def add_parsers(sub) -> None:
    """Add the validation subcommands to the ``sim`` parser."""
    score = sub.add_parser("score", help="score a saved ensemble against an observations "
                           "file (Brier, log score, CRPS, PIT, coverage); writes score.json")
    score.add_argument("folder", type=Path, help="a folder written by sim run")
    score.add_argument("observations", type=Path, help="observations YAML")

    val = sub.add_parser("validate", help="run and score every crisis of the library; write "
                         "the skill table (Markdown and JSON)")
    val.add_argument("--library", type=Path, default=Path("scenarios/library"),
                     help="folder of scenarios with *.observations.yaml (default "
                     "scenarios/library)")
    val.add_argument("--runs", type=_run_bound("runs"), default=1000,
                     help="runs per crisis (default 1000)")
    val.add_argument("--seed", type=_run_bound("seed"),
                     help="seed for every crisis (default: each scenario's own)")
    val.add_argument("--out", type=Path, default=Path("outputs/validation"),
                     help="output folder (default outputs/validation)")
    val.add_argument("--workers", type=_bounded(1024), help="local worker processes")
    val.add_argument("--readme", type=Path, metavar="FILE",
                     help="also write the table into FILE between <!-- skill-table:start --> "
                     "and <!-- skill-table:end -->")
    val.add_argument("--point", action="store_true",
                     help="run every crisis at its point values (default: a crisis whose "
                     "scenario declares priors draws them, as sim run does)")
    val.add_argument("--no-pooled", action="store_true",
                     help="do not scale the generic constants by the library's pooled "
                     "posterior (pooled_posterior.json of sim calibrate --library), used by "
                     "default when there is one")
    val.add_argument("--cv", action="store_true",
                     help="also score leave-one-crisis-out: the raw model, the library's "
                     "climatology and the logistic recalibration, with crisis-bootstrap "
                     "intervals, the Murphy decomposition and a reliability diagram")
    val.add_argument("--write-recalibration", action="store_true",
                     help="with --cv: write the recalibration fitted on the library into "
                     "<library>/recalibration.json (sim run shows its calibrated probabilities)")
    val.add_argument("--crises", metavar="NAMES",
                     help="only these crises, comma-separated (a crisis's name is its "
                     "observations file's without .observations.yaml, e.g. "
                     "kosovo_1999,cuba_1962); table, overall row and baselines over them alone")
    val.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    cal = sub.add_parser("calibrate", help="fit the scenario's uncertain values (range:/prior:) "
                         "to observations by ABC-SMC; writes a posterior for sim run "
                         "--posterior")
    cal.add_argument("file", type=Path, nargs="?", help="scenario YAML with uncertain values "
                     "(not with --library)")
    cal.add_argument("observations", type=Path, nargs="?", help="observations YAML (its "
                     "cutoff, if any, splits calibration from scoring)")
    cal.add_argument("--library", type=Path, nargs="?", const=Path("scenarios/library"),
                     metavar="DIR", help="instead of one scenario: fit the generic constants "
                     "of DIR/pooled_priors.yml (multipliers shared by every crisis) on all the "
                     "crises of the library at once (default DIR scenarios/library)")
    cal.add_argument("--simulations", type=_bounded(MAX_SIMULATIONS), default=100_000,
                     help="simulation budget (default 100000; with --library in model runs, "
                     "each particle costing one run per crisis)")
    cal.add_argument("--population", type=_bounded(MAX_POPULATION),
                     help="particles accepted per ABC-SMC generation, at least (default 1000; "
                     "with --library 300)")
    cal.add_argument("--batch", type=_run_bound("batch_size"),
                     help="at most this many simulations per lockstep batch; a generation is "
                     "one batch when not larger (default 20000; with --library 1000 per task; "
                     "results do not depend on it)")
    cal.add_argument("--generations", type=_bounded(MAX_GENERATIONS), default=10,
                     help="at most this many ABC-SMC generations (default 10)")
    cal.add_argument("--min-epsilon", type=float, default=0.0, metavar="EPS",
                     help="stop once the tolerance is down to EPS (default 0)")
    cal.add_argument("--seed", type=_run_bound("seed"), help="seed (default: the scenario's)")
    cal.add_argument("--out", type=Path, help="output folder (default "
                     "outputs/<scenario>-calibration); an unfinished calibration there is "
                     "resumed")
    cal.add_argument("--workers", type=_bounded(1024),
                     help="with --library: local worker processes (default: one per core)")
    cal.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                     help="with --library: run on this Dask cluster (identical results)")
    cal.add_argument("--cv", action="store_true",
                     help="with --library: also measure leave-one-crisis-out skill (a fit per "
                     "crisis on the others, then that crisis scored with and without it)")
    cal.add_argument("--cv-simulations", type=_bounded(MAX_SIMULATIONS), default=20_000,
                     help="with --cv: the budget of each leave-one-out fit (default 20000)")
    cal.add_argument("--cv-runs", type=_run_bound("runs"), default=200,
                     help="with --cv: runs of each held-out crisis (default 200)")
    cal.add_argument("--write-posterior", action="store_true",
                     help="with --library: store the posterior as DIR/pooled_posterior.json "
                     "(with --cv, each crisis's leave-one-out posterior too), which sim "
                     "validate and sim run of the library's scenarios then use")
    cal.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _score(args: argparse.Namespace) -> int:
    from sim.validation.scores import format_score, score_run

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: no such folder")
    result = score_run(args.folder, args.observations)
    print(format_score(result))
    print(f"\nscores in {args.folder / 'score.json'}; 'sim report {args.folder}' shows them")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    import sys

    from sim.validation.library import (
        markdown_table,
        read_readme,
        update_readme,
        validate_library,
    )

    crises = None
    if args.crises is not None:
        crises = [name.strip() for name in args.crises.split(",") if name.strip()]
        for flag, given in (("--readme", args.readme is not None),
                            ("--write-recalibration", args.write_recalibration)):
            if given:
                raise UsageError(f"{flag} writes what the whole library gives, not a part of "
                                 "it: drop --crises, or drop " + flag)
    if args.readme is not None:
        read_readme(args.readme)  # refused before any crisis runs, not after all of them
    def said(name: str, score: dict) -> None:
        s = score["summary"]
        brier = f"Brier {s['brier']:.3f}" if "brier" in s else "no events"
        print(f"  {name}: {brier}", file=sys.stderr, flush=True)

    if args.write_recalibration and not args.cv:
        raise UsageError("--write-recalibration writes what --cv fits; add --cv")
    result = validate_library(args.library, runs=args.runs, seed=args.seed, out_dir=args.out,
                              workers=args.workers, progress=not args.no_progress,
                              on_crisis=said, cv=args.cv, point=args.point,
                              pooled=not args.no_pooled, crises=crises)
    table = markdown_table(result)
    print(table)
    print(f"\nskill table in {args.out / 'skill.md'} and {args.out / 'skill.json'}; each "
          f"crisis's runs and score.json in {args.out}/<crisis>/"
          + (f"; reliability diagram {args.out / 'reliability.png'}" if args.cv else ""))
    if args.write_recalibration:
        _write_recalibration(args, result)
    if args.readme is not None:
        update_readme(args.readme, table)
        print(f"table written into {args.readme}")
    return EXIT_OK


def _write_recalibration(args: argparse.Namespace, result: dict) -> None:
    from sim.execution.storage import write_json
    from sim.validation.recalibration import FILE_NAME, recalibration_record

    cv = result["cross_validation"]
    if cv.get("fit") is None or "recalibrated" not in cv["overall"]:
        raise UsageError(f"{args.library}: a recalibration needs events in at least two "
                         "crises; nothing written")
    path = args.library / FILE_NAME
    record = recalibration_record(cv, args.library, args.runs)
    write_json(path, record)
    s = record["loco_scores"]
    print(f"recalibration written into {path} ({record['model']}): slope "
          f"{record['slope']:.2f}, intercept {record['intercept']:+.2f} on {record['events']} "
          f"events of {len(record['crises'])} crises; leave-one-crisis-out Brier "
          f"{s['used']['brier']:.3f} (raw {s['raw']['brier']:.3f}), log score "
          f"{s['used']['log_score']:.3f} (raw {s['raw']['log_score']:.3f})")


def _calibrate(args: argparse.Namespace) -> int:
    import sys

    if args.file is None or args.observations is None:
        raise UsageError("give a scenario and its observations (sim calibrate FILE "
                         "OBSERVATIONS.yaml), or --library to fit the library's generic "
                         "constants")
    for flag, given in (("--workers", args.workers), ("--scheduler", args.scheduler),
                        ("--cv", args.cv), ("--write-posterior", args.write_posterior)):
        if given:
            raise UsageError(f"{flag} goes with --library")
    args.population = 1000 if args.population is None else args.population
    args.batch = 20_000 if args.batch is None else args.batch
    from sim.scenario.loader import load_scenario
    from sim.validation.calibrate import calibrate
    from sim.validation.observations import load_observations

    if not args.file.is_file():
        raise UsageError(f"{args.file}: {not_found(args.file)}")
    if not args.observations.is_file():
        raise UsageError(f"{args.observations}: {not_found(args.observations)}")
    loaded = load_scenario(args.file)
    obs = load_observations(args.observations, loaded)
    out = args.out or Path("outputs") / f"{loaded.slug}-calibration"

    if args.min_epsilon < 0 or args.min_epsilon != args.min_epsilon:
        raise UsageError(f"--min-epsilon {args.min_epsilon}: give a number >= 0")
    from tqdm.auto import tqdm

    # a bar of the simulations (as sim run's of its runs), the generation and tolerance beside
    bar = tqdm(total=args.simulations, unit="sim", desc="calibrating", file=sys.stderr,
               disable=True if args.no_progress else None)

    def progress(done: int, generation: int, eps: float) -> None:
        bar.set_postfix_str(f"generation {generation}, tolerance {eps:.3g}", refresh=False)
        bar.update(max(0, min(done, bar.total) - bar.n))

    try:
        d = calibrate(obs, out_dir=out, simulations=args.simulations,
                      population=args.population, batch=args.batch,
                      generations=args.generations, min_epsilon=args.min_epsilon,
                      seed=args.seed, progress=progress)
    except KeyboardInterrupt:
        bar.close()  # before the message, so the bar does not redraw over it
        import shlex

        print(f"\ninterrupted: the generations finished so far are saved in {out}/generations"
              f"\nresume with the same command:\n  {shlex.join(['sim', *sys.argv[1:]])}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    eps = d["final_epsilon"] if d["final_epsilon"] is not None else float("inf")
    print(f"{d['scenario_name']}: {d['simulations']} simulations in {d['wall_seconds']} s "
          f"({d['runs_per_second']} runs/s; simulating {d['simulation_seconds']} s), "
          f"{len(d['generations'])} generations (stopped: {d['stopped']}), tolerance "
          f"{eps:.3g}, effective sample size {d['effective_sample_size']:.0f}")
    fitted = d["fitted"]["events"] + d["fitted"]["quantities"]
    print(f"fitted on: {', '.join(fitted)}" + (f" (up to the cutoff {d['cutoff']})"
                                                if d["cutoff"] else ""))
    for path, q in d["posterior"].items():
        print(f"  {path}: median {q['median']:.4g}, 90% [{q['q05']:.4g}, {q['q95']:.4g}] "
              f"(prior {d['priors'][path]})")
    for piled in d["piled_against_bounds"]:
        print(f"warning: {piled['message']}")
    print(f"\nposterior in {out / 'posterior.json'} (run it: sim run {args.file} "
          f"--posterior {out / 'posterior.json'}); diagnostics in calibration.json and "
          "calibration.png")
    return EXIT_OK


def varied_for_run(args: argparse.Namespace, loaded, seed: int):
    """The per-run values ``sim run --uncertain`` or ``--posterior`` asks for (or None)."""
    from sim.execution.variation import posterior_set, uncertain_set

    point = getattr(args, "point", False)
    if args.uncertain and args.posterior is not None:
        raise UsageError("--uncertain and --posterior exclude each other: draw from the "
                         "priors, or from a posterior")
    if point and (args.uncertain or args.posterior is not None):
        raise UsageError("--point runs the point values; it cannot be combined with "
                         "--uncertain or --posterior")
    # priors by default (issue 24): a scenario that declares priors is run drawing them
    priors = bool(loaded.uncertain) and not point and args.posterior is None
    runs = args.runs or loaded.spec.run.runs
    if args.replay is not None:
        # a run's values depend only on the seed and its index: drawing the runs up to the
        # replayed one gives it the values it had in its ensemble, whatever the ensemble's size
        runs = args.replay + 1
    if args.uncertain or priors:
        base = uncertain_set(loaded, seed, runs)
        return _pooled(args, loaded, seed, runs, base) or base
    if args.posterior is None and not point:
        return _pooled(args, loaded, seed, runs, None)
    if args.posterior is not None:
        from sim.validation.calibrate import read_posterior

        return posterior_set(loaded, args.posterior, seed, runs, read_posterior(args.posterior))
    return None


def _pooled(args: argparse.Namespace, loaded, seed: int, runs: int, base):
    """The runs' values scaled by the library's pooled posterior, when one applies (or None).

    A crisis of the library (one its ``pooled_posterior.json`` was fitted on) scales its
    generic constants by a draw from it, unless ``--no-pooled``.
    """
    if getattr(args, "no_pooled", False):
        return None
    from sim.execution.variation import pooled_set
    from sim.validation.pooled import pooled_for

    post = pooled_for(loaded)
    return None if post is None else pooled_set(loaded, seed, runs, post, base)


COMMANDS = {"score": _score, "validate": _validate, "calibrate": _calibrate}
