"""Run a sweep: every design point's replications as per-replication parameter vectors.

Design points are not separate models: a batch covers a range of (point, replication) rows,
each point's parameters are compiled once and stacked along the replication axis, and the
whole batch is stepped in lockstep. Replication r of every point uses the random numbers of
replication r (common random numbers), so differences between points are not noise of the
draws.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import sim
from sim.analysis import wilson_interval
from sim.design import Design
from sim.errors import UsageError
from sim.execution.batches import BatchTask, plan_batches
from sim.execution.budget import check_batches
from sim.execution.ensemble import (
    execute,
    prepare_out_dir,
    read_columns,
    write_concatenated,
    write_scenario_files,
)
from sim.execution.executors import default_workers
from sim.execution.outdir import release_folder, remove_parts, writing_results
from sim.execution.storage import Staging, part_path, read_runs, write_json, write_parquet
from sim.execution.variation import check_parameters, policy_scenarios
from sim.scenario.loader import LoadedScenario


@dataclass
class SweepResult:
    """Rows of every run, the per-point summary and the design (and per policy, if levers)."""

    points: dict[str, np.ndarray]
    design: Design
    reps: int
    manifest: dict
    sensitivity: dict | None = None
    out_dir: Path | None = None
    _columns: dict[str, np.ndarray] | None = None
    policies: list[dict] | None = None  # per outcome and policy (levers): policy_summary

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """One array per column of the runs (read from ``sweep.parquet`` if on disk)."""
        if self._columns is None and self.out_dir is not None:
            self._columns = read_runs(self.out_dir / "sweep.parquet")
        return self._columns


def run_sweep(
    loaded: LoadedScenario, design: Design, *, reps: int, seed: int | None = None,
    batch_size: int | None = None, workers: int | None = None,
    executor: Executor | None = None, scheduler: str | None = None,
    out_dir: Path | None = None, progress: bool = True,
) -> SweepResult:
    """Run ``reps`` replications at every point of ``design`` (for every policy, if levers).

    With levers, policy ``p``'s runs are the rows ``p * points * reps ..``: each policy is its
    own scenario (``policy_scenarios``), run over the same points of the uncertainties with
    the same replications (so the same random numbers), and batches never straddle two
    policies. The runs table then carries ``policy``, ``point`` (of the uncertainties, the
    same for every policy) and ``lever.<name>`` columns.
    """
    if reps < 1:
        raise UsageError(f"--reps must be at least 1, not {reps}")
    variants = policy_scenarios(loaded, design)
    for variant in variants:
        check_parameters(variant, design)
    seed = loaded.spec.run.seed if seed is None else seed
    batch_size = batch_size or loaded.spec.run.batch_size
    block = design.size * reps  # the runs of one policy
    runs = block * len(variants)
    check_batches(runs, batch_size)
    digest = loaded.digest()
    resume = False
    if out_dir is not None:
        identity = {
            "kind": "sweep", "scenario_sha256": digest, "seed": seed, "design": design.kind,
            "parameters": [p.path for p in design.parameters],
            "points": design.points.round(12).tolist(), "reps": reps,
            "batch_size": batch_size}
        if design.policies:  # (a sweep without levers keeps the identity it always had)
            identity["scenarios"] = [v.digest() for v in variants]
            identity["policies"] = [p.name for p in design.policies]
        resume = prepare_out_dir(out_dir, identity)
    overrides = [tuple(design.overrides(k).items()) for k in range(design.size)]
    tasks = []
    for p, variant in enumerate(variants):
        variant_digest = variant.digest()
        for start, stop in sweep_batches(block, batch_size, first=p * block):
            touched = range(start // reps, (stop - 1) // reps + 1)
            tasks.append(BatchTask(scenario=variant.data, digest=variant_digest, seed=seed,
                                   start=start, stop=stop, reps=reps,
                                   points=tuple((k, overrides[k % design.size])
                                                for k in touched)))
    # validate every point up front, in this process: a bad value fails before any work
    # (about 20 ms a point: a bar says so for a large design, before the runs' bar)
    from tqdm.auto import tqdm

    from sim.scenario.loader import load_data

    shown = ({"disable": not progress} if tqdm.__module__ == "tqdm.notebook"  # a widget
             else {"disable": None if progress else True, "file": sys.stderr})
    with tqdm(total=design.size * len(variants), unit="point", desc="checking points",
              leave=False, **shown) as bar:
        for variant in variants:
            for k in range(design.size):
                load_data(variant.data, [f"{path}={value}" for path, value in overrides[k]])
                bar.update()
    # with an output folder the rows stay in the batches' parts on disk (memory does not grow
    # with the runs); without one they are kept here
    results: dict[int, dict[str, np.ndarray]] = {}
    done = {t.start for t in tasks if resume and part_path(out_dir, t.start, t.stop).exists()}
    pending = [t for t in tasks if t.start not in done]
    started = time.perf_counter()
    keep = None if out_dir is not None else (lambda r: results.__setitem__(r.start, r.columns))
    with writing_results(out_dir, during_run=True):
        execute(pending, executor=executor, scheduler=scheduler, workers=workers,
                progress=progress, total=runs,
                done=runs - sum(t.stop - t.start for t in pending), out_dir=out_dir,
                on_result=keep)
    wall = time.perf_counter() - started
    simulated = sum(t.stop - t.start for t in pending)  # a resume's saved runs are not counted
    columns = None
    # every result file replaced together, or none (a full disk keeps the earlier sweep whole)
    with writing_results(out_dir), Staging() as stage:
        if out_dir is None:
            ordered = [results[t.start] for t in tasks]
            # policies of another structure (a deal on the table) add indicators: every column
            # of any policy, missing values NaN
            names = list(dict.fromkeys(name for r in ordered for name in r))
            columns = {name: np.concatenate([r[name] if name in r else np.full(
                r["run"].size, np.nan) for r in ordered]) for name in names}
            group = columns["point"]
            points = point_summary(group, columns.items(), design)
            policies = policy_summary(design, reps, columns) if design.policies else None
            columns = tag_policies(columns, design, reps)
        else:
            table = stage.path(out_dir / "sweep.parquet")
            parts = [part_path(out_dir, t.start, t.stop) for t in tasks]
            schema = _union_schema(parts)
            write_concatenated(table, (
                tag_policy_table(_conformed(pq.read_table(part), schema), design, reps)
                for part in parts))
            group = read_runs(table, ["run"])["run"] // reps  # rows are in run order
            points = point_summary(group, read_columns(table), design)
            policies = policy_summary(design, reps, read_runs(table, [
                n for n in pq.ParquetFile(table).schema_arrow.names
                if n.startswith("outcome.")])) if design.policies else None
        manifest = {
            "package": "crisis-sim", "version": sim.__version__, "kind": "sweep",
            "scenario": str(loaded.path) if loaded.path else None,
            "scenario_name": loaded.spec.name, "scenario_sha256": digest,
            "overrides": loaded.overrides, "seed": seed, "design": design.kind,
            "points": design.size, "reps": reps, "runs": runs, "batch_size": batch_size,
            "parameters": [p.path for p in design.parameters],
            "workers": getattr(executor, "_max_workers", None) or (workers or default_workers()),
            "wall_seconds": round(wall, 3),
            "runs_per_second": round(simulated / wall, 1) if simulated and wall > 0 else None,
            "resumed_batches": len(tasks) - len(pending), "resumed_runs": runs - simulated,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "command": " ".join(sys.argv),
        }
        if design.policies:
            manifest["levers"] = [lev.name for lev in design.levers]
            manifest["policies"] = [p.name for p in design.policies]
            manifest["policy_sha256"] = [v.digest() for v in variants]
        result = SweepResult(points=points, design=design, reps=reps, manifest=manifest,
                             out_dir=out_dir, _columns=columns, policies=policies)
        if design.kind in ("sobol", "morris") and design.parameters:
            result.sensitivity = _sensitivity(design, points)
        if out_dir is not None:
            write_sweep(result, loaded, out_dir, stage)
    if out_dir is not None:
        remove_parts(out_dir)
        release_folder(out_dir)
    return result


#: A sweep's first ``RAMP_BATCHES`` batches hold ``1 / RAMP_DIVISOR`` of the batch size, so
#: its progress bar moves within seconds (a full first batch, 500 runs over 25 design points,
#: kept it at zero for 12-17 s on two busy cores). Rows do not depend on the cut into batches.
RAMP_BATCHES, RAMP_DIVISOR = 2, 8


def sweep_batches(runs: int, batch_size: int, first: int = 0) -> list[tuple[int, int]]:
    """A sweep's batches of replications ``first .. first + runs``, small ones first.

    ``RAMP_BATCHES`` small ones when they start the sweep (``first`` 0), then ``batch_size``
    each. A sweep of one batch stays one (it would start a process pool for nothing); the blocks
    of a sweep's later policies (``first`` > 0) are cut in full batches.
    """
    if runs <= batch_size or first > 0:
        return plan_batches(runs, batch_size, first=first)
    small = -(-batch_size // RAMP_DIVISOR)
    plan: list[tuple[int, int]] = []
    start = 0
    while len(plan) < RAMP_BATCHES and start < runs and small < batch_size:
        plan.append((start, min(start + small, runs)))
        start = plan[-1][1]
    return plan + plan_batches(runs - start, batch_size, first=start)


def _union_schema(parts: list[Path]) -> pa.Schema:
    """Every column of any batch, in order of appearance (read from the parts' footers)."""
    fields: dict[str, pa.Field] = {}
    for part in parts:
        for f in pq.read_schema(part):
            fields.setdefault(f.name, f)
    return pa.schema(list(fields.values()))


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, in its order.

    A column the table lacks (an indicator of another policy's structure) is null.
    """
    if table.schema.names == schema.names:
        return table
    columns = [table.column(f.name) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.table(columns, schema=schema)


def _sensitivity(design: Design, points: dict[str, np.ndarray]) -> dict:
    """Sobol or Morris indices; with levers, those of each policy (the reference's first).

    The indices of the reference policy fill ``results`` (what the figures and the report
    read), each policy's are under ``by_policy``.
    """
    from sim.sensitivity import analyse

    if not design.policies:
        return analyse(design, points)
    n = design.size
    by_policy = {}
    for p, policy in enumerate(design.policies):
        own = {k: v[p * n:(p + 1) * n] for k, v in points.items()}
        by_policy[policy.name] = analyse(design, own)["results"]
    out = analyse(design, {k: v[design.reference * n:(design.reference + 1) * n]
                           for k, v in points.items()})
    out["policy"] = design.policies[design.reference].name
    out["by_policy"] = by_policy
    return out


def _policy_columns(design: Design, policy: np.ndarray) -> dict[str, np.ndarray]:
    """``policy`` (its name) and ``lever.<name>`` columns for runs of policies ``policy``."""
    out = {"policy": np.array([p.name for p in design.policies], dtype=object)[policy]}
    for lev in design.levers:
        values = [p.values[lev.name] for p in design.policies]
        kind = object if lev.categorical else float
        out[f"lever.{lev.name}"] = np.array(values, dtype=kind)[policy]
    return out


def tag_policies(columns: dict[str, np.ndarray], design: Design, reps: int
                 ) -> dict[str, np.ndarray]:
    """A batch's or a sweep's columns with the policy's: ``run, policy, point, rep, lever.*``.

    The engine numbers points across policies (point ``p * points + j``); the table gives
    the point of the uncertainties (``j``, the same for every policy) and the policy.
    """
    if not design.policies:
        return columns
    group = np.asarray(columns["point"])
    out = {"run": columns["run"]}
    tags = _policy_columns(design, group // design.size)
    out["policy"] = tags.pop("policy")
    out["point"] = group % design.size
    out["rep"] = columns["rep"]
    out.update(tags)
    out.update({k: v for k, v in columns.items() if k not in out})
    return out


def tag_policy_table(table: pa.Table, design: Design, reps: int) -> pa.Table:
    """``tag_policies`` on a batch's Parquet table."""
    if not design.policies:
        return table
    columns = {name: table.column(name).to_numpy(zero_copy_only=False)
               for name in ("run", "point", "rep")}
    tagged = tag_policies(columns, design, reps)
    front = [pa.array(tagged[name]) if tagged[name].dtype != object
             else pa.array(tagged[name].tolist(), pa.string())
             for name in tagged]
    rest = [n for n in table.column_names if n not in tagged]
    return pa.table(front + [table.column(n) for n in rest], names=[*tagged, *rest])


def policy_summary(design: Design, reps: int, flags: dict[str, np.ndarray]) -> list[dict]:
    """Per outcome and policy: probability with its 95% interval, and the paired difference.

    The difference is the policy's minus the reference policy's, over runs paired by point
    of the uncertainties and replication (the same state of the world and random numbers),
    with its normal 95% interval (``paired_difference``).

    Args:
        design: The design, with policies.
        reps: Replications per point.
        flags: ``outcome.<name>`` -> every run's flag, in run order.
    """
    from sim.analysis import paired_difference

    block = design.size * reps
    outcomes = [k for k in flags if k.startswith("outcome.")]
    rows = []
    ref = design.reference
    for key in outcomes:
        x = np.asarray(flags[key], float)
        base = x[ref * block:(ref + 1) * block]
        for p, policy in enumerate(design.policies):
            own = x[p * block:(p + 1) * block]
            k = int(own.sum())
            low, high = wilson_interval(k, own.size)
            row = {"outcome": key.removeprefix("outcome."), "policy": policy.name,
                   "probability": k / own.size, "low": low, "high": high, "runs": own.size}
            if p != ref:
                diff, d_low, d_high = paired_difference(base, own)
                row.update({"difference": diff, "difference_low": d_low,
                            "difference_high": d_high})
            rows.append(row)
    return rows


def point_summary(point: np.ndarray, columns, design: Design) -> dict[str, np.ndarray]:
    """Per design point (per policy and point, with levers): values, probabilities, means.

    Args:
        point: ``(runs,)`` the design point of every run (with levers, ``policy * points +
            point``).
        columns: ``(name, values)`` of the runs' columns, in any number (a streaming reader's
            chunks will do).
        design: The design.
    """
    groups = design.size * design.policy_count
    order = np.argsort(point, kind="stable")
    counts = np.bincount(point, minlength=groups)
    out: dict[str, np.ndarray] = {"point": np.arange(design.size), "runs": counts}
    if design.policies:
        index = np.arange(groups)
        out = {**_policy_columns(design, index // design.size), "point": index % design.size,
               "runs": counts}
    for i, p in enumerate(design.parameters):
        out[f"param.{p.path}"] = np.tile(design.points[:, i], design.policy_count)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for name, values in columns:
        if name in ("run", "point", "rep", "policy") or name.startswith(("param.", "lever.")):
            continue
        x = np.asarray(values, float)[order]
        if name.startswith("outcome."):
            k = np.add.reduceat(x, starts)
            out[name] = k / counts
            bounds = np.array([wilson_interval(int(a), int(n)) for a, n in zip(k, counts,
                                                                               strict=True)])
            out[f"{name}.low"], out[f"{name}.high"] = bounds[:, 0], bounds[:, 1]
        else:
            seen = ~np.isnan(x)
            sums = np.add.reduceat(np.where(seen, x, 0.0), starts)
            n_seen = np.add.reduceat(seen.astype(float), starts)
            out[f"mean.{name}"] = np.divide(sums, n_seen, out=np.full(groups, np.nan),
                                            where=n_seen > 0)
    return out


def write_sweep(result: SweepResult, loaded: LoadedScenario, out_dir: Path,
                stage: Staging) -> None:
    """``points.parquet``, ``design.parquet`` and the JSONs, staged with ``sweep.parquet``."""
    write_parquet(stage.path(out_dir / "points.parquet"), pa.table(result.points))
    design = result.design
    table = {"point": np.arange(design.size)}
    table.update({p.path: design.points[:, i] for i, p in enumerate(design.parameters)})
    write_parquet(stage.path(out_dir / "design.parquet"), pa.table(table))
    write_json(stage.path(out_dir / "design.json"), {
        "kind": design.kind, "seed": design.seed, "points": design.size, "reps": result.reps,
        "options": design.options, "problem": design.problem(),
        "parameters": [{"path": p.path, "low": p.low, "high": p.high,
                        "levels": list(p.levels) if p.levels else None}
                       for p in design.parameters],
        **({"levers": [lev.describe() for lev in design.levers],
            "policies": [{"policy": p.name, "levers": p.values} for p in design.policies],
            "reference": design.policies[design.reference].name} if design.policies else {})})
    if result.policies is not None:
        reference = design.policies[design.reference].name
        write_json(stage.path(out_dir / "policies.json"), {
            "reference": reference, "reps": result.reps, "points": design.size,
            "policies": [{"policy": p.name, "levers": p.values} for p in design.policies],
            "rows": result.policies})
        keys = list(dict.fromkeys(k for row in result.policies for k in row))
        write_parquet(stage.path(out_dir / "policies.parquet"), pa.table(
            {k: [r.get(k) for r in result.policies] for k in keys}))
    write_scenario_files(out_dir, loaded, "The base scenario of the sweep (each point "
                         "overrides the swept values).", stage)
    if result.sensitivity is not None:
        write_json(stage.path(out_dir / "sensitivity.json"), result.sensitivity)
    write_json(stage.path(out_dir / "manifest.json"), result.manifest)


def format_policies(result: SweepResult) -> str:
    """Per outcome and policy: probability with its 95% interval, and the paired difference.

    Differences are against the reference policy, in percentage points, paired by point of
    the uncertainties and replication.
    """
    design = result.design
    reference = design.policies[design.reference].name
    rows = result.policies
    w_out = max([len(r["outcome"]) for r in rows] + [7])
    w_pol = max([len(p.name) for p in design.policies] + [6])
    lines = [f"{'outcome':<{w_out}}  {'policy':<{w_pol}}  {'P':>6}  {'95% interval':>16}  "
             f"{'vs reference':>12}  95% interval"]
    previous = None
    same = [o for o in dict.fromkeys(r["outcome"] for r in rows)
            if len({r["probability"] for r in rows if r["outcome"] == o}) == 1]
    for r in rows:
        if r["outcome"] in same:
            continue
        label = r["outcome"] if r["outcome"] != previous else ""
        previous = r["outcome"]
        line = (f"{label:<{w_out}}  {r['policy']:<{w_pol}}  {r['probability']:6.1%}  "
                f"[{r['low']:6.1%}, {r['high']:6.1%}]")
        if "difference" in r:
            line += (f"  {100 * r['difference']:>+8.1f} pts  [{100 * r['difference_low']:+.1f}"
                     f", {100 * r['difference_high']:+.1f}]")
        else:
            line += f"  {'reference':>12}"
        lines.append(line)
    if same:
        lines.append("the same in every policy: " + ", ".join(
            f"{o} {next(r['probability'] for r in rows if r['outcome'] == o):.1%}"
            for o in same))
    lines.append("")
    lines.append(f"{len(design.policies)} policies x {design.size} points of the uncertainties "
                 f"x {result.reps} replications; differences against {reference}, paired by "
                 "point and replication (each policy meets the same states of the world and "
                 "the same random numbers)")
    return "\n".join(lines)
