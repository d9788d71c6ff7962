"""Rates and differences of rates with honest intervals (statsmodels): a rate's Wilson
interval, and two groups' difference with Newcombe's hybrid score interval and a two-sided
test. Exact enough at small counts and never outside [0, 1], unlike Wald's. Used wherever a
share is compared between two groups: outreach arms (``impact``), support behaviours and
teams (``drivers``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)


def _finite(value: float | int) -> float | int | None:
    """JSON has no NaN: a figure that cannot be computed is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True)
class Comparison:
    """One outcome in two groups ("treatment" and "control": called and not called, or
    with and without a behaviour): counts, rates with Wilson intervals, and the difference
    (treatment - control) with Newcombe's interval and a two-sided p-value."""

    events_treatment: int
    n_treatment: int
    events_control: int
    n_control: int
    rate_treatment: float
    rate_treatment_low: float
    rate_treatment_high: float
    rate_control: float
    rate_control_low: float
    rate_control_high: float
    effect: float
    ci_low: float
    ci_high: float
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in self.__dict__.items()}


def wilson(events: int, n: int) -> tuple[float, float, float]:
    """Rate and its 95% Wilson interval (NaN without observations)."""
    if n == 0:
        return math.nan, math.nan, math.nan
    low, high = proportion_confint(events, n, alpha=0.05, method="wilson")
    return events / n, float(low), float(high)


def compare(events_t: int, n_t: int, events_c: int, n_c: int) -> Comparison:
    """Group t vs group c on one binary outcome (statsmodels' Newcombe interval)."""
    rt, rt_low, rt_high = wilson(events_t, n_t)
    rc, rc_low, rc_high = wilson(events_c, n_c)
    if n_t == 0 or n_c == 0:
        effect = low = high = p_value = math.nan
    else:
        effect = rt - rc
        low, high = (
            float(v)
            for v in confint_proportions_2indep(
                events_t, n_t, events_c, n_c, method="newcomb", compare="diff", alpha=0.05
            )
        )
        both_degenerate = events_t + events_c in (0, n_t + n_c)
        with np.errstate(divide="ignore", invalid="ignore"):  # its ratio when a rate is 0
            p_value = (
                1.0
                if both_degenerate
                else float(test_proportions_2indep(events_t, n_t, events_c, n_c).pvalue)
            )
    return Comparison(
        int(events_t),
        int(n_t),
        int(events_c),
        int(n_c),
        rt,
        rt_low,
        rt_high,
        rc,
        rc_low,
        rc_high,
        effect,
        low,
        high,
        p_value,
    )
