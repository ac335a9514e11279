"""Compiled code: numba's ``njit``, cached on disk.

Why: the daily step works on arrays of shape ``(R, A, A)`` with A about 5. In numpy each
formula is a dozen passes over the batch, each making a temporary, and a reduction over an
axis of length 5 runs numpy's slowest path; a day cost about 24 microseconds per
replication. The day is therefore written as loops over the replication axis compiled by
numba (Lam, Pitrou & Seibert 2015): one pass, no temporaries, the formula per replication in
plain sight (``sim/day.py``); a day now costs about 4.5 microseconds per replication.

``kernel`` compiles an entry point called from Python, ``helper`` a function called only from
compiled code: each mechanism's rules are helpers, composed by the day's kernels.

Conventions:

* the first axis of every state array is the replication axis ``R``;
* a parameter array's first axis is 1 (shared) or R (a sweep's per-replication values), so a
  loop reads ``x[pick(x.shape[0], r), ...]``, row r or the shared row 0;
* a mechanism's rule is a helper looping over the replications, writing its result into its
  ``out`` argument (or, where its docstring says so, updating an argument in place), called
  once a day: no allocation inside its loop over replications (a small scratch array made
  once before the loop is fine), no array views (``x[r]``) inside the loop, and inside the
  loop only calls of helpers taking numbers, not arrays. numba reference-counts every
  view it makes and every array passed to a function, with atomic operations that cost more
  than the arithmetic of a 5-actor replication: a refugee step that looked up each move's
  origin with a helper taking the route arrays took 730 ns per replication, 91 ns without.

Compiled code is cached on disk, so only the first run of a version of the sources compiles
(about a minute); worker processes load the cache. numba checks a cached function against its
own file only, not against the helpers it calls from other files, so the cache lives in a
folder named after a digest of the package's source files that can change compiled code
(``compiled_sources``): such an edit recompiles everything rather than reusing stale code.
Set ``NUMBA_DISABLE_JIT=1`` to run the code as plain Python, for a debugger or coverage.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import shutil
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

_PACKAGE = Path(__file__).resolve().parent
_PREFIX = "numba-"
_PRUNE_AFTER = 3600.0


@functools.cache
def _cache_dir() -> str | None:
    """The folder for compiled code of this version of the package's sources.

    Under ``$NUMBA_CACHE_DIR`` if set, else in the package's ``__pycache__`` (where folders of
    other versions untouched for ``_PRUNE_AFTER`` seconds are removed), else in
    ``~/.cache/crisis-sim``. None if none is writable (numba then finds a place itself).
    """
    digest = hashlib.sha256()
    for path in sorted(compiled_sources()):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    name = _PREFIX + digest.hexdigest()[:16]
    user = os.environ.get("NUMBA_CACHE_DIR")
    for base, prune in ((Path(user), False) if user else (_PACKAGE / "__pycache__", True),
                       (Path.home() / ".cache" / "crisis-sim", False)):
        folder = base / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
            os.utime(folder)  # in use: see the pruning below
        except OSError:
            continue
        if prune:  # other versions' folders, left alone a while in case one is in use
            for old in base.glob(_PREFIX + "*"):
                if old != folder and time.time() - old.stat().st_mtime > _PRUNE_AFTER:
                    shutil.rmtree(old, ignore_errors=True)
        return str(folder)
    return None


def compiled_code_cached() -> bool:
    """Whether this version's compiled code is on disk (if not, the next run compiles it)."""
    folder = _cache_dir()
    return folder is not None and any(Path(folder).rglob("*.nbi"))


def compiled_sources() -> set[Path]:
    """The package's source files that can change compiled code.

    Those that define compiled functions (``@kernel``, ``@helper``), and every module of the
    package they import, transitively (compiled code freezes the constants it reads from
    them): editing the command line or the app does not recompile anything, editing a
    mechanism or the scenario schema does.
    """
    files = {path: path.read_text(encoding="utf-8") for path in _PACKAGE.rglob("*.py")}
    found = {path for path, text in files.items() if _COMPILES.search(text)}
    todo = list(found)
    while todo:
        for module in _IMPORTS_SIM.findall(files[todo.pop()]):
            stem = _PACKAGE.parent.joinpath(*module.split("."))
            for path in (stem.with_suffix(".py"), stem / "__init__.py"):
                if path in files and path not in found:
                    found.add(path)
                    todo.append(path)
    return found


