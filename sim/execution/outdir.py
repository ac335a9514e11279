"""Output folders: claim only folders the tool made, lock them for one run, delete only our files.

A user's folder must never lose a file to ``--out``: ``--out ~/thesis`` or ``--out /`` once
deleted ``parts/`` and overwrote ``summary.json``. So a folder is used only if it does not
exist yet, is empty, or carries the marker the tool leaves in every folder it creates (or
the ``.identity.json`` of folders made before the marker). One run holds an exclusive lock
(``flock``) on a folder while it writes there, so a second run into it is refused at once
instead of crashing one of them and leaving a checkpoint that lists missing parts. When the
work is done, only the files the tool wrote in ``parts/`` are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from sim.errors import RunInterruptedError, UsageError
from sim.safety import UnsafeFileError, read_limited

MARKER = ".crisis-sim"  # in every folder the tool creates; its presence makes a folder ours
IDENTITY = ".identity.json"
LOCK = ".lock"
MAX_JSON_BYTES = 50_000_000  # a results folder's JSON (a summary of thousands of indicators)
#: identity keys that, when they differ, mean another experiment: refuse the folder
STRICT_KEYS = ("kind", "scenario_sha256", "seed", "design", "parameters", "scenarios")
#: what the tool writes into parts/ (batch rows, sample paths, the checkpoint, temporaries)
PART_PATTERNS = ("runs-*.parquet", "daily-*.parquet", "paths-*.npz", ".paths-*.npz",
                 "checkpoint.json",
                 "trajectory.npz", ".*.tmp-*", "*.tmp.npz")

_held: dict[Path, int] = {}  # folders this process has locked -> the lock file's descriptor


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` was made by this tool (its marker or identity file is there)."""
    return any((folder / name).is_file() and not (folder / name).is_symlink()
               for name in (MARKER, IDENTITY))


def refuse_foreign(out_dir: Path, made_before_marker=None) -> None:
    """Refuse an ``--out`` this tool may not write, reading only (``claim_folder``'s checks).

    A command calls it before it prints or computes anything, so the refusal is its first
    word; ``claim_folder`` checks again when it takes the folder.

    Raises:
        UsageError: A broken symlink, a file, an unreadable folder, or a non-empty folder the
            tool did not make (nor ``made_before_marker`` recognises).
    """
    if out_dir.is_symlink() and not out_dir.exists():
        raise UsageError(f"--out {out_dir} is a broken symlink; choose another folder")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise UsageError(f"--out {out_dir} is a file, not a folder; choose another --out")
        try:
            empty = next(out_dir.iterdir(), None) is None
        except OSError as exc:
            raise UsageError(f"cannot read output folder {out_dir}: {exc.strerror}") from None
        if not empty and not is_ours(out_dir) and not (
                made_before_marker is not None and made_before_marker(out_dir)):
            raise UsageError(f"{out_dir} is a folder sim did not create and is not empty; "
                             "its files are left alone: choose a new or empty folder with "
                             "--out")


def claim_folder(out_dir: Path, made_before_marker=None) -> None:
    """Create ``out_dir`` (or accept an empty folder or one of ours) and lock it for this run.

    Every command that writes a folder of results claims it here (run, sweep, compare,
    calibrate, validate), so none overwrites a ``calibration.json`` or ``skill.md`` of the
    user's.

    Args:
        out_dir: The folder.
        made_before_marker: Optional test that recognises a folder this command wrote before
            it left a marker (its own files only); such a folder is marked and used.

    Raises:
        UsageError: The path is a file, a non-empty folder the tool did not make, not
            writable, or locked by another run.
    """
    refuse_foreign(out_dir, made_before_marker)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        marker = out_dir / MARKER
        if not os.path.lexists(marker):  # never written through a planted symlink
            marker.write_text("This folder was created by crisis-sim (sim run, sweep, "
                              "compare, calibrate, validate); sim may replace the files it "
                              "wrote here.\n")
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    lock_folder(out_dir)


