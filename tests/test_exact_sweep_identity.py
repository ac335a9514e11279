"""A sweep re-run into the same folder with another size never resumes the first one's parts
under new labels (issue 28).

Part ``runs-S-E`` holds runs S..E of a sweep, and run i is (point i // reps, replication
i % reps): with another ``--reps`` or design size the same part would be other points' rows.
Unfinished work of another size is refused (its parts kept, untouched); finished results of
another size are replaced by a fresh sweep, identical to one run into a new folder.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

import sim.execution.ensemble as ensemble_module
from sim.design import make_design, parse_parameter
from sim.errors import RunInterruptedError, UsageError
from sim.execution.sweep import run_sweep
from tests.test_execution import _same_tables

PARAM = "fighting.loss_rate=0.1:0.5"


def _design(fictional, points: int):
    return make_design("lhs", [parse_parameter(PARAM)], points, fictional.spec.run.seed)


def _sweep(fictional, out, *, points=4, reps=4):
    return run_sweep(fictional, _design(fictional, points), reps=reps, batch_size=4, workers=1,
                     out_dir=out, progress=False)


def _interrupted(fictional, out, monkeypatch, *, points=4, reps=4, after=2):
    """Run the sweep until ``after`` batches are saved, then Ctrl-C."""
    real = ensemble_module.write_parquet
    written = []

    def write_then_stop(path, table):
        real(path, table)
        written.append(path.name)
        if len(written) == after:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ensemble_module, "write_parquet", write_then_stop)
        with pytest.raises(RunInterruptedError):
            _sweep(fictional, out, points=points, reps=reps)
    return {p.name: p.read_bytes() for p in (out / "parts").glob("runs-*.parquet")}


def _table(path):
    return pq.read_table(path).to_pydict()


@pytest.mark.parametrize("change", [{"reps": 2}, {"reps": 8}, {"points": 8}, {"points": 2}])
def test_unfinished_work_of_another_size_is_refused_and_kept(fictional, tmp_path, monkeypatch,
                                                             change):
    out = tmp_path / "sweep"
    saved = _interrupted(fictional, out, monkeypatch)
    assert len(saved) == 2
    settings = {"points": 4, "reps": 4, **change}
    with pytest.raises(UsageError, match="holds unfinished work of this experiment with"):
        _sweep(fictional, out, **settings)
    # nothing was run or rewritten: the first sweep's parts are there, byte for byte
    assert {p.name: p.read_bytes() for p in (out / "parts").glob("runs-*.parquet")} == saved
    assert not (out / "sweep.parquet").exists()
    # and the first sweep resumes to exactly its uninterrupted result
    _sweep(fictional, out)
    _sweep(fictional, tmp_path / "whole")
    _same_tables(out / "sweep.parquet", tmp_path / "whole" / "sweep.parquet")


@pytest.mark.parametrize("change", [{"reps": 2}, {"points": 8}])
def test_finished_results_of_another_size_are_replaced_by_a_fresh_sweep(fictional, tmp_path,
                                                                       change):
    out = tmp_path / "sweep"
    _sweep(fictional, out)
    settings = {"points": 4, "reps": 4, **change}
    result = _sweep(fictional, out, **settings)
    _sweep(fictional, tmp_path / "fresh", **settings)
    _same_tables(out / "sweep.parquet", tmp_path / "fresh" / "sweep.parquet")
    _same_tables(out / "points.parquet", tmp_path / "fresh" / "points.parquet")
    assert result.manifest["reps"] == settings["reps"]
    assert result.manifest["points"] == settings["points"]
    assert len(_table(out / "sweep.parquet")["run"]) == settings["points"] * settings["reps"]
