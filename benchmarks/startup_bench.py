"""How long `nps-risk serve` takes to answer /healthz, with the registry up and down.

Three cases, each a fresh `nps-risk serve` process timed from its start to the first
/healthz 200 (and /readyz 200 where a model serves): the embedded registry with a champion
(the baseline: imports and one load), a PostgreSQL registry that refuses connections with
the last good local copy on disk, and the same without any copy. Issue 16: MLflow's own
connection retries held the start 105 s when the registry refused.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import BenchOptions, in_fresh_process, log
from benchmarks.api_bench import _free_port, _server_env
from benchmarks.paths import REPO

LIMIT_S = 300.0


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def time_start(home: str, tracking_uri: str | None, *, code: Path = REPO) -> dict[str, Any]:
    """Seconds from spawning `nps-risk serve` to /healthz 200, and to /readyz 200 (or None);
    ``code`` is the checkout to run (another commit's, to compare)."""
    port = _free_port()
    env = _server_env(NPS_RISK_HOME=home)
    if tracking_uri:
        env["NPS_RISK_MLFLOW_TRACKING_URI"] = tracking_uri
    base = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "serving.cli", "serve", "--log-level", "warning"]
    began = time.monotonic()
    server = subprocess.Popen(
        [*serve, "--port", str(port)],
        env=env,
        cwd=code,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    healthy = ready = None
    try:
        while time.monotonic() - began < LIMIT_S and healthy is None:
            if _status(f"{base}/healthz") == 200:
                healthy = time.monotonic() - began
            else:
                time.sleep(0.05)
        if healthy is not None and _status(f"{base}/readyz") == 200:
            ready = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(30)
    return {"healthz_s": healthy, "readyz_s": ready, "load_avg_1m": os.getloadavg()[0]}


def _train_champion(home: str) -> str:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    from features.simulate import SimulationConfig, simulate, write_simulation
    from nps_core.config import Settings
    from training.registry import CHAMPION, load_model, promote
    from training.workflow import train_from_data

    data = Path(home) / "train-data"
    write_simulation(simulate(SimulationConfig(customers=2000, days=180, seed=5)), data)
    settings = Settings(home=Path(home))
    train_from_data(settings, data)
    promote(settings)
    return load_model(settings, CHAMPION).version  # leaves the last good local copy


def refusing_uri() -> str:
    """A PostgreSQL registry on a port where nothing listens (a password, as in real life)."""
    return f"postgresql://nps:secret@127.0.0.1:{_free_port()}/mlflow"


def run(options: BenchOptions) -> dict[str, Any]:
    repeats = options.repeats or (1 if options.quick else 3)
    rows: dict[str, dict[str, Any]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as empty:
        version = in_fresh_process(_train_champion, home)
        log(f"champion version {version}; timing each start x{repeats}")
        cases = {
            "registry up (embedded SQLite)": (home, None),
            "registry refuses, local copy": (home, refusing_uri()),
            "registry refuses, no copy": (empty, refusing_uri()),
        }
        for name, (where, uri) in cases.items():
            runs[name] = [time_start(where, uri) for _ in range(repeats)]
            healthz = [r["healthz_s"] for r in runs[name] if r["healthz_s"] is not None]
            readyz = [r["readyz_s"] for r in runs[name] if r["readyz_s"] is not None]
            rows[name] = {
                "healthz_median_s": statistics.median(healthz) if healthz else None,
                "healthz_max_s": max(healthz) if healthz else None,
                "readyz_median_s": statistics.median(readyz) if readyz else None,
                "load_avg_1m_max": max(r["load_avg_1m"] for r in runs[name]),
            }
    return {
        "rows": rows,
        "notes": "seconds from spawning `nps-risk serve` to the first /healthz 200 and /readyz 200 "
        "(None: no model serves, /readyz answers 503); a refusing registry used to hold the start ~105 s",
        "runs": runs,
    }