def lock_folder(out_dir: Path) -> None:
    """Hold an exclusive lock on ``out_dir`` until ``release_folder`` or the process ends.

    Re-entrant within a process (a compare locks its folder, then each scenario's subfolder).
    """
    key = out_dir.resolve()
    if key in _held:
        return
    try:
        fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     0o644)
    except OSError as exc:
        raise UsageError(f"output folder {out_dir} is not writable: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        who = f" (process {holder})" if holder.isdigit() else ""
        raise UsageError(f"{out_dir} is in use by another sim run{who}; wait for it to "
                         "finish, or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held[key] = fd


def release_folder(out_dir: Path) -> None:
    """Give up this process's lock on ``out_dir`` (the lock file stays: removing it races)."""
    fd = _held.pop(out_dir.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


def read_json(path: Path, what: str = "") -> object:
    """JSON from a results folder, read as untrusted input: bounded, regular files only.

    Raises:
        UsageError: Missing, not a regular file, too large or not valid JSON (one line).
    """
    try:
        return json.loads(read_limited(path, MAX_JSON_BYTES))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing{what}") from None
    except UnsafeFileError as exc:
        raise UsageError(f"{path}: {exc}{what}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError):
        raise UsageError(f"{path} is damaged (not valid JSON){what}") from None


def prepare_out_dir(out_dir: Path, identity: dict | None = None) -> bool:
    """Claim and lock the output folder, create ``parts/``, and say whether to resume.

    Args:
        out_dir: The folder.
        identity: What is about to be written there. A folder holding results of another
            experiment (a different kind, scenario, seed, design) is refused, never mixed or
            silently overwritten. Finished results of the same experiment with another size
            are replaced (they are reproducible from their command); unfinished work of
            another size is refused with the command that resumes it, never deleted.

    Returns:
        True when unfinished work of this very experiment is there to resume.
    """
    claim_folder(out_dir)
    resume = stale = False
    claim = out_dir / IDENTITY
    parts = out_dir / "parts"
    if identity is not None and claim.exists():
        try:
            held = json.loads(read_limited(claim, MAX_JSON_BYTES))
            held = held if isinstance(held, dict) else {}
        except (OSError, ValueError):
            held = {}
        different = {k: (held.get(k), v) for k, v in identity.items()
                     if k in STRICT_KEYS and held.get(k) != v}
        if different:
            release_folder(out_dir)
            what = ", ".join(f"{k} {a!r} (now {b!r})" for k, (a, b) in different.items())
            raise UsageError(f"{out_dir} holds results of another run: {what}; choose "
                             "another --out, or delete that folder first")
        resume = held == identity
        if held and not resume:
            stale = True  # results of this experiment at another size: derived files go
        saved = _saved_parts(parts)
        if not resume and saved:
            release_folder(out_dir)
            sizes = ", ".join(f"{k} {held.get(k)!r}" for k in identity
                              if k not in STRICT_KEYS and held.get(k) != identity[k])
            raise UsageError(f"{out_dir} holds unfinished work of this experiment with "
                             f"{sizes} ({saved} batches saved); resume it with those "
                             "settings, or choose another --out, or delete "
                             f"{parts} to start afresh")
    try:
        remove_leftovers(out_dir)
        if stale:
            remove_derived(out_dir)
        parts.mkdir(exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        release_folder(out_dir)
        raise UsageError(f"output folder {out_dir} is not writable: {exc.strerror}") from None
    if identity is not None:
        from sim.execution.storage import write_json

        write_json(claim, identity)
    return resume and any(parts.iterdir())


#: Files other commands derive from a folder's results (score, discover, report, plot).
DERIVED = ("score.json", "discovery.json", "report.html")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def remove_derived(out_dir: Path) -> None:
    """Remove what was derived from the results a new run is about to replace.

    An old ``score.json`` (or discovery, report, figures) beside new runs of other settings
    was shown by ``sim report`` as if it were theirs. The folder is ours and locked; only
    these files, and regular figure files in ``figures/``, are removed (never through a
    symlink: a symlink at one of the names is itself removed, its target left alone).
    """
    for name in DERIVED:
        path = out_dir / name
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
    figures = out_dir / "figures"
    if figures.is_dir() and not figures.is_symlink():
        for path in figures.iterdir():
            if path.suffix in FIGURE_SUFFIXES and (path.is_symlink() or path.is_file()):
                path.unlink(missing_ok=True)


def remove_leftovers(out_dir: Path) -> None:
    """Remove the temporaries of a run killed while writing its results (ours: their names).

    Called with the folder's lock held, so no other run is writing them.
    """
    from sim.execution.storage import Staging

    for pattern in (f".*{Staging.SUFFIX}[0-9]*", ".*.tmp-[0-9]*"):
        for path in out_dir.glob(pattern):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)


@contextlib.contextmanager
def writing_results(out_dir: Path | None, during_run: bool = False):
    """Turn a failed write into ``out_dir`` (a full disk, a read-only folder) into one line.

    What the user had stays: the final files are staged (``storage.Staging``) and the
    finished batches stay in ``parts/``, so the message says how to finish without losing
    them.

    Args:
        out_dir: The run's folder (None: nothing is written, errors pass unchanged).
        during_run: The batches' parts were being saved (else the final results).
    """
    try:
        yield
    except KeyboardInterrupt:  # Ctrl-C while the results are assembled: the batches are kept
        if out_dir is None or during_run:
            raise
        release_folder(out_dir)
        saved = _saved_parts(out_dir / "parts")
        raise RunInterruptedError(saved, saved, out_dir) from None
    except OSError as exc:
        if out_dir is None:
            raise
        release_folder(out_dir)
        why = exc.strerror or str(exc).splitlines()[0][:200]
        if during_run:
            raise UsageError(f"cannot save finished batches in {out_dir / 'parts'} ({why}); "
                             "the batches saved so far are kept: free space (or make the "
                             "folder writable) and run the same command again to resume"
                             ) from None
        raise UsageError(f"cannot write the results into {out_dir} ({why}); the files there "
                         f"are as they were and the finished batches are kept in "
                         f"{out_dir / 'parts'}: free space (or make the folder writable) and "
                         "run the same command again to finish without re-running them"
                         ) from None


def _saved_parts(parts: Path) -> int:
    """How many batches of unfinished work ``parts/`` holds."""
    return len(list(parts.glob("runs-*.parquet"))) if parts.is_dir() else 0


def remove_parts(out_dir: Path) -> None:
    """Remove the files the tool wrote in ``parts/``, then the folder if nothing else is left."""
    parts = out_dir / "parts"
    if not parts.is_dir() or parts.is_symlink():
        return
    for pattern in PART_PATTERNS:
        for path in parts.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # something the tool did not write is there: kept
        parts.rmdir()


def claim_replay_folder(out_dir: Path, digest: str, seed: int, run: int, runs: int) -> None:
    """Check that replaying ``run`` into ``out_dir`` is meaningful, then claim the folder.

    A replay of another scenario or seed next to an ensemble's results would be mistaken for
    one of its runs; a replication beyond the ensemble's size was never part of it.

    Raises:
        UsageError: Another scenario or seed is there, or ``run`` is out of range.
    """
    manifest_file = out_dir / "manifest.json"
    if manifest_file.exists() and is_ours(out_dir):
        manifest = read_json(manifest_file)
        manifest = manifest if isinstance(manifest, dict) else {}
        if manifest.get("kind", "run") == "run":
            if manifest.get("seed") != seed or manifest.get("scenario_sha256") != digest:
                other = "" if manifest.get("scenario_sha256") == digest else \
                    " of another scenario (or other --set values)"
                raise UsageError(f"{out_dir} holds an ensemble of seed {manifest.get('seed')!r}"
                                 f"{other}; this replay (seed {seed}) would not be one of its "
                                 "runs: use its seed and scenario, or another --out")
            if isinstance(manifest.get("runs"), int):
                if not 0 <= run < manifest["runs"]:
                    raise UsageError(f"--replay {run} is out of range: the ensemble in "
                                     f"{out_dir} has runs 0..{manifest['runs'] - 1}")
                runs = manifest["runs"]
    if not 0 <= run < runs:
        raise UsageError(f"--replay {run} is out of range: the ensemble has runs 0..{runs - 1}"
                         " (give --runs to replay beyond the scenario's run.runs)")
    claim_folder(out_dir)


MAX_YAML_BYTES = 5_000_000  # scenario.resolved.yaml: a scenario file's own limit


def read_results_yaml(path: Path) -> dict:
    """A results folder's ``scenario.resolved.yaml`` as a mapping ({} if it is not one).

    Read like a scenario file: bounded in size, no alias bombs, plain values only.

    Raises:
        UsageError: Not a regular file, too large or not readable YAML (one line).
    """
    from sim.errors import ScenarioError
    from sim.scenario.loader import parse_yaml_text

    try:
        text = read_limited(path, MAX_YAML_BYTES).decode("utf-8")
        data, _, _ = parse_yaml_text(text, str(path))
    except FileNotFoundError:
        return {}
    except UnsafeFileError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ScenarioError) as exc:
        raise UsageError(f"{path} is damaged ({str(exc).splitlines()[0][:200]})") from None
    return data if isinstance(data, dict) else {}
