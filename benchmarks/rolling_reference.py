"""The yardstick: our 30-day features written plainly with pandas ``groupby().rolling()``.

Same "known when" rules as features/pipeline.py: a contact counts from ``opened_at``, its
first-answer delay from ``first_response_at``, its outcome from ``resolved_at``; the window
is [t - 30 days, t), strictly before t.

Each query (customer, t) becomes a zero-weight marker row at t among that customer's
events; a left-closed 30-day rolling sum read at the marker covers exactly [t - 30d, t).
pandas bounds time-based windows by time, not by row position, so an event at exactly t
is left out whichever side of the marker it sorts on (the test pins this down). The
common shortcut, rolling at event times then ``merge_asof`` onto t, anchors the window at
the customer's last event before t instead, and is wrong whenever older events have left
the window by t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW = "30D"
REPEAT_WITHIN = pd.Timedelta(days=7)  # FeatureSpec.repeat_within_days
FEATURES = (
    "contacts_30d",
    "repeat_contacts_30d",
    "mean_first_response_h_30d",
    "max_first_response_h_30d",
    "resolved_30d",
    "escalations_30d",
    "transfers_30d",
    "reopened_30d",
    "extra_contacts_30d",
    "failed_fcr_30d",
    "fcr_rate_30d",
    "mean_resolution_h_30d",
    "max_resolution_h_30d",
    "mean_handle_time_min_30d",
    "mean_sentiment_30d",
    "min_sentiment_30d",
)


def rolling_features(interactions: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """``FEATURES`` for each (customer_id, as_of) query, in the queries' order and index."""
    hour = pd.Timedelta(hours=1)

    by_customer = interactions.sort_values(["customer_id", "opened_at"], kind="stable")
    gap = by_customer.groupby("customer_id", sort=False)["opened_at"].diff()
    repeat = (gap <= REPEAT_WITHIN).to_numpy(dtype=np.float64)
    contacts = _window_sums(
        by_customer["customer_id"],
        by_customer["opened_at"],
        pd.DataFrame({"n": np.ones(len(by_customer)), "repeat": repeat}),
        queries,
    )

    answered = interactions[interactions["first_response_at"].notna()]
    delay_h = (answered["first_response_at"] - answered["opened_at"]) / hour
    responses = _window_sums(
        answered["customer_id"],
        answered["first_response_at"],
        pd.DataFrame(
            {
                "delay_h": delay_h.fillna(0.0).to_numpy(),
                "known": delay_h.notna().to_numpy(dtype=np.float64),
            }
        ),
        queries,
    )
    slowest = _window_sums(
        answered["customer_id"],
        answered["first_response_at"],
        pd.DataFrame({"delay_h": delay_h.to_numpy(dtype=np.float64)}),
        queries,
        how="max",
    )

    resolved = interactions[interactions["resolved_at"].notna()]
    fcr = resolved["first_contact_resolved"].astype("Float64")
    resolution_h = ((resolved["resolved_at"] - resolved["opened_at"]) / hour).to_numpy()
    handle_min = resolved["handle_time_s"].astype("Float64") / 60.0
    sentiment = resolved["sentiment"].astype("Float64")
    outcomes = _window_sums(
        resolved["customer_id"],
        resolved["resolved_at"],
        pd.DataFrame(
            {
                "n": np.ones(len(resolved)),
                "escalated": _zero_filled(resolved["escalated"]),
                "transfers": _zero_filled(resolved["transfers"]),
                "reopened": _zero_filled(resolved["reopened"]),
                "extra": _zero_filled((resolved["contacts"].astype("Float64") - 1).clip(lower=0)),
                "failed": _zero_filled(1.0 - fcr),
                "fcr": _zero_filled(fcr),
                "fcr_known": fcr.notna().to_numpy(dtype=np.float64),
                "resolution_h": resolution_h,
                "handle": _zero_filled(handle_min),
                "handle_known": handle_min.notna().to_numpy(dtype=np.float64),
                "sentiment": _zero_filled(sentiment),
                "sentiment_known": sentiment.notna().to_numpy(dtype=np.float64),
            }
        ),
        queries,
    )
    longest = _window_sums(
        resolved["customer_id"],
        resolved["resolved_at"],
        pd.DataFrame({"resolution_h": resolution_h}),
        queries,
        how="max",
    )
    lowest = _window_sums(
        resolved["customer_id"],
        resolved["resolved_at"],
        pd.DataFrame({"sentiment": sentiment.to_numpy(dtype=np.float64, na_value=np.nan)}),
        queries,
        how="min",
    )

    return pd.DataFrame(
        {
            "contacts_30d": contacts["n"],
            "repeat_contacts_30d": contacts["repeat"],
            "mean_first_response_h_30d": _mean(responses["delay_h"], responses["known"]),
            "max_first_response_h_30d": slowest["delay_h"],
            "resolved_30d": outcomes["n"],
            "escalations_30d": outcomes["escalated"],
            "transfers_30d": outcomes["transfers"],
            "reopened_30d": outcomes["reopened"],
            "extra_contacts_30d": outcomes["extra"],
            "failed_fcr_30d": outcomes["failed"],
            "fcr_rate_30d": _mean(outcomes["fcr"], outcomes["fcr_known"]),
            "mean_resolution_h_30d": _mean(outcomes["resolution_h"], outcomes["n"]),
            "max_resolution_h_30d": longest["resolution_h"],
            "mean_handle_time_min_30d": _mean(outcomes["handle"], outcomes["handle_known"]),
            "mean_sentiment_30d": _mean(outcomes["sentiment"], outcomes["sentiment_known"]),
            "min_sentiment_30d": lowest["sentiment"],
        },
        index=queries.index,
    )


