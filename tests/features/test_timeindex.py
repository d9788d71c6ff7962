import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.timeindex import (
    EventIndex,
    TimeRanks,
    last_value,
    prefix_sums,
    window_extreme,
    window_sum,
)

events = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(-5, 5)), max_size=40)
queries = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-2, 22), st.integers(0, 10)), min_size=1, max_size=20
)


@settings(max_examples=200, deadline=None)
@given(events, queries)
def test_window_aggregates_match_brute_force(evs, qs):
    codes = np.array([e[0] for e in evs], dtype=np.int64)
    times = np.array([e[1] for e in evs], dtype=np.int64)
    values = np.array([e[2] for e in evs], dtype=np.float64)
    q_codes = np.array([q[0] for q in qs], dtype=np.int64)
    q_times = np.array([q[1] for q in qs], dtype=np.int64)
    q_width = np.array([q[2] for q in qs], dtype=np.int64)
    index = EventIndex.build(codes, times)
    hi = index.before(q_codes, q_times)
    lo = index.before(q_codes, q_times - q_width)
    start = index.start(q_codes)
    sums = window_sum(prefix_sums(index.sorted_values(values)), lo, hi)
    maxes = window_extreme(index.sorted_values(values), lo, hi, largest=True)
    mins = window_extreme(index.sorted_values(values), lo, hi, largest=False)
    lasts = last_value(index.sorted_values(values), start, hi)
    for k, (c, t, w) in enumerate(qs):
        inside = [e for e in evs if e[0] == c and t - w <= e[1] < t]
        before = sorted((e for e in evs if e[0] == c and e[1] < t), key=lambda e: e[1])
        assert hi[k] - lo[k] == len(inside)
        assert sums[k] == sum(e[2] for e in inside)
        if inside:
            assert maxes[k] == max(e[2] for e in inside)
            assert mins[k] == min(e[2] for e in inside)
        else:
            assert np.isnan(maxes[k]) and np.isnan(mins[k])
        if before:
            latest = max(e[1] for e in before)
            assert lasts[k] in {e[2] for e in before if e[1] == latest}
        else:
            assert np.isnan(lasts[k])


def test_strictly_before_at_nanosecond_ties():
    t = np.int64(1_700_000_000_000_000_000)
    index = EventIndex.build(np.array([0, 0, 0]), np.array([t - 1, t, t + 1]))
    assert index.before(np.array([0]), np.array([t]))[0] == 1
    assert index.before(np.array([0]), np.array([t + 1]))[0] == 2


@settings(max_examples=300, deadline=None)
@given(
    unit=st.sampled_from([10**9, 10**6, 10**3, 1]),
    origin=st.integers(-(10**18), 10**18),
    steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=30),
    offsets=st.lists(st.integers(-(10**16), 10**16), min_size=1, max_size=30),
    n_codes=st.sampled_from([1, 10**6, 2**40]),
)
def test_time_ranks_order_events_before_queries_exactly(unit, origin, steps, offsets, n_codes):
    """Whatever unit the events come in (and with the distinct-times fallback that huge
    code counts force), rank(e) < query_rank(t) exactly when e < t, down to 1 ns."""
    events = np.array([origin + s * unit for s in steps], dtype=np.int64)
    queries = np.array([origin + o for o in offsets], dtype=np.int64)
    ranks = TimeRanks.fit(events, n_codes)[0]
    event_ranks, query_ranks = ranks.of_events(events), ranks.of_queries(queries)
    assert event_ranks.min() >= 0 and event_ranks.max() < ranks.span
    assert n_codes * ranks.span < 2**63
    for e, re in zip(events, event_ranks, strict=True):
        for q, rq in zip(queries, query_ranks, strict=True):
            assert (re < rq) == (e < q)


def test_whole_second_exports_need_no_distinct_times():
    seconds = np.array([0, 5, 5, 3_600], dtype=np.int64) * 10**9 + 1_700_000_000 * 10**9
    ranks = TimeRanks.fit(seconds, n_codes=1_000_000)[0]
    assert ranks.unit == 10**9 and ranks.distinct is None
    one_ns_off = seconds + np.array([0, 0, 0, 1])
    assert TimeRanks.fit(one_ns_off, n_codes=1_000_000)[0].unit == 1
    assert TimeRanks.fit(one_ns_off, n_codes=2**40)[0].distinct is not None  # keys would overflow


def test_unsorted_queries_find_the_same_positions_as_sorted_ones():
    rng = np.random.default_rng(3)
    codes, times = rng.integers(0, 50, 2_000), rng.integers(0, 10**6, 2_000)
    index = EventIndex.build(codes, times)
    q_codes, q_times = rng.integers(0, 60, 500), rng.integers(-10, 10**6 + 10, 500)
    expected = [
        int(np.sum((codes == c) & (times < t)) + np.sum(codes < c))
        for c, t in zip(q_codes, q_times, strict=True)
    ]
    assert index.before(q_codes, q_times).tolist() == expected


def test_extreme_and_missing_query_times_neither_overflow_nor_count_events():
    events = np.array([0, 10, 20], dtype=np.int64) * 10**9 + 1_700_000_000 * 10**9
    for n_codes in (1, 2**40):  # the whole-unit path and the distinct-times fallback
        ranks = TimeRanks.fit(events, n_codes)[0]
        extremes = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max], dtype=np.int64)
        before = ranks.of_queries(extremes)
        assert before[0] == 0  # NaT (int64 min): nothing is known before it
        assert (ranks.of_events(events) < before[1]).all()  # the far future: everything
