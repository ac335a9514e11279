"""Exact behaviour of a sweep's bookkeeping (``sim/execution/sweep.py``, issue 28).

The per-point summary against counts, Wilson intervals and means computed here; and
``run_sweep`` with a stand-in for the batches' execution (rows that are a fixed function of the
run index, so a sweep takes milliseconds): the batches it plans, what it writes (every file's
content), resuming only the missing batches, the manifest, and its refusals. Whether the model's
rows are right is the other tests' business (test_sweeps.py, test_exact_sweep_identity.py).
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sim
from sim.analysis import wilson_interval
from sim.design import make_design, parse_parameter
from sim.errors import UsageError
from sim.execution import outdir
from sim.execution import sweep as module
from sim.execution.storage import columns_to_table, part_path, write_parquet
from sim.execution.sweep import SweepResult, point_summary, run_sweep

PARAM = "fighting.loss_rate=0.1:0.5"


def _design(fictional, points=3, kind="lhs"):
    return make_design(kind, [parse_parameter(PARAM)], points, 7)


# --------------------------------------------------------------------------- point_summary


def test_the_point_summary_counts_outcomes_and_averages_what_was_seen(fictional):
    """Runs of points 1, 0, 1, 0, 2, 1 (the order does not matter): per point the runs, each
    outcome's share with its Wilson interval, and each quantity's mean over the runs where
    it has a value (NaN where none has)."""
    design = _design(fictional)
    point = np.array([1, 0, 1, 0, 2, 1])
    columns = [("run", np.arange(6.0)), ("point", point), ("rep", np.zeros(6)),
               ("param.fighting.loss_rate", np.full(6, 9.0)),
               ("outcome.war", np.array([True, False, False, True, True, True])),
               ("day.war", np.array([3.0, np.nan, np.nan, 5.0, np.nan, 1.0])),
               ("losses.a", np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))]
    got = point_summary(point, columns, design)
    assert sorted(got) == sorted(["point", "runs", "param.fighting.loss_rate", "outcome.war",
                                  "outcome.war.low", "outcome.war.high", "mean.day.war",
                                  "mean.losses.a"])
    assert got["point"].tolist() == [0, 1, 2] and got["runs"].tolist() == [2, 3, 1]
    np.testing.assert_array_equal(got["param.fighting.loss_rate"], design.points[:, 0])
    # war: point 0 runs 1, 3 -> 1 of 2; point 1 runs 0, 2, 5 -> 2 of 3; point 2 run 4 -> 1 of 1
    assert got["outcome.war"].tolist() == [0.5, 2 / 3, 1.0]
    for k, n, i in ((1, 2, 0), (2, 3, 1), (1, 1, 2)):
        low, high = wilson_interval(k, n)
        assert (got["outcome.war.low"][i], got["outcome.war.high"][i]) == (low, high)
    # day.war: point 0 {5}, point 1 {3, 1}, point 2 none
    np.testing.assert_array_equal(got["mean.day.war"], [5.0, 2.0, np.nan])
    assert got["mean.losses.a"].tolist() == [3.0, (1 + 3 + 6) / 3, 5.0]


# --------------------------------------------------------------------------- run_sweep


def _rows(task):
    run = np.arange(task.start, task.stop)
    return {"run": run, "point": run // task.reps, "rep": run % task.reps,
            "outcome.war": (run * 7) % 3 == 0,
            "day.war": np.where(run % 2 == 0, run * 1.5, np.nan),
            "losses.a": run * 0.25}


class _Execute:
    """Stands in for ensemble.execute: records its arguments, makes each batch's rows with
    ``rows`` (``_rows`` by default) and stores them as the real one does (a part on disk, or
    handed back)."""

    def __init__(self, stop_after=None, rows=None):
        self.calls, self.stop_after, self.rows = [], stop_after, rows or _rows

    def __call__(self, tasks, *, executor, scheduler, workers, progress, total, done, out_dir,
                 on_result):
        self.calls.append({"tasks": list(tasks), "executor": executor, "scheduler": scheduler,
                           "workers": workers, "progress": progress, "total": total,
                           "done": done, "out_dir": out_dir, "on_result": on_result})
        for i, task in enumerate(tasks):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt
            rows = self.rows(task)
            if out_dir is not None:
                write_parquet(part_path(out_dir, task.start, task.stop), columns_to_table(rows))
            else:
                on_result(types.SimpleNamespace(start=task.start, stop=task.stop,
                                                columns=rows))


@pytest.fixture
def execute(monkeypatch):
    fake = _Execute()
    monkeypatch.setattr(module, "execute", fake)
    return fake


def _all_rows(runs, reps):
    return _rows(types.SimpleNamespace(start=0, stop=runs, reps=reps))


def test_a_sweep_in_memory_plans_its_batches_and_summarises_the_rows(fictional, execute):
    design = _design(fictional)
    result = run_sweep(fictional, design, reps=3, batch_size=4, workers=1, progress=False)
    (call,) = execute.calls
    # 9 runs in batches of 4, the first two an eighth of it (1 run, so the bar moves at
    # once): run 0 and run 1 touch point 0, runs 2-5 points 0 and 1, runs 6-8 point 2
    assert [(t.start, t.stop) for t in call["tasks"]] == [(0, 1), (1, 2), (2, 6), (6, 9)]
    assert [[k for k, _ in t.points] for t in call["tasks"]] == [[0], [0], [0, 1], [2]]
    value = [design.overrides(k) for k in range(3)]
    assert call["tasks"][2].points == ((0, tuple(value[0].items())),
                                       (1, tuple(value[1].items())))
    for t in call["tasks"]:
        assert (t.seed, t.reps, t.digest, t.scenario) == (
            fictional.spec.run.seed, 3, fictional.digest(), fictional.data)
    assert (call["total"], call["done"], call["out_dir"], call["workers"]) == (9, 0, None, 1)
    assert call["progress"] is False and call["executor"] is None
    expected = _all_rows(9, 3)
    assert sorted(result.columns) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(result.columns[name], values)
    summary = point_summary(expected["point"], expected.items(), design)
    assert sorted(result.points) == sorted(summary)
    for name in summary:
        np.testing.assert_array_equal(result.points[name], summary[name])
    assert (result.reps, result.design, result.out_dir, result.sensitivity) == (
        3, design, None, None)
    assert result.policies is None  # a sweep without levers has no per-policy table
    m = dict(result.manifest)
    assert m.pop("wall_seconds") >= 0 and m.pop("runs_per_second") > 0
    assert m.pop("created").endswith("+00:00")
    assert m == {"package": "crisis-sim", "version": sim.__version__, "kind": "sweep",
                 "scenario": str(fictional.path), "scenario_name": fictional.spec.name,
                 "scenario_sha256": fictional.digest(), "overrides": fictional.overrides,
                 "seed": fictional.spec.run.seed, "design": "lhs", "points": 3, "reps": 3,
                 "runs": 9, "batch_size": 4, "parameters": ["fighting.loss_rate"],
                 "workers": 1, "python": m["python"], "command": " ".join(sys.argv),
                 "resumed_batches": 0, "resumed_runs": 0}  # a fresh sweep resumed nothing
    import platform

    assert m["python"] == platform.python_version()


def test_a_sweep_shows_its_progress_unless_told_not_to(fictional, execute):
    run_sweep(fictional, _design(fictional, points=2), reps=1, workers=1)
    assert execute.calls[0]["progress"] is True


def test_a_failed_write_leaves_no_result_file_behind(fictional, execute, tmp_path,
                                                    monkeypatch):
    """Every result file is staged and renamed together: when the last one cannot be
    written, none of them (the resolved scenario included) is in the folder."""
    real = module.write_json

    def full_disk(path, data):
        if "manifest" in path.name:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(module, "write_json", full_disk)
    out = tmp_path / "s"
    with pytest.raises(UsageError, match="No space left on device"):
        run_sweep(fictional, _design(fictional), reps=1, batch_size=8, workers=1, out_dir=out,
                  progress=False)
    assert not [p.name for p in out.iterdir() if not p.name.startswith(".")
                and p.name != "parts"]


def test_a_sweeps_defaults_are_the_scenarios(fictional, execute):
    design = _design(fictional, points=2)
    executor = types.SimpleNamespace(_max_workers=3, submit=None)
    result = run_sweep(fictional, design, reps=1, seed=5, executor=executor, scheduler="x",
                       progress=True)
    (call,) = execute.calls
    size = fictional.spec.run.batch_size
    assert [(t.start, t.stop) for t in call["tasks"]] == [(0, min(2, size))] + (
        [(1, 2)] if size == 1 else [])
    assert call["tasks"][0].seed == 5 and call["scheduler"] == "x" and call["progress"] is True
    assert (result.manifest["seed"], result.manifest["batch_size"]) == (5, size)
    assert result.manifest["workers"] == 3
    assert call["executor"] is executor


def test_a_sweep_into_a_folder_writes_every_file(fictional, execute, tmp_path):
    out = tmp_path / "sweep"
    design = _design(fictional)
    result = run_sweep(fictional, design, reps=2, batch_size=4, workers=1, out_dir=out,
                       progress=False)
    (call,) = execute.calls
    assert call["out_dir"] == out and call["on_result"] is None
    assert sorted(p.name for p in out.iterdir()) == sorted([
        ".crisis-sim", ".identity.json", ".lock", "design.json", "design.parquet",
        "manifest.json", "points.parquet", "provenance.json", "scenario.resolved.yaml",
        "sweep.parquet"])
    assert out.resolve() not in outdir._held  # released
    assert json.loads((out / ".identity.json").read_text()) == {
        "kind": "sweep", "scenario_sha256": fictional.digest(), "seed": fictional.spec.run.seed,
        "design": "lhs", "parameters": ["fighting.loss_rate"],
        "points": design.points.round(12).tolist(), "reps": 2, "batch_size": 4}
    expected = _all_rows(6, 2)
    table = pq.read_table(out / "sweep.parquet")
    assert table.num_rows == 6
    for name, values in expected.items():
        np.testing.assert_array_equal(table.column(name).to_numpy(zero_copy_only=False)
                                      if name != "day.war" else
                                      table.column(name).to_pandas().to_numpy(float), values)
    summary = point_summary(expected["point"], expected.items(), design)
    points = pq.read_table(out / "points.parquet").to_pydict()
    assert sorted(points) == sorted(summary)
    for name in summary:
        np.testing.assert_allclose(np.array(points[name], float), summary[name], rtol=1e-15)
    assert pq.read_table(out / "design.parquet").to_pydict() == {
        "point": [0, 1, 2], "fighting.loss_rate": design.points[:, 0].tolist()}
    assert json.loads((out / "design.json").read_text()) == json.loads(json.dumps({
        "kind": "lhs", "seed": 7, "points": 3, "reps": 2, "options": design.options,
        "problem": design.problem(),
        "parameters": [{"path": "fighting.loss_rate", "low": 0.1, "high": 0.5,
                        "levels": None}]}, default=str))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads(json.dumps(result.manifest, default=str))
    assert manifest["runs"] == 6 and manifest["batch_size"] == 4
    assert (out / "scenario.resolved.yaml").read_text().splitlines()[0] == (
        "# The base scenario of the sweep (each point overrides the swept values).")
    # the rows are read back from sweep.parquet on demand
    assert result._columns is None
    np.testing.assert_array_equal(result.columns["losses.a"], expected["losses.a"])


def test_a_sweep_without_rows_in_memory_or_on_disk_has_no_columns(fictional):
    result = SweepResult(points={}, design=_design(fictional), reps=1, manifest={})
    assert result.columns is None


def test_an_interrupted_sweep_resumes_only_its_missing_batches(fictional, tmp_path,
                                                               monkeypatch):
    out = tmp_path / "sweep"
    design = _design(fictional)
    first = _Execute(stop_after=1)
    monkeypatch.setattr(module, "execute", first)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(fictional, design, reps=2, batch_size=2, workers=1, out_dir=out,
                  progress=False)
    # 6 runs in batches of 2, the first two of 1 run each: the first batch was saved
    assert sorted(p.name for p in (out / "parts").glob("runs-*")) == [
        part_path(out, 0, 1).name]
    outdir.release_folder(out)
    again = _Execute()
    monkeypatch.setattr(module, "execute", again)
    run_sweep(fictional, design, reps=2, batch_size=2, workers=1, out_dir=out,
              progress=False)
    (call,) = again.calls
    assert [(t.start, t.stop) for t in call["tasks"]] == [(1, 2), (2, 4), (4, 6)]
    assert (call["total"], call["done"]) == (6, 1)
    assert not (out / "parts").exists()
    column = pq.read_table(out / "sweep.parquet").column("losses.a").to_numpy()
    np.testing.assert_array_equal(column, np.arange(6) * 0.25)


def test_parts_of_another_size_are_refused_not_resumed(fictional, execute, tmp_path):
    out = tmp_path / "sweep"
    design = _design(fictional)
    run_sweep(fictional, design, reps=2, batch_size=2, workers=1, out_dir=out, progress=False)
    (out / "parts").mkdir()
    write_parquet(part_path(out, 0, 2), columns_to_table(_rows(types.SimpleNamespace(
        start=0, stop=2, reps=2))))  # a stray part of the finished sweep
    outdir.release_folder(out)
    with pytest.raises(UsageError, match="holds unfinished work"):  # of another size
        run_sweep(fictional, design, reps=3, batch_size=2, workers=1, out_dir=out,
                  progress=False)
    assert len(execute.calls) == 1


def test_a_sweep_with_no_replications_is_refused(fictional, execute):
    with pytest.raises(UsageError) as excinfo:
        run_sweep(fictional, _design(fictional), reps=0, progress=False)
    assert str(excinfo.value) == "--reps must be at least 1, not 0"
    assert execute.calls == []


def test_a_bad_point_is_refused_before_any_batch_runs(fictional, execute, tmp_path):
    design = make_design("grid", [parse_parameter("fighting.loss_rate=0.1,20000")], 2, 7)
    with pytest.raises(Exception, match="loss_rate"):
        run_sweep(fictional, design, reps=1, progress=False)
    assert execute.calls == []


def test_a_sensitivity_design_gets_its_analysis(fictional, execute, tmp_path, monkeypatch):
    seen = []

    def analyse(design, points):
        seen.append((design, points))
        return {"indices": [1.5]}

    monkeypatch.setitem(sys.modules, "sim.sensitivity",
                        types.SimpleNamespace(analyse=analyse))
    design = make_design("morris", [parse_parameter(PARAM)], 2, 7)
    out = tmp_path / "m"
    result = run_sweep(fictional, design, reps=1, batch_size=8, workers=1, out_dir=out,
                       progress=False)
    assert result.sensitivity == {"indices": [1.5]}
    assert seen[0][0] is design and seen[0][1] is result.points
    assert json.loads((out / "sensitivity.json").read_text()) == {"indices": [1.5]}
    seen.clear()
    run_sweep(fictional, _design(fictional), reps=1, batch_size=8, workers=1, progress=False)
    assert seen == []


def test_a_sweep_reads_its_design_points_and_levels(fictional, execute, tmp_path):
    design = make_design("grid", [parse_parameter("fighting.loss_rate=0.1,0.3")], 2, 7)
    out = tmp_path / "g"
    run_sweep(fictional, design, reps=1, batch_size=8, workers=1, out_dir=out,
              progress=False)
    params = json.loads((out / "design.json").read_text())["parameters"]
    assert params == [{"path": "fighting.loss_rate", "low": design.parameters[0].low,
                       "high": design.parameters[0].high, "levels": [0.1, 0.3]}]
    assert pa.__version__  # pyarrow wrote it


def test_a_sweep_of_a_scenario_without_a_file_and_its_rates(fictional, execute, monkeypatch):
    """A scenario given as data has no file: the manifest says none. The clock ticks
    0.12345 s a reading: the run's wall time is one tick (rounded to ms), its rate 9 runs
    over it (rounded to 0.1)."""
    from sim.scenario.loader import load_data

    loaded = load_data(fictional.data, [])
    assert loaded.path is None
    clock = iter(range(1, 100))
    monkeypatch.setattr(module.time, "perf_counter", lambda: 0.12345 * next(clock))
    result = run_sweep(loaded, _design(fictional), reps=3, batch_size=4, workers=1,
                       progress=False)
    monkeypatch.undo()
    assert result.manifest["scenario"] is None
    assert (result.manifest["wall_seconds"], result.manifest["runs_per_second"]) == (
        0.123, 72.9)


def test_a_sobol_design_gets_its_analysis_too(fictional, execute, monkeypatch):
    seen = []
    monkeypatch.setitem(sys.modules, "sim.sensitivity",
                        types.SimpleNamespace(analyse=lambda d, p: seen.append(d) or {"s": 1}))
    design = make_design("sobol", [parse_parameter(PARAM)], 4, 7)
    result = run_sweep(fictional, design, reps=1, batch_size=64, workers=1, progress=False)
    assert result.sensitivity == {"s": 1} and seen == [design]


_BARS: list = []


class _Bar:
    """Stands in for tqdm's bar: records how it was made (in ``_BARS``) and its updates."""

    def __init__(self, **kwargs):
        self.kwargs, self.updates = kwargs, 0
        _BARS.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self):
        self.updates += 1


