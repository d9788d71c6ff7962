"""A throwaway PostgreSQL cluster for the tests, started from the machine's own binaries.

Order of preference: ``NPS_RISK_TEST_POSTGRES_URL`` (a server someone else runs), else
``initdb`` + ``pg_ctl`` found on PATH or under /usr/lib/postgresql/*/bin, started in a temp
folder on a free port of 127.0.0.1 and stopped at the end of the session. As root the
cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

REQUIRE_ENV = "NPS_RISK_REQUIRE_POSTGRES"  # set by .ci/run: a missing PostgreSQL fails


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *command]


@contextlib.contextmanager
def throwaway_cluster(bin_dir: Path) -> Iterator[str]:
    """Start a cluster, yield its SQLAlchemy URL, stop it and remove its files."""
    root = Path(tempfile.mkdtemp(prefix="nps-risk-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run(
            _as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
            **run,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options]
        subprocess.run(_as_owner([*pg_ctl, "-l", str(root / "log"), "-w", "start"]), **run)
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}{log}") from exc
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
