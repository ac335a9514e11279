"""Exact behaviour of the output folders' guard (``sim/execution/outdir.py``, issue 28).

Every function of the module is called directly on small folders (no simulation), and what it
must do is written out: the exact one-line message of each refusal, which files are removed and
which are kept, what the lock file holds, what a resumed folder returns. These are the tests
``scripts/mutation.py`` runs the module's mutants against, so each takes milliseconds.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from sim.errors import RunInterruptedError, ScenarioError, UsageError
from sim.execution import outdir
from sim.scenario.loader import parse_yaml_text

MARKER_TEXT = ("This folder was created by crisis-sim (sim run, sweep, compare, calibrate, "
               "validate); sim may replace the files it wrote here.\n")


@pytest.fixture(autouse=True)
def _release_all():
    """Each test sees no folder locked by this process: locks other tests of this worker
    hold are set aside (kept open) and put back; the test's own are released."""
    others = dict(outdir._held)
    outdir._held.clear()
    yield
    for key in list(outdir._held):
        os.close(outdir._held.pop(key))
    outdir._held.update(others)


def _message(excinfo) -> str:
    return str(excinfo.value)


def _locked_elsewhere(folder: Path) -> bool:
    """Whether another open file description of the lock file is refused even a shared lock."""
    fd = os.open(folder / outdir.LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _oserror(strerror="Permission denied"):
    def fail(*args, **kwargs):
        raise PermissionError(13, strerror)
    return fail


# ------------------------------------------------------------------------------- is_ours


def test_a_folder_is_ours_only_by_a_regular_marker_or_identity_file(tmp_path):
    assert outdir.MARKER == ".crisis-sim" and outdir.IDENTITY == ".identity.json"
    for name in (".crisis-sim", ".identity.json"):
        folder = tmp_path / name.strip(".")
        folder.mkdir()
        assert outdir.is_ours(folder) is False
        (folder / name).write_text("")
        assert outdir.is_ours(folder) is True
    target = tmp_path / "elsewhere"
    target.write_text("")
    for name in (".crisis-sim", ".identity.json"):
        linked = tmp_path / f"linked{name}"
        linked.mkdir()
        (linked / name).symlink_to(target)  # a planted symlink makes nothing ours
        assert outdir.is_ours(linked) is False
    as_folder = tmp_path / "folder-marker"
    (as_folder / ".crisis-sim").mkdir(parents=True)
    assert outdir.is_ours(as_folder) is False
    both = tmp_path / "both"
    both.mkdir()
    (both / ".crisis-sim").symlink_to(target)
    (both / ".identity.json").write_text("{}")
    assert outdir.is_ours(both) is True


# --------------------------------------------------------------------------- claim_folder


def test_claiming_a_new_nested_folder_creates_it_marks_it_and_locks_it(tmp_path):
    out = tmp_path / "a" / "b"
    outdir.claim_folder(out)
    assert sorted(p.name for p in out.iterdir()) == [".crisis-sim", ".lock"]
    assert (out / ".crisis-sim").read_text() == MARKER_TEXT
    assert (out / ".lock").read_text() == str(os.getpid())
    assert (out / ".lock").stat().st_mode & 0o777 == 0o644 & ~_umask()
    assert out.resolve() in outdir._held
    assert _locked_elsewhere(out)
    outdir.claim_folder(out)  # re-entrant: the same process claims it again
    assert list(outdir._held) == [out.resolve()]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_empty_existing_folder_and_one_of_ours_are_accepted(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    outdir.claim_folder(empty)
    assert (empty / ".crisis-sim").read_text() == MARKER_TEXT
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / ".identity.json").write_text("{}")
    (ours / "summary.json").write_text("kept")
    outdir.claim_folder(ours)
    assert (ours / ".crisis-sim").read_text() == MARKER_TEXT
    assert (ours / "summary.json").read_text() == "kept"


def test_a_users_folder_is_refused_unless_the_command_recognises_it(tmp_path):
    users = tmp_path / "thesis"
    users.mkdir()
    (users / "chapter.tex").write_text("mine")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_folder(users)
    assert _message(excinfo) == (f"{users} is a folder sim did not create and is not empty; its "
                                 "files are left alone: choose a new or empty folder with --out")
    assert sorted(p.name for p in users.iterdir()) == ["chapter.tex"]
    with pytest.raises(UsageError):
        outdir.claim_folder(users, made_before_marker=lambda folder: False)
    seen = []
    outdir.claim_folder(users, made_before_marker=lambda folder: seen.append(folder) or True)
    assert seen == [users]
    assert (users / ".crisis-sim").read_text() == MARKER_TEXT


def test_a_file_a_broken_symlink_and_an_unreadable_folder_are_refused(tmp_path, monkeypatch):
    afile = tmp_path / "results.txt"
    afile.write_text("x")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_folder(afile)
    assert _message(excinfo) == f"--out {afile} is a file, not a folder; choose another --out"
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_folder(broken)
    assert _message(excinfo) == f"--out {broken} is a broken symlink; choose another folder"
    assert not (tmp_path / "nowhere").exists()
    folder = tmp_path / "unreadable"
    folder.mkdir()
    monkeypatch.setattr(Path, "iterdir", _oserror())
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_folder(folder)
    assert _message(excinfo) == f"cannot read output folder {folder}: Permission denied"


def test_a_symlink_to_a_folder_is_claimed_through_it(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    outdir.claim_folder(link)
    assert (real / ".crisis-sim").read_text() == MARKER_TEXT
    assert list(outdir._held) == [real.resolve()]


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_folder(afile / "sub")
    assert _message(excinfo) == f"cannot create output folder {afile / 'sub'}: Not a directory"


def test_a_planted_marker_symlink_is_never_written_through(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".identity.json").write_text("{}")
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    (out / ".crisis-sim").symlink_to(target)
    outdir.claim_folder(out)
    assert target.read_text() == "precious"
    assert (out / ".crisis-sim").is_symlink()


# ----------------------------------------------------------------------------- the lock


def test_a_folder_locked_by_another_run_is_refused_naming_its_process(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".crisis-sim").write_text("")
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"4242\n")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UsageError) as excinfo:
            outdir.claim_folder(out)
        assert _message(excinfo) == (f"{out} is in use by another sim run (process 4242); wait "
                                     "for it to finish, or choose another --out")
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"someone", 0)
        with pytest.raises(UsageError) as excinfo:
            outdir.claim_folder(out)
        assert _message(excinfo) == (f"{out} is in use by another sim run; wait for it to "
                                     "finish, or choose another --out")
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"\xff\xfe 12", 0)  # not text: read with replacement characters
        with pytest.raises(UsageError) as excinfo:
            outdir.claim_folder(out)
        assert _message(excinfo) == (f"{out} is in use by another sim run; wait for it to "
                                     "finish, or choose another --out")
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"1234567890" * 4, 0)  # only the first 32 bytes are read
        with pytest.raises(UsageError) as excinfo:
            outdir.claim_folder(out)
        assert _message(excinfo) == (f"{out} is in use by another sim run (process "
                                     f"{'1234567890' * 3}12); wait for it to finish, or "
                                     "choose another --out")
        assert outdir._held == {}
    finally:
        os.close(fd)
    outdir.claim_folder(out)  # free again: this run takes it, its pid replaces the old text
    assert (out / ".lock").read_bytes() == str(os.getpid()).encode()


