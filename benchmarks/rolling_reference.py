"""The yardstick: some 30-day features written plainly with pandas ``groupby().rolling()``.

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
FEATURES = (
    "contacts_30d",
    "mean_first_response_h_30d",
    "resolved_30d",
    "escalations_30d",
    "transfers_30d",
    "failed_fcr_30d",
    "fcr_rate_30d",
)


def rolling_features(interactions: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """``FEATURES`` for each (customer_id, as_of) query, in the queries' order and index."""
    hour = pd.Timedelta(hours=1)

    contacts = _window_sums(
        interactions["customer_id"],
        interactions["opened_at"],
        pd.DataFrame({"n": np.ones(len(interactions))}),
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

    resolved = interactions[interactions["resolved_at"].notna()]
    fcr = resolved["first_contact_resolved"].astype("Float64")
    outcomes = _window_sums(
        resolved["customer_id"],
        resolved["resolved_at"],
        pd.DataFrame(
            {
                "n": np.ones(len(resolved)),
                "escalated": _zero_filled(resolved["escalated"]),
                "transfers": _zero_filled(resolved["transfers"]),
                "failed": _zero_filled(1.0 - fcr),
                "fcr": _zero_filled(fcr),
                "fcr_known": fcr.notna().to_numpy(dtype=np.float64),
            }
        ),
        queries,
    )

    return pd.DataFrame(
        {
            "contacts_30d": contacts["n"],
            "mean_first_response_h_30d": _mean(responses["delay_h"], responses["known"]),
            "resolved_30d": outcomes["n"],
            "escalations_30d": outcomes["escalated"],
            "transfers_30d": outcomes["transfers"],
            "failed_fcr_30d": outcomes["failed"],
            "fcr_rate_30d": _mean(outcomes["fcr"], outcomes["fcr_known"]),
        },
        index=queries.index,
    )


def _window_sums(
    customer_id: pd.Series, times: pd.Series, values: pd.DataFrame, queries: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Sums of ``values`` over each query's customer's events with time in [t - 30d, t)."""
    columns = list(values.columns)
    events = values.assign(customer_id=customer_id.array, time=times.array, query=-1)
    markers = pd.DataFrame(
        {
            **{name: np.zeros(len(queries)) for name in columns},
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
        .sum()
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
