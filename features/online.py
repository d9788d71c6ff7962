"""Features for customers described in a request (raw recent interactions), in-process.

Each request is isolated under its own key, so two requests for the same customer at
different times never see each other's rows; then the batch code runs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.catalog import FeatureSpec
from features.pipeline import AGENT_HISTORY_COLUMNS, compute_features
from features.rows import as_of_timestamp
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS, conform


@dataclass(frozen=True)
class OnlineCustomer:
    customer_id: str
    as_of: pd.Timestamp
    interactions: Sequence[Mapping[str, Any]] = ()
    surveys: Sequence[Mapping[str, Any]] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=list(dict.fromkeys([*columns, *(k for r in rows for k in r)]))
    )


def empty_history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "responded_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "agent_id": pd.Series([], dtype="str"),
            "team": pd.Series([], dtype="str"),
            "is_detractor": pd.Series([], dtype="float64"),
        },
        columns=list(AGENT_HISTORY_COLUMNS),
    )


def online_features(
    customers: Sequence[OnlineCustomer],
    spec: FeatureSpec,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One feature row per request customer, equal to what the batch pipeline computes for
    that customer at that time from the same rows."""
    keys = [str(i) for i in range(len(customers))]
    interactions, surveys, attributes = [], [], []
    for key, c in zip(keys, customers, strict=True):
        interactions += [{**row, "customer_id": key} for row in c.interactions]
        surveys += [{**row, "customer_id": key} for row in c.surveys]
        attributes.append({**c.attributes, "customer_id": key})
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series(keys, dtype="str"),
            "as_of": pd.Series(
                [as_of_timestamp(c.as_of) for c in customers], dtype="datetime64[ns, UTC]"
            ),
        }
    )
    features = compute_features(
        conform(_frame(interactions, INTERACTIONS.required), INTERACTIONS),
        conform(_frame(surveys, SURVEYS.required), SURVEYS),
        conform(_frame(attributes, CUSTOMERS.required), CUSTOMERS),
        queries,
        spec,
        history=empty_history() if history is None else history,
    )
    return features.set_axis(pd.Index([c.customer_id for c in customers], name="customer_id"))
