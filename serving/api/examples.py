"""Turn canonical rows into a /v1/predict request body (for the demo, docs and tests)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pandas as pd

from features.dataset import Dataset
from nps_core.contracts import INTERACTIONS

SURVEY_FIELDS = ["response_id", "responded_at", "score", "interaction_id", "channel"]
ATTRIBUTE_FIELDS = ["segment", "plan", "region", "signup_at"]


def json_record(row: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """Drop missing values; timestamps to ISO 8601; numpy scalars to Python."""
    out: dict[Hashable, Any] = {}
    for key, value in row.items():
        if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            continue
        if not isinstance(value, str | list | dict) and pd.isna(value):
            continue
        if isinstance(value, pd.Timestamp):
            value = value.isoformat()
        elif hasattr(value, "item"):
            value = value.item()
        out[key] = value
    return out


def raw_customer(
    data: Dataset, customer_id: str, as_of: pd.Timestamp, extra_columns: Sequence[str] = ()
) -> dict[str, Any]:
    """One customer's whole history as raw rows; the API itself keeps only what preceded as_of.

    Interactions carry the contract's fields and ``extra_columns`` (the served model's extra
    columns), nothing else: the API refuses fields the model does not know.
    """
    fields = [
        c
        for c in (*INTERACTIONS.names, *extra_columns)
        if c != "customer_id" and c in data.interactions.columns
    ]
    interactions = data.interactions.loc[data.interactions["customer_id"] == customer_id, fields]
    surveys = data.surveys[data.surveys["customer_id"] == customer_id]
    attributes = data.customers[data.customers["customer_id"] == customer_id]
    return {
        "customer_id": customer_id,
        "as_of": as_of.isoformat(),
        "interactions": [json_record(r) for r in interactions.to_dict("records")],
        "surveys": [json_record(r) for r in surveys[SURVEY_FIELDS].to_dict("records")],
        "attributes": json_record(attributes[ATTRIBUTE_FIELDS].iloc[0].to_dict())
        if len(attributes)
        else None,
    }
