"""The drawn arrays as the canonical tables: ids, labels and UTC timestamps, built in Arrow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.simulate._common import _NS_PER_S, _Arrays
from features.simulate.comments import comment_texts
from features.simulate.population import PLANS, REGIONS, SEGMENTS
from features.simulate.tickets import _AGENTS_PER_TEAM, CATEGORIES, CHANNELS, TEAMS
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS


def _interactions_frame(tix: _Arrays, customer_ids: pa.Array, start_ns: int) -> pd.DataFrame:
    n = tix["c"].size
    open_at_end = tix["open_at_end"]
    columns = {
        "interaction_id": _str(_ids("I", np.arange(1, n + 1))),
        "customer_id": _labels(tix["c"], customer_ids),
        "channel": _labels(tix["channel"], pa.array(CHANNELS)),
        "opened_at": _timestamps(tix["opened"], start_ns),
        "first_response_at": _timestamps(
            tix["opened"] + tix["frt"], start_ns, missing=tix["responded_late"]
        ),
        "resolved_at": _timestamps(tix["resolved"], start_ns, missing=open_at_end),
        "handle_time_s": tix["handle"].astype(np.float64),
        "contacts": pd.array(tix["contacts"], dtype="Int64"),
        "first_contact_resolved": pd.array(tix["fcr"], dtype="boolean"),
        "escalated": pd.array(tix["escalated"], dtype="boolean"),
        "reopened": pd.array(tix["reopened"], dtype="boolean"),
        "transfers": pd.array(tix["transfers"], dtype="Int64"),
        "sentiment": tix["sentiment"].astype(np.float64),
        "agent_id": _labels(
            tix["agent"], _ids("A", np.arange(1, len(TEAMS) * _AGENTS_PER_TEAM + 1), 3)
        ),
        "team": _labels(tix["team"], pa.array(TEAMS)),
        "category": _labels(tix["category"], pa.array(CATEGORIES)),
    }
    return pd.DataFrame({name: columns[name] for name in INTERACTIONS.names})


def _surveys_frame(
    surv: _Arrays, tix: _Arrays, customer_ids: pa.Array, start_ns: int, first_number: int = 1
) -> pd.DataFrame:
    """Answers numbered from ``first_number`` (the loop's later answers continue the history's)."""
    n = surv["c"].size
    comment = surv["comment"]
    numbers = np.arange(first_number, first_number + n)
    width = _id_width(first_number + n - 1)
    columns = {
        "response_id": _str(_ids("R", numbers, width)),
        "customer_id": _labels(surv["c"], customer_ids),
        "responded_at": _timestamps(surv["responded"], start_ns),
        "score": pd.array(surv["score"], dtype="Int64"),
        "comment": _labels(comment, pa.array(comment_texts()), missing=comment < 0),
        "interaction_id": _str(_ids("I", surv["trigger"] + 1, width=_id_width(tix["c"].size))),
        "channel": _labels(tix["channel"][surv["trigger"]], pa.array(CHANNELS)),
    }
    return pd.DataFrame({name: columns[name] for name in SURVEYS.names})


def _customers_frame(
    cust: _Arrays, churned_at: np.ndarray, customer_ids: pa.Array, start_ns: int
) -> pd.DataFrame:
    columns = {
        "customer_id": _str(customer_ids),
        "segment": _labels(cust["segment"], pa.array(SEGMENTS)),
        "plan": _labels(cust["plan"], pa.array(PLANS)),
        "region": _labels(cust["region"], pa.array(REGIONS)),
        "signup_at": _timestamps(cust["signup"], start_ns),
        "is_internal": pd.array(cust["internal"], dtype="boolean"),
        "churned_at": _timestamps(churned_at, start_ns, missing=churned_at < 0),
    }
    return pd.DataFrame({name: columns[name] for name in CUSTOMERS.names})


def _id_width(n: int) -> int:
    return max(7, len(str(n)))


def _ids(prefix: str, numbers: np.ndarray, width: int | None = None) -> pa.Array:
    """'C0000001'-style ids built in Arrow (fast for millions)."""
    width = _id_width(int(numbers.max(initial=0))) if width is None else width
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _str(values: pa.Array) -> pd.Series:
    return pd.Series(pd.array(values, dtype="str"))


def _labels(codes: np.ndarray, labels: pa.Array, missing: np.ndarray | None = None) -> pd.Series:
    """Codes -> their labels as a pandas str column (Arrow dictionary decode)."""
    indices = pa.array(codes.astype(np.int32), mask=missing)
    return _str(pa.DictionaryArray.from_arrays(indices, labels).cast(pa.string()))


def _timestamps(seconds: np.ndarray, start_ns: int, missing: np.ndarray | None = None) -> pd.Series:
    ns = start_ns + seconds.astype(np.int64) * _NS_PER_S
    if missing is not None:
        ns = np.where(missing, np.iinfo(np.int64).min, ns)  # int64 min is NaT
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")
