"""The risk-list store behind SQLAlchemy: SQLite under data/ by default, PostgreSQL when
NPS_RISK_DATABASE_URL points at one. The one place that reads and writes these tables.

Schema changes are numbered steps in ``MIGRATIONS``; ``open_store`` applies the missing ones
and records each in ``schema_version``. A day's list is replaced in one transaction, so a
crash half-way leaves the previous list as it was.

Several processes may open and write one store at once (the API and ``score``, two
``score`` runs of one date). Migrations run under a lock (an advisory lock on PostgreSQL,
``BEGIN EXCLUSIVE`` on SQLite) and re-read the applied version inside it; a day's
replacement holds a lock on its date (on SQLite, the database's one writer lock), so a
second run waits for the first and then replaces its list whole. A writer waits at most
``LOCK_WAIT_S``, then gives up with one line that says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from nps_core.errors import NpsRiskError

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("description", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("list_date", Date, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("model_name", String(200)),
    Column("model_version", String(50)),
    Column("summary", Text),  # JSON: counts, exclusions by reason, parameters
)

risk_scores = Table(
    "risk_scores",
    metadata,
    Column("list_date", Date, primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("probability", Float, nullable=False),
    Column("band", String(10), nullable=False),
    Column("grp", String(10), nullable=False),  # "treatment" or "control"
    Column(
        "flagged", Boolean, nullable=False
    ),  # in the day's outreach list (or would be, for control)
    Column("reasons", Text),  # JSON list of {feature, value, text, impact}; top of the list only
    Column("action", Text, nullable=False),
    Column("owner_team", String(200)),
    Column("model_version", String(50), nullable=False),
    Column("run_id", String(64), nullable=False),
    Index("ix_risk_scores_list", "list_date", "flagged", "rank"),
    Index("ix_risk_scores_customer", "customer_id", "list_date"),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("list_date", Date, primary_key=True),
    Column("response_id", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),  # detractor, passive, promoter
    Column("customer_id", String(200), nullable=False),
    Column("responded_at", DateTime(timezone=True), nullable=False),
    Column("score", Integer, nullable=False),
    Column("comment", Text),
    Column("channel", String(50)),
    Column("owner_team", String(200)),
    Column("due_at", DateTime(timezone=True)),
    Column("hours_left", Float),
    Column("overdue", Boolean),
    Column("grp", String(10), nullable=False),
    Column("action", Text, nullable=False),
    Column("run_id", String(64), nullable=False),
)

outreach = Table(
    "outreach",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(200), nullable=False),
    Column("contacted_at", DateTime(timezone=True), nullable=False),
    Column("list_date", Date),
    Column("response_id", String(200)),  # when closing the loop on a survey answer
    Column("channel", String(50)),
    Column("agent_id", String(200)),
    Column("outcome", String(30), nullable=False),
    Column("notes", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_outreach_customer", "customer_id", "contacted_at"),
)


def _v1(conn: Connection) -> None:
    for table in (runs, risk_scores, follow_ups, outreach):
        table.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "risk scores, follow-ups, outreach and runs", _v1),
]


LOCK_WAIT_S = 120.0
_LOCKS = 0x6E707372  # "npsr": our advisory locks on PostgreSQL are (_LOCKS, key) pairs
_MIGRATION_KEY = 0  # a day's list locks the key date.toordinal() (> 0)


class StoreBusyError(NpsRiskError):
    """Another process held the store longer than ``LOCK_WAIT_S``."""


@dataclass
class Store:
    engine: Engine

    @contextmanager
    def transaction(self, sqlite_begin: str = "DEFERRED") -> Iterator[Connection]:
        """One transaction; on SQLite ``BEGIN <sqlite_begin>`` (EXCLUSIVE takes the
        database's writer lock up front)."""
        with (
            self.engine.connect().execution_options(sqlite_begin=sqlite_begin) as conn,
            conn.begin(),
        ):
            yield conn

    def version(self) -> int:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(schema_version.name):
                return 0
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def _lock(conn: Connection, key: int) -> None:
    """Hold ``key`` until this transaction ends (PostgreSQL; SQLite's writer lock already
    serialises writers), waiting at most ``LOCK_WAIT_S`` for another holder."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S * 1000)}ms'")
        conn.execute(select(func.pg_advisory_xact_lock(_LOCKS, key)))


@contextmanager
def _patience(what: str) -> Iterator[None]:
    """A lock wait that ran out becomes one line saying what was busy."""
    try:
        yield
    except OperationalError as exc:
        orig = exc.orig
        timed_out = getattr(orig, "sqlstate", None) == "55P03" or "database is locked" in str(orig)
        if not timed_out:
            raise
        raise StoreBusyError(
            f"the risk-list store is busy: another process held {what} for over "
            f"{LOCK_WAIT_S:.0f} s; run again once it is done"
        ) from None


def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the API read while a list is written and makes the big write cheaper; a
    256 MB page cache keeps a million-row list's index pages in memory. The driver's own
    transaction handling is off: ``_sqlite_begin`` says BEGIN, and how."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _migrate(store: Store) -> None:
    """Apply the missing steps, one process at a time, re-reading the version inside the
    lock: a process that waited finds the work done."""
    with _patience("its schema migration"), store.transaction("EXCLUSIVE") as conn:
        _lock(conn, _MIGRATION_KEY)
        schema_version.create(conn, checkfirst=True)
        current = int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)
        for number, description, step in MIGRATIONS:
            if number > current:
                step(conn)
                conn.execute(
                    insert(schema_version).values(
                        version=number, applied_at=datetime.now(UTC), description=description
                    )
                )


def open_store(url: str) -> Store:
    """Connect, and bring the schema up to date (all missing steps in one transaction)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        future=True,
        pool_pre_ping=True,
        connect_args={"timeout": LOCK_WAIT_S} if sqlite else {},  # the busy wait
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings)
        event.listen(engine, "begin", _sqlite_begin)
    store = Store(engine)
    if store.version() < MIGRATIONS[-1][0]:
        _migrate(store)
    return store


