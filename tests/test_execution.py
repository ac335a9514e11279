"""Execution at scale: Dask on loopback, crash-safe resumption, retries of dead workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.design import make_design, parse_parameter
from sim.execution.batches import run_batch
from sim.execution.ensemble import run_ensemble
from sim.execution.sweep import run_sweep

from .conftest import BASELINE, FICTIONAL, ROOT

pytestmark = pytest.mark.slow


def _same_tables(a, b) -> None:
    """Column by column, exactly (NaN equal to NaN, null to null)."""
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.column_names == tb.column_names
    assert ta.num_rows == tb.num_rows
    for name in ta.column_names:
        x = ta.column(name).to_numpy(zero_copy_only=False)
        y = tb.column(name).to_numpy(zero_copy_only=False)
        same = (np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f"
                else np.array_equal(x, y))
        assert same, f"{name} differs between {a} and {b}"


# class-scoped: the cluster's four processes (scheduler, two workers and their nannies) run
# only while the tests that use it do, not through the rest of the module's minutes
@pytest.fixture(scope="class")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as c:
        yield c.scheduler_address


def _manifest_of_a_cli_run(tmp_path, env_scheduler: str | None, flag: str | None) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k != "SIM_SCHEDULER"}
    if env_scheduler:
        env["SIM_SCHEDULER"] = env_scheduler
    out_dir = tmp_path / ("flag" if flag else "env")
    args = ["run", str(FICTIONAL), "--runs", "40", "--batch-size", "10", "--seed", "3",
            "--no-progress", "--out", str(out_dir)] + (["--scheduler", flag] if flag else [])
    out = subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads((out_dir / "manifest.json").read_text())


@pytest.mark.xdist_group("dask-cluster")  # one cluster for the three (tests/conftest.py)
class TestOnADaskCluster:
    """The same results on a Dask cluster on loopback as on the local pool."""

    def test_dask_cluster_gives_the_same_ensemble_as_the_local_pool(self, cluster, baseline,
                                                                    tmp_path):
        local = run_ensemble(baseline, runs=120, seed=5, batch_size=30, workers=2,
                             out_dir=tmp_path / "local", progress=False)
        dask = run_ensemble(baseline, runs=120, seed=5, batch_size=30, scheduler=cluster,
                            out_dir=tmp_path / "dask", progress=False)
        assert dask.manifest["executor"].startswith("dask")
        for name in ("runs.parquet", "trajectories.parquet", "paths.parquet"):
            _same_tables(tmp_path / "local" / name, tmp_path / "dask" / name)
        assert local.outcomes == dask.outcomes

    def test_dask_cluster_gives_the_same_sweep(self, cluster, fictional, tmp_path):
        design = make_design("lhs", [parse_parameter("fighting.loss_rate=0.1:0.5")], 6, 2)
        run_sweep(fictional, design, reps=10, batch_size=7, workers=2, out_dir=tmp_path / "a",
                  progress=False)
        run_sweep(fictional, design, reps=10, batch_size=7, scheduler=cluster,
                  out_dir=tmp_path / "b", progress=False)
        _same_tables(tmp_path / "a" / "sweep.parquet", tmp_path / "b" / "sweep.parquet")
        _same_tables(tmp_path / "a" / "points.parquet", tmp_path / "b" / "points.parquet")

    def test_the_cli_runs_on_the_cluster_named_by_flag_or_environment(self, cluster, tmp_path):
        by_flag = _manifest_of_a_cli_run(tmp_path, None, cluster)
        by_env = _manifest_of_a_cli_run(tmp_path, cluster, None)
        assert by_flag["executor"] == by_env["executor"] == f"dask {cluster}"
        _same_tables(tmp_path / "flag" / "runs.parquet", tmp_path / "env" / "runs.parquet")


def _kill_midway(args: list[str], out_dir, parts_wanted: int, marker: str | None = None
                 ) -> None:
    """Start ``sim ARGS`` in its own process group; SIGKILL the group once parts exist
    (and, if given, the file ``parts/MARKER``)."""
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # a hang guard only (it stops waiting as soon as the parts exist): on a shared machine
    # with both cores busy, the baseline's first parts (priors drawn) take minutes
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            parts = list((out_dir / "parts").glob("runs-*.parquet")) if out_dir.exists() else []
            marked = marker is None or (out_dir / "parts" / marker).exists()
            if (len(parts) >= parts_wanted and marked) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the command finished before it could be killed"
        assert len(parts) >= parts_wanted and marked, (
            f"no {parts_wanted} parts after 900 s: hung? (found {len(parts)})")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_sweep_killed_halfway_resumes_to_exactly_the_uninterrupted_result(tmp_path,
                                                                           monkeypatch):
    """The re-run skips the batches whose parts were saved (it writes none of them again)."""
    import sim.execution.ensemble as ensemble_module
    from sim.scenario.loader import load_scenario

    args = ["sweep", str(BASELINE), "--design", "lhs", "--points", "16", "--reps", "50",
            "--param", "actors.turkey.war_cost=0:0.1", "--batch-size", "50", "--workers", "2",
            "--no-progress"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert subprocess.run([sys.executable, "-m", "sim", *args, "--out", str(whole)],
                          cwd=ROOT, capture_output=True).returncode == 0
    _kill_midway([*args, "--out", str(killed)], killed, parts_wanted=5)
    finished = {p.name for p in (killed / "parts").glob("runs-*.parquet")}
    from sim.execution.sweep import sweep_batches

    batches = len(sweep_batches(16 * 50, 50))  # two small first, then 16 of 50 (the last 36)
    assert batches == 18 and 0 < len(finished) < batches
    # the same sweep as the command line's, resumed in this process to watch what it writes
    loaded = load_scenario(BASELINE)
    design = make_design("lhs", [parse_parameter("actors.turkey.war_cost=0:0.1")], 16,
                         loaded.spec.run.seed)
    written: list[str] = []
    real_write = ensemble_module.write_parquet

    def recording_write(path, table):
        written.append(path.name)
        return real_write(path, table)

    monkeypatch.setattr(ensemble_module, "write_parquet", recording_write)
    run_sweep(loaded, design, reps=50, batch_size=50, workers=1, out_dir=killed,
              progress=False)
    assert not finished & set(written), "finished batches were run again"
    assert len(finished) + len(written) == batches  # and every other batch was run once
    _same_tables(whole / "sweep.parquet", killed / "sweep.parquet")
    _same_tables(whole / "points.parquet", killed / "points.parquet")
    assert not (killed / "parts").exists()


def test_ctrl_c_exits_130_keeps_finished_batches_and_prints_the_resume_command(tmp_path):
    out_dir = tmp_path / "out"
    args = ["run", str(BASELINE), "--runs", "3200", "--batch-size", "100", "--workers", "2",
            "--seed", "4", "--no-progress", "--out", str(out_dir)]
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 900  # a hang guard (see _kill_midway)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out_dir / "parts").glob("runs-*.parquet"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        assert len(list((out_dir / "parts").glob("runs-*.parquet"))) >= 2, "hung: no parts"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted" in err and f"{out_dir}/parts" in err
    assert "resume with the same command:" in err
    command = err.split("resume with the same command:", 1)[1].strip().splitlines()[0]
    assert command.startswith("sim run ") and str(out_dir) in command and "--seed 4" in command
    assert list((out_dir / "parts").glob("runs-*.parquet")), "finished batches were lost"


def test_an_ensemble_killed_halfway_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    args = ["run", str(BASELINE), "--runs", "3200", "--batch-size", "100", "--workers", "2",
            "--seed", "4", "--no-progress"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert subprocess.run([sys.executable, "-m", "sim", *args, "--out", str(whole)],
                          cwd=ROOT, capture_output=True).returncode == 0
    _kill_midway([*args, "--out", str(killed)], killed, parts_wanted=6,
                 marker="checkpoint.json")
    again = subprocess.run([sys.executable, "-m", "sim", *args, "--out", str(killed)],
                           cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resumed" in again.stdout
    for name in ("runs.parquet", "trajectories.parquet", "paths.parquet"):
        _same_tables(whole / name, killed / name)


class _DiesOnce(Executor):
    """Runs batches in-process, but the first attempt of one batch 'loses its worker'."""

    def __init__(self, victim: int) -> None:
        self.victim, self.killed = victim, False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        if args[0].start == self.victim and not self.killed:
            self.killed = True
            future.set_exception(BrokenProcessPool("worker died"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_a_batch_whose_worker_died_is_retried(fictional):
    executor = _DiesOnce(victim=20)
    result = run_ensemble(fictional, runs=40, seed=3, batch_size=10, executor=executor,
                          progress=False)
    reference = run_ensemble(fictional, runs=40, seed=3, batch_size=10, workers=1,
                             progress=False)
    assert executor.killed
    for name, values in reference.columns.items():
        assert np.array_equal(result.columns[name], values, equal_nan=values.dtype.kind == "f")


def test_local_workers_are_renewed_without_changing_any_row(fictional, monkeypatch):
    """A long run replaces its local pool every RECYCLE_AFTER batches per worker."""
    import sim.execution.ensemble as ensemble_module

    pools: list[int] = []
    real_executor_for = ensemble_module.executor_for

    def counting_executor_for(scheduler, workers):
        pools.append(workers)
        return real_executor_for(scheduler, workers)

    monkeypatch.setattr(ensemble_module, "RECYCLE_AFTER", 2)
    monkeypatch.setattr(ensemble_module, "executor_for", counting_executor_for)
    renewed = run_ensemble(fictional, runs=90, seed=4, batch_size=10, workers=2,
                           progress=False)
    assert len(pools) == 3  # 9 batches, at most 4 per pool of 2 workers
    reference = run_ensemble(fictional, runs=90, seed=4, batch_size=10, workers=1,
                             progress=False)
    for name, values in reference.columns.items():
        assert np.array_equal(renewed.columns[name], values,
                              equal_nan=values.dtype.kind == "f")


def test_batches_are_plain_picklable_tasks():
    """What crosses to a worker is data: the task and its result pickle."""
    import pickle

    from sim.execution.batches import BatchTask
    from sim.scenario.loader import load_scenario

    loaded = load_scenario(FICTIONAL)
    task = BatchTask(scenario=loaded.data, digest=loaded.digest(), seed=1, start=0, stop=3)
    result = pickle.loads(pickle.dumps(run_batch(pickle.loads(pickle.dumps(task)))))
    assert result.columns["run"].tolist() == [0, 1, 2]


def test_the_cli_refuses_an_unreachable_scheduler_plainly(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run([sys.executable, "-m", "sim", "run", str(FICTIONAL), "--runs", "4",
                          "--scheduler", f"tcp://127.0.0.1:{port}", "--no-progress", "--out",
                          str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and f"127.0.0.1:{port}" in out.stderr
