"""The customers: who they are, when they signed up, and whether they churn.

Customers have a segment (consumer / smb / enterprise), plan, region, a contact rate and a
latent patience nobody observes (standard normal times ``patience_sd``; 0 makes every
customer equally patient). About ``internal_share`` of them are internal or test accounts
(``is_internal``): they contact and answer like everyone else. Detractors churn more often,
some time after their last activity.
"""

from __future__ import annotations

import numpy as np

from features.simulate._common import _DAY, _Arrays, _draw_by_group, _sigmoid
from features.simulate.config import SimulationConfig
from nps_core.scale import NPS_SCALE

SEGMENTS = ("consumer", "smb", "enterprise")
_SEGMENT_SHARE = (0.60, 0.30, 0.10)
_ISSUES_PER_YEAR = (7.5, 10.7, 15.5)  # mean new issues per customer and year, by segment
_RATE_SIGMA = 0.8  # spread of customers' contact rates (lognormal, mean one)
_NEW_CUSTOMER_SHARE = 0.12  # customers who sign up during the simulated period

PLANS = ("free", "basic", "premium", "pro", "enterprise")
_PLAN_BY_SEGMENT = (
    (0.45, 0.40, 0.15, 0.00, 0.00),
    (0.00, 0.35, 0.00, 0.65, 0.00),
    (0.00, 0.00, 0.00, 0.30, 0.70),
)
REGIONS = ("na", "emea", "apac", "latam")
_REGION_SHARE = (0.40, 0.30, 0.20, 0.10)


def _draw_customers(config: SimulationConfig, end: int, rng: np.random.Generator) -> _Arrays:
    n = config.customers
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE).astype(np.int8)
    plan = _draw_by_group(rng, segment, np.asarray(_PLAN_BY_SEGMENT))
    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARE).astype(np.int8)
    patience = config.patience_sd * rng.standard_normal(n)  # drawn even at 0: same stream
    rate = np.asarray(_ISSUES_PER_YEAR)[segment] * rng.lognormal(
        -(_RATE_SIGMA**2) / 2, _RATE_SIGMA, n
    )
    internal = np.zeros(n, dtype=bool)
    n_internal = round(n * config.internal_share)
    if config.internal_share > 0:
        n_internal = max(1, n_internal)
    internal[rng.choice(n, size=n_internal, replace=False)] = True
    is_new = rng.random(n) < _NEW_CUSTOMER_SHARE
    joined = rng.integers(0, max(end - _DAY, 1), n)
    tenure = 30 * _DAY + rng.exponential(600 * _DAY, n).astype(np.int64)
    signup = np.where(is_new, joined, -tenure)
    return {
        "segment": segment,
        "plan": plan,
        "region": region,
        "patience": patience,
        "rate": rate,
        "internal": internal,
        "signup": signup,
    }


def _draw_churn(
    cust: _Arrays, tix: _Arrays, surv: _Arrays, end: int, rng: np.random.Generator
) -> np.ndarray:
    """Churn time in seconds (-1: none): Detractors leave more, weeks after their last contact."""
    n = cust["segment"].size
    detractor = surv["score"] <= NPS_SCALE.detractor_max
    n_detractor = np.bincount(surv["c"][detractor], minlength=n)
    last = np.maximum(cust["signup"], 0)
    np.maximum.at(last, tix["c"], tix["opened"])
    np.maximum.at(last, tix["c"][~tix["open_at_end"]], tix["resolved"][~tix["open_at_end"]])
    np.maximum.at(last, surv["c"], surv["responded"])
    logit = (
        -3.0
        + 1.2 * (n_detractor > 0)
        + 0.4 * np.minimum(n_detractor, 3)
        + 0.4 * (cust["segment"] == SEGMENTS.index("consumer"))
        - 0.3 * cust["patience"]
    )
    churns = (rng.random(n) < _sigmoid(logit)) & ~cust["internal"]
    at = last + rng.exponential(21 * _DAY, n).astype(np.int64) + 1
    return np.where(churns & (at < end), at, -1)
