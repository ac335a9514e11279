"""Compiled kernels: numba's ``njit``, cached on disk.

Why: the daily step works on arrays of shape ``(R, A, A)`` with A about 5. In numpy each
formula is a dozen passes over the batch, each making a temporary, and a reduction over an
axis of length 5 runs numpy's slowest path; a day cost about 24 microseconds per
replication. The hottest mechanisms are therefore written as loops over the replication axis
and compiled by numba (Lam, Pitrou & Seibert 2015): one pass, no temporaries, the formula per
replication in plain sight. Everything else stays numpy.

``kernel`` compiles an entry point called from Python, ``helper`` a function called only from
compiled code (a scalar formula shared by kernels).

Conventions inside a kernel:

* the first axis of every state array is the replication axis ``R``;
* a parameter array's first axis is 1 (shared) or R (a sweep's per-replication values), so a
  kernel reads ``row(x, r)``, row r or the shared row 0;
* kernels are pure: they return new arrays and never write into their arguments.

Compiled code is cached beside the sources (``__pycache__``), so only the first run on a
machine compiles (about half a minute); worker processes load the cache. Set
``NUMBA_DISABLE_JIT=1`` to run the kernels as plain Python, for a debugger or coverage.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numba
import numpy as np


def helper[F: Callable](function: F) -> F:
    """Compile ``function`` for calls from other compiled code, caching it on disk."""
    return numba.njit(cache=True, nogil=True)(function)


def kernel[F: Callable](function: F) -> F:
    """Compile ``function`` as an entry point called from Python.

    numba compiles once per argument type, and an array's memory layout is part of its type:
    the model's arrays come C-ordered, Fortran-ordered, strided or read-only depending on how
    numpy made them. Arrays (also inside tuples) are therefore passed C-contiguous and
    writable, copying only those that are not, so each kernel compiles once per dtype and rank.
    """
    compiled = helper(function)

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
def row(x, r: int):
    """Replication r's row of a ``(1 or R, ...)`` parameter array (its value if 1-d)."""
    return x[r if x.shape[0] > 1 else 0]


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


__all__ = ["helper", "kernel", "packed", "row", "tuple_type"]