def test_a_long_old_pid_is_replaced_not_overwritten_in_part(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".crisis-sim").write_text("")
    (out / ".lock").write_text("9" * 40)
    outdir.lock_folder(out)
    assert (out / ".lock").read_text() == str(os.getpid())


def test_releasing_a_folder_frees_its_lock_and_the_lock_file_stays(tmp_path):
    out = tmp_path / "out"
    outdir.claim_folder(out)
    assert _locked_elsewhere(out)
    outdir.release_folder(out)
    assert outdir._held == {}
    assert not _locked_elsewhere(out)
    assert (out / ".lock").is_file()
    outdir.release_folder(out)  # releasing again is harmless
    outdir.release_folder(tmp_path / "never-claimed")
    assert outdir._held == {}


def test_a_lock_file_that_cannot_be_opened_is_one_line(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(outdir.os, "open", _oserror("Read-only file system"))
    with pytest.raises(UsageError) as excinfo:
        outdir.lock_folder(out)
    assert _message(excinfo) == f"output folder {out} is not writable: Read-only file system"


# ------------------------------------------------------------------------------ read_json


def test_read_json_reads_a_results_file_and_refuses_bad_ones_in_one_line(tmp_path, monkeypatch):
    good = tmp_path / "summary.json"
    good.write_text('{"a": [1, 2.5, null]}')
    assert outdir.read_json(good) == {"a": [1, 2.5, None]}
    missing = tmp_path / "missing.json"
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(missing, " (run sim run first)")
    assert _message(excinfo) == f"{missing} is missing (run sim run first)"
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(missing)
    assert _message(excinfo) == f"{missing} is missing"
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(tmp_path, "!")
    assert _message(excinfo) == f"{tmp_path}: a folder, not a regular file!"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(bad, "!")
    assert _message(excinfo) == f"{bad} is damaged (not valid JSON)!"
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(deep)
    assert _message(excinfo) == f"{deep} is damaged (not valid JSON)"
    monkeypatch.setattr(outdir, "read_limited", _oserror())
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(good, "!")
    assert _message(excinfo) == f"cannot read {good}: Permission denied"


def test_read_json_refuses_a_file_one_byte_over_its_limit(tmp_path):
    assert outdir.MAX_JSON_BYTES == 50_000_000
    big = tmp_path / "big.json"
    with open(big, "wb") as f:  # sparse: no 50 MB written
        f.truncate(50_000_001)
    with pytest.raises(UsageError) as excinfo:
        outdir.read_json(big)
    assert _message(excinfo) == f"{big}: larger than 50000000 bytes"


# ------------------------------------------------------------------------ prepare_out_dir


def test_a_new_folder_without_identity_gets_parts_and_nothing_to_resume(tmp_path):
    out = tmp_path / "out"
    assert outdir.prepare_out_dir(out) is False
    assert sorted(p.name for p in out.iterdir()) == [".crisis-sim", ".lock", "parts"]
    assert list((out / "parts").iterdir()) == []
    assert out.resolve() in outdir._held


def test_a_new_folder_records_its_identity(tmp_path):
    out = tmp_path / "out"
    identity = {"kind": "run", "seed": 3, "runs": 8}
    assert outdir.prepare_out_dir(out, identity) is False
    assert json.loads((out / ".identity.json").read_text()) == identity
    assert not (out / ".write-test").exists()


def test_unfinished_work_of_the_same_experiment_is_resumed(tmp_path):
    out = tmp_path / "out"
    identity = {"kind": "run", "seed": 3, "runs": 8}
    outdir.prepare_out_dir(out, identity)
    outdir.release_folder(out)
    assert outdir.prepare_out_dir(out, identity) is False  # parts/ empty: nothing to resume
    outdir.release_folder(out)
    (out / "parts" / "runs-0-3.parquet").write_bytes(b"rows")
    assert outdir.prepare_out_dir(out, identity) is True
    assert (out / "parts" / "runs-0-3.parquet").read_bytes() == b"rows"
    outdir.release_folder(out)
    assert outdir.prepare_out_dir(out) is False  # no identity given: never a resume


def test_another_experiment_is_refused_naming_each_difference(tmp_path):
    out = tmp_path / "out"
    outdir.prepare_out_dir(out, {"kind": "run", "seed": 1, "design": "lhs", "runs": 8})
    (out / "summary.json").write_text("old")
    outdir.release_folder(out)
    with pytest.raises(UsageError) as excinfo:
        outdir.prepare_out_dir(out, {"kind": "sweep", "seed": 2, "design": "lhs", "runs": 9})
    assert _message(excinfo) == (f"{out} holds results of another run: kind 'run' (now "
                                 "'sweep'), seed 1 (now 2); choose another --out, or delete "
                                 "that folder first")
    assert outdir._held == {}
    assert (out / "summary.json").read_text() == "old"
    for key in ("scenario_sha256", "parameters", "scenarios"):
        with pytest.raises(UsageError) as excinfo:
            outdir.prepare_out_dir(out, {"kind": "run", "seed": 1, "design": "lhs", "runs": 8,
                                         key: "x"})
        assert _message(excinfo) == (f"{out} holds results of another run: {key} None (now "
                                     "'x'); choose another --out, or delete that folder first")


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]"])
def test_a_damaged_identity_counts_as_none(tmp_path, damage):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".identity.json").write_text(damage)
    (out / "score.json").write_text("old")
    with pytest.raises(UsageError) as excinfo:
        outdir.prepare_out_dir(out, {"kind": "run", "runs": 8})
    assert _message(excinfo) == (f"{out} holds results of another run: kind None (now 'run'); "
                                 "choose another --out, or delete that folder first")
    # no strict key asked for: nothing differs, nothing held, nothing stale (score.json kept)
    assert outdir.prepare_out_dir(out, {"runs": 8}) is False
    assert (out / "score.json").read_text() == "old"
    assert json.loads((out / ".identity.json").read_text()) == {"runs": 8}


