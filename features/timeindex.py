"""Exact "known strictly before t" look-ups for many (entity, t) queries at once.

Events of one stream are sorted once by (entity, time). Times are replaced by their rank
among the stream's distinct times, so one int64 key orders (entity, time) exactly, without
overflow and without rounding: an event counts before a query iff its time < the query time.
Window aggregates then come from cumulative sums (and ``reduceat`` for max/min), never from
a loop per customer or per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EventIndex:
    """One event stream sorted by (entity code, time)."""

    order: np.ndarray  # positions of the input events in sorted order
    keys: np.ndarray  # sorted int64 keys: code * span + time rank
    distinct_times: np.ndarray  # sorted distinct event times (int64 ns)
    span: int

    @classmethod
    def build(cls, codes: np.ndarray, times: np.ndarray, ids: Any = None) -> EventIndex:
        """``ids`` break ties between one entity's events at the same instant, so "latest"
        never depends on input row order; only tied rows are compared, so it is cheap."""
        distinct, rank = np.unique(times, return_inverse=True)
        span = len(distinct) + 1
        keys = codes.astype(np.int64) * span + rank.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        if ids is not None and len(order) > 1:
            sorted_keys = keys[order]
            tied = np.zeros(len(order), dtype=bool)
            same = sorted_keys[1:] == sorted_keys[:-1]
            tied[1:] |= same
            tied[:-1] |= same
            if tied.any():
                # re-sort only the tied rows (runs of equal keys stay in place), by id
                positions = np.flatnonzero(tied)
                rows = order[positions]
                tied_ids = np.asarray(ids.take(rows), dtype=object).astype(str)
                order = order.copy()
                order[positions] = rows[np.lexsort((tied_ids, keys[rows]))]
        return cls(order=order, keys=keys[order], distinct_times=distinct, span=span)

    def __len__(self) -> int:
        return len(self.keys)

    def before(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Sorted position just past the entity's events with time < t (strict)."""
        rank = np.searchsorted(self.distinct_times, times, side="left")
        return np.searchsorted(self.keys, codes.astype(np.int64) * self.span + rank, side="left")

    def start(self, codes: np.ndarray) -> np.ndarray:
        """Sorted position of the entity's first event."""
        return np.searchsorted(self.keys, codes.astype(np.int64) * self.span, side="left")

    def sorted_values(self, values: np.ndarray) -> np.ndarray:
        return values[self.order]

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Prefix sums in sorted order with a leading 0 (NaN counts as 0)."""
        ordered = np.nan_to_num(values[self.order].astype(np.float64), nan=0.0)
        return np.concatenate(([0.0], np.cumsum(ordered)))


def window_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return prefix[hi] - prefix[lo]


def window_extreme(
    sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, largest: bool
) -> np.ndarray:
    """Max (or min) of sorted_values[lo:hi] per query, NaN where the window is empty.

    NaN values are ignored. Cost is the total window length, via ufunc.reduceat over the
    interleaved (lo, hi) bounds.
    """
    out = np.full(len(lo), np.nan)
    nonempty = hi > lo
    if not nonempty.any() or len(sorted_values) == 0:
        return out
    fill = -np.inf if largest else np.inf
    padded = np.append(np.where(np.isnan(sorted_values), fill, sorted_values), fill)
    # Ordering windows by start keeps the gaps between them (also reduced) summing to <= N.
    which = np.flatnonzero(nonempty)
    which = which[np.argsort(lo[which], kind="stable")]
    bounds = np.empty(2 * len(which), dtype=np.int64)
    bounds[0::2] = lo[which]
    bounds[1::2] = hi[which]
    ufunc = np.maximum if largest else np.minimum
    reduced = ufunc.reduceat(padded, bounds)[0::2]
    reduced[np.isinf(reduced)] = np.nan
    out[which] = reduced
    return out


def last_value(sorted_values: np.ndarray, start: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Value of the entity's latest event before t, NaN (or None) where it has none."""
    has = hi > start
    idx = np.where(has, hi - 1, 0)
    if len(sorted_values) == 0:
        taken = np.full(len(hi), np.nan, dtype=object if sorted_values.dtype == object else float)
    else:
        taken = sorted_values[idx]
    if taken.dtype == object:
        taken = taken.copy()
        taken[~has] = None
        return taken
    taken = taken.astype(np.float64)
    taken[~has] = np.nan
    return taken
