"""A real uvicorn server on 127.0.0.1 serving a champion trained for this session."""

import hashlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from nps_core.config import Settings

USER_KEY, ADMIN_KEY = "user-key-for-tests", "admin-key-for-tests"
MAX_BATCH, MAX_BODY = 50, 400_000


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    settings: Settings
    log: list[str]

    def client(self, key: str | None = USER_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {USER_KEY}"}


@pytest.fixture(scope="session")
def serving_settings(tmp_path_factory, sim_dir) -> Settings:
    """Its own MLflow home (the training tests move aliases in theirs), with a champion."""
    from training.registry import promote
    from training.workflow import train_from_data

    settings = Settings(
        home=tmp_path_factory.mktemp("serving-home"), max_batch=MAX_BATCH, max_body_bytes=MAX_BODY
    )
    train_from_data(settings, sim_dir)
    assert promote(settings).promoted
    return settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings: Settings, **env_overrides: str) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "NPS_RISK_HOME": str(settings.home),
        "NPS_RISK_API_KEYS": _digest(USER_KEY),
        "NPS_RISK_ADMIN_KEYS": _digest(ADMIN_KEY),
        "NPS_RISK_MAX_BATCH": str(settings.max_batch),
        "NPS_RISK_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # a loaded test machine may take over the 5 s default to load from a healthy registry
        "NPS_RISK_REGISTRY_TIMEOUT_S": "60",
        **env_overrides,
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "serving.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    log: list[str] = []
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # a thread, not select(): select misses lines already in the buffer
        for line in iter(process.stderr.readline, ""):
            log.append(line)
            lines.put(line)
        lines.put("")  # the process closed its stderr

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 240  # generous: a loaded 2-core machine starts slowly
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if "Uvicorn running on" in line:  # logged after the socket is bound
            return Server(f"http://127.0.0.1:{port}", process, settings, log)
        if line == "":
            break
    process.kill()
    raise RuntimeError("server did not start:\n" + "".join(log))


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def api_server(serving_settings):
    # with a database source, so the live-data routes answer (and are fuzzed) too
    source = f"sqlite:///{serving_settings.home / 'source.db'}"
    server = start_server(serving_settings, NPS_RISK_DATA_URL=source)
    yield server
    stop_server(server)
