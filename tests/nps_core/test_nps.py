import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nps_core.nps import (
    MIN_RELIABLE_N,
    nps_by_group,
    nps_change,
    nps_from_counts,
    nps_from_scores,
    with_period,
)
from nps_core.scale import CSAT_SCALE, NPS_SCALE


def test_worked_examples_from_the_domain_notes():
    assert nps_from_counts(60, 25, 15).nps == pytest.approx(45.0)
    assert nps_from_counts(60, 20, 20).nps == pytest.approx(40.0)
    assert nps_from_counts(100, 0, 0).nps == pytest.approx(100.0)
    assert nps_from_counts(0, 0, 7).nps == pytest.approx(-100.0)


def test_standard_error_matches_the_formula():
    r = nps_from_counts(60, 25, 15)
    p_p, p_d = 0.60, 0.15
    assert r.se == pytest.approx(100 * math.sqrt((p_p + p_d - (p_p - p_d) ** 2) / 100))
    assert r.ci_low < r.nps < r.ci_high
    assert r.ci_high - r.nps == pytest.approx(1.959964 * r.se, rel=1e-5)


def test_scores_are_classified_on_the_nps_scale():
    scores = pd.Series([10, 9, 8, 7, 6, 0])
    r = nps_from_scores(scores)
    assert (r.promoters, r.passives, r.detractors) == (2, 2, 2)
    assert r.nps == pytest.approx(0.0)


def test_small_sample_flag_below_thirty():
    assert nps_from_counts(10, 10, 9).small_sample
    assert not nps_from_counts(10, 10, 10).small_sample
    assert MIN_RELIABLE_N == 30


def test_empty_answers_give_nan_not_zero():
    r = nps_from_counts(0, 0, 0)
    assert r.n == 0 and math.isnan(r.nps) and r.small_sample


def test_csat_scale_uses_the_same_code():
    scores = pd.Series([1, 2, 3, 4, 5, 5])
    segments = CSAT_SCALE.classify(scores).tolist()
    assert segments == ["detractor", "detractor", "passive", "promoter", "promoter", "promoter"]
    r = nps_from_scores(scores, CSAT_SCALE)
    assert r.nps == pytest.approx(100 * (3 - 2) / 6)
    assert CSAT_SCALE.is_detractor(scores).tolist() == [True, True, False, False, False, False]


def test_off_scale_scores_are_not_counted():
    scores = pd.Series([10, 11, -1, 5.5, None, 0])
    assert NPS_SCALE.on_scale(scores).tolist() == [True, False, False, False, False, True]
    assert nps_from_scores(scores).n == 2


counts = st.integers(min_value=0, max_value=10_000)


@given(counts, counts, counts)
def test_nps_stays_within_its_scale(p, q, d):
    r = nps_from_counts(p, q, d)
    if r.n == 0:
        assert math.isnan(r.nps)
        return
    assert -100.0 <= r.ci_low <= r.nps <= r.ci_high <= 100.0
    assert r.se >= 0


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
)
def test_standard_error_agrees_with_a_bootstrap(p, q, d):
    n = p + q + d
    if n < 50:
        return
    values = np.array([1] * p + [0] * q + [-1] * d, dtype=float)
    rng = np.random.default_rng(7)
    boot = rng.choice(values, size=(3000, n), replace=True).mean(axis=1) * 100
    analytic = nps_from_counts(p, q, d).se
    # A 3000-sample bootstrap estimates an SE to within about 4% (1.3/sqrt(2*3000) ~ 1.7% sd).
    assert boot.std(ddof=1) == pytest.approx(analytic, rel=0.08, abs=0.05)


def test_nps_by_group_in_one_call():
    surveys = pd.DataFrame(
        {
            "channel": ["chat"] * 4 + ["email"] * 3,
            "team": ["a", "a", "b", "b", "a", "a", "b"],
            "score": [10, 9, 0, 8, 3, 4, 10],
        }
    )
    by_channel = nps_by_group(surveys, "channel").set_index("channel")
    assert by_channel.loc["chat", "nps"] == pytest.approx(25.0)
    assert by_channel.loc["email", "nps"] == pytest.approx(100 * (1 - 2) / 3)
    assert by_channel["small_sample"].all()
    both = nps_by_group(surveys, ["channel", "team"]).set_index(["channel", "team"])
    assert both.loc[("chat", "a"), "promoters"] == 2
    assert both.loc[("email", "b"), "n"] == 1
    assert len(both) == 4


def test_by_period():
    surveys = pd.DataFrame(
        {
            "responded_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-02-03"], utc=True),
            "score": [10, 0, 9],
        }
    )
    monthly = nps_by_group(with_period(surveys, "M"), "period").set_index("period")
    assert monthly.loc["2026-01", "nps"] == pytest.approx(0.0)
    assert monthly.loc["2026-02", "nps"] == pytest.approx(100.0)


def test_change_between_periods_is_tested():
    big_drop = nps_change(nps_from_counts(600, 250, 150), nps_from_counts(400, 250, 350))
    assert big_drop.change == pytest.approx(-40.0)
    assert big_drop.significant and big_drop.p_value < 0.001
    assert big_drop.ci_low < -40 < big_drop.ci_high
    noise = nps_change(nps_from_counts(6, 2, 2), nps_from_counts(5, 3, 2))
    assert not noise.significant and noise.p_value > 0.5
