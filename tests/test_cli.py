"""The command line, run as a user would, in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq

from .conftest import BASELINE, FICTIONAL, ROOT


def sim(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


def test_check_reports_a_valid_scenario():
    out = sim("check", str(BASELINE))
    assert out.returncode == 0, out.stderr
    assert "valid scenario" in out.stdout and "without a note 0" in out.stdout


def test_check_lists_assumptions_and_sources():
    out = sim("check", str(BASELINE), "--assumptions")
    assert out.returncode == 0
    assert "[source] " in out.stdout and "[assumption] " in out.stdout
    assert "actors.turkey.rationality = 60.0" in out.stdout
    # a value drawn per run shows the prior sim run draws it from, as written in the file
    assert ("actors.turkey.rationality = 60.0  [prior] lognormal, median 60, sigma 0.5, "
            "within 20 to 180  [assumption]") in out.stdout
    assert "actors.turkey.interests.escalation = 0.15  [prior] uniform 0.105 to 0.195  " \
        "[assumption]" in out.stdout
    assert out.stdout.count("[prior] ") == 122  # the first line of sim run counts 122


def test_bad_scenario_gives_file_line_key_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASELINE.read_text().replace("rung_cap: threats", "rung_cap: threatz", 1))
    out = sim("check", str(bad))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{bad}:" in out.stderr and "deals.sochi.rung_cap" in out.stderr
    assert "unknown rung 'threatz'" in out.stderr and "did you mean 'threats'" in out.stderr


def test_a_foreign_output_folder_is_refused_before_anything_is_said(tmp_path):
    """The user's non-empty folder: refused in one line, nothing printed before it (the
    baseline's first line about its priors used to come first), the user's file untouched."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    out = sim("run", str(BASELINE), "--runs", "10", "--out", str(folder))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"error: {folder} is a folder sim did not create and is not empty; its files are "
        "left alone: choose a new or empty folder with --out"]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_missing_file_names_the_closest_one_beside_it(tmp_path):
    """A typo in a file name gets the file that was meant, before anything is compiled or
    started; a folder with nothing close, or no folder, gets the plain message."""
    from sim.errors import not_found

    meant = tmp_path / "idlib_2020.yaml"
    meant.write_text("name: x\n")
    (tmp_path / "idlib_2020.observations.txt").write_text("not a scenario")
    typo = tmp_path / "idlib2020.yaml"
    assert not_found(typo) == f"file not found; did you mean '{meant}'?"
    assert not_found(tmp_path / "kosovo.yaml") == "file not found"
    assert not_found(tmp_path / "no_folder" / "idlib_2020.yaml") == "file not found"
    for command in ("run", "check"):
        out = sim(command, str(typo))
        assert out.returncode == 2, out.stderr
        assert f"{typo}" in out.stderr and f"did you mean '{meant}'?" in out.stderr
        assert len(out.stderr.strip().splitlines()) <= 2 and "Traceback" not in out.stderr