def _window_sums(
    customer_id: pd.Series,
    times: pd.Series,
    values: pd.DataFrame,
    queries: pd.DataFrame,
    how: str = "sum",
) -> dict[str, np.ndarray]:
    """Sums (or ``how``: max, min) of ``values`` over each query's customer's events with
    time in [t - 30d, t); NaN values are skipped, an empty window's max is NaN."""
    columns = list(values.columns)
    events = values.assign(customer_id=customer_id.array, time=times.array, query=-1)
    markers = pd.DataFrame(
        {
            **{name: np.full(len(queries), np.nan) for name in columns},
            "customer_id": queries["customer_id"].array,
            "time": queries["as_of"].array,
            "query": np.arange(len(queries)),
        }
    )
    rows = pd.concat([events, markers], ignore_index=True)
    rows = rows[rows["customer_id"].notna()].sort_values(["customer_id", "time"], kind="stable")
    rolled = (
        rows.groupby("customer_id", sort=False)
        .rolling(WINDOW, on="time", closed="left", min_periods=0)[columns]
        .agg(how)
    )
    # Groups come out in order of first appearance, each in its rows' order: as sorted.
    if len(rolled) != len(rows):
        raise RuntimeError(f"rolling returned {len(rolled)} rows for {len(rows)}")
    which = rows["query"].to_numpy()
    at_marker = which >= 0
    sums = np.full((len(queries), len(columns)), np.nan)
    sums[which[at_marker]] = rolled.to_numpy(dtype=np.float64)[at_marker]
    return {name: sums[:, i] for i, name in enumerate(columns)}


def _zero_filled(series: pd.Series) -> np.ndarray:
    """Float values with missing ones as 0 (a missing outcome adds nothing to a sum)."""
    return series.astype("Float64").to_numpy(dtype=np.float64, na_value=0.0)


def _mean(total: np.ndarray, known: np.ndarray) -> np.ndarray:
    """total / known where anything was known in the window, NaN where nothing was."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known > 0, total / np.where(known > 0, known, 1.0), np.nan)
