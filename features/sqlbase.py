"""What our SQL databases share (the data source in features, the risk-list store in serving):
numbered schema steps recorded in a version table, and how a SQLite connection is set up.
The caller holds the lock (and the transaction) under which missing steps run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
)

Migration = tuple[int, str, Callable[[Connection], None]]


def version_table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("version", Integer, primary_key=True),
        Column("applied_at", DateTime(timezone=True), nullable=False),
        Column("description", Text, nullable=False),
    )


def apply_migrations(conn: Connection, versions: Table, steps: Sequence[Migration]) -> None:
    """Create the version table if needed, read the applied version (inside the caller's
    lock: a process that waited finds the work done) and apply each missing step."""
    versions.create(conn, checkfirst=True)
    current = int(conn.execute(select(func.max(versions.c.version))).scalar() or 0)
    for number, description, step in steps:
        if number > current:
            step(conn)
            conn.execute(
                insert(versions).values(
                    version=number, applied_at=datetime.now(UTC), description=description
                )
            )


def configure_sqlite(dbapi_connection: Any, *pragmas: str) -> None:
    """WAL (readers never wait for the writer), NORMAL sync, then ``pragmas``; the driver's
    own transaction handling off, so the caller's BEGIN says how a transaction starts."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", *pragmas):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
