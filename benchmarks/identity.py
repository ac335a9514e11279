"""Bit-identity of results across a speed-up: a reference output set, and an exact comparison.

Run: ``.venv/bin/python benchmarks/identity.py make DIR`` with the code before a change (it
runs the cases below with the ``sim`` command of the ``sim`` package first on the path and
writes ``DIR/<case>/``), then ``benchmarks/identity.py check DIR`` with the code after it: it
runs the same cases again into a fresh folder and compares every table and file exactly.

Cases: the baseline at its point values (2,000 runs), the baseline drawing its priors (300
runs: every run its own compiled scenario), an LHS sweep of the baseline (20 points x 50), a
crisis of the library (Georgia 2008: red lines, a short horizon, 1,000 runs) and a replay of
one run of the first case (its trajectory and event log).

What "identical" means: every ``*.parquet`` table equal column by column and value by value
(NaN where NaN; same names, types and order) and its bytes identical; ``summary.json``,
``calibrated.json``, ``provenance.json``, ``scenario.resolved.yaml``, ``sweep``'s design and
sensitivity files and the replay's log identical byte for byte; ``manifest.json`` identical but
for what records the wall clock and the command line (``created``, ``wall_seconds``,
``runs_per_second``, ``command``, ``executor``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SIM = [sys.executable, "-m", "sim"]

#: case -> arguments of ``sim`` (the output folder is added)
CASES: dict[str, list[str]] = {
    "point": ["run", "scenarios/idlib_2020.yaml", "--runs", "2000", "--seed", "7", "--point",
              "--workers", "2", "--no-progress"],
    "uncertain": ["run", "scenarios/idlib_2020.yaml", "--runs", "300", "--seed", "7",
                  "--uncertain", "--workers", "2", "--no-progress"],
    "sweep": ["sweep", "scenarios/idlib_2020.yaml", "--design", "lhs", "--points", "20",
              "--reps", "50", "--seed", "7", "--param", "actors.turkey.war_cost=0:0.1",
              "--param", "fighting.loss_rate=0.05:0.3", "--workers", "2", "--no-progress"],
    "library": ["run", "scenarios/library/georgia_2008.yaml", "--runs", "1000", "--seed", "7",
                "--workers", "2", "--no-progress"],
}
#: a replay of one run of the "point" case, into its folder
REPLAY = ["run", "scenarios/idlib_2020.yaml", "--seed", "7", "--point", "--replay", "17"]
VOLATILE = {"created", "wall_seconds", "runs_per_second", "command", "executor"}


def make(folder: Path) -> None:
    """Run every case into ``folder/<case>/``."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for case, args in CASES.items():
        out = folder / case
        print(f"{case}: sim {' '.join(args)}", flush=True)
        subprocess.run([*SIM, *args, "--out", str(out)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run([*SIM, *REPLAY, "--out", str(folder / "point")], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def differences(reference: Path, new: Path) -> list[str]:
    """What differs between two output sets (empty: identical)."""
    found = []
    ref_files = sorted(p.relative_to(reference) for p in reference.rglob("*")
                       if p.is_file() and p.name != ".lock")
    new_files = {p.relative_to(new) for p in new.rglob("*") if p.is_file() and p.name != ".lock"}
    for missing in sorted(set(ref_files) ^ new_files):
        found.append(f"{missing}: in only one of the two sets")
    for rel in ref_files:
        if rel not in new_files:
            continue
        a, b = reference / rel, new / rel
        if rel.suffix == ".parquet":
            if a.read_bytes() == b.read_bytes():
                continue
            ta, tb = pq.read_table(a), pq.read_table(b)
            if ta.schema != tb.schema:
                found.append(f"{rel}: schemas differ")
                continue
            columns = [n for n in ta.column_names if not _same_column(ta[n], tb[n])]
            if columns:
                found.append(f"{rel}: {len(columns)} columns differ, e.g. {columns[:5]}")
            else:
                found.append(f"{rel}: equal values, different bytes")
        elif rel.name == "manifest.json":
            ja, jb = (json.loads(p.read_text()) for p in (a, b))
            keys = sorted(k for k in set(ja) | set(jb)
                          if k not in VOLATILE and ja.get(k) != jb.get(k))
            if keys:
                found.append(f"{rel}: differs in {keys}")
        elif a.read_bytes() != b.read_bytes():
            found.append(f"{rel}: bytes differ")
    return found


def _same_column(x: pa.ChunkedArray, y: pa.ChunkedArray) -> bool:
    """Equal nulls and equal values bit for bit (a NaN equals a NaN of the same bits)."""
    x, y = x.combine_chunks(), y.combine_chunks()
    if len(x) != len(y) or not x.is_null().equals(y.is_null()):
        return False
    if pa.types.is_floating(x.type) or pa.types.is_integer(x.type):
        u = np.asarray(x.fill_null(0).to_numpy(zero_copy_only=False))
        v = np.asarray(y.fill_null(0).to_numpy(zero_copy_only=False))
        return u.tobytes() == v.tobytes()
    return x.to_pylist() == y.to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["make", "check", "compare"],
                        help="make: write the set; check: make a new one (in a temporary "
                        "folder, or --keep) and compare; compare: two sets already made")
    parser.add_argument("folder", type=Path, help="the reference output set")
    parser.add_argument("new", type=Path, nargs="?", help="compare: the other set")
    parser.add_argument("--keep", type=Path, help="check: make the new set here and keep it")
    args = parser.parse_args()
    if args.action == "make":
        make(args.folder)
        return
    if args.action == "compare":
        found = differences(args.folder, args.new)
    elif args.keep is not None:
        make(args.keep)
        found = differences(args.folder, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="identity-") as tmp:
            make(Path(tmp))
            found = differences(args.folder, Path(tmp))
    for line in found:
        print(line)
    print("identical" if not found else f"{len(found)} differences")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
