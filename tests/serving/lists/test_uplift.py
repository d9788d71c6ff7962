"""The statistics behind `impact`: statsmodels' intervals, their coverage, the weighting
that corrects who answers, the Qini curve and the verdict's wording."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as sm_test_2indep

from nps_core.proportions import Comparison, compare, wilson
from serving.lists.uplift import (
    band_verdict,
    qini_coefficient,
    qini_curve,
    summary_verdict,
    weighted_detractor_effect,
)


def _wilson_by_hand(x: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("counts", [(20, 200, 40, 200), (3, 15, 0, 12), (55, 80, 31, 90)])
def test_the_interval_is_newcombes_as_statsmodels_and_the_textbook_compute_it(counts):
    x1, n1, x2, n2 = counts
    result = compare(x1, n1, x2, n2)
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high))
    # Newcombe (1998) method 10, from the two Wilson intervals
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson_by_hand(x1, n1)
    l2, u2 = _wilson_by_hand(x2, n2)
    d = p1 - p2
    assert result.ci_low == pytest.approx(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    assert result.ci_high == pytest.approx(d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    assert (result.rate_treatment_low, result.rate_treatment_high) == pytest.approx((l1, u1))
    assert result.effect == pytest.approx(d)
    if 0 < x1 + x2 < n1 + n2:
        with np.errstate(divide="ignore"):
            expected = sm_test_2indep(x1, n1, x2, n2).pvalue
        assert result.p_value == pytest.approx(expected)


def test_no_observations_give_no_rate_rather_than_an_error():
    result = compare(0, 0, 3, 10)
    assert math.isnan(result.rate_treatment) and math.isnan(result.effect)
    assert result.as_dict()["effect"] is None and result.as_dict()["rate_control"] == 0.3
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_the_newcombe_interval_covers_a_known_effect_95_percent_of_the_time():
    """200 two-arm experiments with a known effect of -8 points (small arms, rates near 0.3,
    where Wald undercovers): the 95% interval holds the truth 95% ± 3.5% of the time."""
    rng = np.random.default_rng(2026)
    p_t, p_c, n_t, n_c = 0.22, 0.30, 150, 60
    hits = 0
    for _ in range(200):
        result = compare(int(rng.binomial(n_t, p_t)), n_t, int(rng.binomial(n_c, p_c)), n_c)
        hits += result.ci_low <= p_t - p_c <= result.ci_high
    assert 0.915 <= hits / 200 <= 0.985


def _answers_depend_on_a_covariate(seed: int, n: int = 8000) -> pd.DataFrame:
    """x (known at the flag) drives both the Detractor chance and answering, and outreach
    changes who answers: called customers with x = 1 answer far less. The true effect of
    a call on the Detractor chance is -0.10 for everyone."""
    rng = np.random.default_rng(seed)
    treated = rng.uniform(size=n) < 0.5
    x = (rng.uniform(size=n) < 0.5).astype(float)
    p_detractor = 0.25 + 0.40 * x - 0.10 * treated
    p_answer = np.where(treated, np.where(x == 1, 0.15, 0.70), np.where(x == 1, 0.70, 0.70))
    answered = rng.uniform(size=n) < p_answer
    detractor = (rng.uniform(size=n) < p_detractor).astype(float)
    return pd.DataFrame(
        {
            "grp": np.where(treated, "treatment", "control"),
            "band": "high",
            "answered": answered.astype(int),
            "detractor": np.where(answered, detractor, np.nan),
            "x": x,
            "noise": rng.normal(size=n),
        }
    )


def test_answer_weighting_recovers_a_known_effect_that_the_naive_estimate_misses():
    frame = _answers_depend_on_a_covariate(seed=7)
    answered = frame[frame["answered"] == 1]
    naive = compare(
        int(answered.loc[answered["grp"] == "treatment", "detractor"].sum()),
        int((answered["grp"] == "treatment").sum()),
        int(answered.loc[answered["grp"] == "control", "detractor"].sum()),
        int((answered["grp"] == "control").sum()),
    )
    assert naive.ci_high < -0.15  # the naive estimate is biased well beyond -0.10
    weighted = weighted_detractor_effect(frame, ["x", "noise"], bootstrap=100, seed=1)
    assert weighted.ci_low <= -0.10 <= weighted.ci_high
    assert abs(weighted.effect + 0.10) < 0.03
    assert weighted.ci_high - weighted.ci_low < 0.12
    # without the covariate that explains answering, the weighting cannot correct it
    blind = weighted_detractor_effect(frame, ["noise"], bootstrap=0)
    assert blind.effect < -0.15


def test_the_qini_curve_counts_detractors_prevented_riskiest_first():
    frame = pd.DataFrame(
        {
            "grp": ["treatment", "control", "treatment", "control"],
            "probability": [0.9, 0.8, 0.2, 0.1],
            "detractor": [0, 1, 1, 1],
        }
    )
    curve = qini_curve(frame)
    # prevented = control Detractors x treated / control so far - treatment Detractors:
    # after 2: 1 x 1/1 - 0; after 3: 1 x 2/1 - 1; after 4: 2 x 2/2 - 1
    assert curve["prevented"].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert curve["random"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert qini_coefficient(curve) == pytest.approx((-0.25 + 0.5 + 0.25 + 0) / 4)


def _comparison(low: float, high: float, n: int) -> Comparison:
    effect = (low + high) / 2
    return Comparison(0, n, 0, n, 0.3 + effect, 0, 1, 0.3, 0, 1, effect, low, high, 0.5)


@given(
    low=st.floats(-1, 1, allow_nan=False),
    width=st.floats(0, 1, allow_nan=False),
    n=st.integers(0, 500),
)
def test_the_verdict_says_help_only_when_the_whole_interval_is_below_zero(low, width, n):
    high = low + width
    text = band_verdict("high", _comparison(low, high, n))
    assert ("help" in text) == (high < 0 and n >= 30)
    assert text.startswith(("calls help", "calls backfire", "no measurable", "too early"))


def test_the_summary_verdict_reads_plainly():
    assert (
        summary_verdict({"high": "help", "medium": "none", "low": "none"})
        == "calls help high-risk customers; no measurable effect on medium- and low-risk customers"
    )
    assert summary_verdict({"high": "none"}) == "no measurable effect on high-risk customers"