def _python_values(column: pd.Series) -> list[Any]:
    """Plain Python values (no numpy scalars or pandas Timestamps; missing -> None)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        stamps = column.dt.to_pydatetime()
        return [
            None if missing else stamp for stamp, missing in zip(stamps, column.isna(), strict=True)
        ]
    values = column.astype(object).where(column.notna(), None).tolist()
    if column.dtype == object:  # only an object column can hold numpy scalars after tolist()
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


def _insert(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Insert every row of ``frame`` in one driver ``executemany``.

    SQLAlchemy still writes the statement and converts values with each column type's own
    bind processor, so the stored form is the one ``insert(table)`` would store, but the
    per-row parameter building (most of the time for a million rows) is skipped.
    """
    if not len(frame):
        return
    columns = [c.name for c in table.columns]
    frame = frame[columns]  # a missing column is a bug: fail loudly, never store NULLs
    # in primary-key order, B-tree inserts append instead of landing all over the index
    frame = frame.sort_values([c.name for c in table.primary_key.columns], kind="stable")
    dialect = conn.dialect
    values = []
    for name in columns:
        python = _python_values(frame[name])
        convert = table.c[name].type.bind_processor(dialect)
        values.append([convert(v) for v in python] if convert else python)
    compiled = insert(table).compile(dialect=dialect, column_keys=columns)
    if dialect.positional:
        order = [columns.index(key) for key in compiled.positiontup or ()]
        rows: list[Any] = list(zip(*(values[i] for i in order), strict=True))
    else:
        rows = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    for start in range(0, len(rows), 100_000):
        conn.exec_driver_sql(compiled.string, rows[start : start + 100_000])