def test_an_unreadable_identity_counts_as_none(tmp_path, monkeypatch):
    out = tmp_path / "out"
    outdir.prepare_out_dir(out, {"kind": "run"})
    outdir.release_folder(out)
    real = outdir.read_limited

    def fail_for_identity(path, limit):
        if Path(path).name == ".identity.json":
            raise PermissionError(13, "Permission denied")
        return real(path, limit)

    monkeypatch.setattr(outdir, "read_limited", fail_for_identity)
    with pytest.raises(UsageError) as excinfo:
        outdir.prepare_out_dir(out, {"kind": "run"})
    assert _message(excinfo) == (f"{out} holds results of another run: kind None (now 'run'); "
                                 "choose another --out, or delete that folder first")


def test_unfinished_work_of_another_size_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    outdir.prepare_out_dir(out, {"kind": "sweep", "seed": 1, "reps": 4, "points": 8})
    parts = out / "parts"
    for name in ("runs-0-3.parquet", "runs-4-7.parquet", "paths-0-3.npz"):
        (parts / name).write_bytes(b"x")
    outdir.release_folder(out)
    with pytest.raises(UsageError) as excinfo:
        outdir.prepare_out_dir(out, {"kind": "sweep", "seed": 1, "reps": 5, "points": 8,
                                     "batch": 2})
    assert _message(excinfo) == (
        f"{out} holds unfinished work of this experiment with reps 4, batch None (2 batches "
        f"saved); resume it with those settings, or choose another --out, or delete {parts} "
        "to start afresh")
    assert outdir._held == {}
    assert sorted(p.name for p in parts.iterdir()) == ["paths-0-3.npz", "runs-0-3.parquet",
                                                      "runs-4-7.parquet"]
    assert json.loads((out / ".identity.json").read_text())["reps"] == 4


