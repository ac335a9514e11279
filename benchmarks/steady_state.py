"""Where the end-to-end gap is: the cores, the pool's steady state, or the command's fixed costs.

Run: ``.venv/bin/python benchmarks/steady_state.py [--runs 20000] [--engine-runs 6000]``

Issue #27 asks ``sim run`` on 2 workers for 0.85 of twice the one-core engine. Three
measurements, each in a fresh process, on the baseline at its point values, say where the rest
goes:

* **one engine, then two at once**: the one-core lockstep engine (``end_to_end.py``'s
  measurement: batches of 1,000) alone, then two copies started together. If each copy of the
  pair runs as fast as the one alone, the two cores do not slow each other (no shared cache or
  memory bandwidth limit at this size) and a 2-worker run could reach 2x.
* **the pool's steady state**: the batches of a ``sim run`` (500 runs, the scenario's default,
  ``binned`` as an ensemble written to disk computes them) submitted to the local pool of 2
  workers (``sim.execution.executors``: forked from the warmed-up server), with nothing else
  done in this process: the time to the first result (the server's start-up and warm-up, a
  worker's fork, its first batch) and the runs per second after it.
* what is left for the command is its own work: start-up, loading the scenario, receiving
  and writing the batches' results, the final tables (``end_to_end.py`` times it whole).

It prints the rates and ``steady / (2 x engine)``: near 1 means the workers compute as fast as
the engine and the gap of ``end_to_end.py``'s ratio is fixed costs and the main process's work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from end_to_end import ENGINE  # noqa: E402  (the same engine measurement, one definition)

POOL = """
import json, sys, time
from concurrent.futures import ProcessPoolExecutor
from sim.execution.executors import _context, start_local_server
from sim.execution.batches import BatchTask, run_batch

if __name__ == "__main__":
    started = time.perf_counter()
    start_local_server()
    from sim.scenario.loader import load_scenario
    loaded = load_scenario(sys.argv[1])
    runs, batch = int(sys.argv[2]), int(sys.argv[3])
    digest = loaded.digest()
    tasks = [BatchTask(scenario=loaded.data, digest=digest, seed=1, start=s,
                       stop=min(s + batch, runs), binned=True) for s in range(0, runs, batch)]
    pool = ProcessPoolExecutor(max_workers=2, mp_context=_context())
    submitted = time.perf_counter()
    done = [time.perf_counter() - submitted for _ in pool.map(run_batch, tasks)]
    pool.shutdown()
    after_first = runs - (tasks[0].stop - tasks[0].start)
    print(json.dumps({"first_result_s": done[0] + (submitted - started),
                      "steady_runs_per_second": after_first / (done[-1] - done[0])}))
"""


def _python(code: str, *args: str, script: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if script is not None:  # the pool's workers fork from a server that re-imports __main__
        script.write_text(code)
        command = [sys.executable, str(script), *args]
    else:
        command = [sys.executable, "-c", code, *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"a measurement failed (exit {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000, help="runs through the pool")
    parser.add_argument("--engine-runs", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=500, help="the pool's batch size")
    args = parser.parse_args()
    engine = (str(ROOT), str(args.engine_runs), "1000")

    alone = _result(_python(ENGINE, *engine))["runs_per_second"]
    pair = [_python(ENGINE, *engine), _python(ENGINE, *engine)]
    together = [_result(p)["runs_per_second"] for p in pair]
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"steady_state_pool_{os.getpid()}.py"
    try:
        pool = _result(_python(POOL, str(ROOT / "scenarios" / "idlib_2020.yaml"),
                               str(args.runs), str(args.batch), script=script))
    finally:
        script.unlink(missing_ok=True)
    steady = pool["steady_runs_per_second"]
    print(f"one engine alone:            {alone:8.0f} runs/s")
    print(f"two engines at once, each:   {together[0]:8.0f} and {together[1]:.0f} runs/s "
          f"({sum(together) / (2 * alone):.2f} of 2 x alone)")
    print(f"pool of 2 workers, steady:   {steady:8.0f} runs/s after the first result at "
          f"{pool['first_result_s']:.1f} s ({args.runs:,} runs in batches of {args.batch})")
    print(f"steady / (2 x engine alone): {steady / (2 * alone):8.2f}")


if __name__ == "__main__":
    main()
