"""Every write to the database source, in one place: ``nps-risk load`` (a DIR's tables in
bulk), ticket and survey events (upserts by key), and the agent/team answer history.

The answer history is what live features read instead of a copy frozen in the model: one
``answer_links`` row per survey answer that counts toward agent and team Detractor rates
(``features.pipeline.agent_history``'s rule: the answer names a ticket opened no later than
the answer, and the customer is not an internal or test account), and ``answer_days``,
answers and Detractor answers per (scope, key, UTC day). ``load`` and every daily ``score``
rebuild both from the tables in SQL; each event batch re-links only the answers it touches
and adds the difference to the day counts, so a repeated event adds nothing.

Every write runs in ``Source.writing()``: one transaction, serialised with the other writers.

Over 400 lines: the bulk load, the events and the answer history share the upsert statements
and the rule that links an answer to its ticket; apart, each would restate them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from features.database import (
    EXTRA,
    LOCK_KEY,
    SOURCE_TABLES,
    TABLES,
    US_PER_DAY,
    Source,
    answer_days,
    answer_links,
    arrow_connection,
    customers,
    interactions,
    open_source,
    reachable,
    read_scale,
    source_meta,
    surveys,
)
from features.validation import validate_table
from nps_core.contracts import CONTRACTS, INTERACTIONS, SURVEYS, TableContract
from nps_core.errors import ConfigError
from nps_core.scale import ScoreScale

LOAD_MODES = ("replace", "upsert")


@dataclass(frozen=True)
class LoadResult:
    """What ``load_tables`` wrote: rows per table, and the answers linked to agents/teams."""

    url: str
    mode: str
    rows: dict[str, int]
    truncated_times: int
    linked_answers: int

    def summary(self) -> str:
        lines = [f"{self.mode} -> {self.url}"]
        lines += [f"  {name}: {count:,} rows written" for name, count in self.rows.items()]
        if self.truncated_times:
            lines.append(
                f"  {self.truncated_times:,} times had digits below a microsecond, which the "
                "database does not keep (truncated)"
            )
        lines.append(f"  agent/team history rebuilt: {self.linked_answers:,} answers linked")
        return "\n".join(lines)


# --- bulk load --------------------------------------------------------------------------------


def load_tables(
    url: str, tables: Mapping[str, pd.DataFrame], scale: ScoreScale, *, mode: str = "replace"
) -> LoadResult:
    """Write validated canonical tables into the database, then rebuild the answer history.

    ``replace``: each table's rows become exactly these (one transaction). ``upsert``: rows
    are inserted or, where the key exists, updated; other rows stay.
    """
    if mode not in LOAD_MODES:
        raise ConfigError(f"load mode {mode!r} is not one of {', '.join(LOAD_MODES)}")
    with reachable(url):
        return _load_tables(url, tables, scale, mode)


def _load_tables(
    url: str, tables: Mapping[str, pd.DataFrame], scale: ScoreScale, mode: str
) -> LoadResult:
    source = open_source(url)
    recorded = read_scale(source)
    if mode == "upsert" and _has_rows(source) and recorded != scale:
        raise ConfigError(
            f"database {source.shown} holds answers on the scale {recorded.to_dict()}, the data "
            f"on {scale.to_dict()}: load with --mode replace, or into another database"
        )
    arrow, truncated = {}, 0
    for name in SOURCE_TABLES:
        arrow[name], cut = _database_arrow(tables[name], CONTRACTS[name], source.dialect)
        truncated += cut
    if source.dialect == "postgresql":
        _load_postgresql(source, arrow, mode)
    else:
        _load_sqlite(source, arrow, mode)
    with source.writing() as conn:
        conn.execute(delete(source_meta).where(source_meta.c.key == "scale"))
        conn.execute(insert(source_meta).values(key="scale", value=json.dumps(scale.to_dict())))
    linked = rebuild_history(source, scale)
    rows = {name: table.num_rows for name, table in arrow.items()}
    return LoadResult(source.shown, mode, rows, truncated, linked)


def _load_postgresql(source: Source, arrow: Mapping[str, pa.Table], mode: str) -> None:
    """Binary COPY through ADBC, all tables in one transaction."""
    with arrow_connection(source) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        for name, table in arrow.items():
            if mode == "replace":
                cursor.execute(f"DELETE FROM {name}")
                cursor.adbc_ingest(name, table, mode="append")
            else:
                staging = f"staging_{name}"
                cursor.adbc_ingest(staging, table, mode="replace", temporary=True)
                cursor.execute(_upsert_from(name, staging))
                cursor.execute(f"DROP TABLE {staging}")
        cursor.close()
        conn.commit()


def _load_sqlite(source: Source, arrow: Mapping[str, pa.Table], mode: str) -> None:
    """One driver executemany per table (no per-row ORM work), all in one transaction."""
    with source.writing() as conn:
        for name, table in arrow.items():
            columns = table.column_names
            listed = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {name} ({listed}) VALUES ({marks})"
            if mode == "replace":
                conn.exec_driver_sql(f"DELETE FROM {name}")
            else:
                key = CONTRACTS[name].key
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
                statement += f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
            values = list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))
            for start in range(0, len(values), 100_000):
                conn.exec_driver_sql(statement, values[start : start + 100_000])


def _has_rows(source: Source) -> bool:
    with source.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(surveys)).scalar_one() > 0


def _upsert_from(name: str, staging: str) -> str:
    table = TABLES[name]
    columns = [c.name for c in table.columns]
    key = CONTRACTS[name].key
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    listed = ", ".join(columns)
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join
    return (
        f"INSERT INTO {name} ({listed}) SELECT {listed} FROM {staging} WHERE true "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _database_arrow(
    frame: pd.DataFrame, contract: TableContract, dialect: str
) -> tuple[pa.Table, int]:
    """A canonical frame in the database's column form; and how many times lost digits."""
    columns: dict[str, pa.Array] = {}
    truncated = 0
    for column in contract.columns:
        values = frame[column.name]
        if column.kind == "timestamp":
            ns = values.dt.as_unit("ns").array.asi8
            truncated += int(((ns % 1000) != 0)[values.notna().to_numpy()].sum())
            us = _micros_array(values)
            columns[column.name] = us.cast(pa.int64()) if dialect == "sqlite" else us
        elif column.kind == "bool":
            flags = pa.array(values.astype("boolean"), type=pa.bool_())
            columns[column.name] = flags.cast(pa.int64()) if dialect == "sqlite" else flags
        elif column.kind == "int":
            columns[column.name] = pa.array(values.astype("Int64"), type=pa.int64())
        elif column.kind == "float":
            columns[column.name] = pa.array(values.astype("float64"), type=pa.float64())
        else:
            columns[column.name] = pa.array(values.astype("str"), type=pa.string())
    columns[EXTRA] = pa.array(extra_json(frame, contract), type=pa.string())
    return pa.table(columns), truncated


