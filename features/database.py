"""The database source: the contract tables in a SQL database, read as a data DIR is read.

``--data`` takes a SQLAlchemy URL (``sqlite:///FILE``, ``postgresql+psycopg://...``) as well
as a DIR. The database holds ``interactions``, ``surveys`` and ``customers`` with the
contract's columns (plus ``extra``: a row's passthrough columns as a JSON object), created
by the numbered steps of ``MIGRATIONS`` (recorded in ``source_schema_version``, so the
risk-list store can share the database), and two tables of agent and team answer history
that the writes in ``features.ingest`` keep current (see there).

Reads are bulk and columnar, never row by row through the ORM: PostgreSQL's ADBC driver
hands each table over as Arrow (binary COPY underneath); SQLite's rows go from sqlite3
straight into typed Arrow arrays. Then every row goes through the same ``validate_table``
as a file's. Times are microseconds (PostgreSQL's
resolution): ``timestamptz`` on PostgreSQL, whole microseconds since 1970-01-01 UTC in an
INTEGER on SQLite (one comparable, indexable number; no text to parse on the way back).

This module owns the schema, the connections and the bulk reads; ``features.live`` reads one
customer for the live routes; ``features.ingest`` owns every write.

Over 400 lines: the table definitions, the per-dialect types and the bulk readers share the
casts and Arrow types; split, each part would restate them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.types import TypeEngine

from features.sqlbase import Migration, apply_migrations, configure_sqlite, version_table
from features.validation import ValidationResult, validate_table
from nps_core.contracts import (
    CONTRACTS,
    CUSTOMERS,
    INTERACTIONS,
    SURVEYS,
    TableContract,
)
from nps_core.errors import ConfigError
from nps_core.redaction import redact
from nps_core.scale import NPS_SCALE, SCALE_KEYS, ScoreScale

SOURCE_TABLES = (INTERACTIONS.name, SURVEYS.name, CUSTOMERS.name)
EXTRA = "extra"  # a row's non-contract columns, as a JSON object of text values
DIALECTS = ("sqlite", "postgresql")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400 * 10**6
LOCK_KEY = 0x6E7073  # PostgreSQL advisory lock: migrations and answer-history writes


class UtcTime(TypeDecorator[datetime]):
    """A UTC time: ``timestamptz`` on PostgreSQL, integer microseconds on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return EPOCH + timedelta(microseconds=int(value))