@pytest.mark.parametrize("progress", [True, False])
def test_the_points_are_checked_under_a_bar_of_their_own(fictional, execute, monkeypatch,
                                                         progress):
    """Checking the points (about 20 ms each) shows a bar of points before the runs' bar:
    shown on stderr unless told not to (``disable=None``: tqdm hides it when stderr is not
    a terminal), and gone when it is done."""
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    _BARS.clear()
    run_sweep(fictional, _design(fictional), reps=2, batch_size=8, workers=1,
              progress=progress)
    (bar,) = _BARS
    assert bar.kwargs == {"total": 3, "unit": "point", "desc": "checking points",
                          "leave": False, "disable": None if progress else True,
                          "file": sys.stderr}
    assert bar.updates == 3


@pytest.mark.parametrize("progress", [True, False])
def test_in_a_notebook_the_points_bar_is_a_widget(fictional, execute, monkeypatch, progress):
    """tqdm.auto's notebook bar is a widget: no file, and hidden only when told to."""
    import tqdm.auto

    class Widget(_Bar):
        pass

    Widget.__module__ = "tqdm.notebook"
    monkeypatch.setattr(tqdm.auto, "tqdm", Widget)
    _BARS.clear()
    run_sweep(fictional, _design(fictional, points=2), reps=1, batch_size=8, workers=1,
              progress=progress)
    (bar,) = _BARS
    assert bar.kwargs == {"total": 2, "unit": "point", "desc": "checking points",
                          "leave": False, "disable": not progress}
    assert bar.updates == 2


