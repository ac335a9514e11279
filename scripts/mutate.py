#!/usr/bin/env python3
"""Mutation check: do the tests catch the bugs they claim to (issue 17)?

Each mutation is a small deliberate bug applied to a *copy* of the repository (``sim/``,
``tests/``, ``scenarios/`` and the files tests read, in a temporary folder; the real files are
never edited). The tests meant to catch it are run in the copy, and the script prints which of
them failed, with the first line of each failure (its margin). A mutation that no test catches
is reported as SURVIVED and the script exits with status 1.

Every mutation finds its code by a regular expression and stops with an error if the code is
not there (the code moved or changed): it never reports a mutation it could not apply.

Usage::

    .venv/bin/python scripts/mutate.py                 # every mutation, plus a control run
    .venv/bin/python scripts/mutate.py wald weariness  # some of them
    .venv/bin/python scripts/mutate.py --list

The control run runs the same tests on an unmutated copy first: they must pass there, so a
failure under a mutation is the mutation's doing. The copies import their own ``sim`` (the
copy comes first on ``PYTHONPATH``) with this checkout's virtual environment; compiled code
is cached beside the copies, so the control run and each mutation of compiled code (or of a
module compiled code imports) compile the model once (a minute or more).
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("sim", "tests", "scenarios", "docs", "benchmarks", "pyproject.toml", "README.md",
          "Makefile")


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: where (file, pattern), what replaces it, which tests should fail."""

    name: str
    what: str
    file: str
    pattern: str  # a regular expression (re.MULTILINE | re.DOTALL) matching exactly once
    replacement: str  # for re.sub (may use groups)
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        "wald", "Wilson interval replaced by the Wald interval ([0, 0] at 0/2000)",
        "sim/analysis.py",
        r"(def wilson_interval\(.*?\n    p = successes / n\n)    denom = [^\n]*\n"
        r"    centre = [^\n]*\n    half = [^\n]*\n",
        r"\1    centre = p\n    half = z * math.sqrt(p * (1 - p) / n)\n",
        ("tests/test_intervals.py",)),
    Mutation(
        "negotiator", "the 'negotiator must be a party' loader check made a no-op",
        "sim/scenario/schema.py",
        r"(if \(act\.verb == \"negotiate\" and act\.deal in deals\n\s+and aid not in "
        r"s\.deals\[act\.deal\]\.proposers)\):",
        r"\1 and False):",
        ("tests/test_bad_input.py::test_corpus_case_is_refused_precisely_without_hanging",)),
    Mutation(
        "weariness", "war weariness with its sign flipped (losses push the ladder up)",
        "sim/mechanisms/escalation.py",
        r"^(\s+)- weariness\[q\] \* worn$",
        r"\1+ weariness[q] * worn",
        ("tests/test_stylized_facts.py::test_war_weariness_brings_the_ladder_down",)),
    Mutation(
        "compare-seeds", "compare seeding each scenario differently (no common random numbers)",
        "sim/execution/compare.py",
        r"(result = run_ensemble\(loaded, runs=runs, )seed=seed,",
        r"\1seed=seed + names.index(name),",
        ("tests/test_determinism.py::"
         "test_compare_runs_a_change_the_model_never_reads_on_the_very_same_draws",
         "tests/test_determinism.py::"
         "test_paired_intervals_are_clearly_narrower_than_independent_ones")),
)


class MutationNotAppliedError(RuntimeError):
    """The code a mutation targets is not where (or what) it was."""


def copy_repository(into: Path) -> Path:
    """Copy what the tests need into ``into/repo`` (no .git, .venv, outputs or caches).

    Every copy is made at the same path, one after the other, so numba's disk cache (kept
    beside, keyed by the source files' paths and contents) is reused by copies whose compiled
    sources are unmutated.
    """
    repo = into / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, repo / name)
    shared = ROOT.parent / "shared"
    if shared.exists() and not (into / "shared").exists():  # the seed article tests read
        (into / "shared").symlink_to(shared)
    return repo


def apply(mutation: Mutation, repo: Path) -> str:
    """Apply ``mutation`` to the copy; return the changed line(s) for the report."""
    path = repo / mutation.file
    text = path.read_text()
    flags = re.MULTILINE | re.DOTALL
    found = list(re.finditer(mutation.pattern, text, flags))
    if len(found) != 1:
        raise MutationNotAppliedError(
            f"{mutation.name}: the pattern matches {len(found)} times in {mutation.file} "
            f"(expected once); the code moved or changed: update MUTATIONS in "
            f"{Path(__file__).name}\n  pattern: {mutation.pattern}")
    mutated = re.sub(mutation.pattern, mutation.replacement, text, count=1, flags=flags)
    if mutated == text:
        raise MutationNotAppliedError(f"{mutation.name}: the replacement changed nothing")
    path.write_text(mutated)
    changed = [line for line in difflib.unified_diff(text.splitlines(), mutated.splitlines(),
                                                     lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return "\n    ".join(changed)


def run_tests(repo: Path, tests: tuple[str, ...], label: str) -> dict[str, str]:
    """Run ``tests`` in the copy; return {test id: first line of its failure} for failures."""
    report = repo / f"junit-{label}.xml"
    env = {"PYTHONPATH": str(repo), "NUMBA_CACHE_DIR": str(repo.parent / "numba-cache"),
           "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
           "HOME": str(Path.home()), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p",
               "no:cacheprovider", f"--junitxml={report}", *tests]
    started = time.monotonic()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if not report.exists():
        raise RuntimeError(f"pytest did not run ({label}):\n{done.stdout}\n{done.stderr}")
    failures: dict[str, str] = {}
    total = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        total += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            message = (problem.get("message") or problem.text or "").strip()
            failures[name] = " ".join(message.split())[:300]
    print(f"  ran {total} tests in {elapsed:.0f} s; {len(failures)} failed")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Apply the chosen mutations one by one.

    Returns:
        0 if every mutation was caught, 1 if one survived, 2 if a test fails without any
        mutation, 3 if a mutation's code was not found.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to apply (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-control", action="store_true",
                        help="skip the run of the same tests on an unmutated copy")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:14} {m.what}\n{'':14} tests: {', '.join(m.tests)}")
        return 0
    known = {m.name: m for m in MUTATIONS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutation(s) {unknown}; known: {sorted(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(MUTATIONS)
    survived = []
    with tempfile.TemporaryDirectory(prefix="sim-mutate-") as tmp:
        if not args.no_control:
            print("control: the same tests on an unmutated copy")
            repo = copy_repository(Path(tmp))
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            failed = run_tests(repo, tests, "control")
            if failed:
                for name, message in failed.items():
                    print(f"  FAILS WITHOUT A MUTATION: {name}: {message}")
                return 2
        for m in chosen:
            print(f"\nmutation {m.name}: {m.what}")
            repo = copy_repository(Path(tmp))
            try:
                print(f"  {m.file}:\n    {apply(m, repo)}")
            except MutationNotAppliedError as exc:
                print(f"  NOT APPLIED: {exc}")
                return 3
            failed = run_tests(repo, m.tests, m.name)
            if failed:
                print("  CAUGHT by:")
                for name, message in failed.items():
                    print(f"    {name}\n      {message}")
            else:
                print("  SURVIVED: no test failed")
                survived.append(m.name)
    print(f"\n{len(chosen) - len(survived)} of {len(chosen)} mutations caught"
          + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
