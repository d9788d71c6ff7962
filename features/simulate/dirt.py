"""Dirt: deliberately malformed rows appended to the clean tables, for the quarantine.

Dirt (``dirt_rows``; None means max(6, rows // 1000)), appended after the clean rows from
its own random stream, so the clean part equals the ``dirt_rows=0`` run. Kinds, in turn:
an interaction repeated with the same ``interaction_id``; an interaction whose
``resolved_at`` is before its ``opened_at``; an interaction without ``customer_id``; an
interaction with ``sentiment`` 3.0; a survey with score 11; a survey with score -1. Dirty
surveys get a new ``response_id`` and copy the truth of the row they came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulate._common import _DAY, _HOUR, _NS_PER_S
from features.simulate.tables import _id_width, _ids, _str
from nps_core.scale import NPS_SCALE

_DIRT_KINDS = (
    "duplicate_interaction_id",
    "resolved_before_opened",
    "missing_customer_id",
    "sentiment_out_of_range",
    "score_above_scale",
    "score_below_scale",
)


def _inject_dirt(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    truth: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Append n malformed rows (kinds in turn, see the module docstring); inputs untouched."""
    counts = np.bincount(np.arange(n) % len(_DIRT_KINDS), minlength=len(_DIRT_KINDS))
    bad_tix = _dirty_interactions(interactions, counts[:4], rng)
    bad_surveys, source = _dirty_surveys(surveys, counts[4:], rng)
    bad_truth = (
        truth.iloc[source].reset_index(drop=True).assign(response_id=bad_surveys["response_id"])
    )
    return (
        pd.concat([interactions, bad_tix], ignore_index=True),
        pd.concat([surveys, bad_surveys], ignore_index=True),
        pd.concat([truth, bad_truth], ignore_index=True),
    )


def _dirty_interactions(
    interactions: pd.DataFrame, counts: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Copies of random rows: same id, resolved before opened, no customer, sentiment 3."""
    if not len(interactions):
        return interactions.iloc[:0]
    kind = np.repeat(np.arange(counts.size), counts)
    rows = interactions.iloc[rng.integers(0, len(interactions), kind.size)]
    rows = rows.reset_index(drop=True)
    duplicate = kind == _DIRT_KINDS.index("duplicate_interaction_id")
    numbers = len(interactions) + np.cumsum(~duplicate)
    new_ids = _str(_ids("I", numbers, _id_width(len(interactions))))
    back = pd.to_timedelta(rng.integers(_HOUR, 3 * _DAY, kind.size) * _NS_PER_S, unit="ns")
    return rows.assign(
        interaction_id=rows["interaction_id"].where(duplicate, new_ids),
        resolved_at=rows["resolved_at"].where(
            kind != _DIRT_KINDS.index("resolved_before_opened"), rows["opened_at"] - back
        ),
        customer_id=rows["customer_id"].where(kind != _DIRT_KINDS.index("missing_customer_id")),
        sentiment=rows["sentiment"].where(kind != _DIRT_KINDS.index("sentiment_out_of_range"), 3.0),
    )


def _dirty_surveys(
    surveys: pd.DataFrame, counts: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Copies of random answers with a new response_id and a score of 11 or -1."""
    if not len(surveys):
        return surveys.iloc[:0], np.empty(0, dtype=np.int64)
    above = np.repeat([True, False], counts)
    source = rng.integers(0, len(surveys), above.size)
    rows = surveys.iloc[source].reset_index(drop=True)
    numbers = len(surveys) + 1 + np.arange(above.size)
    score = np.where(above, NPS_SCALE.high + 1, NPS_SCALE.low - 1)
    return (
        rows.assign(
            response_id=_str(_ids("R", numbers, _id_width(len(surveys)))),
            score=pd.array(score, dtype="Int64"),
        ),
        source,
    )
