"""Shared fixtures: a simulated data DIR and one MLflow store for the whole session."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from benchmarks.paths import ECOMMERCE_CSV, REPO  # noqa: F401  (re-exported for tests)
from tests import postgres

_POSTGRES: dict[str, str] = {}
_POSTGRES_TESTS_RAN = [False]

# speed is measured in benchmarks, never in tests: no per-example deadline (a loaded 2-core
# machine makes Hypothesis's 200 ms deadline a source of flaky failures)
hypothesis_settings.register_profile("nps-risk", deadline=None)
hypothesis_settings.load_profile("nps-risk")

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    """A small simulated data DIR (canonical tables + truth), written once."""
    from features.simulate import SimulationConfig, simulate, write_simulation

    out = tmp_path_factory.mktemp("sim")
    write_simulation(simulate(SimulationConfig(customers=3000, days=240, seed=11)), out)
    return out


@pytest.fixture(scope="session")
def mlflow_home(tmp_path_factory) -> Path:
    """A project home whose mlruns/ holds one SQLite store for the session."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def settings(mlflow_home):
    from nps_core.config import Settings

    return Settings(home=mlflow_home, daily_capacity=20)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session: the one named by NPS_RISK_TEST_POSTGRES_URL, or a
    throwaway cluster from the machine's binaries. Without either the test is skipped, with
    a banner, unless NPS_RISK_REQUIRE_POSTGRES is set (CI), where it fails."""
    given = os.environ.get("NPS_RISK_TEST_POSTGRES_URL")
    if given:
        _POSTGRES["used"] = given
        yield given
        return
    bin_dir = postgres.binaries()
    if bin_dir is None:
        message = "PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL store tests SKIPPED"
        if postgres.required():
            pytest.fail(f"{message}, but {postgres.REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(message)
    with postgres.throwaway_cluster(bin_dir) as url:
        _POSTGRES["used"] = url
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty store: SQLite in a temp folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    server = request.getfixturevalue("postgres_url")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = server.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def pytest_terminal_summary(terminalreporter):
    if _POSTGRES_TESTS_RAN[0] and "used" not in _POSTGRES:
        terminalreporter.write_line(
            "WARNING: PostgreSQL binaries were not found; the store ran on SQLite only. "
            "CI (.ci/run) installs them.",
            yellow=True,
            bold=True,
        )


def pytest_collection_modifyitems(items):
    _POSTGRES_TESTS_RAN[0] = any("postgres" in item.nodeid for item in items)