def extra_json(frame: pd.DataFrame, contract: TableContract) -> list[str | None]:
    """Each row's non-contract columns as a JSON object of text values (None if it has none)."""
    extras = [c for c in frame.columns if c not in contract.names]
    if not extras:
        return [None] * len(frame)
    text = frame[extras].astype("str").where(frame[extras].notna())
    out: list[str | None] = []
    for record in text.to_dict("records"):
        present = {k: v for k, v in record.items() if isinstance(v, str)}
        out.append(json.dumps(present, sort_keys=True) if present else None)
    return out


# --- the answer history -------------------------------------------------------------------------


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """UTC days since 1970-01-01 of a time column (floored, also before 1970)."""
    if dialect == "sqlite":  # integer microseconds; SQLite's integer division truncates
        us = type_coerce(column, BigInteger)
        return (us - ((us % US_PER_DAY) + US_PER_DAY) % US_PER_DAY) / US_PER_DAY
    return cast(func.floor(func.extract("epoch", column) / 86_400), SqlInteger)


def _links(scale: ScoreScale, dialect: str, response_ids: Sequence[str] | None) -> Select[Any]:
    """agent_history's rule in SQL: answers about a ticket that existed when they were given,
    from customers that are not internal or test accounts."""
    s, i, c = surveys.c, interactions.c, customers.c
    query = (
        select(
            s.response_id,
            s.responded_at,
            _day(s.responded_at, dialect),
            i.agent_id,
            i.team,
            case((s.score <= scale.detractor_max, 1), else_=0),
        )
        .select_from(
            surveys.join(interactions, i.interaction_id == s.interaction_id).outerjoin(
                customers, c.customer_id == s.customer_id
            )
        )
        .where(i.opened_at <= s.responded_at, or_(c.is_internal.is_(None), ~c.is_internal))
    )
    if response_ids is not None:
        query = query.where(s.response_id.in_(list(response_ids)))
    return query