def replace_list(
    store: Store,
    list_date: date,
    *,
    run: dict[str, Any],
    scores: pd.DataFrame,
    followups: pd.DataFrame,
    pause: Callable[[], None] | None = None,
) -> None:
    """Replace one date's list in a single transaction (``pause`` is a test hook that runs
    after the old rows are deleted and before the new ones are in)."""
    with (
        _patience(f"the list of {list_date}"),
        store.transaction("IMMEDIATE") as conn,
    ):
        _lock(conn, list_date.toordinal())  # a second run of the date waits for the first
        conn.execute(delete(risk_scores).where(risk_scores.c.list_date == list_date))
        conn.execute(delete(follow_ups).where(follow_ups.c.list_date == list_date))
        conn.execute(delete(runs).where(runs.c.list_date == list_date))
        if pause is not None:
            pause()
        conn.execute(
            insert(runs), [{**run, "summary": json.dumps(run.get("summary", {}), default=str)}]
        )
        _insert(conn, risk_scores, scores)
        _insert(conn, follow_ups, followups)


def read_list(
    store: Store,
    list_date: date | None = None,
    *,
    band: str | None = None,
    team: str | None = None,
    limit: int = 100,
    flagged_only: bool = True,
    group: str | None = "treatment",
) -> tuple[date | None, pd.DataFrame]:
    """The day's risk list (the newest if no date), best first."""
    with store.engine.connect() as conn:
        if list_date is None:
            list_date = conn.execute(select(func.max(risk_scores.c.list_date))).scalar()
            if list_date is None:
                return None, pd.DataFrame(columns=[c.name for c in risk_scores.columns])
        query = select(risk_scores).where(risk_scores.c.list_date == list_date)
        if flagged_only:
            query = query.where(risk_scores.c.flagged.is_(True))
        if group:
            query = query.where(risk_scores.c.grp == group)
        if band:
            query = query.where(risk_scores.c.band == band)
        if team:
            query = query.where(risk_scores.c.owner_team == team)
        frame = pd.read_sql(query.order_by(risk_scores.c.rank).limit(limit), conn)
    return list_date, frame


def read_followups(store: Store, list_date: date, kind: str | None = None) -> pd.DataFrame:
    with store.engine.connect() as conn:
        query = select(follow_ups).where(follow_ups.c.list_date == list_date)
        if kind:
            query = query.where(follow_ups.c.kind == kind)
        return pd.read_sql(query.order_by(follow_ups.c.responded_at), conn)


def latest_for_customer(store: Store, customer_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = (
            conn.execute(
                select(risk_scores)
                .where(risk_scores.c.customer_id == customer_id)
                .order_by(risk_scores.c.list_date.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def read_table(store: Store, table: Table, **equal: Any) -> pd.DataFrame:
    query = select(table)
    for column, value in equal.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


def record_outreach(store: Store, record: dict[str, Any]) -> int:
    with store.transaction() as conn:
        result = conn.execute(insert(outreach).values(**record, recorded_at=datetime.now(UTC)))
        key = result.inserted_primary_key
        assert key is not None  # one row inserted
        return int(key[0])


def runs_for(store: Store, list_date: date) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(runs).where(runs.c.list_date == list_date)).mappings().all()
    return [{**dict(r), "summary": json.loads(r["summary"] or "{}")} for r in rows]


def read_contacts(store: Store) -> pd.DataFrame:
    """Every recorded outreach: customer_id, contacted_at and recorded_at (UTC), oldest
    first; what impact's censoring and training's treated rows need, nothing more."""
    with store.engine.connect() as conn:
        calls = pd.read_sql(
            select(
                outreach.c.customer_id, outreach.c.contacted_at, outreach.c.recorded_at
            ).order_by(outreach.c.contacted_at, outreach.c.id),
            conn,
        )
    return calls.assign(
        customer_id=calls["customer_id"].astype("str"),
        contacted_at=pd.to_datetime(calls["contacted_at"], utc=True),
        recorded_at=pd.to_datetime(calls["recorded_at"], utc=True),
    )
