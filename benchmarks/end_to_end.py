"""End to end against the engine, and the engine against a reference commit, side by side.

Run: ``.venv/bin/python benchmarks/end_to_end.py [--rounds 3] [--reference /work/wt/ref-baadb78]``

Three measurements, taken in turn round after round (A B C A B C ...: a shared machine's load
falls on all three alike), each in a fresh process:

* **engine**: the one-core lockstep engine of this checkout on the baseline
  (``scenarios/idlib_2020.yaml`` at its point values): ``CrisisModel(...).run()`` on batches
  of ``--batch`` replications, as ``benchmarks/throughput.py`` steps them, after a warm-up
  batch (imports and compiled code loaded);
* **end to end**: the whole ``sim run`` command of ``--runs`` runs of the baseline on 2
  workers (``--point``, an output folder), timed from the command's start to its exit;
  also the runs/s its manifest records (from the first batch submitted to the last result);
* **reference**: the same engine measurement with the code of a reference commit checked out
  beside this one (``git worktree add /work/wt/ref-baadb78 baadb78``; its own scenario, its
  own compiled-code cache), run with ``PYTHONPATH`` pointing there.

It prints each round and the medians, then the issue's two ratios (#27): end to end / (2 x
engine), goal >= 0.85; engine / reference, goal >= 0.8. The ratios are also given as the median
of each round's ratio (paired within a round). On a machine shared with other work, wall-time
ratios mostly measure the load, so the same ratios are also given in CPU time: the engine's
runs per CPU-second (its process), and the whole command's (every process of it: this script
adopts the workers, which fork from a server nobody waits for, as a Linux child subreaper).

``--code DIR`` measures another checkout as "engine" and "end to end" (the code before a
change, in its own worktree), against the same reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the engine measurement, run in a fresh process with PYTHONPATH=<checkout>; it uses only
#: what both this code and the reference commit have (load_scenario, compile_scenario,
#: CrisisModel(loaded, world=, replications=, seed=).run())
ENGINE = """
import json, sys, time
from pathlib import Path
import numpy as np
from sim.model import CrisisModel
from sim.scenario.loader import load_scenario
from sim.world import compile_scenario

root, runs, batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
loaded = load_scenario(root / "scenarios" / "idlib_2020.yaml")
world = compile_scenario(loaded.spec)
CrisisModel(loaded, world=world, replications=np.arange(batch), seed=1).run()  # warm-up
wall, cpu = time.perf_counter(), time.process_time()
for start in range(0, runs, batch):
    reps = np.arange(start, min(start + batch, runs))
    CrisisModel(loaded, world=world, replications=reps, seed=1).run()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"runs_per_second": runs / wall, "cpu_runs_per_second": runs / cpu}))