def test_missing_file_and_bad_flags_exit_2(tmp_path):
    out = sim("run", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "file not found" in out.stderr
    out = sim("run", str(FICTIONAL), "--runs", "0")
    assert out.returncode == 2 and "at least 1" in out.stderr
    # one line, as every other error: no usage block above it
    assert out.stderr.strip().splitlines() == [
        "sim run: error: argument --runs: must be at least 1, not 0 (see 'sim run --help')"]
    # --workers 1 where the worker count plays no part: a command that may use the local
    # pool starts its server (importing the model, about 4 s of CPU) before it reads its
    # input; the missing file above checks that such a command still fails at once
    out = sim("run", str(FICTIONAL), "--set", "actors.arcadia.rationalty=3", "--workers", "1")
    assert out.returncode == 2 and "did you mean 'rationality'" in out.stderr


def test_run_writes_every_output_and_prints_the_table(tmp_path):
    out_dir = tmp_path / "out"
    out = sim("run", str(FICTIONAL), "--runs", "40", "--seed", "3", "--workers", "1",
              "--out", str(out_dir), "--set", "fighting.loss_rate=0.4")
    assert out.returncode == 0, out.stderr
    assert "95% interval" in out.stdout and "split" in out.stdout
    for name in ("runs.parquet", "trajectories.parquet", "paths.parquet", "summary.json",
                 "manifest.json", "scenario.resolved.yaml"):
        assert (out_dir / name).exists(), name
    runs = pq.read_table(out_dir / "runs.parquet")
    assert runs.num_rows == 40
    assert {"run", "outcome.war", "losses.arcadia", "people.valley.peak", "people.valley.final",
            "rung.arcadia~borduria.max", "affinity.arcadia~borduria.final",
            "alignment.arcadia.final", "control.valley.arcadia.final",
            "day.agreement"} <= set(runs.column_names)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["runs"] == 40 and manifest["overrides"]
    assert len(manifest["scenario_sha256"]) == 64
    summary = json.loads((out_dir / "summary.json").read_text())
    probabilities = {o["outcome"]: o for o in summary["outcomes"]}
    assert 0 <= probabilities["war"]["low"] <= probabilities["war"]["high"] <= 1
    assert "fighting:\n  loss_rate: 0.4" in (out_dir / "scenario.resolved.yaml").read_text()
    assert not list((out_dir / "parts").glob("*.parquet"))

    replay = sim("run", str(FICTIONAL), "--seed", "3", "--replay", "7", "--out", str(out_dir),
                 "--set", "fighting.loss_rate=0.4")
    assert replay.returncode == 0, replay.stderr
    assert "matches row 7" in replay.stdout
    assert (out_dir / "replay-7" / "trajectory.csv").exists()


def test_sweep_plot_and_report_from_the_command_line(tmp_path):
    out_dir = tmp_path / "sweep"
    out = sim("sweep", str(FICTIONAL), "--design", "lhs", "--points", "6", "--reps", "4",
              "--param", "actors.arcadia.war_cost=0:0.1", "--param",
              "fighting.loss_rate=0.1:0.4", "--workers", "1", "--out", str(out_dir))
    assert out.returncode == 0, out.stderr
    assert "over points" in out.stdout
    runs = pq.read_table(out_dir / "sweep.parquet")
    assert runs.num_rows == 24
    assert {"point", "rep", "param.actors.arcadia.war_cost"} <= set(runs.column_names)
    assert pq.read_table(out_dir / "points.parquet").num_rows == 6
    assert (out_dir / "design.parquet").exists()
    plot = sim("plot", str(out_dir))
    assert plot.returncode == 0, plot.stderr
    report = sim("report", str(out_dir))
    assert report.returncode == 0 and (out_dir / "report.html").exists()


def test_sweep_and_plot_misuse_exit_2(tmp_path):
    out = sim("sweep", str(FICTIONAL), "--param", "actors.arcadia.rationalty=1:5",
              "--points", "2", "--reps", "1", "--workers", "1", "--out", str(tmp_path / "x"))
    assert out.returncode == 2 and "did you mean 'rationality'" in out.stderr
    out = sim("plot", str(tmp_path))
    assert out.returncode == 2 and "holds no results" in out.stderr
    out = sim("compare", str(FICTIONAL), "--workers", "1")
    assert out.returncode == 2 and "at least two" in out.stderr


def test_app_refuses_a_bad_scenario_or_a_busy_port_before_starting(tmp_path):
    import socket

    bad = tmp_path / "bad.yaml"
    bad.write_text(BASELINE.read_text().replace("rung_cap: threats", "rung_cap: threatz", 1))
    out = sim("app", str(bad), "--port", "0")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "deals.sochi.rung_cap" in out.stderr
    assert sim("app", str(tmp_path / "missing.yaml")).stderr.strip().endswith("file not found")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = sim("app", str(BASELINE), "--port", str(port))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port 0" in out.stderr


def test_compare_then_plot_in_the_format_asked(tmp_path):
    other = tmp_path / "more_trade.yaml"
    other.write_text(f"extends: {FICTIONAL}\n"
                     "relations:\n  arcadia~borduria: {trade: 0.8}\n")
    out_dir = tmp_path / "cmp"
    out = sim("compare", str(FICTIONAL), str(other), "--runs", "30", "--seed", "2",
              "--workers", "1", "--no-progress", "--out", str(out_dir))
    assert out.returncode == 0, out.stderr
    assert "three_states" in out.stdout and "more_trade" in out.stdout
    assert "common random numbers" in out.stdout and "95% interval" in out.stdout
    comparison = json.loads((out_dir / "comparison.json").read_text())
    assert comparison["scenarios"] == ["three_states", "more_trade"]
    assert comparison["runs"] == 30 and comparison["seed"] == 2
    assert pq.read_table(out_dir / "runs.parquet").num_rows == 60
    plot = sim("plot", str(out_dir), "--format", "pdf")
    assert plot.returncode == 0, plot.stderr
    figures = sorted((out_dir / "figures").iterdir())
    assert figures and all(f.suffix == ".pdf" for f in figures), figures
    assert "comparison.pdf" in {f.name for f in figures}
    assert all(f.read_bytes().startswith(b"%PDF") for f in figures)
    for name in (f.name for f in figures):
        assert name in plot.stdout
    bad = sim("plot", str(out_dir), "--format", "gif")
    assert bad.returncode == 2 and "unknown image format 'gif' for --format" in bad.stderr