def test_a_batch_that_cannot_be_saved_is_one_line_and_keeps_the_others(fictional, tmp_path,
                                                                       monkeypatch):
    """A full disk while the batches' parts are saved: one line saying the saved batches are
    kept and how to resume, not a traceback."""
    class FullDisk(_Execute):
        def __call__(self, tasks, **kwargs):
            super().__call__(tasks[:1], **kwargs)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "execute", FullDisk())
    out = tmp_path / "s"
    with pytest.raises(UsageError) as excinfo:
        run_sweep(fictional, _design(fictional), reps=2, batch_size=2, workers=1, out_dir=out,
                  progress=False)
    assert str(excinfo.value) == (
        f"cannot save finished batches in {out / 'parts'} (No space left on device); the "
        "batches saved so far are kept: free space (or make the folder writable) and run the "
        "same command again to resume")
    assert [p.name for p in (out / "parts").glob("runs-*")] == [part_path(out, 0, 1).name]


def test_a_sweep_whose_batches_were_all_saved_simulates_nothing_and_has_no_rate(
        fictional, tmp_path, monkeypatch):
    """Interrupted after its last batch was saved, a sweep resumed runs no batch: the
    manifest counts every run and batch as resumed, and no rate (none was simulated)."""
    class StopAtTheEnd(_Execute):
        def __call__(self, tasks, **kwargs):
            super().__call__(tasks, **kwargs)
            raise KeyboardInterrupt

    out = tmp_path / "s"
    design = _design(fictional)
    monkeypatch.setattr(module, "execute", StopAtTheEnd())
    with pytest.raises(KeyboardInterrupt):
        run_sweep(fictional, design, reps=2, batch_size=2, workers=1, out_dir=out,
                  progress=False)
    outdir.release_folder(out)
    again = _Execute()
    monkeypatch.setattr(module, "execute", again)
    result = run_sweep(fictional, design, reps=2, batch_size=2, workers=1, out_dir=out,
                       progress=False)
    (call,) = again.calls
    assert call["tasks"] == [] and (call["total"], call["done"]) == (6, 6)
    # 6 runs in batches (0, 1), (1, 2), (2, 4), (4, 6)
    assert (result.manifest["resumed_batches"], result.manifest["resumed_runs"]) == (4, 6)
    assert result.manifest["runs_per_second"] is None
    assert result.manifest["wall_seconds"] >= 0
    column = pq.read_table(out / "sweep.parquet").column("losses.a").to_numpy()
    np.testing.assert_array_equal(column, np.arange(6) * 0.25)


def test_a_sweep_timed_at_zero_seconds_has_no_rate(fictional, execute, monkeypatch):
    """A clock that does not move (a coarse timer): the wall time is 0 and no rate is
    divided by it."""
    monkeypatch.setattr(module.time, "perf_counter", lambda: 5.0)
    result = run_sweep(fictional, _design(fictional), reps=3, batch_size=4, workers=1,
                       progress=False)
    monkeypatch.undo()
    assert (result.manifest["wall_seconds"], result.manifest["runs_per_second"]) == (0.0, None)


def test_the_rate_is_rounded_to_a_tenth(fictional, execute, monkeypatch):
    """9 runs in 0.7 s: 12.857... runs a second, written 12.9."""
    clock = iter(range(1, 100))
    monkeypatch.setattr(module.time, "perf_counter", lambda: 0.7 * next(clock))
    result = run_sweep(fictional, _design(fictional), reps=3, batch_size=4, workers=1,
                       progress=False)
    monkeypatch.undo()
    assert (result.manifest["wall_seconds"], result.manifest["runs_per_second"]) == (0.7, 12.9)