def test_finished_results_of_another_size_lose_what_was_derived_from_them(tmp_path):
    out = tmp_path / "out"
    outdir.prepare_out_dir(out, {"kind": "run", "seed": 1, "runs": 8})
    outside = tmp_path / "outside.json"
    outside.write_text("theirs")
    for name in ("discovery.json", "report.html", "summary.json", "runs.parquet"):
        (out / name).write_text("old")
    (out / "score.json").symlink_to(outside)
    figures = out / "figures"
    figures.mkdir()
    for name in ("a.png", "b.svg", "c.pdf", "notes.txt", "d.png.bak"):
        (figures / name).write_text("old")
    (figures / "e.png").symlink_to(outside)
    (figures / "sub.png").mkdir()
    outdir.release_folder(out)
    identity = {"kind": "run", "seed": 1, "runs": 16}
    assert outdir.prepare_out_dir(out, identity) is False
    assert sorted(p.name for p in out.iterdir()) == [".crisis-sim", ".identity.json", ".lock",
                                                     "figures", "parts", "runs.parquet",
                                                     "summary.json"]
    assert sorted(p.name for p in figures.iterdir()) == ["d.png.bak", "notes.txt", "sub.png"]
    assert outside.read_text() == "theirs"
    assert json.loads((out / ".identity.json").read_text()) == identity


