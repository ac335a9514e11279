"""Mutation testing of the modules whose numbers users read (issue 28), with mutmut.

``scripts/mutate.py`` checks that the suite catches a table of hand-written mutations of the
model's mechanisms; this script asks the converse for the reporting code: of every small
mutation mutmut (a maintained tool) can make in a module, how many do its tests catch? It runs
mutmut 3 in a scratch copy of the work tree (``outputs/mutation/<module>/``, so nothing in the
tree is touched and two modules can be run one after the other), with only that module mutated
and only its tests as the test command, niced. Then it writes the mutation score per module
into ``tests/README.md`` (between the markers ``<!-- mutation-table:start -->`` and
``<!-- mutation-table:end -->``; the rows of modules not run this time are kept) and lists the
surviving mutants not explained in ``tests/mutation_equivalent.toml`` (an equivalent mutant,
one that cannot change any result, is explained there in one line). Every survivor of a module
run, explained or not, is listed in ``tests/mutation_survivors.md`` with its change and why it
survives (the sections of modules not run this time are kept).

Usage (also ``make mutation``; too slow for CI: run it before a release)::

    scripts/mutation.py                       # every module of MODULES
    scripts/mutation.py sim/validation/scores.py --max-children 1 --stop-at 03:15
    scripts/mutation.py --report-only          # re-read the last runs, rewrite the table
    scripts/mutation.py sim/discovery.py --retest   # survivors again, against new tests

``mutmut show NAME`` / ``mutmut browse`` in ``outputs/mutation/<module>/`` show a mutant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "tests" / "README.md"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.toml"
SURVIVORS = ROOT / "tests" / "mutation_survivors.md"
WORK = ROOT / "outputs" / "mutation"
START, END = "<!-- mutation-table:start -->", "<!-- mutation-table:end -->"

#: module -> the test files that pin its numbers (the test command of its mutants)
MODULES: dict[str, list[str]] = {
    "sim/validation/scores.py": ["tests/test_exact_scores.py", "tests/test_validation_scores.py"],
    "sim/validation/observations.py": ["tests/test_exact_scores.py",
                                       "tests/test_validation_scores.py"],
    # the first run (2026-12-07) with only the scores' tests left 409 of 648 mutants without
    # a covering test (validate_library, the README table, the folder check);
    # test_exact_library.py checks them all, validate_library with stand-ins for the ensemble
    # and the scoring (the cross-validation and uncertainty tests run whole libraries of
    # ensembles per mutant: hours)
    "sim/validation/library.py": ["tests/test_exact_library.py", "tests/test_exact_scores.py"],
    # the command with a stand-in simulator (milliseconds) and the lockstep simulator on a
    # few replications; test_validation_calibrate.py's whole calibrations per mutant would
    # take the run's hours
    "sim/validation/calibrate.py": ["tests/test_exact_calibrate.py",
                                    "tests/test_exact_calibration.py"],
    # the ABC-SMC algorithm itself (its weights, kernel and tolerance schedule)
    "sim/validation/abc_smc.py": ["tests/test_exact_abc_smc.py",
                                  "tests/test_exact_calibration.py", "tests/test_abc_smc.py"],
    # the first run (test_discovery.py's small sweep per mutant) reached 444 of 1,276 mutants
    # in hours; test_exact_discovery_text.py checks the parser, CART, the command on a sweep
    # folder written by hand, the texts and the figures in seconds
    # (levers as PRIM's categories, merged after the run in the table, are tested by
    # tests/test_levers.py, which runs sweeps: too slow per mutant; a fast exact test of them
    # is still to write)
    "sim/discovery.py": ["tests/test_exact_discovery.py", "tests/test_exact_discovery_text.py"],
    "sim/outcomes.py": ["tests/test_exact_outcomes.py", "tests/test_model.py"],
    # (test_sweeps.py left out: its 300-replication sweep of the baseline per mutant would
    # take the run's hours; test_exact_analysis checks every function of the module exactly)
    "sim/analysis.py": ["tests/test_exact_analysis.py", "tests/test_intervals.py"],
    # every function called directly on small folders (milliseconds a test); the CLI tests
    # of test_execution/test_hostile run whole ensembles per mutant and add no kill
    "sim/execution/outdir.py": ["tests/test_exact_outdir.py"],
    # run_sweep with a stand-in for the batches (milliseconds): its identity, files, resume
    # and manifest written out; test_sweeps.py's 300-replication sweep per mutant would take
    # the run's hours, and test_exact_sweep_identity.py's real batches a numba compile
    # (+ test_exact_levers.py: the policies x scenarios of a sweep with levers and its small
    # first batches on hand-made rows; test_levers.py runs sweeps, too slow per mutant)
    "sim/execution/sweep.py": ["tests/test_exact_sweep.py", "tests/test_exact_levers.py"],
}
#: slow tests left out of the mutation runs (a whole `sim run` per mutant would dominate the
#: run's time); the exact tests beside them cover the same code in seconds
DESELECT = ["tests/test_validation_scores.py::test_sim_score_end_to_end_and_report"]
#: what the scratch copy needs beside the package (tests read scenarios, docs and README)
COPY = ("sim", "tests", "scenarios", "docs", "benchmarks", "README.md", "pyproject.toml")
#: mutmut's exit codes (mutmut.stats.status_by_exit_code)
KILLED = {1, 3, 37}
TIMEOUT = {36, 24, -24, 152, 255}


def slug(module: str) -> str:
    """``sim/discovery.py`` -> ``sim.discovery`` (the scratch folder's name)."""
    return module.removesuffix(".py").replace("/", ".")


def prepare(module: str, tests: list[str]) -> Path:
    """A fresh scratch copy of the tree whose pyproject tells mutmut what to do."""
    work = WORK / slug(module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, work / name)
    configure(work, module, tests)
    note_run(work)
    return work


def short_commit() -> str:
    """The work tree's commit (short)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def note_run(work: Path, retested: bool = False) -> None:
    """Record in the scratch copy the commit and time a run (or retest) started at."""
    record = work / "run.json"
    runs = json.loads(record.read_text()) if record.is_file() else []
    runs.append({"commit": short_commit(), "started": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
                 "retest": retested})
    record.write_text(json.dumps(runs, indent=1))


def ran_at(module: str) -> str:
    """The table's "run" cell: the date and commit its last run (and retest) started at.

    From the scratch copy's run.json; today and HEAD for a run made before it was kept.
    """
    record = WORK / slug(module) / "run.json"
    runs = json.loads(record.read_text()) if record.is_file() else []
    first = next((r for r in reversed(runs) if not r["retest"]), None)
    if first is None:
        return f"{dt.date.today()} at {short_commit()}"
    text = f"{first['started'][:10]} at {first['commit']}"
    retests = runs[runs.index(first) + 1:]
    if retests:
        text += f"; retested at {retests[-1]['commit']}"
    return text


def configure(work: Path, module: str, tests: list[str]) -> None:
    """Write the scratch copy's pyproject: the project's, plus what mutmut is to do."""
    config = (
        "\n[tool.mutmut]\n"
        'source_paths = ["sim"]\n'
        f"only_mutate = {json.dumps([module])}\n"
        f"also_copy = {json.dumps([n for n in COPY if n != 'sim'])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        # -x: a mutant is killed by its first failing test; no cache or plugins writing files
        "pytest_add_cli_args = "
        + json.dumps(["-x", "-q", "-p", "no:cacheprovider"]
                     + [f"--deselect={t}" for t in DESELECT]) + "\n"
        "use_git_change_detection = false\n"
    )
    for target in (work / "pyproject.toml", work / "mutants" / "pyproject.toml"):
        if target.parent.is_dir():
            target.write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8") + config,
                              encoding="utf-8")


def run(module: str, tests: list[str], max_children: int, stop_at: dt.datetime | None) -> bool:
    """Run mutmut over one module; False when it was stopped at ``stop_at`` before the end."""
    work = prepare(module, tests)
    return _mutmut(module, work, ["run", "--max-children", str(max_children)], stop_at,
                   f"{module} with {' '.join(tests)} ({work})")


def _mutmut(module: str, work: Path, args: list[str], stop_at: dt.datetime | None,
            what: str) -> bool:
    """``mutmut ARGS`` in ``work``, niced, logged to mutmut.log; stopped at ``stop_at``."""
    mutmut = Path(sys.executable).with_name("mutmut")
    env = dict(os.environ, PYTHONPATH="", NUMBA_CACHE_DIR=str(work / ".numba-cache"))
    command = ["nice", "-n", "19", str(mutmut), *args]
    print(f"mutation: {what}", flush=True)
    with open(work / "mutmut.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            timeout = None
            if stop_at is not None:
                timeout = max((stop_at - dt.datetime.now(dt.UTC)).total_seconds(), 1.0)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            print(f"mutation: {module} stopped at {stop_at:%H:%M} UTC", flush=True)
            return False
    return proc.returncode == 0


def retest(module: str, max_children: int, stop_at: dt.datetime | None) -> bool:
    """Run a module's surviving mutants again against the tests as they are now.

    After a run, tests written to kill its survivors are copied into the scratch copy (with
    the test files MODULES names now, new ones included), and only the survivors (not the
    explained ones) and the mutants a stopped run did not reach are run again; mutmut finds
    the new tests and maps them to the functions they call.
    """
    work = WORK / slug(module)
    c = tally(module)
    if c is None:
        print(f"mutation: {module} has no earlier run to retest; run it first")
        return False
    names = c["survived"] + c["no_tests"] + c["not_run"]
    if not names:
        return True
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for target in (work / "tests", work / "mutants" / "tests"):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "tests", target, ignore=ignore)
    configure(work, module, MODULES[module])  # new test files named since the run
    note_run(work, retested=True)
    return _mutmut(module, work, ["run", "--max-children", str(max_children), *names],
                   stop_at, f"{len(names)} survivors of {module}")


def tally(module: str) -> dict | None:
    """Counts of one module's mutants from mutmut's record, or None if it was never run."""
    meta = WORK / slug(module) / "mutants" / (module + ".meta")
    if not meta.is_file():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    explained = load_equivalent()
    counts = {"mutants": len(codes), "killed": 0, "timeout": 0, "equivalent": 0,
              "survived": [], "unchecked": 0, "no_tests": [], "not_run": []}
    for name, code in sorted(codes.items()):
        if code in KILLED:
            counts["killed"] += 1
        elif code in TIMEOUT:
            counts["timeout"] += 1  # a mutant that hangs the tests is caught by the 10x bound
        elif code is None:
            counts["unchecked"] += 1
            counts["not_run"].append(name)
        elif name in explained:
            counts["equivalent"] += 1
        elif code in (5, 33):
            counts["no_tests"].append(name)
        else:
            counts["survived"].append(name)
    return counts


def load_equivalent() -> dict[str, str]:
    """Mutant name -> why it is equivalent, from tests/mutation_equivalent.toml."""
    if not EQUIVALENT.is_file():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8"))
    return {name: why for section in data.values() for name, why in section.items()}


def score(c: dict) -> float | None:
    """Killed (timeouts included) over the checked, non-equivalent mutants."""
    checked = c["mutants"] - c["unchecked"] - c["equivalent"]
    return (c["killed"] + c["timeout"]) / checked if checked else None


def row(module: str, c: dict, when: str) -> str:
    """One module's line of the table."""
    s = score(c)
    left = len(c["survived"]) + len(c["no_tests"])
    return (f"| `{module}` | {c['mutants']} | {c['killed'] + c['timeout']} | "
            f"{c['equivalent']} | {left} | {c['unchecked']} | "
            f"{'–' if s is None else f'{s:.0%}'} | {when} |")


def changes(module: str, names: list[str]) -> dict[str, str]:
    """Mutant name -> its change, ``old -> new`` (the lines mutmut changed, stripped)."""
    import ast
    import difflib

    source = (WORK / slug(module) / "mutants" / module).read_text(encoding="utf-8")
    lines = source.splitlines()  # (ast.get_source_segment splits the file at every call)
    functions = {node.name: "\n".join(lines[node.lineno - 1:node.end_lineno])
                 for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    out = {}
    for name in names:
        short = name.removeprefix(slug(module) + ".")
        base = short.rpartition("__mutmut_")[0]
        old, new = functions.get(f"{base}__mutmut_orig"), functions.get(short)
        if old is None or new is None:
            out[name] = "(not found in the mutated source)"
            continue
        old = old.replace(f"{base}__mutmut_orig", base).splitlines()
        new = new.replace(short, base).splitlines()
        diff = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
                if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        removed = " ".join(line[1:].strip() for line in diff if line[0] == "-")
        added = " ".join(line[1:].strip() for line in diff if line[0] == "+")
        out[name] = f"{removed} -> {added}"
    return out


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def survivors_section(module: str, c: dict) -> str:
    """One module's part of tests/mutation_survivors.md: every survivor, one line each."""
    meta = WORK / slug(module) / "mutants" / (module + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    explained = load_equivalent()
    names = [n for n, code in codes.items()
             if code not in KILLED and code not in TIMEOUT and code is not None]
    names.sort(key=lambda n: (n.rpartition("__mutmut_")[0], int(n.rpartition("_")[2])))
    record = WORK / slug(module) / "run.json"
    runs = json.loads(record.read_text()) if record.is_file() else []
    ran = "; ".join(f"{'retest' if r['retest'] else 'run'} at {r['commit']} ({r['started']} "
                    "UTC)" for r in runs) or "run before runs were recorded"
    s = score(c)
    lines = [f"<!-- survivors:{module} -->", f"### `{module}`", "",
             f"{ran}: {c['mutants']} mutants, {c['killed'] + c['timeout']} killed, "
             f"{c['equivalent']} equivalent (explained), "
             f"{len(c['survived']) + len(c['no_tests'])} not explained, "
             f"{c['unchecked']} not run; score {'–' if s is None else f'{s:.0%}'}.", ""]
    if names:
        change = changes(module, names)
        lines += ["| mutant | function | change | why it survives |", "|---|---|---|---|"]
        for name in names:
            short = name.removeprefix(slug(module) + ".")
            function = short.rpartition("__mutmut_")[0].removeprefix("x_")
            why = explained.get(name, "**not explained**").replace("|", "\\|")
            lines.append(f"| {short.rpartition('__mutmut_')[2]} | `{function}` | "
                         f"{_cell(change[name])} | {why} |")
    else:
        lines.append("No survivors.")
    lines.append(f"<!-- survivors:end:{module} -->")
    return "\n".join(lines)


def write_survivors(sections: dict[str, str]) -> None:
    """Replace the sections of tests/mutation_survivors.md of the modules run, keep the rest."""
    text = SURVIVORS.read_text(encoding="utf-8") if SURVIVORS.is_file() else (
        "# Surviving mutants\n\nWritten by `scripts/mutation.py` (see tests/README.md): every "
        "mutant of a module's last run that no test killed, its change, and why it survives "
        "(the one-line explanation of `tests/mutation_equivalent.toml`). A survivor marked "
        "**not explained** still needs a test or an explanation.\n")
    old = {m.group(1): m.group(0) for m in re.finditer(
        r"<!-- survivors:(\S+) -->.*?<!-- survivors:end:\1 -->", text, flags=re.S)}
    intro = text.split("<!-- survivors:", 1)[0].rstrip("\n")
    old.update(sections)
    body = "\n\n".join(old[m] for m in MODULES if m in old)
    SURVIVORS.write_text(f"{intro}\n\n{body}\n", encoding="utf-8")


def write_table(rows: dict[str, str]) -> None:
    """Replace the mutation table of tests/README.md, keeping the rows of modules not run."""
    text = README.read_text(encoding="utf-8")
    if text.count(START) != 1 or text.count(END) != 1:
        raise SystemExit(f"{README}: needs the markers {START} and {END}, once each")
    head, rest = text.split(START)
    table, tail = rest.split(END)
    old = {m.group(1): line for line in table.splitlines()
           if (m := re.match(r"\| `([^`]+)` \|", line))}
    old.update(rows)
    lines = ["| module | mutants | killed | equivalent (explained) | survived | not run | "
             "score | run |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    lines += [old.get(m, f"| `{m}` | – | – | – | – | – | – | not yet |") for m in MODULES]
    README.write_text(f"{head}{START}\n" + "\n".join(lines) + f"\n{END}{tail}",
                      encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the modules asked for (all by default) and rewrite the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of "
                        f"{', '.join(MODULES)})")
    parser.add_argument("--max-children", type=int, default=1,
                        help="parallel mutant runs (default 1: the machine is shared)")
    parser.add_argument("--stop-at", help="HH:MM UTC: stop mutmut then (what ran is counted)")
    parser.add_argument("--report-only", action="store_true",
                        help="only re-read the last runs and rewrite the table")
    parser.add_argument("--retest", action="store_true",
                        help="run the last run's survivors again against the current tests")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"not in MODULES: {', '.join(unknown)}")
    stop_at = None
    if args.stop_at:
        hour, minute = map(int, args.stop_at.split(":"))
        now = dt.datetime.now(dt.UTC)
        stop_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if stop_at < now:
            stop_at += dt.timedelta(days=1)
    rows, sections, failed = {}, {}, []
    for module in modules:
        finished = True
        if not args.report_only:
            if stop_at is not None and dt.datetime.now(dt.UTC) >= stop_at:
                break
            if args.retest:
                finished = retest(module, args.max_children, stop_at)
            else:
                finished = run(module, MODULES[module], args.max_children, stop_at)
        c = tally(module)
        if c is None:
            failed.append(module)
            continue
        finished = finished and not c["not_run"]  # (a stopped run's record, re-read)
        when = f"{ran_at(module)}" + ("" if finished else ", stopped early")
        rows[module] = row(module, c, when)
        sections[module] = survivors_section(module, c)
        s = score(c)
        print(f"{module}: {c['mutants']} mutants, {c['killed']} killed, {c['timeout']} timed "
              f"out, {c['equivalent']} equivalent, {len(c['survived'])} survived, "
              f"{len(c['no_tests'])} without a covering test, {c['unchecked']} not run; "
              f"score {'–' if s is None else f'{s:.1%}'}")
        for name in c["survived"] + c["no_tests"]:
            print(f"  survived: {name}  (mutmut show {name}, in {WORK / slug(module)})")
    if rows:
        write_table(rows)
        write_survivors(sections)
    for module in failed:
        print(f"{module}: no mutmut record (see {WORK / slug(module) / 'mutmut.log'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
