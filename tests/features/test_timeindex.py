import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.timeindex import EventIndex, last_value, window_extreme, window_sum

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
    sums = window_sum(index.cumsum(values), lo, hi)
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