def test_the_same_results_again_keep_what_was_derived(tmp_path):
    out = tmp_path / "out"
    identity = {"kind": "run", "seed": 1, "runs": 8}
    outdir.prepare_out_dir(out, identity)
    (out / "score.json").write_text("kept")
    outdir.release_folder(out)
    outdir.prepare_out_dir(out, identity)
    assert (out / "score.json").read_text() == "kept"


def test_remove_derived_leaves_a_symlinked_figures_folder_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_text("theirs")
    (out / "figures").symlink_to(elsewhere)
    (out / "report.html").mkdir()  # not a file: kept
    outdir.remove_derived(out)
    assert (elsewhere / "a.png").read_text() == "theirs"
    assert (out / "report.html").is_dir()
    outdir.remove_derived(tmp_path / "missing")  # nothing there: nothing to do


def test_a_killed_runs_temporaries_are_removed_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".crisis-sim").write_text("")
    outside = tmp_path / "outside"
    outside.write_text("theirs")
    removed = [".summary.json.staged-123", ".runs.parquet.staged-9x", ".summary.json.tmp-77"]
    kept = ["summary.json.staged-1", ".a.staged-x", ".a.tmp-x", "a.tmp-1", ".a.staged-"]
    for name in removed + kept:
        (out / name).write_text("")
    (out / ".b.staged-5").symlink_to(outside)
    (out / ".c.tmp-5").mkdir()
    outdir.prepare_out_dir(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*kept, ".b.staged-5", ".c.tmp-5", ".crisis-sim", ".lock", "parts"])
    assert outside.read_text() == "theirs"


def test_an_unwritable_folder_is_one_line_and_released(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(outdir, "remove_leftovers", _oserror("No space left on device"))
    with pytest.raises(UsageError) as excinfo:
        outdir.prepare_out_dir(out)
    assert _message(excinfo) == f"output folder {out} is not writable: No space left on device"
    assert outdir._held == {}


# -------------------------------------------------------------------------- remove_parts


def test_remove_parts_removes_only_the_tools_files(tmp_path):
    out = tmp_path / "out"
    parts = out / "parts"
    parts.mkdir(parents=True)
    ours = ["runs-0-3.parquet", "paths-0-3.npz", ".paths-0-3.npz", "checkpoint.json",
            "trajectory.npz", ".x.tmp-12", "y.tmp.npz"]
    for name in ours:
        (parts / name).write_text("")
    outdir.remove_parts(out)
    assert not parts.exists()
    parts.mkdir()
    for name in ours:
        (parts / name).write_text("")
    outside = tmp_path / "outside"
    outside.write_text("theirs")
    (parts / "runs-4-7.parquet").symlink_to(outside)
    (parts / "notes.txt").write_text("mine")
    outdir.remove_parts(out)
    assert sorted(p.name for p in parts.iterdir()) == ["notes.txt"]
    assert outside.read_text() == "theirs"


def test_remove_parts_leaves_a_symlinked_parts_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "runs-0-3.parquet").write_text("theirs")
    (out / "parts").symlink_to(elsewhere)
    outdir.remove_parts(out)
    assert (elsewhere / "runs-0-3.parquet").read_text() == "theirs"
    outdir.remove_parts(tmp_path / "missing")


# ------------------------------------------------------------------------ writing_results


def test_writing_results_without_a_folder_lets_errors_pass(tmp_path):
    with pytest.raises(PermissionError), outdir.writing_results(None):
        raise PermissionError(13, "Permission denied")
    with pytest.raises(KeyboardInterrupt), outdir.writing_results(None):
        raise KeyboardInterrupt
    with outdir.writing_results(tmp_path):
        pass


