"""Which training rows were answered after we contacted the customer (pure).

The model should learn untreated risk: an answer given after our own call measures the
call as much as the customer's support history. ``mark_treated`` adds one column,
``treated``, to training rows; it is a label-side column, never a feature, and nothing
else about the contact (its outcome: reached, resolved, ...) reaches the rows, so a
ledger outcome can never leak into the features about the same answer.

Point in time: a contact counts for an answer only if it happened strictly before the
answer *and* was recorded before it (a call logged afterwards was not known then).
The contact history is a DataFrame handed in by the caller (the command line reads it
from the risk-list store), never read here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

TreatedRows = Literal["exclude", "include"]
TREATED_CHOICES: tuple[TreatedRows, ...] = ("exclude", "include")
CONTACT_COLUMNS = ("customer_id", "contacted_at", "recorded_at")


def empty_contacts() -> pd.DataFrame:
    """A contact history with no contacts (no store, or nothing recorded yet)."""
    stamp = pd.Series([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {"customer_id": pd.Series([], dtype="str"), "contacted_at": stamp, "recorded_at": stamp}
    )


def mark_treated(
    rows: pd.DataFrame, contacts: pd.DataFrame, *, lookback_days: int = 90
) -> pd.DataFrame:
    """``rows`` (one per answer: customer_id, responded_at) plus ``treated``: we contacted
    the customer in the ``lookback_days`` before the answer, and had recorded it by then.

    ``contacts`` needs customer_id and contacted_at; recorded_at, when missing, is taken to
    be contacted_at. Any other column (an outcome, notes) is ignored.
    """
    calls = contacts[[c for c in CONTACT_COLUMNS if c in contacts.columns]]
    contacted = pd.to_datetime(calls["contacted_at"], utc=True)
    recorded = (
        pd.to_datetime(calls["recorded_at"], utc=True).fillna(contacted)
        if "recorded_at" in calls.columns
        else contacted
    )
    calls = pd.DataFrame(
        {
            "customer_id": calls["customer_id"].astype("str").to_numpy(),
            "contacted_at": contacted.to_numpy(),
            "known_at": np.maximum(contacted.to_numpy(), recorded.to_numpy()),
        }
    )
    answers = pd.DataFrame(
        {
            "row": np.arange(len(rows)),
            "customer_id": rows["customer_id"].astype("str").to_numpy(),
            "responded_at": pd.to_datetime(rows["responded_at"], utc=True).to_numpy(),
        }
    )
    pairs = answers.merge(calls, on="customer_id", how="inner")
    before = (
        (pairs["contacted_at"] < pairs["responded_at"])
        & (pairs["known_at"] < pairs["responded_at"])
        & (pairs["contacted_at"] >= pairs["responded_at"] - pd.Timedelta(days=lookback_days))
    )
    treated = np.zeros(len(rows), dtype=bool)
    treated[pairs.loc[before, "row"].to_numpy(dtype=np.int64)] = True
    return rows.assign(treated=treated)


def treated_summary(rows: pd.DataFrame, policy: TreatedRows) -> dict[str, int | str]:
    """What the policy does to marked rows: counts for the run's record."""
    treated = int(rows["treated"].sum())
    return {
        "treated_rows": policy,
        "rows_answered": len(rows),
        "rows_treated": treated,
        "rows_treated_excluded": treated if policy == "exclude" else 0,
    }


def apply_treated_policy(rows: pd.DataFrame, policy: TreatedRows) -> pd.DataFrame:
    """``exclude`` (the default: the model learns untreated risk) drops treated rows;
    ``include`` keeps them (the model then learns risk as changed by our own calls)."""
    if policy not in TREATED_CHOICES:
        raise ValueError(f"treated rows: {policy!r} is not one of {', '.join(TREATED_CHOICES)}")
    if policy == "exclude":
        return rows[~rows["treated"].to_numpy(dtype=bool)].reset_index(drop=True)
    return rows
