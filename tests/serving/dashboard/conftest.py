"""A small simulated world (a champion, eight daily lists, calls, worked follow-ups, a database
source) served by a real uvicorn on 127.0.0.1, and the headless Chromium that opens it."""

import os
from pathlib import Path

import pytest

from nps_core.config import Settings
from serving.api.auth import digest
from serving.screenshots import CHROMIUM, build_world, server_env
from tests.serving.conftest import USER_KEY, start_server, stop_server

REQUIRE_ENV = "NPS_RISK_REQUIRE_CHROMIUM"  # set by .ci/run: a missing browser fails, not skips


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        message = f"{CHROMIUM} not found (Debian's chromium package): browser tests SKIPPED"
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false"):
            pytest.fail(f"{message}, but {REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("dashboard-world"))


@pytest.fixture(scope="session")
def dashboard_server(world):
    server = start_server(Settings(home=world.folder), **server_env(world, digest(USER_KEY)))
    yield server
    stop_server(server)
