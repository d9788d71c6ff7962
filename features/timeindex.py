"""Exact "known strictly before t" look-ups for many (entity, t) queries at once.

Events of one stream are sorted once by (entity, time). Times are replaced by integer
ranks so one int64 key orders (entity, time) exactly, without overflow and without
rounding: an event counts before a query iff its time < the query time. Window aggregates
then come from cumulative sums (and ``reduceat`` for max/min), never from a loop per
customer or per query. Look-ups are fastest when the queries come sorted by (entity,
time), because every binary search then starts where the last one ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_UNITS = (10**9, 10**6, 10**3, 1)  # seconds, milliseconds, microseconds, nanoseconds
_KEY_LIMIT = 2**62  # codes x span below this leaves room for one code past the last
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


@dataclass(frozen=True)
class TimeRanks:
    """Integer ranks with ``rank(e) < query_rank(t)`` exactly when ``e < t``.

    Exports usually carry whole seconds: then a rank is the offset in the coarsest unit
    that divides every event time, with no sort at all. Otherwise (or if keys would
    overflow) the ranks are positions among the distinct times.
    """

    origin: int
    unit: int
    span: int  # ranks run over [0, span)
    distinct: np.ndarray | None = None

    @classmethod
    def fit(cls, times: np.ndarray, n_codes: int) -> tuple[TimeRanks, np.ndarray]:
        """The ranks for these event times, and the events' own ranks (computed on the way)."""
        if len(times) == 0:
            return cls(origin=0, unit=1, span=1), np.zeros(0, dtype=np.int64)
        origin, last = int(times.min()), int(times.max())
        for unit in _UNITS:
            span = (last - origin) // unit + 2
            # a span wider than int64 (events ~300 years apart) would wrap the offsets
            if max(n_codes, 1) * span >= _KEY_LIMIT or last - origin > _INT64_MAX:
                break
            offsets = times - origin
            ranks = offsets // unit
            if unit == 1 or np.array_equal(ranks * unit, offsets):
                return cls(origin=origin, unit=unit, span=span), ranks
        distinct = np.unique(times)
        by_position = cls(origin=0, unit=1, span=len(distinct) + 1, distinct=distinct)
        if (max(n_codes, 1) + 1) * by_position.span > _INT64_MAX:
            raise OverflowError(
                f"{n_codes} entity codes x {by_position.span} distinct times do not fit one int64 key"
            )
        return by_position, by_position.of_events(times)

    def of_events(self, times: np.ndarray) -> np.ndarray:
        if self.distinct is not None:
            return np.searchsorted(self.distinct, times, side="left")
        return (times - self.origin) // self.unit

    def of_queries(self, times: np.ndarray) -> np.ndarray:
        """The number of ranks strictly before each query time."""
        if self.distinct is not None:
            return np.searchsorted(self.distinct, times, side="left")
        # ceil((t - origin) / unit), exact in integers, clipped to the ranks that exist;
        # times are first clipped near the events so the subtraction cannot overflow, and
        # a missing time (NaT, int64 min) has nothing before it
        near = np.clip(times, self.origin - self.unit, self.origin + self.span * self.unit)
        before: np.ndarray = np.clip(-((self.origin - near) // self.unit), 0, self.span - 1)
        return before


@dataclass(frozen=True)
class EventIndex:
    """One event stream sorted by (entity code, time)."""

    order: np.ndarray  # positions of the input events in sorted order
    keys: np.ndarray  # sorted int64 keys: code * span + time rank
    ranks: TimeRanks
    n_codes: int  # event codes run over [0, n_codes)

    @classmethod
    def build(cls, codes: np.ndarray, times: np.ndarray, ids: Any = None) -> EventIndex:
        """``ids`` break ties between one entity's events at the same instant, so "latest"
        never depends on input row order; only tied rows are compared, so it is cheap."""
        codes = codes.astype(np.int64, copy=False)
        n_codes = int(codes.max()) + 1 if len(codes) else 1
        ranks, event_ranks = TimeRanks.fit(times, n_codes)
        keys = codes * ranks.span + event_ranks
        order = np.argsort(keys, kind="stable")
        keys = keys.take(order)
        if ids is not None and len(order) > 1:
            same = keys[1:] == keys[:-1]
            if same.any():
                tied = np.zeros(len(order), dtype=bool)
                tied[1:] |= same
                tied[:-1] |= same
                # re-sort only the tied rows (runs of equal keys stay in place), by id
                positions = np.flatnonzero(tied)
                rows = order[positions]
                tied_ids = np.asarray(ids.take(rows), dtype=object).astype(str)
                order[positions] = rows[np.lexsort((tied_ids, keys[positions]))]
        return cls(order=order, keys=keys, ranks=ranks, n_codes=n_codes)

    def __len__(self) -> int:
        return len(self.keys)

    def before(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Sorted position just past the entity's events with time < t (strict)."""
        return _search(self.keys, self._key_base(codes) + self.ranks.of_queries(times))

    def start(self, codes: np.ndarray) -> np.ndarray:
        """Sorted position of the entity's first event."""
        return _search(self.keys, self._key_base(codes))

    def _key_base(self, codes: np.ndarray) -> np.ndarray:
        """code * span, with query codes past the events' (an entity with no event in this
        stream) clipped to the first code past them: unclipped, a large code times a
        nanosecond span wraps around int64 and lands among another entity's events."""
        clipped = np.clip(codes.astype(np.int64, copy=False), -1, self.n_codes)
        return clipped * self.ranks.span

    def sorted_values(self, values: np.ndarray) -> np.ndarray:
        return values.take(self.order)


def _search(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``searchsorted`` (left), sorting the queries first when they are not: sorted queries
    walk the keys once instead of jumping around memory, ~20x faster on 10M keys."""
    if len(queries) < 2 or not np.any(queries[1:] < queries[:-1]):
        return np.searchsorted(sorted_keys, queries, side="left")
    order = np.argsort(queries, kind="stable")
    out = np.empty(len(queries), dtype=np.int64)
    out[order] = np.searchsorted(sorted_keys, queries.take(order), side="left")
    return out


def prefix_sums(sorted_values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0 (NaN counts as 0), so a window's sum is two look-ups."""
    ordered = sorted_values.astype(np.float64, copy=True)
    ordered[np.isnan(ordered)] = 0.0
    out = np.empty(len(ordered) + 1)
    out[0] = 0.0
    np.cumsum(ordered, out=out[1:])
    return out


def window_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    sums: np.ndarray = prefix[hi] - prefix[lo]
    return sums


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


def elapsed(later: np.ndarray, earlier: np.ndarray | int, unit: int) -> np.ndarray:
    """``(later - earlier) / unit`` for int64 nanosecond times, as float64, without overflow.

    datetime64[ns] spans 584 years but an int64 difference only 292 (the API alone accepts
    1900-2199), so the difference is taken in 32-bit halves; the result rounds exactly as
    the plain int64 difference does wherever that one does not wrap.
    """
    later = np.asarray(later, dtype=np.int64)
    earlier = np.asarray(earlier, dtype=np.int64)
    high = (later >> 32) - (earlier >> 32)
    low = (later & 0xFFFFFFFF) - (earlier & 0xFFFFFFFF)
    out: np.ndarray = (high * 2.0**32 + low) / unit
    return out


def earlier_by(times: np.ndarray, ns: int) -> np.ndarray:
    """``times - ns``, saturating just above int64 min (NaT) instead of wrapping to the far
    future: a window reaching before the representable past starts at its beginning."""
    floor = _INT64_MIN + 1
    shifted: np.ndarray = np.maximum(times, floor + ns) - ns
    return shifted


def offsets_from(times: np.ndarray, origin: int) -> np.ndarray:
    """``times - origin`` as uint64 for times at or after origin: exact even when they lie
    more than int64's 292 years apart."""
    start = np.array(origin, dtype=np.int64).view(np.uint64)
    offsets: np.ndarray = times.astype(np.int64, copy=False).view(np.uint64) - start
    return offsets
