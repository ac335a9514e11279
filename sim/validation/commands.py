"""The validation commands of the ``sim`` command line: score, validate, calibrate.

The CLI dispatches here (``COMMANDS``); the work is in the modules beside this one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.errors import UsageError


def _positive_int(text: str) -> int:
    from sim.cli import _positive_int as parse

    return parse(text)


def _non_negative_int(text: str) -> int:
    from sim.cli import _non_negative_int as parse

    return parse(text)

EXIT_OK = 0


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
    val.add_argument("--runs", type=_positive_int, default=1000,
                     help="runs per crisis (default 1000)")
    val.add_argument("--seed", type=_non_negative_int,
                     help="seed for every crisis (default: each scenario's own)")
    val.add_argument("--out", type=Path, default=Path("outputs/validation"),
                     help="output folder (default outputs/validation)")
    val.add_argument("--workers", type=_positive_int, help="local worker processes")
    val.add_argument("--readme", type=Path, metavar="FILE",
                     help="also write the table into FILE between <!-- skill-table:start --> "
                     "and <!-- skill-table:end -->")
    val.add_argument("--no-progress", action="store_true", help="hide the progress bars")


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

    from sim.validation.library import markdown_table, update_readme, validate_library

    def said(name: str, score: dict) -> None:
        s = score["summary"]
        brier = f"Brier {s['brier']:.3f}" if "brier" in s else "no events"
        print(f"  {name}: {brier}", file=sys.stderr, flush=True)

    result = validate_library(args.library, runs=args.runs, seed=args.seed, out_dir=args.out,
                              workers=args.workers, progress=not args.no_progress,
                              on_crisis=said)
    table = markdown_table(result)
    print(table)
    print(f"\nskill table in {args.out / 'skill.md'} and {args.out / 'skill.json'}; each "
          f"crisis's runs and score.json in {args.out}/<crisis>/")
    if args.readme is not None:
        update_readme(args.readme, table)
        print(f"table written into {args.readme}")
    return EXIT_OK


def varied_for_run(args: argparse.Namespace, loaded, seed: int):
    """The per-run values ``sim run --uncertain`` or ``--posterior`` asks for (or None)."""
    from sim.validation.uncertain import posterior_set, uncertain_set

    if args.uncertain and args.posterior is not None:
        raise UsageError("--uncertain and --posterior exclude each other: draw from the "
                         "priors, or from a posterior")
    if args.replay is not None and (args.uncertain or args.posterior is not None):
        raise UsageError("--replay re-runs a point run; it cannot be combined with "
                         "--uncertain or --posterior")
    runs = args.runs or loaded.spec.run.runs
    if args.uncertain:
        return uncertain_set(loaded, seed, runs)
    if args.posterior is not None:
        return posterior_set(loaded, args.posterior, seed, runs)
    return None


COMMANDS = {"score": _score, "validate": _validate}
