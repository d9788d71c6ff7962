"""Time units, the arrays type and small numpy helpers shared by the simulator's parts."""

from __future__ import annotations

import numpy as np

_MINUTE = 60
_HOUR = 3_600
_DAY = 86_400
_NS_PER_S = 1_000_000_000

_Arrays = dict[str, np.ndarray]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def _draw_by_group(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Category code per row, row i drawn from probs[group[i]] (inverse CDF, small loop)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(group.size)
    codes = np.zeros(group.size, dtype=np.int8)
    for j in range(probs.shape[1] - 1):
        codes += u >= cum[group, j]
    return codes


def _by_customer_time(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions that sort rows by (customer, time); one int64 key, no lexsort."""
    if not t.size:
        return np.empty(0, dtype=np.int64)
    low = t.min()
    key = c.astype(np.int64) * (int(t.max() - low) + 1) + (t - low)
    return np.argsort(key, kind="stable")


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Inverse of values = original[order]."""
    out = np.empty_like(values)
    out[order] = values
    return out


def _group_starts(sorted_codes: np.ndarray) -> np.ndarray:
    """True at the first row of each run of equal codes."""
    first = np.ones(sorted_codes.size, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    return first
