"""Small array helpers shared by the mechanisms."""

from __future__ import annotations

import numpy as np


def lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[r, index[r, ...]]`` for a per-replication table ``(P, L)``, P in {1, R}."""
    if table.shape[0] == 1:
        return table[0][index]
    flat = index.reshape(index.shape[0], -1)
    return np.take_along_axis(table, flat, axis=1).reshape(index.shape)


def symmetric_uniform(u: np.ndarray) -> np.ndarray:
    """Make ``(R, A, A)`` draws symmetric by mirroring the upper triangle (one draw per dyad)."""
    upper = np.triu(u, 1)
    return upper + np.swapaxes(upper, 1, 2)


def zero_diagonal(x: np.ndarray) -> np.ndarray:
    """Copy of an ``(R, A, A)`` array with the diagonal set to zero."""
    out = x.copy()
    n = x.shape[-1]
    out[:, np.arange(n), np.arange(n)] = 0
    return out


def stochastic_round(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Integer ``floor(x + u)``: unbiased rounding that keeps counts of people whole."""
    return np.floor(x + u).astype(np.int64)
