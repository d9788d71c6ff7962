import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.timeindex import (
    EventIndex,
    TimeRanks,
    earlier_by,
    elapsed,
    last_value,
    offsets_from,
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


# --- overflow: every shape of query against every shape of event -------------------

NS_MIN, NS_MAX = np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max  # datetime64[ns]; min is NaT
NAT = np.iinfo(np.int64).min
NOW = 1_700_000_000 * 10**9
ns_times = st.one_of(
    st.integers(NS_MIN, NS_MIN + 10**12),  # the earliest representable instants
    st.integers(NS_MAX - 10**12, NS_MAX),  # the latest
    st.integers(NOW - 10**17, NOW + 10**17),  # today, +-3 years, to the nanosecond
    st.integers(-(10**8), 10**8).map(lambda s: NOW + s * 10**9),  # whole seconds
)


@st.composite
def events_and_queries(draw):
    """Events of a few codes anywhere in datetime64[ns]; queries before every event, after
    every event, at event times, one ns either side, at both extremes and NaT, with codes
    up to far past the events' (an entity that has no event in this stream)."""
    evs = draw(st.lists(st.tuples(st.integers(0, 3), ns_times), min_size=1, max_size=25))
    times = [t for _, t in evs]
    near = [min(max(t + d, NS_MIN), NS_MAX) for t in times for d in (-1, 0, 1)]
    shapes = [min(times) - 1 if min(times) > NS_MIN else NS_MIN, max(times) + 1, NS_MIN, NS_MAX]
    q_times = st.one_of(st.sampled_from(near + [s for s in shapes if s <= NS_MAX]), ns_times)
    q_times = st.one_of(q_times, st.just(NAT))
    q_codes = st.one_of(st.integers(-1, 5), st.integers(0, 2**40), st.just(2**62))
    qs = draw(st.lists(st.tuples(q_codes, q_times), min_size=1, max_size=25))
    return evs, qs


@settings(max_examples=400, deadline=None)
@given(events_and_queries())
def test_positions_are_exact_for_every_query_shape(data):
    """``before`` is the number of events ordered before (code, t): every event of a lower
    code, then the code's own events strictly before t. Nothing wraps, NaT sees nothing."""
    evs, qs = data
    codes = np.array([c for c, _ in evs], dtype=np.int64)
    times = np.array([t for _, t in evs], dtype=np.int64)
    index = EventIndex.build(codes, times)
    q_codes = np.array([c for c, _ in qs], dtype=np.int64)
    q_times = np.array([t for _, t in qs], dtype=np.int64)
    before, start = index.before(q_codes, q_times), index.start(q_codes)
    for k, (c, t) in enumerate(qs):
        lower = sum(e < c for e, _ in evs)
        own = sum(e == c and et < t for e, et in evs) if t != NAT else 0
        assert (start[k], before[k]) == (lower, lower + own), (c, t)


def test_a_code_past_the_events_never_reads_another_entitys_events():
    """The property above's case, spelled out: with nanosecond times over three years a
    code's span is ~1e17, and code 185 x span wrapped around int64 into code 0's events."""
    times = np.array([NOW, NOW + 10**17 + 1], dtype=np.int64)
    index = EventIndex.build(np.array([0, 0]), times)
    assert index.ranks.unit == 1
    wraps = -(-(2**64) // index.ranks.span)  # the first code whose key wraps into code 0's
    q_codes, q_times = np.array([wraps]), np.array([NOW + 10**17 + 5])
    assert index.before(q_codes, q_times)[0] - index.start(q_codes)[0] == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(NS_MIN, NS_MAX), st.integers(NS_MIN, NS_MAX), st.sampled_from([1, 3_600 * 10**9])
)
def test_elapsed_is_the_exact_difference_rounded_once(later, earlier, unit):
    got = elapsed(np.array([later]), np.array([earlier]), unit)[0]
    assert got == float(later - earlier) / unit  # Python's int -> float rounds exactly


@settings(max_examples=300, deadline=None)
@given(st.one_of(ns_times, st.just(NAT)), st.integers(0, 400 * 86_400 * 10**9))
def test_window_starts_saturate_at_the_earliest_instant(t, ns):
    assert earlier_by(np.array([t]), ns)[0] == max(t - ns, NS_MIN)


@settings(max_examples=300, deadline=None)
@given(ns_times, ns_times)
def test_offsets_are_exact_across_all_of_datetime64(a, b):
    origin, t = min(a, b), max(a, b)
    assert int(offsets_from(np.array([t]), origin)[0]) == t - origin
