"""Where each analytics view's figures come from: one small adapter per view, so a richer
analytics function replaces today's in one line.

``nps_figures`` answers in the shape of ``GET /v1/nps`` (overall, one entry per group and per
period: n, promoters, passives, detractors, nps, ci_low, ci_high, small_sample; the latest
change with its test) from ``serving.analytics.nps`` as it is today. Themes and drivers have
no analytics yet: their sources are ``None`` and the pages say "not computed yet". When
``serving.analytics`` provides them, set ``THEMES`` / ``DRIVERS`` to the function that
answers ``GET /v1/themes`` / ``GET /v1/drivers`` (the shapes the templates read are below).

Themes: ``{"themes": [{"label", "top_terms": [str], "volume", "nps", "impact",
"impact_ci_low", "impact_ci_high", "trend": [{"period", "n", "nps"}], "detractor_share",
"promoter_share", "examples": [str], "ranked": bool}], "min_count"}``.
Drivers: ``{"associations": [{"team", "behaviour", "level", "n", "detractor_rate",
"ci_low", "ci_high"}], "shap": [{"feature", "mean_shap"}]}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from features.answers import answers_with_context
from features.dataset import Dataset
from nps_core.nps import NpsResult, nps_change, nps_from_counts, nps_from_scores
from serving.analytics.nps import nps_tables

PERIODS = {"week": "W", "month": "M", "quarter": "Q"}
GROUPS = ("channel", "team", "segment")

Figures = dict[str, Any]
THEMES: Callable[[Dataset], Figures] | None = None  # serving.analytics' themes, once it has them
DRIVERS: Callable[[Dataset, str | None], Figures] | None = None  # ... and drivers


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _entry(result: NpsResult) -> dict[str, Any]:
    return {
        "n": result.n,
        "promoters": result.promoters,
        "passives": result.passives,
        "detractors": result.detractors,
        "nps": _finite(result.nps),
        "ci_low": _finite(result.ci_low),
        "ci_high": _finite(result.ci_high),
        "small_sample": result.small_sample,
    }


def _entries(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    return [
        {
            key: str(row[key]),
            **_entry(
                nps_from_counts(int(row["promoters"]), int(row["passives"]), int(row["detractors"]))
            ),
        }
        for _, row in frame.iterrows()
    ]


def nps_figures(data: Dataset, by: Sequence[str] = GROUPS, period: str = "month") -> Figures:
    """NPS overall, by each of ``by`` and by ``period`` (week, month, quarter), with intervals."""
    tables = nps_tables(data, list(by), PERIODS[period])
    answers = answers_with_context(data.interactions, data.surveys, data.customers)
    periods = _entries(tables["period"], "period")
    change = None
    if len(periods) >= 2:
        before, after = (
            nps_from_counts(p["promoters"], p["passives"], p["detractors"]) for p in periods[-2:]
        )
        test = nps_change(before, after)
        change = {
            "from": periods[-2]["period"],
            "to": periods[-1]["period"],
            "change": _finite(test.change),
            "ci_low": _finite(test.ci_low),
            "ci_high": _finite(test.ci_high),
            "p_value": _finite(test.p_value),
            "significant": bool(test.significant),
        }
    return {
        "period": period,
        "overall": _entry(nps_from_scores(answers["score"], data.scale)),
        "periods": periods,
        "groups": {group: _entries(tables[group], group) for group in by},
        "change": change,
    }


def themes_figures(data: Dataset) -> Figures | None:
    """The comment themes, or None while no analytics computes them."""
    return None if THEMES is None else THEMES(data)


def drivers_figures(data: Dataset, team: str | None) -> Figures | None:
    """The drivers for coaching (overall, or one team against the rest), or None while no
    analytics computes them."""
    return None if DRIVERS is None else DRIVERS(data, team)
