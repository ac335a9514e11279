"""Peak memory of `sim run` against the number of runs (it should not grow with it).

Run: ``.venv/bin/python benchmarks/memory.py [--runs 2000 8000 32000]``

Each size runs the ``sim`` command (2 workers) in its own session. Every 0.2 s this script
reads the resident set size of every process of that session from ``/proc`` (the main
process, the forkserver and the workers) and reports the peak of the main process, the peak
of the largest other process, and the peak of their sum: the memory the run needed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


def _session_rss(session: int) -> dict[int, int]:
    """Resident bytes of every process whose session id is ``session``."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6 of stat: session id
                out[int(entry)] = int(fields[21]) * PAGE  # field 24: rss in pages
        except (OSError, IndexError, ValueError):
            continue
    return out


def measure(runs: int, batch: int) -> tuple[float, float, float, float]:
    sim_command = Path(sys.executable).with_name("sim")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(sim_command), "run", str(ROOT / "scenarios" / "idlib_2020.yaml"), "--runs",
             str(runs), "--batch-size", str(batch), "--workers", "2", "--out",
             str(Path(tmp) / "out"), "--no-progress"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        main_peak = other_peak = total_peak = 0
        while proc.poll() is None:
            sizes = _session_rss(proc.pid)
            main_peak = max(main_peak, sizes.get(proc.pid, 0))
            others = [v for k, v in sizes.items() if k != proc.pid]
            other_peak = max([other_peak, *others])
            total_peak = max(total_peak, sum(sizes.values()))
            time.sleep(0.2)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"sim run failed with exit code {proc.returncode}")
    mb = 2.0**20
    return main_peak / mb, other_peak / mb, total_peak / mb, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2000, 8000, 32000])
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'runs':>9}  {'main MB':>8}  {'largest worker MB':>17}  {'total MB':>9}  "
          f"{'wall s':>7}")
    for runs in args.runs:
        main_mb, worker_mb, total_mb, wall = measure(runs, args.batch)
        print(f"{runs:>9}  {main_mb:8.0f}  {worker_mb:17.0f}  {total_mb:9.0f}  {wall:7.1f}",
              flush=True)


if __name__ == "__main__":
    main()
