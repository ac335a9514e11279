"""Compare scenarios (a baseline and counterfactuals) with common random numbers.

Every scenario is run with the same seed and run count, so run k of each uses the same random
numbers stream by stream. The difference of an outcome between a scenario and the first is
then estimated from paired runs, whose interval is narrower than with independent seeds by
the factor reported (``sqrt((var_a + var_b) / var(b - a))``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis import Z95, paired_difference, wilson_interval
from sim.errors import UsageError
from sim.execution.ensemble import prepare_out_dir, run_ensemble, write_concatenated
from sim.execution.outdir import release_folder, remove_parts, writing_results
from sim.execution.storage import Staging, read_runs, write_json, write_parquet
from sim.scenario.loader import LoadedScenario


@dataclass
class Comparison:
    """Per outcome and scenario: probability, interval, paired difference with the first."""

    names: list[str]
    rows: list[dict]
    narrowing: float  # median ratio of independent to paired interval widths


def compare(scenarios: list[LoadedScenario], *, runs: int, seed: int,
            workers: int | None = None, batch_size: int | None = None,
            out_dir: Path | None = None, progress: bool = True) -> Comparison:
    """Run each scenario with one seed and compare every outcome with the first scenario."""
    if len(scenarios) < 2:
        raise UsageError("compare needs at least two scenario files (a baseline first)")
    names = _unique_names(scenarios)
    outcomes = list(scenarios[0].spec.outcomes)
    for name, loaded in zip(names, scenarios, strict=True):
        if list(loaded.spec.outcomes) != outcomes:
            raise UsageError(f"{name} defines other outcomes than {names[0]}; compare "
                             "scenarios that share the baseline's outcome definitions")
    if out_dir is not None:
        prepare_out_dir(out_dir, {"kind": "compare", "seed": seed,
                                  "scenarios": [s.digest() for s in scenarios]})
    keys = [f"outcome.{outcome}" for outcome in outcomes]
    columns = []  # the outcome flags of every run (with an output folder, read back from it)
    for name, loaded in zip(names, scenarios, strict=True):
        sub = out_dir / name if out_dir is not None else None
        result = run_ensemble(loaded, runs=runs, seed=seed, workers=workers,
                              batch_size=batch_size, out_dir=sub, progress=progress)
        columns.append(read_runs(sub / "runs.parquet", keys) if sub is not None
                       else result.columns)
    rows, ratios = [], []
    for outcome in outcomes:
        key = f"outcome.{outcome}"
        base = np.asarray(columns[0][key], float)
        for name, cols in zip(names, columns, strict=True):
            x = np.asarray(cols[key], float)
            k = int(x.sum())
            low, high = wilson_interval(k, x.size)
            row = {"outcome": outcome, "scenario": name, "probability": k / x.size,
                   "low": low, "high": high}
            if name != names[0]:
                diff, d_low, d_high = paired_difference(base, x)
                independent = Z95 * math.sqrt((base.var(ddof=1) + x.var(ddof=1)) / x.size)
                paired = (d_high - d_low) / 2
                row.update({"difference": diff, "difference_low": d_low,
                            "difference_high": d_high, "independent_half_width": independent,
                            "paired_half_width": paired})
                if paired > 0 and independent > 0:
                    ratios.append(independent / paired)
            rows.append(row)
    narrowing = float(np.median(ratios)) if ratios else float("nan")
    result = Comparison(names=names, rows=rows, narrowing=narrowing)
    if out_dir is not None:
        # replaced together or not at all (a full disk keeps an earlier comparison whole)
        with writing_results(out_dir), Staging() as stage:
            write_json(stage.path(out_dir / "comparison.json"), {
                "scenarios": names, "runs": runs, "seed": seed, "rows": rows,
                "paired_narrowing": narrowing})
            table = {k: [r.get(k) for r in rows] for k in rows[-1]}
            write_parquet(stage.path(out_dir / "comparison.parquet"), pa.table(table))
            write_concatenated(stage.path(out_dir / "runs.parquet"), _tagged_runs(
                [(name, out_dir / name / "runs.parquet") for name in names]))
        remove_parts(out_dir)
        release_folder(out_dir)
    return result


def _tagged_runs(parts: list[tuple[str, Path]]):
    """Every scenario's runs, a row group at a time, with a ``scenario`` column in front.

    The first scenario's columns are kept (scenarios that share its outcomes may differ in
    other indicators, whose columns then go missing or are dropped).
    """
    schema = None
    for name, part in parts:
        source = pq.ParquetFile(part)
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)
            schema = schema or table.schema
            for column in (n for n in schema.names if n not in table.column_names):
                kind = schema.field(column).type  # an indicator this scenario lacks
                table = table.append_column(column, pa.nulls(table.num_rows, kind))
            yield table.select(schema.names).add_column(
                0, "scenario", pa.array([name] * table.num_rows, pa.string()))


def _unique_names(scenarios: list[LoadedScenario]) -> list[str]:
    names = []
    for loaded in scenarios:
        base = loaded.slug
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


def format_comparison(result: Comparison) -> str:
    """Plain-text table of probabilities per scenario and paired differences with the first.

    Differences and their 95% intervals are in percentage points.
    """
    w_out = max([len(r["outcome"]) for r in result.rows] + [7])
    w_sc = max([len(n) for n in result.names] + [8])
    lines = [f"{'outcome':<{w_out}}  {'scenario':<{w_sc}}  {'P':>6}  "
             f"{'vs ' + result.names[0]:>{max(12, len(result.names[0]) + 3)}}  95% interval"]
    previous = None
    for r in result.rows:
        label = r["outcome"] if r["outcome"] != previous else ""
        previous = r["outcome"]
        line = f"{label:<{w_out}}  {r['scenario']:<{w_sc}}  {r['probability']:6.1%}"
        if "difference" in r:
            width = max(12, len(result.names[0]) + 3)
            line += (f"  {100 * r['difference']:>+{width - 4}.1f} pts  "
                     f"[{100 * r['difference_low']:+.1f}, {100 * r['difference_high']:+.1f}]")
        lines.append(line)
    lines.append("")
    lines.append("differences are against the first scenario, from paired runs (common random "
                 "numbers)")
    lines.append(f"paired intervals are {result.narrowing:.1f}x narrower (median over outcomes) "
                 "than with independent seeds")
    return "\n".join(lines)