def test_ctrl_c_while_writing_results_keeps_the_batches(tmp_path):
    out = tmp_path / "out"
    outdir.prepare_out_dir(out)
    for name in ("runs-0-3.parquet", "runs-4-7.parquet", "runs-8-11.parquet", "paths-0-3.npz"):
        (out / "parts" / name).write_bytes(b"")
    with pytest.raises(RunInterruptedError) as excinfo, outdir.writing_results(out):
        raise KeyboardInterrupt
    assert (excinfo.value.done, excinfo.value.total, excinfo.value.out_dir) == (3, 3, out)
    assert outdir._held == {}
    outdir.claim_folder(out)
    # during the run: the ensemble reports it itself
    with pytest.raises(KeyboardInterrupt), outdir.writing_results(out, during_run=True):
        raise KeyboardInterrupt
    assert out.resolve() in outdir._held


def test_a_failed_write_is_one_line_saying_how_to_finish(tmp_path):
    out = tmp_path / "out"
    outdir.claim_folder(out)
    with pytest.raises(UsageError) as excinfo, outdir.writing_results(out):
        raise OSError(28, "No space left on device")
    assert _message(excinfo) == (
        f"cannot write the results into {out} (No space left on device); the files there are "
        f"as they were and the finished batches are kept in {out / 'parts'}: free space (or "
        "make the folder writable) and run the same command again to finish without "
        "re-running them")
    assert outdir._held == {}
    outdir.claim_folder(out)
    with pytest.raises(UsageError) as excinfo, outdir.writing_results(out, during_run=True):
        raise OSError("disk gone\nsecond line " + "x" * 300)
    assert _message(excinfo) == (
        f"cannot save finished batches in {out / 'parts'} (disk gone); the batches saved so "
        "far are kept: free space (or make the folder writable) and run the same command "
        "again to resume")
    assert outdir._held == {}
    with pytest.raises(UsageError) as excinfo, outdir.writing_results(out):
        raise OSError("y" * 300)
    assert f"({'y' * 200});" in _message(excinfo) and "y" * 201 not in _message(excinfo)


# --------------------------------------------------------------------- claim_replay_folder


def _ours_with_manifest(folder: Path, manifest) -> Path:
    folder.mkdir()
    (folder / ".crisis-sim").write_text("")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_replay_in_range_claims_its_folder(tmp_path):
    out = tmp_path / "new"
    outdir.claim_replay_folder(out, "abc", 7, 0, 1)
    assert out.resolve() in outdir._held
    outdir.release_folder(out)
    outdir.claim_replay_folder(out, "abc", 7, 4, 5)


@pytest.mark.parametrize("run", [-1, 5, 6])
def test_a_replay_out_of_range_is_refused(tmp_path, run):
    out = tmp_path / "new"
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(out, "abc", 7, run, 5)
    assert _message(excinfo) == (f"--replay {run} is out of range: the ensemble has runs 0..4 "
                                 "(give --runs to replay beyond the scenario's run.runs)")
    assert not out.exists()


def test_a_replay_beside_another_ensemble_is_refused(tmp_path):
    out = _ours_with_manifest(tmp_path / "a", {"kind": "run", "seed": 3,
                                               "scenario_sha256": "abc", "runs": 10})
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(out, "abc", 4, 0, 10)
    assert _message(excinfo) == (f"{out} holds an ensemble of seed 3; this replay (seed 4) "
                                 "would not be one of its runs: use its seed and scenario, or "
                                 "another --out")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(out, "def", 3, 0, 10)
    assert _message(excinfo) == (f"{out} holds an ensemble of seed 3 of another scenario (or "
                                 "other --set values); this replay (seed 3) would not be one "
                                 "of its runs: use its seed and scenario, or another --out")
    no_kind = _ours_with_manifest(tmp_path / "b", {"seed": 3, "scenario_sha256": "abc"})
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(no_kind, "abc", 4, 0, 10)
    assert _message(excinfo).startswith(f"{no_kind} holds an ensemble of seed 3;")
    listed = _ours_with_manifest(tmp_path / "c", [1, 2])
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(listed, "abc", 4, 0, 10)
    assert _message(excinfo) == (f"{listed} holds an ensemble of seed None of another scenario "
                                 "(or other --set values); this replay (seed 4) would not be "
                                 "one of its runs: use its seed and scenario, or another --out")
    assert outdir._held == {}


