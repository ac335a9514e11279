"""Peak memory of `sim run` against the number of runs (it should not grow with it).

Run: ``.venv/bin/python benchmarks/memory.py [--runs 2000 8000 32000]``

Each size runs `sim run` in a fresh process with 2 workers and reports the peak resident set
size of the main process and of the largest worker (``getrusage``), side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_mb(runs: int, batch: int) -> tuple[float, float, float]:
    code = (
        "import resource, sys\n"
        "from sim.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "raise SystemExit(code)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, "run", str(ROOT / "scenarios" / "idlib_2020.yaml"),
             "--runs", str(runs), "--batch-size", str(batch), "--workers", "2", "--out",
             str(Path(tmp) / "out"), "--no-progress"],
            capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - started
    line = next(line for line in out.stdout.splitlines() if line.startswith("PEAK"))
    main_kb, children_kb = (int(x) for x in line.split()[1:3])
    return main_kb / 1024, children_kb / 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2000, 8000, 32000])
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    print(f"{'runs':>8}  {'main MB':>8}  {'largest child MB':>16}  {'wall s':>7}")
    for runs in args.runs:
        main_mb, child_mb, wall = peak_mb(runs, args.batch)
        print(f"{runs:>8}  {main_mb:8.0f}  {child_mb:16.0f}  {wall:7.1f}")


if __name__ == "__main__":
    main()