_LINK_COLUMNS = ["response_id", "responded_at", "day", "agent_id", "team", "is_detractor"]
_SCOPES = (("all", None), ("agent", "agent_id"), ("team", "team"))


def rebuild_history(source: Source, scale: ScoreScale | None = None) -> int:
    """Recompute every answer link and day count from the tables; the number of links."""
    scale = scale or read_scale(source)
    with source.writing() as conn:
        conn.execute(delete(answer_links))
        conn.execute(delete(answer_days))
        conn.execute(
            insert(answer_links).from_select(_LINK_COLUMNS, _links(scale, source.dialect, None))
        )
        link = answer_links.c
        for scope, key_name in _SCOPES:
            key = literal("") if key_name is None else link[key_name]
            query = select(
                literal(scope), key, link.day, func.count(), func.sum(link.is_detractor)
            ).group_by(key, link.day)
            if key_name is not None:
                query = query.where(link[key_name].is_not(None))
            conn.execute(
                insert(answer_days).from_select(
                    ["scope", "key", "day", "answers", "detractors"], query
                )
            )
        return int(conn.execute(select(func.count()).select_from(answer_links)).scalar_one())


def _relink(conn: Connection, dialect: str, scale: ScoreScale, response_ids: list[str]) -> None:
    """Re-derive these answers' links; add the difference to the day counts."""
    if not response_ids:
        return
    link = answer_links.c
    columns = [link.day, link.agent_id, link.team, link.is_detractor]
    chosen = link.response_id.in_(response_ids)
    old = conn.execute(select(*columns).where(chosen)).all()
    conn.execute(delete(answer_links).where(chosen))
    conn.execute(
        insert(answer_links).from_select(_LINK_COLUMNS, _links(scale, dialect, response_ids))
    )
    new = conn.execute(select(*columns).where(chosen)).all()
    delta = _counts(new)
    delta.subtract(_counts(old))
    rows = [
        {"scope": s, "key": k, "day": d, "answers": a, "detractors": x}
        for (s, k, d), (a, x) in _pairs(delta).items()
        if a or x
    ]
    if rows:
        statement = _dialect_insert(dialect, answer_days)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["scope", "key", "day"],
                set_={
                    "answers": answer_days.c.answers + statement.excluded.answers,
                    "detractors": answer_days.c.detractors + statement.excluded.detractors,
                },
            ),
            rows,
        )


def _counts(links: Iterable[Sequence[Any]]) -> Counter[tuple[str, str, int, str]]:
    out: Counter[tuple[str, str, int, str]] = Counter()
    for day, agent, team, detractor in links:
        for scope, key in (("all", ""), ("agent", agent), ("team", team)):
            if key is not None:
                out[(scope, key, int(day), "answers")] += 1
                out[(scope, key, int(day), "detractors")] += int(detractor)
    return out


def _pairs(delta: Counter[tuple[str, str, int, str]]) -> dict[tuple[str, str, int], list[int]]:
    out: dict[tuple[str, str, int], list[int]] = {}
    for (scope, key, day, what), value in delta.items():
        out.setdefault((scope, key, day), [0, 0])[what == "detractors"] += value
    return out


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventProblem:
    """One reason an event was refused: its index in the batch, the field, the value."""

    index: int
    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class CheckedEvents:
    """A batch as canonical rows (the last event per key), or the problems that refuse it."""

    interactions: pd.DataFrame
    surveys: pd.DataFrame
    problems: list[EventProblem]