def test_a_replay_takes_its_range_from_the_ensemble_there(tmp_path):
    out = _ours_with_manifest(tmp_path / "a", {"kind": "run", "seed": 3,
                                               "scenario_sha256": "abc", "runs": 10})
    outdir.claim_replay_folder(out, "abc", 3, 9, 2)  # the ensemble's 10 runs, not 2
    outdir.release_folder(out)
    outdir.claim_replay_folder(out, "abc", 3, 0, 2)  # its first run
    outdir.release_folder(out)
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(out, "abc", 3, 10, 50)
    assert _message(excinfo) == (f"--replay 10 is out of range: the ensemble in {out} has runs "
                                 "0..9")
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(out, "abc", 3, -1, 50)
    assert _message(excinfo) == (f"--replay -1 is out of range: the ensemble in {out} has runs "
                                 "0..9")
    no_runs = _ours_with_manifest(tmp_path / "b", {"kind": "run", "seed": 3,
                                                   "scenario_sha256": "abc", "runs": "10"})
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(no_runs, "abc", 3, 5, 2)
    assert _message(excinfo).startswith("--replay 5 is out of range: the ensemble has runs 0..1")


def test_a_replay_beside_a_sweep_or_in_a_users_folder_is_not_checked_as_an_ensemble(tmp_path):
    sweep = _ours_with_manifest(tmp_path / "a", {"kind": "sweep", "seed": 3, "runs": 2})
    outdir.claim_replay_folder(sweep, "abc", 4, 5, 6)
    users = tmp_path / "b"
    users.mkdir()
    (users / "manifest.json").write_text(json.dumps({"kind": "run", "seed": 3}))
    with pytest.raises(UsageError) as excinfo:
        outdir.claim_replay_folder(users, "abc", 4, 0, 1)
    assert _message(excinfo).startswith(f"{users} is a folder sim did not create")


# ---------------------------------------------------------------------- read_results_yaml


def test_read_results_yaml_reads_a_mapping_and_nothing_else(tmp_path, monkeypatch):
    path = tmp_path / "scenario.resolved.yaml"
    assert outdir.read_results_yaml(path) == {}
    path.write_text("name: demo\nrun:\n  runs: 4\n")
    assert outdir.read_results_yaml(path) == {"name": "demo", "run": {"runs": 4}}
    path.write_text("- 1\n- 2\n")
    assert outdir.read_results_yaml(path) == {}
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(tmp_path)
    assert _message(excinfo) == f"{tmp_path}: a folder, not a regular file"
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(path)
    try:
        b"name: \xff\n".decode("utf-8")
    except UnicodeDecodeError as exc:
        why = str(exc)
    assert _message(excinfo) == f"{path} is damaged ({why})"
    text = "name: [unclosed\n" + "# " + "z" * 400 + "\n"
    path.write_text(text)
    with pytest.raises(ScenarioError) as parsed:
        parse_yaml_text(text, str(path))
    why = str(parsed.value).splitlines()[0][:200]
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(path)
    assert _message(excinfo) == f"{path} is damaged ({why})"
    assert why.startswith(str(path))
    long = tmp_path / ("s" * 220 + ".yaml")  # a first line longer than 200 characters
    long.write_text(text)
    with pytest.raises(ScenarioError) as parsed:
        parse_yaml_text(text, str(long))
    first = str(parsed.value).splitlines()[0]
    assert len(first) > 201
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(long)
    assert _message(excinfo) == f"{long} is damaged ({first[:200]})"
    monkeypatch.setattr(outdir, "read_limited", _oserror())
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(path)
    assert _message(excinfo) == f"cannot read {path}: Permission denied"


def test_read_results_yaml_refuses_a_file_one_byte_over_its_limit(tmp_path):
    assert outdir.MAX_YAML_BYTES == 5_000_000
    big = tmp_path / "scenario.resolved.yaml"
    with open(big, "wb") as f:
        f.truncate(5_000_001)
    with pytest.raises(UsageError) as excinfo:
        outdir.read_results_yaml(big)
    assert _message(excinfo) == f"{big}: larger than 5000000 bytes"