def micros(value: datetime | pd.Timestamp) -> int:
    """Whole microseconds since 1970-01-01 UTC (naive times are UTC)."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value // 1000)


_SQL_TYPES: dict[str, Any] = {
    "str": Text,
    "timestamp": UtcTime,
    "float": Float,
    "int": BigInteger,
    "bool": Boolean,
}

metadata = MetaData()


def _contract_table(contract: TableContract, *indexes: Index) -> Table:
    columns = [
        Column(c.name, _SQL_TYPES[c.kind](), primary_key=c.name == contract.key)
        for c in contract.columns
    ]
    return Table(contract.name, metadata, *columns, Column(EXTRA, Text), *indexes)


interactions = _contract_table(
    INTERACTIONS, Index("ix_interactions_customer", "customer_id", "opened_at")
)
surveys = _contract_table(
    SURVEYS,
    Index("ix_surveys_customer", "customer_id", "responded_at"),
    Index("ix_surveys_interaction", "interaction_id"),
)
customers = _contract_table(CUSTOMERS)
TABLES: dict[str, Table] = {t.name: t for t in (interactions, surveys, customers)}

source_meta = Table(
    "source_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

source_schema_version = version_table("source_schema_version", metadata)

# One row per survey answer that counts toward agent and team rates: the agent and team of
# the ticket it is about (``features.pipeline.agent_history``'s rule, kept by ingest).
answer_links = Table(
    "answer_links",
    metadata,
    Column("response_id", Text, primary_key=True),
    Column("responded_at", UtcTime(), nullable=False),
    Column("day", Integer, nullable=False),  # UTC days since 1970-01-01
    Column("agent_id", Text),
    Column("team", Text),
    Column("is_detractor", Integer, nullable=False),
    Index("ix_answer_links_agent", "agent_id", "responded_at"),
    Index("ix_answer_links_team", "team", "responded_at"),
    Index("ix_answer_links_time", "responded_at"),
)

# Answers and Detractor answers per (scope, key, UTC day): scope "all" (key ""), "agent" or
# "team". Counts before t = whole days before t's day here + t's own day from answer_links.
answer_days = Table(
    "answer_days",
    metadata,
    Column("scope", String(10), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("answers", BigInteger, nullable=False),
    Column("detractors", BigInteger, nullable=False),
)


def _v1(conn: Connection) -> None:
    for table in (source_meta, interactions, surveys, customers):
        table.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    for table in (answer_links, answer_days):
        table.create(conn, checkfirst=True)


MIGRATIONS: list[Migration] = [
    (1, "contract tables: interactions, surveys, customers; source_meta", _v1),
    (2, "agent and team answer history: answer_links, answer_days", _v2),
]


# --- URLs and connections ------------------------------------------------------------------


def is_database_url(source: object) -> bool:
    """A SQLAlchemy URL (``dialect[+driver]://...``) rather than a folder."""
    return isinstance(source, str) and "://" in source


def check_url(url: str) -> str | None:
    """Why URL cannot name a database source; None when it can. Reads nothing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "is not a database URL (expected e.g. sqlite:///data/source.db or postgresql+psycopg://HOST/DB)"
    if parsed.get_backend_name() not in DIALECTS:
        return f"names a {parsed.get_backend_name()} database (expected sqlite or postgresql)"
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return "names an in-memory SQLite database (expected a file: sqlite:///PATH)"
    return None


def shown_url(url: str | Path) -> str:
    """The URL with its password masked: what messages, reports and runs may show."""
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


@dataclass(frozen=True)
class Source:
    """A database source: its SQLAlchemy engine, schema up to date."""

    url: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def shown(self) -> str:
        return shown_url(self.url)

    def sqlite_path(self) -> str:
        database = make_url(self.url).database
        assert database  # check_url refuses in-memory SQLite
        return database

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction, serialised with every other writer of this source: SQLite's
        write lock taken at BEGIN (IMMEDIATE), a transaction-level advisory lock on PostgreSQL."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield conn


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """BEGIN issued by us, below, not by pysqlite; a writer waits up to 30 s for another."""
    configure_sqlite(dbapi_connection, "busy_timeout=30000")


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE: a writer takes the write lock before it reads, so two writers never read
    # the same answer counts and then both add to them
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=16)
def _engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        Path(make_url(url).database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def open_source(url: str, *, create: bool = True) -> Source:
    """Connect and bring the schema up to date. ``create=False``: a SQLite file must exist."""
    problem = check_url(url)
    if problem:
        raise ConfigError(f"database {shown_url(url)} {problem}")
    parsed = make_url(url)
    if (
        not create
        and parsed.get_backend_name() == "sqlite"
        and not Path(parsed.database or "").is_file()
    ):
        raise FileNotFoundError(
            f"database {shown_url(url)} does not exist; fill it with `nps-risk load --data DIR --into URL`"
        )
    source = Source(url, _engine(url))
    _migrate(source)
    return source


def _migrate(source: Source) -> None:
    with source.writing() as conn:
        apply_migrations(conn, source_schema_version, MIGRATIONS)


def read_scale(source: Source) -> ScoreScale:
    """The score scale recorded by ``load`` (``dataset.json``'s); NPS 0-10 if none."""
    with source.engine.connect() as conn:
        raw = conn.execute(select(source_meta.c.value).where(source_meta.c.key == "scale")).scalar()
    if raw is None:
        return NPS_SCALE
    scale = json.loads(raw)
    if not isinstance(scale, dict) or sorted(scale) != sorted(SCALE_KEYS):
        raise ConfigError(f"database {source.shown}: source_meta 'scale' is not a score scale")
    return ScoreScale(**{k: int(v) for k, v in scale.items()})


@contextmanager
def reachable(url: str) -> Iterator[None]:
    """Driver errors (server down, no such database, bad password) as one ConfigError that
    names the database without its password."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise ConfigError(f"database {shown_url(url)}: {_masked(url, exc)}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("adbc_driver"):
            raise ConfigError(f"database {shown_url(url)}: {_masked(url, exc)}") from None
        raise


def _masked(url: str, exc: BaseException) -> str:
    """The driver's message on one line, the URL's password and any URI credential masked."""
    message = " ".join(str(getattr(exc, "orig", None) or exc).split())
    password = make_url(url).password
    return redact(message.replace(str(password), "***") if password else message)


# --- bulk reads -----------------------------------------------------------------------------


@contextmanager
def arrow_connection(source: Source) -> Iterator[Any]:
    """An ADBC DB-API connection to a PostgreSQL source (Arrow in and out, binary COPY).

    Not for SQLite: its ADBC driver carries its own copy of SQLite, and two copies of SQLite
    on one file in one process can corrupt it (their POSIX locks undo each other), so a
    SQLite source is only ever opened through Python's sqlite3.
    """
    if source.dialect != "postgresql":
        raise ValueError("ADBC is used for PostgreSQL sources only")
    import adbc_driver_postgresql.dbapi as pg_adbc

    plain = make_url(source.url).set(drivername="postgresql")
    conn = pg_adbc.connect(plain.render_as_string(hide_password=False))
    try:
        yield conn
    finally:
        conn.close()


def _select_all(table: Table, dialect: str) -> str:
    columns = [c.name for c in table.columns]
    if dialect == "sqlite":
        # typed per column, so nothing is guessed from whatever values a column happens to hold
        casts = {
            "str": "TEXT",
            "timestamp": "INTEGER",
            "float": "REAL",
            "int": "INTEGER",
            "bool": "INTEGER",
        }
        contract = CONTRACTS[table.name]
        parts = [
            f"CAST({name} AS {casts[contract.column(name).kind] if name in contract.names else 'TEXT'}) AS {name}"
            for name in columns
        ]
        return f"SELECT {', '.join(parts)} FROM {table.name}"
    return f"SELECT {', '.join(columns)} FROM {table.name}"


def read_arrow(source: Source, names: Sequence[str] = SOURCE_TABLES) -> dict[str, pa.Table]:
    """Each named table whole, as Arrow. PostgreSQL: ADBC (binary COPY into typed Arrow
    columns; as fast as ``COPY ... (FORMAT csv)`` into ``pyarrow.csv``, which gets booleans
    as text and guesses other types). SQLite: sqlite3's rows of a typed SELECT straight into
    Arrow arrays of the contract's types (a fifth faster than ``pandas.read_sql`` with the
    Arrow backend). Figures: docs/benchmarks.md, "Live data"."""
    out = {}
    if source.dialect == "postgresql":
        with arrow_connection(source) as conn, conn.cursor() as cursor:
            for name in names:
                cursor.execute(_select_all(TABLES[name], source.dialect))
                out[name] = cursor.fetch_arrow_table()
        return out
    with source.engine.connect() as conn:
        driver = conn.connection.driver_connection  # plain tuples: no Row object per row
        assert driver is not None
        for name in names:
            table = TABLES[name]
            rows = driver.execute(_select_all(table, source.dialect)).fetchall()
            columns = list(zip(*rows, strict=True))
            if not columns:
                columns = [()] * len(table.columns)
            out[name] = pa.table(
                {
                    column.name: pa.array(values, type=_sqlite_type(table.name, column.name))
                    for column, values in zip(table.columns, columns, strict=True)
                }
            )
    return out


def _sqlite_type(table: str, column: str) -> pa.DataType:
    """How a SQLite column comes back from ``_select_all``'s casts."""
    contract = CONTRACTS[table]
    if column not in contract.names:
        return pa.string()
    kind = contract.column(column).kind
    return pa.int64() if kind in ("timestamp", "bool") else ARROW_TYPES[kind]


def to_frame(table: pa.Table, contract: TableContract) -> pd.DataFrame:
    """Arrow columns as the raw frame ``validate_table`` takes: times as UTC timestamps,
    nullable ints and bools as pandas' nullable dtypes, ``extra`` spread into its columns."""
    columns = {}
    for name in contract.names:
        values = table.column(name)
        kind = contract.column(name).kind
        if kind == "timestamp" and not pa.types.is_timestamp(values.type):
            values = pc.cast(pc.cast(values, pa.int64()), ARROW_TYPES[kind])
        elif kind == "bool" and not pa.types.is_boolean(values.type):
            values = pc.not_equal(pc.cast(values, pa.int64()), 0)
        else:
            values = pc.cast(values, ARROW_TYPES[kind])
        columns[name] = values
    frame: pd.DataFrame = pa.table(columns).to_pandas(types_mapper=PANDAS_TYPES.get)
    extras = extra_columns(table.column(EXTRA), len(frame))
    return pd.concat([frame, extras], axis=1) if len(extras.columns) else frame


ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "bool": pa.bool_(),
}
TIME_NS = pa.timestamp("ns", tz="UTC")
PANDAS_TYPES: dict[pa.DataType, Any] = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def extra_columns(values: pa.ChunkedArray | pa.Array, n: int) -> pd.DataFrame:
    """The JSON objects of ``extra`` as text columns (missing where a row lacks the key)."""
    if values.null_count == len(values):
        return pd.DataFrame(index=pd.RangeIndex(n))
    text_values = pd.Series(pd.array(pc.cast(values, pa.string()), dtype="str"))
    present = text_values.notna().to_numpy()
    parsed = [json.loads(v) for v in text_values[present]]
    frame = pd.DataFrame(parsed, index=np.flatnonzero(present)).reindex(pd.RangeIndex(n))
    return frame.astype("str").where(frame.notna())


def read_tables(
    url: str, *, workers: int = 1
) -> tuple[dict[str, ValidationResult], ScoreScale, str]:
    """Every contract table of the database, validated like a file (kept rows, quarantine).

    Returns the results by table, the recorded score scale and the URL as it may be shown.
    """
    with reachable(url):
        source = open_source(url, create=False)
        scale = read_scale(source)
        arrow = read_arrow(source)
    results = {
        name: validate_table(
            to_frame(arrow.pop(name), CONTRACTS[name]),
            CONTRACTS[name],
            source=f"{source.shown}#{name}",
            scale=scale,
            workers=workers,
        )
        for name in SOURCE_TABLES
    }
    return results, scale, source.shown
