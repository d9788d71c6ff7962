"""Shared fixtures: a simulated data DIR and one MLflow store for the whole session."""

import os
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)

REPO = Path(__file__).resolve().parents[1]
ECOMMERCE_CSV = REPO.parent / "shared" / "data" / "ecommerce_csat.csv"


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
