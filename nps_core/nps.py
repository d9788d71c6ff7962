"""NPS arithmetic: the score, its standard error and interval, by group, and change over time.

NPS = %Promoters - %Detractors. Treating each answer as +1 / 0 / -1, the standard error of
the mean is sqrt((pP + pD - (pP - pD)^2) / n); in NPS points it is 100 times that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import pandas as pd

from nps_core.scale import NPS_SCALE, ScoreScale, Segment

MIN_RELIABLE_N = 30


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class NpsResult:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float  # points, -100..100; NaN when n == 0
    se: float  # standard error in NPS points
    ci_low: float
    ci_high: float
    confidence: float
    small_sample: bool  # fewer than MIN_RELIABLE_N answers: the score is unreliable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def nps_from_counts(
    promoters: int, passives: int, detractors: int, *, confidence: float = 0.95
) -> NpsResult:
    """NPS with its normal-approximation interval, clipped to the scale's -100..100."""
    if min(promoters, passives, detractors) < 0:
        raise ValueError("segment counts cannot be negative")
    n = promoters + passives + detractors
    if n == 0:
        nan = float("nan")
        return NpsResult(0, 0, 0, 0, nan, nan, nan, nan, confidence, True)
    p_p, p_d = promoters / n, detractors / n
    score = 100.0 * (p_p - p_d)
    variance = max(p_p + p_d - (p_p - p_d) ** 2, 0.0)
    se = 100.0 * math.sqrt(variance / n)
    half = _z(confidence) * se
    return NpsResult(
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=score,
        se=se,
        ci_low=max(-100.0, score - half),
        ci_high=min(100.0, score + half),
        confidence=confidence,
        small_sample=n < MIN_RELIABLE_N,
    )


def nps_from_scores(
    scores: pd.Series, scale: ScoreScale = NPS_SCALE, *, confidence: float = 0.95
) -> NpsResult:
    """NPS of raw scores; off-scale or missing scores are not answers and are not counted."""
    segments = scale.classify(scores).value_counts()
    return nps_from_counts(
        int(segments.get(Segment.PROMOTER.value, 0)),
        int(segments.get(Segment.PASSIVE.value, 0)),
        int(segments.get(Segment.DETRACTOR.value, 0)),
        confidence=confidence,
    )


def with_period(
    frame: pd.DataFrame, freq: str = "M", *, time_col: str = "responded_at"
) -> pd.DataFrame:
    """Add a ``period`` column (e.g. '2026-03' for monthly) from a UTC timestamp column."""
    stamps = frame[time_col].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame.assign(period=stamps.dt.to_period(freq).astype("str"))


def nps_by_group(
    surveys: pd.DataFrame,
    by: str | Sequence[str],
    scale: ScoreScale = NPS_SCALE,
    *,
    score_col: str = "score",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per group with NPS, counts, interval and the low-sample flag."""
    keys = [by] if isinstance(by, str) else list(by)
    segments = scale.classify(surveys[score_col])
    counts = (
        surveys[keys]
        .assign(_segment=segments)
        .dropna(subset=["_segment"])
        .groupby(keys, observed=True, dropna=False)["_segment"]
        .value_counts()
        .unstack("_segment", fill_value=0)
        .reindex(columns=[s.value for s in Segment], fill_value=0)
    )
    rows = []
    for key, row in counts.iterrows():
        result = nps_from_counts(
            int(row[Segment.PROMOTER.value]),
            int(row[Segment.PASSIVE.value]),
            int(row[Segment.DETRACTOR.value]),
            confidence=confidence,
        )
        key_values = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key_values, strict=True)), **result.as_dict()})
    columns = [*keys, *NpsResult.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class NpsChange:
    before: NpsResult
    after: NpsResult
    change: float  # after - before, NPS points
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float  # two-sided
    significant: bool


def nps_change(before: NpsResult, after: NpsResult, *, confidence: float = 0.95) -> NpsChange:
    """Two-sample z-test on the difference of two independent NPS figures."""
    change = after.nps - before.nps
    se = math.sqrt(before.se**2 + after.se**2)
    if not math.isfinite(change):
        nan = float("nan")
        return NpsChange(before, after, nan, nan, nan, nan, nan, nan, False)
    if se == 0:
        z = 0.0 if change == 0 else math.copysign(math.inf, change)
    else:
        z = change / se
    p_value = 2 * (1 - NormalDist().cdf(abs(z)))
    half = _z(confidence) * se
    return NpsChange(
        before=before,
        after=after,
        change=change,
        se=se,
        ci_low=change - half,
        ci_high=change + half,
        z=z,
        p_value=p_value,
        significant=p_value < 1 - confidence,
    )
