"""The three ways features are asked for: training rows, a daily snapshot, one customer online.

All three call ``compute_features``; only the (customer, as_of) queries differ. That is what
makes training/serving parity hold by construction (and it is tested anyway).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from features.catalog import FeatureSpec
from features.pipeline import compute_features
from features.pipeline import internal_ids as internal_ids  # its home before agent_history
from nps_core.contracts import INTERACTIONS
from nps_core.errors import InvalidTimeError
from nps_core.scale import NPS_SCALE, ScoreScale

LABEL_COLUMNS = (
    "response_id",
    "customer_id",
    "as_of",
    "responded_at",
    "score",
    "nps_segment",
    "is_detractor",
    "channel",
)


def as_of_timestamp(value: str | date | datetime | pd.Timestamp) -> pd.Timestamp:
    """A bare date means 00:00 UTC of that day (what was known when the day began).

    A missing (NaT), unreadable or out-of-range time is refused: as of "no time" every
    window would be empty and every count look like a quiet customer.
    """
    try:
        stamp = pd.Timestamp(value)
        utc = stamp if pd.isna(stamp) else _utc(stamp).as_unit("ns")
    except (ValueError, TypeError):  # unreadable, or outside 1678-2261
        raise InvalidTimeError(
            f"as_of {value!r} is not a time this tool can use; give a date or an ISO 8601 "
            "time between 1678 and 2261, e.g. 2026-03-01"
        ) from None
    if pd.isna(utc):
        raise InvalidTimeError(f"as_of {value!r} is missing (NaT); give a date, e.g. 2026-03-01")
    return utc


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def learn_spec(
    interactions: pd.DataFrame,
    scale: ScoreScale = NPS_SCALE,
    *,
    max_channels: int = 8,
    min_share: float = 0.01,
    max_levels: int = 100,
) -> FeatureSpec:
    """Channels and passthrough categoricals worth a feature, from training data only."""
    shares = interactions["channel"].value_counts(normalize=True)
    channels = tuple(str(c) for c in shares[shares >= min_share].index[:max_channels])
    extras = tuple(
        c
        for c in interactions.columns
        if c not in INTERACTIONS.names
        and (interactions[c].dtype == object or pd.api.types.is_string_dtype(interactions[c]))
        and 1 < interactions[c].nunique() <= max_levels
    )
    return FeatureSpec(channels=channels, extra_categoricals=extras, scale=scale)


def build_training_rows(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    spec: FeatureSpec,
    *,
    lag_s: float = 0.0,
    workers: int = 1,
) -> pd.DataFrame:
    """One row per survey answer (internal accounts left out): labels, then features as of
    the answer time minus ``lag_s``."""
    answers = surveys[~surveys["customer_id"].isin(internal_ids(customers))]
    answers = answers[spec.scale.on_scale(answers["score"])].sort_values(
        ["responded_at", "response_id"], kind="stable"
    )
    answers = answers.reset_index(drop=True)
    queries = pd.DataFrame(
        {
            "customer_id": answers["customer_id"],
            "as_of": answers["responded_at"] - pd.Timedelta(seconds=lag_s),
        }
    )
    features = compute_features(interactions, surveys, customers, queries, spec, workers=workers)
    labels = pd.DataFrame(
        {
            "response_id": answers["response_id"],
            "customer_id": answers["customer_id"],
            "as_of": queries["as_of"],
            "responded_at": answers["responded_at"],
            "score": answers["score"],
            "nps_segment": spec.scale.classify(answers["score"]).astype("str"),
            "is_detractor": spec.scale.is_detractor(answers["score"]).astype("int8"),
            "channel": answers["channel"].fillna(features["last_channel"]),
        }
    )
    return pd.concat([labels, features], axis=1)


def active_customers(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    active_days: int = 180,
) -> pd.Index:
    """Customers seen (a contact or an answer) in the ``active_days`` before as_of, not
    internal and not churned by then."""
    since = as_of - pd.Timedelta(days=active_days)
    seen = pd.concat(
        [
            interactions.loc[
                interactions["opened_at"].between(since, as_of, inclusive="left"), "customer_id"
            ],
            surveys.loc[
                surveys["responded_at"].between(since, as_of, inclusive="left"), "customer_id"
            ],
        ]
    )
    churned = customers.loc[customers["churned_at"] < as_of, "customer_id"]
    seen_ids = pd.Index(seen.astype("str").unique())  # Arrow-backed: no Python objects
    gone = seen_ids.isin(internal_ids(customers).astype("str")) | seen_ids.isin(
        churned.astype("str")
    )
    kept: pd.Index = seen_ids[~gone].sort_values()
    return kept


def snapshot_as_of(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: pd.Timestamp,
    spec: FeatureSpec,
    *,
    active_days: int = 180,
    workers: int = 1,
) -> pd.DataFrame:
    """One row per active customer, keyed by customer_id, as of one time (never NaT)."""
    as_of = as_of_timestamp(as_of)
    ids = active_customers(interactions, surveys, customers, as_of, active_days=active_days)
    queries = pd.DataFrame(
        {"customer_id": pd.Series(ids, dtype="str"), "as_of": np.full(len(ids), as_of)}
    )
    queries["as_of"] = pd.to_datetime(queries["as_of"], utc=True).dt.as_unit("ns")
    features = compute_features(interactions, surveys, customers, queries, spec, workers=workers)
    return pd.concat([queries, features], axis=1)