_COMPILES = re.compile(r"^@(kernel|helper|inlined)\b|^def _compile\(", re.MULTILINE)
_IMPORTS_SIM = re.compile(r"^\s*(?:from|import) (sim(?:\.\w+)*)", re.MULTILINE)


def _compile(function: Callable, **options: Any) -> Any:
    """``numba.njit`` with the package's cache folder (``_cache_dir``)."""
    folder, saved = _cache_dir(), numba.config.CACHE_DIR
    numba.config.CACHE_DIR = folder or saved  # read when caching is set up, just below
    try:
        return numba.njit(cache=True, nogil=True, **options)(function)
    finally:
        numba.config.CACHE_DIR = saved


def helper[F: Callable](function: F) -> F:
    """Compile ``function`` for calls from other compiled code, caching it on disk."""
    return _compile(function)


def inlined[F: Callable](function: F) -> F:
    """``helper``, inlined into the compiled code that calls it (numba's ``inline="always"``).

    For a helper called inside a loop over replications with arrays as arguments: inlined,
    it costs no call and no reference counting of the arrays it is passed.
    """
    return _compile(function, inline="always")


def kernel[F: Callable](function: F) -> F:
    """Compile ``function`` as an entry point called from Python.

    numba compiles once per argument type, and an array's memory layout is part of its type:
    the model's arrays come C-ordered, Fortran-ordered, strided or read-only depending on how
    numpy made them. Arrays (also inside tuples) are therefore passed C-contiguous and
    writable, copying only those that are not, so each kernel compiles once per dtype and rank.
    An array a kernel writes into must therefore come C-contiguous and writable, or in a
    packed tuple (``tuple_type``, passed as it is): the kernel would write into a copy.
    """
    compiled = _compile(function)

    @functools.wraps(function)
    def call(*args):
        return compiled(*(_contiguous(x) for x in args))

    call.compiled = compiled
    return call  # type: ignore[return-value]


def _contiguous(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        # a read-only array (a broadcast view) is another type to numba, too
        return x if x.flags.c_contiguous and x.flags.writeable else np.array(x, order="C")
    if getattr(x, "ready", False):
        return x
    if isinstance(x, tuple):
        return type(x)(*map(_contiguous, x)) if hasattr(x, "_fields") else tuple(
            map(_contiguous, x))
    return x


@helper
def pick(rows: int, r: int) -> int:
    """The row of a ``(rows, ...)`` array (rows 1 or R) serving replication r: r or the shared 0.

    Compiled loops index ``x[pick(x.shape[0], r), ...]`` rather than taking a row view, which
    would cost reference counting in every iteration.
    """
    return r if rows > 1 else 0


def tuple_type(cls: type, name: str) -> type:
    """A named tuple type with the fields of dataclass ``cls``, for passing one to kernels.

    Assign it to a module-level name equal to ``name`` in ``cls``'s module: numba's disk cache
    keys compiled code by argument types, and finds a named tuple type again in another
    process (a worker) only if it can be imported by that name.
    """
    made = namedtuple(name, [f.name for f in dataclasses.fields(cls)], module=cls.__module__)
    made.ready = True  # packed instances hold contiguous arrays already
    return made


def packed(obj: Any, as_type: type) -> tuple:
    """A dataclass of arrays as a named tuple (``tuple_type``) a kernel takes as one argument.

    Kernels then read ``params.horizon`` as the Python code does, instead of taking dozens of
    positional arrays; arrays are made C-contiguous and writable (see ``kernel``).
    """
    return as_type(*(_contiguous(getattr(obj, name)) for name in as_type._fields))


__all__ = ["compiled_code_cached", "helper", "inlined", "kernel", "packed", "pick", "tuple_type"]
