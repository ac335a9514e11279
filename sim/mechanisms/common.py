"""Small array helpers shared by the mechanisms."""

from __future__ import annotations

import numpy as np


def lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[r, index[r, ...]]`` for a per-replication table ``(P, L)``, P in {1, R}."""
    if table.shape[0] == 1:
        return table[0][index]
    flat = index.reshape(index.shape[0], -1)
    return np.take_along_axis(table, flat, axis=1).reshape(index.shape)


def zero_diagonal(x: np.ndarray) -> np.ndarray:
    """Copy of an ``(R, A, A)`` array with the diagonal set to zero."""
    out = x.copy()
    n = x.shape[-1]
    out[:, np.arange(n), np.arange(n)] = 0
    return out
