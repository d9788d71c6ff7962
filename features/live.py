"""One customer's live features from the database source, as of any time.

Two indexed round trips per customer: their own rows (by ``customer_id``), then the answer
counts of the agent and team of their last contact (whole UTC days from ``answer_days``,
the day of ``as_of`` itself from ``answer_links``); nothing scales with the size of the
database. The features are the batch ``compute_features`` itself, the agent/team history
given as ``HistoryTotals``, so a live row equals a snapshot's for the same customer and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Integer, Table, and_, bindparam, func, literal, or_, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from features.catalog import FeatureSpec
from features.database import (
    ARROW_TYPES,
    EPOCH,
    EXTRA,
    PANDAS_TYPES,
    TIME_NS,
    US_PER_DAY,
    Source,
    UtcTime,
    answer_days,
    answer_links,
    customers,
    extra_columns,
    interactions,
    micros,
    surveys,
)
from features.pipeline import HistoryTotals, compute_features
from nps_core.contracts import CONTRACTS, CUSTOMERS, INTERACTIONS, SURVEYS


@dataclass(frozen=True)
class CustomerRows:
    """One customer's rows (canonical dtypes) and the agent/team answer counts before a time."""

    interactions: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    history: HistoryTotals

    @property
    def empty(self) -> bool:
        return not (len(self.interactions) or len(self.surveys) or len(self.customers))


def read_customer(source: Source, customer_id: str, as_of: pd.Timestamp) -> CustomerRows:
    """Everything live features need about one customer as of ``as_of``, in indexed
    queries: the customer's own rows (by customer_id), then the answer counts of the agent
    and team of their last contact before ``as_of`` (whole days from ``answer_days``, the day of ``as_of`` itself
    from ``answer_links``). Nothing scales with the size of the database; the statements
    are built once (building them cost more than running them)."""
    frames = {}
    with source.engine.connect() as conn:
        for table in (interactions, surveys, customers):
            rows = conn.execute(_BY_CUSTOMER[table.name], {"customer_id": customer_id}).all()
            frames[table.name] = _rows_frame(rows, table)
        # features read the rates of the last contact's agent and team only: those of the
        # contacts opened at the latest time before as_of (all of them, should several tie)
        tickets = frames[INTERACTIONS.name]
        opened = tickets["opened_at"].array.asi8  # ns; NaT cannot occur (required)
        before = opened < as_of.as_unit("ns").value
        last = before & (opened == (opened[before].max() if before.any() else 0))
        totals = _answer_totals(
            conn, _texts(tickets["agent_id"], last), _texts(tickets["team"], last), as_of
        )
    return CustomerRows(
        frames[INTERACTIONS.name], frames[SURVEYS.name], frames[CUSTOMERS.name], totals
    )


def _texts(column: pd.Series, rows: np.ndarray) -> list[str]:
    """The distinct text values of these rows (missing ones left out), sorted."""
    return sorted({str(v) for v in column.to_numpy(dtype=object)[rows] if isinstance(v, str)})


_BY_CUSTOMER = {
    table.name: select(table).where(table.c.customer_id == bindparam("customer_id"))
    for table in (interactions, surveys, customers)
}


def _totals_query() -> Any:
    d, link = answer_days.c, answer_links.c
    agents: BindParameter[str] = bindparam("agents", expanding=True)
    teams: BindParameter[str] = bindparam("teams", expanding=True)
    keyed = or_(
        and_(d.scope == "all", d.key == ""),
        and_(d.scope == "agent", d.key.in_(agents)),
        and_(d.scope == "team", d.key.in_(teams)),
    )
    today = and_(
        link.responded_at >= bindparam("day_start", type_=UtcTime()),
        link.responded_at < bindparam("as_of", type_=UtcTime()),
    )
    count, detractors = func.count(), func.coalesce(func.sum(link.is_detractor), 0)
    return union_all(
        select(d.scope, d.key, func.sum(d.answers), func.sum(d.detractors))
        .where(keyed, d.day < bindparam("day", type_=Integer()))
        .group_by(d.scope, d.key),
        select(literal("all"), literal(""), count, detractors).where(today),
        select(literal("agent"), link.agent_id, count, detractors)
        .where(today, link.agent_id.in_(agents))
        .group_by(link.agent_id),
        select(literal("team"), link.team, count, detractors)
        .where(today, link.team.in_(teams))
        .group_by(link.team),
    )


_TOTALS = _totals_query()


def _rows_frame(rows: Sequence[Any], table: Table) -> pd.DataFrame:
    """A few result rows as a canonical frame: one Arrow array per column in its contract
    type, one conversion to pandas (a Series per column took 1.6x as long), extras as text."""
    contract = CONTRACTS[table.name]
    names = [c.name for c in table.columns]
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    columns = dict(zip(names, values, strict=True))
    arrays = {}
    for column in contract.columns:
        array = pa.array(columns[column.name], type=ARROW_TYPES[column.kind])
        arrays[column.name] = array.cast(TIME_NS) if column.kind == "timestamp" else array
    frame: pd.DataFrame = pa.table(arrays).to_pandas(types_mapper=PANDAS_TYPES.get)
    extras = extra_columns(pa.array(columns[EXTRA], type=pa.string()), len(frame))
    return pd.concat([frame, extras], axis=1) if len(extras.columns) else frame


def _answer_totals(
    conn: Connection, agents: list[str], teams: list[str], as_of: pd.Timestamp
) -> HistoryTotals:
    day = micros(as_of) // US_PER_DAY
    parameters = {
        "agents": agents,
        "teams": teams,
        "day": day,
        "day_start": EPOCH + timedelta(days=day),
        "as_of": as_of.to_pydatetime(),
    }
    sums: dict[tuple[str, str], list[float]] = {}
    for scope, key, answers, bad in conn.execute(_TOTALS, parameters):
        pair = sums.setdefault((scope, key), [0.0, 0.0])
        pair[0] += float(answers or 0)
        pair[1] += float(bad or 0)
    overall = sums.get(("all", ""), [0.0, 0.0])

    def of(scope: str) -> dict[str, tuple[float, float]]:
        return {k: (v[0], v[1]) for (s, k), v in sums.items() if s == scope}

    return HistoryTotals(overall[0], overall[1], of("agent"), of("team"))


def live_features(
    source: Source, customer_id: str, as_of: pd.Timestamp, spec: FeatureSpec
) -> pd.DataFrame | None:
    """One feature row for the customer as of ``as_of`` from the database's history (the
    same ``compute_features`` as every snapshot); None if the database has no row of them."""
    rows = read_customer(source, customer_id, as_of)
    if rows.empty:
        return None
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series([customer_id], dtype="str"),
            "as_of": pd.Series([as_of], dtype="datetime64[ns, UTC]"),
        }
    )
    return compute_features(
        rows.interactions, rows.surveys, rows.customers, queries, spec, history=rows.history
    )
