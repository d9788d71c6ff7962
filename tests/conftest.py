"""Shared fixtures: a simulated data DIR and one MLflow store for the whole session."""

import os
from pathlib import Path

import pytest

from benchmarks.paths import ECOMMERCE_CSV, REPO  # noqa: F401  (re-exported for tests)

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


def _store_urls() -> list:
    pg = os.environ.get("NPS_RISK_TEST_POSTGRES_URL")
    reason = "NPS_RISK_TEST_POSTGRES_URL is not set: PostgreSQL store tests SKIPPED (run .ci/run to get one)"
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(pg, id="postgresql", marks=[] if pg else [pytest.mark.skip(reason=reason)]),
    ]


@pytest.fixture(params=_store_urls())
def store_url(request, tmp_path) -> str:
    """A fresh, empty store: SQLite in a temp folder, or a new schema-less PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(request.param, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = request.param.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def pytest_terminal_summary(terminalreporter):
    if not os.environ.get("NPS_RISK_TEST_POSTGRES_URL"):
        terminalreporter.write_line(
            "WARNING: PostgreSQL was not available; the store ran on SQLite only. CI (.ci/run) starts one.",
            yellow=True,
            bold=True,
        )