"""


def engine(checkout: Path, runs: int, batch: int) -> dict:
    """One-core lockstep runs/s of the code in ``checkout`` on its own baseline."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", ENGINE, str(checkout), str(runs), str(batch)],
                         cwd=checkout, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reap_orphans() -> None:
    """Wait for the descendants handed to this process (a subreaper) when their parent died."""
    give_up = time.monotonic() + 60.0
    while time.monotonic() < give_up:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    ``sim run``'s workers fork from a server process nobody waits for at the end; adopted
    and waited for here, their CPU time counts in this process's children's usage.
    """
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def end_to_end(code: Path, runs: int, workers: int) -> dict:
    """Whole-command and manifest runs/s of ``sim run`` of the checkout ``code``.

    Also the CPU time of every process of the command (main, the workers' server, the
    workers), when this process can adopt them (``_subreaper``): ``cpu_runs_per_second``.
    """
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        out = Path(tmp) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/idlib_2020.yaml",
                        "--point", "--runs", str(runs), "--workers", str(workers), "--out",
                        str(out), "--no-progress"], cwd=code, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        _reap_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        manifest = json.loads((out / "manifest.json").read_text())
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"runs_per_second": runs / wall, "wall": wall,
            "manifest_runs_per_second": manifest["runs_per_second"],
            "cpu": cpu, "cpu_runs_per_second": runs / cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20_000, help="runs of sim run")
    parser.add_argument("--engine-runs", type=int, default=6_000)
    parser.add_argument("--batch", type=int, default=1_000, help="the engine's batch size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reference", type=Path, default=Path("/work/wt/ref-baadb78"),
                        help="a checkout of the reference commit (none: skip it)")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the checkout measured as 'engine' and 'end to end' (default: "
                        "this one; another measures the code before a change the same way)")
    args = parser.parse_args()
    code = args.code.resolve()
    adopted = _subreaper()
    print(f"code measured: {code}")
    reference = args.reference if args.reference and args.reference.exists() else None
    if reference is None:
        print(f"no reference checkout at {args.reference}: engine / reference not measured")
    # warm-up: compiled code loaded (or compiled) into each checkout's cache
    engine(code, args.batch, args.batch)
    if reference is not None:
        engine(reference, args.batch, args.batch)
    rows = []
    for k in range(args.rounds):
        row = {"load": os.getloadavg()[0]}
        row["engine"] = engine(code, args.engine_runs, args.batch)
        row["e2e"] = end_to_end(code, args.runs, args.workers)
        if reference is not None:
            row["reference"] = engine(reference, args.engine_runs, args.batch)
        rows.append(row)
        ref = (f", reference {row['reference']['runs_per_second']:7.0f}"
               if reference is not None else "")
        print(f"round {k + 1}: engine {row['engine']['runs_per_second']:7.0f} runs/s, "
              f"sim run {row['e2e']['runs_per_second']:7.0f} (wall {row['e2e']['wall']:.1f} s, "
              f"manifest {row['e2e']['manifest_runs_per_second']:7.0f}, "
              f"{row['e2e']['cpu']:.1f} s CPU){ref}; "
              f"load {row['load']:.1f}", flush=True)

    def median(f) -> float:
        return statistics.median(f(r) for r in rows)

    eng = median(lambda r: r["engine"]["runs_per_second"])
    e2e = median(lambda r: r["e2e"]["runs_per_second"])
    man = median(lambda r: r["e2e"]["manifest_runs_per_second"])
    print(f"\nmedians of {args.rounds} rounds (baseline, --point):")
    print(f"  one-core lockstep engine (batches of {args.batch}): {eng:8.0f} runs/s")
    print(f"  sim run --runs {args.runs} --workers {args.workers}, whole command:"
          f" {e2e:8.0f} runs/s ({median(lambda r: r['e2e']['wall']):.1f} s)")
    print(f"  sim run, as its manifest records it:        {man:8.0f} runs/s")
    print(f"  engine, per CPU-second:                     "
          f"{median(lambda r: r['engine']['cpu_runs_per_second']):8.0f} runs")
    if adopted:
        print(f"  sim run, per CPU-second of all its processes: "
              f"{median(lambda r: r['e2e']['cpu_runs_per_second']):6.0f} runs")
    if reference is not None:
        ref = median(lambda r: r["reference"]["runs_per_second"])
        print(f"  reference engine ({reference}):  {ref:8.0f} runs/s, "
              f"{median(lambda r: r['reference']['cpu_runs_per_second']):.0f} per CPU-second")
    print("\nratios (median of the medians | median of each round's ratio):")
    per = median(lambda r: r["e2e"]["runs_per_second"] / (args.workers
                                                          * r["engine"]["runs_per_second"]))
    print(f"  end to end / ({args.workers} x engine):  {e2e / (args.workers * eng):5.2f} | "
          f"{per:5.2f}   (goal >= 0.85)")
    per = median(lambda r: r["e2e"]["manifest_runs_per_second"]
                 / (args.workers * r["engine"]["runs_per_second"]))
    print(f"  manifest / ({args.workers} x engine):    {man / (args.workers * eng):5.2f} | "
          f"{per:5.2f}")
    if adopted:
        per = median(lambda r: r["e2e"]["cpu_runs_per_second"]
                     / r["engine"]["cpu_runs_per_second"])
        print(f"  CPU time: runs per CPU-second of the whole command (every process) / the "
              f"engine's: {per:5.2f}\n    (what the command spends beyond the engine's work, "
              "whatever the machine's load; 0.85 in wall time on an idle machine needs about "
              "this much or more)")
    if reference is not None:
        per = median(lambda r: r["engine"]["runs_per_second"]
                     / r["reference"]["runs_per_second"])
        print(f"  engine / reference:          {eng / ref:5.2f} | {per:5.2f}   (goal >= 0.8)")
        cpu = median(lambda r: r["engine"]["cpu_runs_per_second"]
                     / r["reference"]["cpu_runs_per_second"])
        print(f"  engine / reference, CPU time: {cpu:5.2f}  (runs per CPU-second: less "
              "sensitive to the machine's load)")


if __name__ == "__main__":
    main()
