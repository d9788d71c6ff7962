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

from features.sqlbase import Migration, apply_migrations, configure_sqlite, version_table
from nps_core.errors import FollowUpMismatchError, FollowUpNotFoundError, NpsRiskError
from serving.lists.ledger import (
    CLOSED,
    OUTCOME_STATUS,
    WAITING,
    TeamFigure,
    answer_follow_up_id,
    check_transition,
    sla_clock,
    team_figures,
)

metadata = MetaData()

schema_version = version_table("schema_version", metadata)

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
    Column("period", String(20)),  # the experiment period of the control draw (v2)
    Column("follow_up_id", String(300)),  # the ledger follow-up a flagged treatment row opened (v2)
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
    Column("period", String(20)),  # v2
    Column("follow_up_id", String(300)),  # v2: the ledger's, for Detractor answers
    Column("status", String(20)),  # v2: the ledger status as of the run
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
    Column("follow_up_id", String(300)),  # v2: the ledger follow-up this attempt worked on
    Index("ix_outreach_customer", "customer_id", "contacted_at"),
)

# The outreach ledger (v2): one row per follow-up, written once, and an append-only series
# of events; a follow-up's status at a time is its last event recorded by then. The
# ``outreach`` table above stays the attempt log: every contact, with or without a follow-up.
ledger_follow_ups = Table(
    "ledger_follow_ups",
    metadata,
    Column("follow_up_id", String(300), primary_key=True),
    Column("customer_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # detractor_answer, predicted_risk
    Column("response_id", String(200)),
    Column("owner_team", String(200)),
    Column("list_date", Date, nullable=False),  # the daily run that opened it
    Column("period", String(20), nullable=False),
    Column("arm", String(10), nullable=False),  # treatment (control is never followed up)
    Column("band", String(10)),
    Column("probability", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),  # the answer, or the run
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_follow_ups_customer", "customer_id", "recorded_at"),
)

ledger_events = Table(
    "ledger_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("follow_up_id", String(300), nullable=False),
    Column("status", String(20), nullable=False),  # the status it moves to
    Column("at", DateTime(timezone=True), nullable=False),  # when it happened
    Column("recorded_at", DateTime(timezone=True), nullable=False),  # when the ledger knew
    Column("source", String(20), nullable=False),  # daily run, api
    Column("outreach_id", Integer),  # the attempt log's row, for a contact
    Index("ix_ledger_events_follow_up", "follow_up_id", "recorded_at"),
    Index("ix_ledger_events_recorded", "recorded_at"),
)


def _v1(conn: Connection) -> None:
    for table in (runs, risk_scores, follow_ups, outreach):
        table.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    """The ledger, and the period and follow-up on list rows; outreach rows stay as they
    are (the attempt log) with an empty follow_up_id."""
    added = {
        risk_scores: ("period", "follow_up_id"),
        follow_ups: ("period", "follow_up_id", "status"),
        outreach: ("follow_up_id",),
    }
    for table, names in added.items():
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in present:  # a store created at v2 has them from _v1's create
                kind = table.c[name].type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
    ledger_follow_ups.create(conn, checkfirst=True)
    ledger_events.create(conn, checkfirst=True)


MIGRATIONS: list[Migration] = [
    (1, "risk scores, follow-ups, outreach and runs", _v1),
    (2, "outreach ledger; experiment period and follow-up on list rows", _v2),
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
    configure_sqlite(dbapi_connection, "cache_size=-262144")


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _migrate(store: Store) -> None:
    """Apply the missing steps, one process at a time, re-reading the version inside the
    lock: a process that waited finds the work done."""
    with _patience("its schema migration"), store.transaction("EXCLUSIVE") as conn:
        _lock(conn, _MIGRATION_KEY)
        apply_migrations(conn, schema_version, MIGRATIONS)


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


# columns v2 added to list rows: a writer from before the ledger leaves them empty
_OPTIONAL = frozenset({"period", "follow_up_id", "status"})


def _with_optional(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    missing = [c.name for c in table.columns if c.name in _OPTIONAL and c.name not in frame]
    return frame.assign(**dict.fromkeys(missing)) if missing else frame


def replace_list(
    store: Store,
    list_date: date,
    *,
    run: dict[str, Any],
    scores: pd.DataFrame,
    followups: pd.DataFrame,
    opened: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    pause: Callable[[], None] | None = None,
) -> None:
    """Replace one date's list in a single transaction (``pause`` is a test hook that runs
    after the old rows are deleted and before the new ones are in).

    ``opened`` (ledger follow-ups) and ``events`` (the run's expiries) join the ledger in the
    same transaction. The ledger is append-only: what a first run of the date wrote stays,
    and a re-run adds only what is not there yet (follow-up ids are deterministic, an
    expiry is written once), so a re-run never rewrites what was worked meanwhile."""
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
        _insert(conn, risk_scores, _with_optional(scores, risk_scores))
        _insert(conn, follow_ups, _with_optional(followups, follow_ups))
        if opened is not None and len(opened):
            _append_follow_ups(conn, opened)
        if events is not None and len(events):
            _append_expiries(conn, events)


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


def list_dates(store: Store, up_to: date | None = None) -> list[date]:
    """The dates that have a list (those up to ``up_to`` if given), oldest first."""
    query = select(risk_scores.c.list_date).distinct().order_by(risk_scores.c.list_date)
    if up_to is not None:
        query = query.where(risk_scores.c.list_date <= up_to)
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def scores_for(store: Store, list_date: date, customer_ids: list[str]) -> pd.DataFrame:
    """These customers' rows of one day's scores (every scored customer, either arm)."""
    query = select(risk_scores.c.customer_id, risk_scores.c.probability, risk_scores.c.band).where(
        risk_scores.c.list_date == list_date, risk_scores.c.customer_id.in_(customer_ids)
    )
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


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


# --- the outreach ledger -------------------------------------------------------------------


def _append_follow_ups(conn: Connection, opened: pd.DataFrame) -> None:
    """New follow-ups and their ``open`` event; ids already in the ledger are left alone."""
    ids = opened["follow_up_id"].tolist()
    known: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        known |= set(
            conn.execute(
                select(ledger_follow_ups.c.follow_up_id).where(
                    ledger_follow_ups.c.follow_up_id.in_(chunk)
                )
            ).scalars()
        )
    fresh = opened[~opened["follow_up_id"].isin(known)]
    if not len(fresh):
        return
    # through SQLAlchemy's own insert, not the bulk path: on SQLite its times are stored in
    # the one text form that SQL comparisons with recorded_at rely on
    names = [c.name for c in ledger_follow_ups.columns]
    values = {name: _python_values(fresh[name]) for name in names}
    conn.execute(
        insert(ledger_follow_ups),
        [{name: values[name][i] for name in names} for i in range(len(fresh))],
    )
    conn.execute(
        insert(ledger_events),
        [
            {
                "follow_up_id": fid,
                "status": "open",
                "at": created,
                "recorded_at": recorded,
                "source": "daily run",
                "outreach_id": None,
            }
            for fid, created, recorded in zip(
                fresh["follow_up_id"],
                _python_values(fresh["created_at"]),
                _python_values(fresh["recorded_at"]),
                strict=True,
            )
        ],
    )


def _append_expiries(conn: Connection, events: pd.DataFrame) -> None:
    """Expiry events, each written once however often its date is re-run."""
    ids = events["follow_up_id"].tolist()
    done = set(
        conn.execute(
            select(ledger_events.c.follow_up_id).where(
                ledger_events.c.follow_up_id.in_(ids), ledger_events.c.status == "expired"
            )
        ).scalars()
    )
    rows = [
        {
            "follow_up_id": fid,
            "status": status,
            "at": at,
            "recorded_at": recorded,
            "source": "daily run",
            "outreach_id": None,
        }
        for fid, status, at, recorded in zip(
            events["follow_up_id"],
            events["status"],
            _python_values(events["at"]),
            _python_values(events["recorded_at"]),
            strict=True,
        )
        if fid not in done
    ]
    if rows:
        conn.execute(insert(ledger_events), rows)


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    return frame.assign(**{c: pd.to_datetime(frame[c], utc=True) for c in columns})


def _known(column: Any, as_of: datetime, before: bool) -> Any:
    return column < as_of if before else column <= as_of


def read_ledger(
    store: Store,
    as_of: datetime,
    *,
    before: bool = False,
    customer_id: str | None = None,
    follow_up_ids: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ledger as known at ``as_of``: follow-ups and events recorded by then (strictly
    before it with ``before``: what a daily run at ``as_of`` may read, its own writes
    excluded, so a re-run of the date reads what the first run read)."""
    fu = select(ledger_follow_ups).where(_known(ledger_follow_ups.c.recorded_at, as_of, before))
    ev = (
        select(ledger_events)
        .join(
            ledger_follow_ups,
            ledger_follow_ups.c.follow_up_id == ledger_events.c.follow_up_id,
        )
        .where(_known(ledger_events.c.recorded_at, as_of, before))
    )
    if customer_id is not None:
        fu = fu.where(ledger_follow_ups.c.customer_id == customer_id)
        ev = ev.where(ledger_follow_ups.c.customer_id == customer_id)
    if follow_up_ids is not None:
        fu = fu.where(ledger_follow_ups.c.follow_up_id.in_(follow_up_ids))
        ev = ev.where(ledger_events.c.follow_up_id.in_(follow_up_ids))
    with store.engine.connect() as conn:
        follow = pd.read_sql(fu, conn)
        events = pd.read_sql(ev.order_by(ledger_events.c.event_id), conn)
    return (
        _utc(follow, "created_at", "due_at", "recorded_at"),
        _utc(events, "at", "recorded_at"),
    )


def ledger_state(follow: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Each follow-up with its status (its last event), the time of that status, and its
    first contact of any kind: the current-state view of the append-only events."""
    ordered = events.sort_values(["recorded_at", "event_id"], kind="stable")
    last = (
        ordered.groupby("follow_up_id")
        .tail(1)[["follow_up_id", "status", "at"]]
        .rename(columns={"at": "status_at"})
    )
    contacts = ordered[ordered["status"].isin(["attempted", "reached", "resolved", "declined"])]
    first = contacts.groupby("follow_up_id")["at"].min().reset_index()
    state = follow.merge(last, on="follow_up_id", how="left").merge(
        first.rename(columns={"at": "first_contact_at"}), on="follow_up_id", how="left"
    )
    return state.assign(
        status=state["status"].fillna("open"),
        status_at=pd.to_datetime(state["status_at"], utc=True),
        first_contact_at=pd.to_datetime(state["first_contact_at"], utc=True),
    )


def read_outreach(store: Store, before: datetime | None = None) -> pd.DataFrame:
    """The attempt log, as known strictly before ``before`` (every row if None)."""
    query = select(outreach)
    if before is not None:
        query = query.where(outreach.c.recorded_at < before)
    with store.engine.connect() as conn:
        frame = pd.read_sql(query.order_by(outreach.c.id), conn)
    return _utc(frame, "contacted_at", "recorded_at")


@dataclass(frozen=True)
class Contact:
    outreach_id: int
    customer_id: str
    follow_up_id: str | None  # None: no follow-up was waiting; the attempt log has it
    status: str | None


def record_contact(
    store: Store,
    *,
    customer_id: str,
    outcome: str,
    contacted_at: datetime,
    follow_up_id: str | None = None,
    response_id: str | None = None,
    list_date: date | None = None,
    channel: str | None = None,
    agent_id: str | None = None,
    notes: str | None = None,
    recorded_at: datetime | None = None,
) -> Contact:
    """A contact and its outcome: a row of the attempt log and, against the follow-up it
    works on, an event. The follow-up is the one named (``follow_up_id``, or the answer's
    for ``response_id``), else the customer's earliest-due follow-up waiting for a reach (then one in progress); with none,
    the contact is logged without one. A follow-up named but unknown, of another customer,
    or whose status does not allow the outcome (it is closed) is refused, nothing written."""
    now = recorded_at or datetime.now(UTC)
    new_status = OUTCOME_STATUS[outcome]
    with store.transaction("IMMEDIATE") as conn:
        _lock(conn, _FOLLOW_UP_KEY)  # one outcome at a time: each checks the last status
        follow, events = _read_ledger_in(conn, now, customer_id)
        state = ledger_state(follow, events)
        target: pd.Series | None = None
        if follow_up_id is not None:
            named = state[state["follow_up_id"] == follow_up_id]
            if not len(named):
                elsewhere = _follow_up_customer(conn, follow_up_id, now)
                if elsewhere is not None:
                    raise FollowUpMismatchError(
                        f"follow-up {follow_up_id} belongs to another customer, not {customer_id!r}"
                    )
                raise FollowUpNotFoundError(
                    f"no follow-up {follow_up_id} in the ledger; GET /v1/outreach lists them"
                )
            target = named.iloc[0]
        elif (
            response_id is not None
            and (state["follow_up_id"] == answer_follow_up_id(response_id)).any()
        ):
            target = state[state["follow_up_id"] == answer_follow_up_id(response_id)].iloc[0]
        else:
            live = (  # waiting ones first (earliest due), then those in progress
                state[~state["status"].isin(CLOSED)]
                .assign(_later=lambda f: ~f["status"].isin(WAITING))
                .sort_values(["_later", "due_at", "follow_up_id"], kind="stable")
            )
            target = live.iloc[0] if len(live) else None
        if target is not None:
            check_transition(str(target["follow_up_id"]), str(target["status"]), new_status)
        fid = None if target is None else str(target["follow_up_id"])
        result = conn.execute(
            insert(outreach).values(
                customer_id=customer_id,
                contacted_at=contacted_at,
                list_date=list_date,
                response_id=response_id,
                channel=channel,
                agent_id=agent_id,
                outcome=outcome,
                notes=notes,
                recorded_at=now,
                follow_up_id=fid,
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # one row inserted
        if fid is not None:
            conn.execute(
                insert(ledger_events).values(
                    follow_up_id=fid,
                    status=new_status,
                    at=contacted_at,
                    recorded_at=now,
                    source="api",
                    outreach_id=int(key[0]),
                )
            )
    return Contact(int(key[0]), customer_id, fid, None if fid is None else new_status)


_FOLLOW_UP_KEY = -1  # the advisory lock outcomes take (a day's list locks key > 0)


def _read_ledger_in(
    conn: Connection, as_of: datetime, customer_id: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    follow = pd.read_sql(
        select(ledger_follow_ups).where(
            ledger_follow_ups.c.customer_id == customer_id,
            ledger_follow_ups.c.recorded_at <= as_of,
        ),
        conn,
    )
    events = pd.read_sql(
        select(ledger_events)
        .where(
            ledger_events.c.follow_up_id.in_(follow["follow_up_id"].tolist()),
            ledger_events.c.recorded_at <= as_of,
        )
        .order_by(ledger_events.c.event_id),
        conn,
    )
    return _utc(follow, "created_at", "due_at", "recorded_at"), _utc(events, "at", "recorded_at")


def _follow_up_customer(conn: Connection, follow_up_id: str, as_of: datetime) -> str | None:
    found = conn.execute(
        select(ledger_follow_ups.c.customer_id).where(
            ledger_follow_ups.c.follow_up_id == follow_up_id,
            ledger_follow_ups.c.recorded_at <= as_of,
        )
    ).scalar()
    return None if found is None else str(found)


def read_follow_ups(
    store: Store,
    as_of: datetime,
    *,
    status: str | None = None,
    team: str | None = None,
    overdue: bool | None = None,
    kind: str | None = None,
    customer_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, pd.DataFrame]:
    """Follow-ups as known at ``as_of`` with their status and SLA clock (hours left, overdue,
    as of ``as_of``), most urgent first: how many match, and the page asked for."""
    follow, events = read_ledger(store, as_of, customer_id=customer_id)
    state = ledger_state(follow, events)
    stamp = pd.Timestamp(as_of)
    state = pd.concat([state, sla_clock(state["due_at"], state["status"], stamp)], axis=1)
    if status is not None:
        state = state[state["status"] == status]
    if team is not None:
        state = state[state["owner_team"] == team]
    if kind is not None:
        state = state[state["kind"] == kind]
    if overdue is not None:
        state = state[state["overdue"].fillna(False).astype(bool) == overdue]
    state = state.sort_values(["due_at", "follow_up_id"], kind="stable", ignore_index=True)
    return len(state), state.iloc[offset : offset + limit].reset_index(drop=True)


def follow_up_clocks(store: Store, follow_up_ids: list[str], as_of: datetime) -> pd.DataFrame:
    """These follow-ups' status and SLA clock as known at ``as_of`` (by follow_up_id)."""
    state = ledger_state(*read_ledger(store, as_of, follow_up_ids=follow_up_ids))
    clock = sla_clock(state["due_at"], state["status"], pd.Timestamp(as_of))
    return pd.concat([state, clock], axis=1).set_index("follow_up_id")


def team_figures_as_of(store: Store, as_of: datetime, window_days: int = 30) -> list[TeamFigure]:
    """Each team's close-the-loop rate (Wilson interval) and median time to first contact,
    from the ledger as known at ``as_of`` (``serving.lists.ledger.team_figures``)."""
    follow, events = read_ledger(store, as_of)
    return team_figures(follow, events, pd.Timestamp(as_of), window_days)


def first_flags(store: Store, period: str, as_of: datetime | None = None) -> pd.DataFrame:
    """The experiment's units for ``period``: each customer flagged in it (either arm), the
    arm and band of their FIRST flag, and where that arm stops being true (``censor_date``):
    for control, the day of the first contact logged after the first flag (they were called
    anyway: ``censor_reason`` "contacted while in control"); else the first day after the
    period (``"period end"``). Only lists and contacts known at ``as_of`` count (all if None).

    Columns: customer_id, period, arm, first_flag_date, band, censor_date, censor_reason.
    """
    columns = [
        "customer_id",
        "period",
        "arm",
        "first_flag_date",
        "band",
        "censor_date",
        "censor_reason",
    ]
    flagged = select(
        risk_scores.c.customer_id,
        risk_scores.c.list_date,
        risk_scores.c.grp,
        risk_scores.c.band,
    ).where(risk_scores.c.period == period, risk_scores.c.flagged.is_(True))
    calls = select(outreach.c.customer_id, outreach.c.contacted_at)
    if as_of is not None:
        known_runs = select(runs.c.run_id).where(runs.c.finished_at <= as_of)
        flagged = flagged.where(risk_scores.c.run_id.in_(known_runs))
        calls = calls.where(outreach.c.recorded_at <= as_of)
    with store.engine.connect() as conn:
        rows = pd.read_sql(flagged, conn)
        contacts = pd.read_sql(calls, conn)
    if not len(rows):
        return pd.DataFrame(columns=columns)
    rows = rows.assign(list_date=pd.to_datetime(rows["list_date"]).dt.date)
    first = (
        rows.sort_values(["customer_id", "list_date"], kind="stable")
        .groupby("customer_id", as_index=False)
        .head(1)
        .rename(columns={"list_date": "first_flag_date", "grp": "arm"})
    )
    end = (pd.Period(period).end_time.normalize() + pd.Timedelta(days=1)).date()
    contacts = contacts.assign(
        day=pd.to_datetime(contacts["contacted_at"], utc=True).dt.date
    ).merge(first[["customer_id", "first_flag_date"]], on="customer_id")
    after = contacts[contacts["day"] >= contacts["first_flag_date"]]
    first_call = after.groupby("customer_id")["day"].min()
    call_day = pd.to_datetime(first["customer_id"].map(first_call).astype(object))  # NaT: none
    end_day = pd.Timestamp(end)
    called = first["arm"].eq("control") & call_day.notna() & (call_day < end_day)
    return first.assign(
        period=period,
        censor_date=call_day.where(called, end_day).dt.date,
        censor_reason=np.where(called, "contacted while in control", "period end"),
    )[columns].reset_index(drop=True)
