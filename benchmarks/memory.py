"""Peak memory of `sim run` against the number of runs (it should not grow with it).

Run: ``.venv/bin/python benchmarks/memory.py [--runs 2000 8000 32000]``

Each size runs the ``sim`` command (2 workers) in its own session. Every 0.2 s this script
reads the memory of every process of that session from ``/proc`` (the main process, the
server the workers fork from, and the workers) and reports the peaks of: the main process's
resident set (RSS), the largest other process's RSS, the sum of all RSS, and the sum of all
proportional set sizes (PSS). Workers share pages with the server they fork from (libraries,
numba's code), which the RSS sum counts once per process and the PSS sum once in all: the
PSS sum is what the run takes from the machine, the RSS sum an upper bound.
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


def _session_memory(session: int) -> dict[int, tuple[int, int]]:
    """``(rss, pss)`` bytes of every process whose session id is ``session``."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:  # field 6 of stat: session id
                continue
            rss = int(fields[21]) * PAGE  # field 24: rss in pages
            pss = rss
            for line in Path(f"/proc/{entry}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
            out[int(entry)] = (rss, pss)
        except (OSError, IndexError, ValueError):
            continue
    return out


def measure(runs: int, batch: int) -> tuple[float, float, float, float, float]:
    sim_command = Path(sys.executable).with_name("sim")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(sim_command), "run", str(ROOT / "scenarios" / "idlib_2020.yaml"), "--runs",
             str(runs), "--batch-size", str(batch), "--workers", "2", "--out",
             str(Path(tmp) / "out"), "--no-progress"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        main_peak = other_peak = total_peak = pss_peak = 0
        while proc.poll() is None:
            sizes = _session_memory(proc.pid)
            main_peak = max(main_peak, sizes.get(proc.pid, (0, 0))[0])
            others = [rss for k, (rss, _) in sizes.items() if k != proc.pid]
            other_peak = max([other_peak, *others])
            total_peak = max(total_peak, sum(rss for rss, _ in sizes.values()))
            pss_peak = max(pss_peak, sum(pss for _, pss in sizes.values()))
            time.sleep(0.2)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"sim run failed with exit code {proc.returncode}")
    mb = 2.0**20
    return main_peak / mb, other_peak / mb, total_peak / mb, pss_peak / mb, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2000, 8000, 32000])
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'runs':>9}  {'main MB':>8}  {'largest other MB':>16}  {'RSS sum MB':>10}  "
          f"{'PSS sum MB':>10}  {'wall s':>7}")
    for runs in args.runs:
        main_mb, other_mb, rss_mb, pss_mb, wall = measure(runs, args.batch)
        print(f"{runs:>9}  {main_mb:8.0f}  {other_mb:16.0f}  {rss_mb:10.0f}  {pss_mb:10.0f}  "
              f"{wall:7.1f}", flush=True)


if __name__ == "__main__":
    main()
