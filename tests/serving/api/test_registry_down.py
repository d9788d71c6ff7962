"""An unreachable registry never holds the server, and no answer or log line gives away a
credential (issue 16, "Security")."""

import re
import sqlite3
import threading
import time

import pytest

from nps_core.config import Settings
from serving.api import state
from serving.api.app import create_app
from serving.predictor import ServingModel
from tests.serving.conftest import ADMIN_KEY, USER_KEY, _free_port, start_server, stop_server
from tests.serving.inprocess import InProcessClient
from training.registry import CHAMPION, load_model

PASSWORD = "s3cret-Pa55word"
NO_MODEL = {"error": "no model loaded"}
# MLflow's own store retries a refused connection for ~100 s; the server must not wait that
START_LIMIT_S = 60


def _refusing(database: str = "mlflow") -> str:
    """A PostgreSQL URI, with a password, on a port where nothing listens."""
    return f"postgresql://nps:{PASSWORD}@127.0.0.1:{_free_port()}/{database}"


def _timed_start(settings: Settings, **env: str):
    began = time.monotonic()
    server = start_server(settings, **env)
    return server, time.monotonic() - began


def _wait_for(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_a_refusing_registry_and_no_local_copy_start_in_seconds_without_a_model(tmp_path):
    server, took = _timed_start(Settings(home=tmp_path), NPS_RISK_MLFLOW_TRACKING_URI=_refusing())
    try:
        with server.client() as c:
            assert c.get("/healthz").status_code == 200
            for path in ("/readyz", "/v1/model"):
                r = c.get(path)
                assert r.status_code == 503 and r.json() == NO_MODEL, (path, r.text)
            r = c.post("/v1/predict", json={"customers": [{"customer_id": "c", "features": {}}]})
            assert r.status_code == 503 and r.json() == NO_MODEL
    finally:
        stop_server(server)
    log = "".join(server.log)
    assert took < START_LIMIT_S, f"{took:.0f} s to start:\n{log}"
    assert "cannot be reached" in log and "again in the background" in log


def test_a_refusing_registry_serves_the_last_good_local_copy(serving_settings):
    champion = load_model(serving_settings, CHAMPION)  # leaves the local copy
    server, took = _timed_start(serving_settings, NPS_RISK_MLFLOW_TRACKING_URI=_refusing())
    try:
        with server.client() as c:
            assert c.get("/readyz").json()["model_version"] == champion.version
            info = c.get("/v1/model").json()
    finally:
        stop_server(server)
    assert took < START_LIMIT_S, "".join(server.log)
    assert info["source"] == "local-cache" and info["version"] == champion.version


def test_the_champion_is_swapped_in_when_the_registry_comes_back(serving_settings, tmp_path):
    """The registry's folder is a plain file at start (MLflow cannot open it); once the
    registry is there, the background task loads the champion without a restart."""
    registry = tmp_path / "registry"
    registry.write_text("not a folder")
    server = start_server(
        Settings(home=tmp_path / "home"),
        NPS_RISK_MLFLOW_TRACKING_URI=f"sqlite:///{registry}/mlflow.db",
        NPS_RISK_REGISTRY_RETRY_MAX_S="1",
    )
    try:
        with server.client() as c:
            assert c.get("/readyz").json() == NO_MODEL
            registry.unlink()
            registry.mkdir()
            source = sqlite3.connect(serving_settings.mlruns_path / "mlflow.db")
            with sqlite3.connect(registry / "mlflow.db") as copy:
                source.backup(copy)  # a consistent copy, whatever other tests write meanwhile
            source.close()
            assert _wait_for(lambda: c.get("/readyz").status_code == 200, 120), "".join(server.log)
            info = c.get("/v1/model").json()
            metrics = c.get("/metrics").text
    finally:
        stop_server(server)
    assert info["source"] == "registry"
    assert info["version"] == load_model(serving_settings, CHAMPION).version
    assert 'nps_risk_model_reloads_total{outcome="swapped"} 1.0' in metrics


def test_the_start_waits_for_a_hanging_registry_no_longer_than_its_deadline(
    serving_settings, monkeypatch
):
    """In process: a registry that hangs keeps the start waiting ``registry_timeout_s``; its
    late answer is swapped in when it comes."""
    answer = threading.Event()
    model = ServingModel(load_model(serving_settings, CHAMPION))

    def hanging(settings: Settings, *, use_cache: bool = True) -> ServingModel:
        answer.wait(60)
        return model

    monkeypatch.setattr(state, "build_serving_model", hanging)
    monkeypatch.setattr(state, "build_cached_model", lambda settings: None)
    settings = Settings(home=serving_settings.home, registry_timeout_s=0.5)
    began = time.monotonic()
    with InProcessClient(create_app(settings)) as client:
        took = time.monotonic() - began
        assert client.get("/readyz").json() == NO_MODEL
        answer.set()
        assert _wait_for(lambda: client.get("/readyz").status_code == 200, 30)
        assert client.get("/readyz").json()["model_version"] == model.version
    assert took < 10


def test_no_answer_or_log_line_carries_a_password(tmp_path):
    """Every route, with no key, a user key and an admin key, while the registry and the
    store both refuse connections through URIs holding a password."""
    server = start_server(
        Settings(home=tmp_path),
        NPS_RISK_MLFLOW_TRACKING_URI=_refusing(),
        NPS_RISK_DATABASE_URL=_refusing("store"),
    )
    answers = []
    try:
        with server.client(key=None) as anonymous:
            spec = anonymous.get("/openapi.json").json()
            routes = [
                (method.upper(), re.sub(r"\{[^}]+\}", "someone", path))
                for path, item in spec["paths"].items()
                for method in item
            ]
            routes += [("GET", "/docs"), ("GET", "/healthz"), ("GET", "/readyz")]
            body = {"customers": [{"customer_id": "c", "features": {}}]}
            for key in (None, USER_KEY, ADMIN_KEY):
                for method, path in routes:
                    # a client each: uvicorn drops the connection after a 500
                    with server.client(key=key) as c:
                        r = c.request(method, path, json=body if method == "POST" else None)
                    answers.append((key, method, path, r.status_code, r.text))
    finally:
        stop_server(server)
    leaks = [a for a in answers if PASSWORD in a[-1]]
    assert not leaks, leaks
    unauthenticated = {(m, p): code for key, m, p, code, _ in answers if key is None}
    assert unauthenticated[("GET", "/readyz")] == 503
    anonymous_readyz = next(t for k, m, p, _, t in answers if k is None and p == "/readyz")
    assert anonymous_readyz == '{"error":"no model loaded"}'
    reload_answer = next(t for k, m, p, c, t in answers if k == ADMIN_KEY and p.endswith("reload"))
    assert "reload refused" in reload_answer and "nps:***@" in reload_answer
    assert any(code == 500 for key, m, p, code, _ in answers if p == "/v1/risk-list")
    log = "".join(server.log)
    assert PASSWORD not in log
    assert "nps:***@127.0.0.1" in log  # the detail is logged, masked
    assert "Traceback" in log  # the store's failure was logged in full, and masked too


@pytest.mark.parametrize("uri", [_refusing(), "http://nps:" + PASSWORD + "@127.0.0.1:9/"])
def test_the_cli_says_one_masked_line_when_the_registry_refuses(uri, tmp_path, capsys):
    from serving.cli import main

    began = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NPS_RISK_HOME", str(tmp_path))
        patch.setenv("NPS_RISK_MLFLOW_TRACKING_URI", uri)
        from nps_core.config import get_settings

        get_settings.cache_clear()
        try:
            assert main(["promote"]) == 2
        finally:
            get_settings.cache_clear()
    err = capsys.readouterr().err
    assert time.monotonic() - began < START_LIMIT_S
    assert PASSWORD not in err and "nps:***@127.0.0.1" in err and "cannot be reached" in err
    assert len(err.strip().splitlines()) == 1