def check_events(
    interaction_rows: Sequence[tuple[int, Mapping[str, Any]]],
    survey_rows: Sequence[tuple[int, Mapping[str, Any]]],
    scale: ScoreScale,
) -> CheckedEvents:
    """Validate (event index, fields) pairs with the contracts' own ``validate_table``.

    A later event for the same key replaces an earlier one of the batch (a ticket created
    and then solved in one batch), so only the last is checked and written.
    """
    frames, problems = {}, []
    for contract, rows in ((INTERACTIONS, interaction_rows), (SURVEYS, survey_rows)):
        last = {str(fields.get(contract.key)): (index, fields) for index, fields in rows}
        kept = sorted(last.values(), key=lambda pair: pair[0])
        # a column no event of the batch gives a value is left out: validation adds it
        # missing, as an all-null one would end (parsing it cost a third of the time)
        given = {k for _, f in kept for k, v in f.items() if v is not None}
        names = [*contract.required, *sorted(given - set(contract.required))]
        raw = pd.DataFrame([dict(fields) for _, fields in kept], columns=names)
        result = validate_table(
            raw,
            contract,
            source="event",
            scale=scale,
            row_numbers=pd.Series([index for index, _ in kept], dtype="int64"),
        )
        frames[contract.name] = result.kept
        problems += [
            EventProblem(int(row), str(column), str(value), str(reason))
            for row, column, value, reason in result.quarantine[
                ["row", "column", "value", "reason"]
            ].itertuples(index=False)
        ]
    return CheckedEvents(
        frames[INTERACTIONS.name], frames[SURVEYS.name], sorted(problems, key=lambda p: p.index)
    )


def write_events(source: Source, checked: CheckedEvents, scale: ScoreScale) -> dict[str, int]:
    """Upsert the batch by key in one transaction and re-link the answers it touches."""
    if checked.problems:
        raise ValueError("a batch with problems is never written")
    with source.writing() as conn:
        for table, frame in ((interactions, checked.interactions), (surveys, checked.surveys)):
            _upsert(conn, source.dialect, table, frame)
        touched = set(checked.surveys["response_id"].astype(str))
        ticket_ids = list(checked.interactions["interaction_id"].astype(str))
        if ticket_ids:
            touched |= set(
                conn.execute(
                    select(surveys.c.response_id).where(surveys.c.interaction_id.in_(ticket_ids))
                ).scalars()
            )
        _relink(conn, source.dialect, scale, sorted(touched))
    return {"interactions": len(checked.interactions), "surveys": len(checked.surveys)}


def _dialect_insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _upsert(conn: Connection, dialect: str, table: Any, frame: pd.DataFrame) -> None:
    if not len(frame):
        return
    contract = CONTRACTS[table.name]
    rows = _records(frame, contract)
    statement = _dialect_insert(dialect, table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[contract.key],
            set_={
                c.name: statement.excluded[c.name] for c in table.columns if c.name != contract.key
            },
        ),
        rows,
    )


def _micros_array(values: pd.Series) -> pa.Array:
    """UTC times as Arrow microseconds (what the database keeps), from their integers:
    pyarrow reads a time-zone-aware column through the ``.values`` pandas deprecates."""
    ns = values.dt.as_unit("ns").array.asi8
    return pa.array(ns // 1000, mask=values.isna().to_numpy(), type=pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )


def _records(frame: pd.DataFrame, contract: TableContract) -> list[dict[str, Any]]:
    """Plain Python values per row (aware datetimes, ints, bools, None), ``extra`` as JSON."""
    columns = {}
    for column in contract.columns:
        values = frame[column.name]
        columns[column.name] = (
            _micros_array(values) if column.kind == "timestamp" else pa.array(values)
        )
    columns[EXTRA] = pa.array(extra_json(frame, contract), type=pa.string())
    records: list[dict[str, Any]] = pa.table(columns).to_pylist()
    return records
