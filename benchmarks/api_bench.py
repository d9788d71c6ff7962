"""The API under load (issue 5): our /v1/predict beside `mlflow models serve` and a bare floor.

Real servers on 127.0.0.1, each a single uvicorn worker started as a subprocess, all
answering for the same champion and the same customer:

- ``ours``: ``python -m serving.cli serve`` (access log off), one customer given as
  precomputed feature values, with reasons; ``ours raw`` is the same customer given as raw
  interactions (the feature pipeline runs in the request), reported as an extra row;
  ``ours omp1`` is the same server with OMP_NUM_THREADS=1 (LightGBM on one thread, as the
  floor runs it);
- ``mlflow``: ``mlflow models serve -m models:/nps-detractor@champion --env-manager local``
  with the same feature values in MLflow's ``dataframe_split`` body (probability only);
- ``floor``: ``floor_app`` below, a FastAPI endpoint that only calls ``Booster.predict`` on
  a fixed numpy row: what HTTP plus one LightGBM call cost on this machine; ``floor shap``
  is the same app's second endpoint, which also computes the SHAP values reasons need.

Load comes from ``wrk`` (``benchmarks.wrk``: closed loop, keep-alive, one thread), which the
benchmark needs and names when it is missing. Each setting is warmed up, then measured for a
fixed time at concurrency 1 and 16. Client and server share the machine's cores, so the
figures are what one box does talking to itself; the server's own CPU time per request
(psutil, over the server's process tree) is reported beside them as the less
load-dependent figure. Setup (simulate, train, promote a champion in a temporary home) runs
in a fresh interpreter and is never timed.

httpx checks that every server gives the same answer and times the 1000-customer batch, but
it does not time single requests. Measured at c=1 against the same floor and ours servers
(quick-mode model, 5 s per client, 2 rounds each; 3 runs on a shared 2-core box at 1-minute
load 3.5-4.0, 6.9-7.9 and 9.1-10.5; the first run did not take wrk's CPU nor try asyncio):

                                  client CPU / request   p50 floor / ours (load 3.5-4.0)
    wrk -c1                       0.04-0.09 ms           0.25-0.31 / 0.59-0.62 ms
    httpx.Client, one at a time   0.46-1.21 ms           0.70-0.83 / 1.14-1.44 ms
    the former asyncio client     0.09-0.24 ms           (not run at that load)

Our server's whole request costs 0.5-1.5 ms of CPU, so httpx would spend about as much again
on 2 shared cores and double the c=1 p50. For the batch (0.5-0.7 s a request at load 9) its
6.5-9.6 ms of client CPU is 1-2%. The former hand-written client (raw asyncio sockets, the
fallback when wrk was absent) took 2-3x wrk's CPU for the same job; it went, and without wrk
the benchmark stops and says how to install it rather than measure through a weaker client.

One module past ~400 lines: setup, servers, the checks and the verdicts are one experiment,
read top to bottom.

Over 400 lines: five servers, their setup, the load runs and the report share one
champion and one set of request bodies; split apart, each would rebuild them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from benchmarks import BenchOptions, in_fresh_process, log, wrk

if TYPE_CHECKING:  # the floor server imports FastAPI itself, when it starts
    from fastapi import FastAPI

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PY = (sys.executable, "-m")
MLFLOW_MODEL = "models:/nps-detractor@champion"
MLFLOW_FLAGS = ("--env-manager", "local", "-w", "1", "--host", HOST, "-p")
FLOOR_FLAGS = ("--factory", "--log-level", "warning", "--no-access-log", "--host", HOST, "--port")
CONCURRENCY = (1, 16)
BATCH_SIZE = 1000
TARGETS = {
    "p50_ms_c1": 2.0,
    "p99_ms_c1": 5.0,
    "x_mlflow_throughput": 10.0,  # ours / mlflow, at each concurrency
    "floor_factor": 3.0,  # ours within 3x the floor's throughput, at each concurrency
    "batch_ms_per_customer": 0.3,
}
COLUMNS = (
    "server",
    "body",
    "c",
    "requests",
    "req_per_s",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "server_cpu_ms_per_req",
    "errors",
    "load_avg_1m",
    "runs",
    "median_ms",
    "min_ms",
    "max_run_ms",
    "ms_per_customer",
    "target",
    "met",
)


@dataclass(frozen=True)
class Sizes:
    customers: int
    days: int
    duration_s: int
    warmup_s: int
    batch_runs: int


FULL = Sizes(customers=3000, days=240, duration_s=10, warmup_s=3, batch_runs=5)
QUICK = Sizes(customers=1500, days=200, duration_s=3, warmup_s=1, batch_runs=3)


# --- the floor ---------------------------------------------------------------------------
def floor_app() -> FastAPI:
    """The floor: FastAPI around one ``Booster.predict`` on a fixed row; the body is not read.

    uvicorn ``--factory`` calls this; the booster file, the row (.npy) and the iteration count
    come from NPS_BENCH_BOOSTER, NPS_BENCH_ROW and NPS_BENCH_ITERATIONS.
    """
    import lightgbm as lgb
    import numpy as np
    from fastapi import FastAPI

    booster = lgb.Booster(model_file=os.environ["NPS_BENCH_BOOSTER"])
    row = np.load(os.environ["NPS_BENCH_ROW"])
    iterations = int(os.environ.get("NPS_BENCH_ITERATIONS", "0")) or None
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict", response_model=None)
    async def predict() -> dict[str, float]:
        return {"probability": float(booster.predict(row, num_iteration=iterations)[0])}

    @app.post("/contributions", response_model=None)
    async def contributions() -> dict[str, float]:
        """Not the issue's floor: the same plus the SHAP values our reasons need."""
        contrib = booster.predict(row, num_iteration=iterations, pred_contrib=True)
        return {"raw_score": float(contrib.sum())}

    return app


# --- setup (fresh interpreter) -----------------------------------------------------------
def prepare(home: str, customers: int, days: int) -> dict[str, Any]:
    """Simulate, train and promote a champion in ``home``; write every request body there.

    The chosen customer is the busiest of the last 14 days (as in ``make demo``); its
    feature values are what the API's own raw-interaction path computes, so all bodies
    describe the same row.
    """
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import numpy as np
    import pandas as pd

    from features.dataset import load_dataset
    from features.rows import snapshot_as_of
    from features.simulate import SimulationConfig, simulate, write_simulation
    from nps_core.config import Settings
    from serving.api.examples import raw_customer
    from serving.api.schemas import CustomerIn, online_customer
    from serving.predictor import ServingModel
    from training.registry import CHAMPION, load_model, promote
    from training.workflow import train_from_data

    root = Path(home)
    data = root / "data"
    write_simulation(simulate(SimulationConfig(customers=customers, days=days, seed=11)), data)
    settings = Settings(home=root)
    train_from_data(settings, data)
    decision = promote(settings)
    if not decision.promoted:
        raise RuntimeError(f"no champion to serve: {decision.reason}")
    served = ServingModel(load_model(settings, CHAMPION))

    dataset = load_dataset(data)
    as_of = (dataset.interactions["opened_at"].max() + pd.Timedelta(hours=1)).floor("h")
    recent = dataset.interactions[dataset.interactions["opened_at"] > as_of - pd.Timedelta(days=14)]
    customer = str(recent["customer_id"].value_counts().index[0])
    raw = raw_customer(dataset, customer, as_of)
    matrix = served.matrix_from_raw([online_customer(CustomerIn.model_validate(raw))])
    values = _feature_values(served, matrix[0])
    again = served.matrix_from_features([values], ["body"])
    if not np.array_equal(again, matrix, equal_nan=True):
        raise RuntimeError("feature values do not round-trip to the same model row")
    expected = served.answer([customer], matrix)[0]

    snapshot = snapshot_as_of(
        dataset.interactions, dataset.surveys, dataset.customers, as_of, served.spec
    )
    rows = served.model.encoder_.transform(snapshot)
    ids = snapshot["customer_id"].astype(str).tolist()
    batch = [
        {
            "customer_id": f"{ids[i % len(ids)]}-{i}",
            "features": _feature_values(served, rows[i % len(ids)]),
        }
        for i in range(BATCH_SIZE)
    ]

    bodies = {
        "ours": {"customers": [{"customer_id": customer, "features": values}]},
        "ours_raw": {"customers": [raw]},
        "mlflow": {
            "dataframe_split": {
                "columns": served.features,
                "data": [[values[f] for f in served.features]],
            }
        },
        "batch": {"customers": batch},
    }
    paths = {}
    for name, body in bodies.items():
        paths[name] = str(root / f"body_{name}.json")
        Path(paths[name]).write_text(json.dumps(body, allow_nan=False))
    paths["floor_booster"] = str(root / "floor_booster.txt")
    shutil.copyfile(served.loaded.folder / "booster.txt", paths["floor_booster"])
    paths["floor_row"] = str(root / "floor_row.npy")
    np.save(paths["floor_row"], matrix)
    return {
        "paths": paths,
        "customer": customer,
        "as_of": as_of.isoformat(),
        "model_version": served.version,
        "features": len(served.features),
        "raw_interactions": len(raw["interactions"]),
        "raw_surveys": len(raw["surveys"]),
        "batch_distinct_customers": min(len(ids), BATCH_SIZE),
        "iterations": served.iterations or 0,
        "expected_probability": expected.probability,
        "expected_floor": float(served.booster.predict(matrix, num_iteration=served.iterations)[0]),
        "body_bytes": {name: Path(p).stat().st_size for name, p in paths.items()},
        "tracking_uri": settings.tracking_uri,
    }


def _feature_values(served: Any, row: Any) -> dict[str, Any]:
    """One model row back to the JSON feature values the API accepts (categories as text)."""
    out: dict[str, Any] = {}
    for j, name in enumerate(served.features):
        value = float(row[j])
        if name in served.categories:
            out[name] = served.model.encoder_.decode(name, value)
        else:
            out[name] = None if math.isnan(value) else value
    return out


# --- servers ------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _start(name: str, argv: list[str], env: dict[str, str], ready_path: str, logs: Path) -> Server:
    """Start a server in its own process group; wait until ``ready_path`` answers 200."""
    import httpx

    port = _free_port()
    argv = [a.replace("{port}", str(port)) for a in argv]
    log_path = logs / f"{name}.log"
    with open(log_path, "wb") as err:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,  # uvicorn's access lines (mlflow's default) go nowhere
            stderr=err,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log_path)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(server.url + ready_path, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    _stop(server)
    raise RuntimeError(f"{name} did not start; its log:\n{log_path.read_text()[-4000:]}")


def _stop(server: Server) -> None:
    """SIGTERM to the server's process group (mlflow's CLI runs uvicorn as a child)."""
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPS_RISK_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants (mlflow's CLI runs uvicorn as a child)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process tree, threads included."""
    total = 0.0
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _tree_rss_mib(pid: int) -> float:
    total = 0
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


# --- the benchmark -----------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str  # row label prefix
    server: str
    path: str
    body: str  # key of the body file
    auth: bool
    describe: str


def _servers(
    home: Path, setup: dict[str, Any], digest: str
) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (argv, environment, readiness path) of every server this benchmark starts."""
    paths = setup["paths"]
    ours = [
        *PY,
        "serving.cli",
        "serve",
        "--host",
        HOST,
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ]
    ours_env = {"NPS_RISK_HOME": str(home), "NPS_RISK_API_KEYS": digest}
    return {
        "ours": (ours, _server_env(**ours_env), "/readyz"),
        # the same server with LightGBM on one OpenMP thread, as the floor runs it
        "ours omp1": (ours, _server_env(**ours_env, OMP_NUM_THREADS="1"), "/readyz"),
        "mlflow": (
            [*PY, "mlflow", "models", "serve", "-m", MLFLOW_MODEL, *MLFLOW_FLAGS, "{port}"],
            _server_env(MLFLOW_TRACKING_URI=setup["tracking_uri"]),
            "/ping",
        ),
        # one OpenMP thread: with the default two on two cores, the idle OpenMP thread spins
        # between requests and takes the core the client needs (measured: ~200 req/s)
        "floor": (
            [*PY, "uvicorn", "benchmarks.api_bench:floor_app", *FLOOR_FLAGS, "{port}"],
            _server_env(
                NPS_BENCH_BOOSTER=paths["floor_booster"],
                NPS_BENCH_ROW=paths["floor_row"],
                NPS_BENCH_ITERATIONS=str(setup["iterations"]),
                OMP_NUM_THREADS="1",
            ),
            "/ping",
        ),
    }


def missing_tools() -> str | None:
    """What this benchmark needs and does not find (wrk), with how to install it; else None."""
    return wrk.missing()


def run(options: BenchOptions) -> dict[str, Any]:
    sizes = QUICK if options.quick else FULL
    batch_runs = options.repeats or sizes.batch_runs
    if missing := missing_tools():
        raise RuntimeError(f"the API benchmark cannot run: {missing}")
    from serving.api.auth import new_key

    with tempfile.TemporaryDirectory(prefix="nps-api-bench-") as tmp:
        work = Path(tmp)
        home = work / "home"
        log(f"setup: simulate {sizes.customers} customers, train and promote a champion in {home}")
        setup = in_fresh_process(prepare, str(home), sizes.customers, sizes.days)
        paths = setup["paths"]
        key, digest = new_key()
        auth = {"Authorization": f"Bearer {key}"}
        raw = f"{setup['raw_interactions']} raw interactions, 3 reasons"
        targets = [
            Target("ours", "ours", "/v1/predict", "ours", True, "features, 3 reasons"),
            Target("ours omp1", "ours omp1", "/v1/predict", "ours", True, "features, 3 reasons"),
            Target("mlflow", "mlflow", "/invocations", "mlflow", False, "dataframe_split"),
            Target("floor", "floor", "/predict", "ours", False, "fixed row, body unread"),
            Target("floor shap", "floor", "/contributions", "ours", False, "same + pred_contrib"),
            Target("ours raw", "ours", "/v1/predict", "ours_raw", True, raw),
        ]
        servers: dict[str, Server] = {}
        try:
            for name, (argv, env, ready) in _servers(home, setup, digest).items():
                log(f"start {name}")
                servers[name] = _start(name, argv, env, ready, work)
            answers = _check_answers(servers, targets, paths, auth, setup)
            rows: dict[str, dict[str, Any]] = {}
            for concurrency in CONCURRENCY:
                for target in targets:
                    label = f"{target.name} c={concurrency}"
                    log(f"{label}: warm-up {sizes.warmup_s} s, then {sizes.duration_s} s")
                    headers = auth if target.auth else {}
                    rows[label] = _measure(
                        servers[target.server],
                        target,
                        headers,
                        paths,
                        concurrency,
                        sizes,
                        work,
                    )
            log(f"batch of {BATCH_SIZE} x{batch_runs}")
            for name in ("ours", "ours omp1"):
                rows[f"{name} batch {BATCH_SIZE}"] = _batch(
                    servers[name], paths["batch"], auth, batch_runs
                )
            rss = {name: round(_tree_rss_mib(s.process.pid), 1) for name, s in servers.items()}
        finally:
            for server in servers.values():
                _stop(server)

    figures, verdicts = _judge(rows)
    notes = [
        f"wrk, 1 thread, keep-alive, closed loop; {sizes.warmup_s} s warm-up, then "
        f"{sizes.duration_s} s per row; httpx only checks the answers and times the batch",
        "client and server share this machine's cores over loopback: the load generator takes "
        "CPU the server would otherwise have, most at c=16; other jobs on a shared machine "
        "show up in load_avg_1m and mostly in the tails (p99, max)",
        "server_cpu_ms_per_req: user+system CPU of the server's process tree / requests "
        "(psutil; Linux counts in 10 ms ticks): the figure least moved by other load",
        "each server is one uvicorn worker (uvloop + httptools). ours and mlflow run as "
        "shipped (LightGBM's OpenMP default: one thread per core); 'ours omp1' and the floor "
        "run with OMP_NUM_THREADS=1",
        "mlflow keeps its defaults (access log on, sent to /dev/null here) and answers the "
        "probability only, no reasons",
    ]
    return {
        "rows": rows,
        "columns": list(COLUMNS),
        "targets": verdicts,
        "figures": figures,
        "setup": {
            "customer": setup["customer"],
            "as_of": setup["as_of"],
            "model_version": setup["model_version"],
            "features": setup["features"],
            "trees": setup["iterations"],
            "raw_interactions": setup["raw_interactions"],
            "body_bytes_ours": setup["body_bytes"]["ours"],
            "body_bytes_ours_raw": setup["body_bytes"]["ours_raw"],
            "body_bytes_mlflow": setup["body_bytes"]["mlflow"],
            "body_bytes_batch": setup["body_bytes"]["batch"],
            "batch_distinct_customers": setup["batch_distinct_customers"],
            **answers,
            **{f"server_rss_mib_{k.replace(' ', '_')}": v for k, v in rss.items()},
        },
        "notes": notes,
    }


def _check_answers(
    servers: dict[str, Server],
    targets: list[Target],
    paths: dict[str, str],
    auth: dict[str, str],
    setup: dict[str, Any],
) -> dict[str, Any]:
    """Every server answers 200 for this body and the same customer gets the same number."""
    import httpx

    out: dict[str, Any] = {}
    for target in targets:
        body = Path(paths[target.body]).read_bytes()
        answer = httpx.post(
            servers[target.server].url + target.path,
            content=body,
            headers={**(auth if target.auth else {}), "Content-Type": "application/json"},
            timeout=60,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {answer.status_code}: {answer.text[:500]}")
        data = answer.json()
        if target.server.startswith("ours"):
            result = data["results"][0]
            out[f"probability_{target.name.replace(' ', '_')}"] = result["probability"]
            if len(result["reasons"]) != 3:
                raise RuntimeError(f"{target.name}: expected 3 reasons, got {result['reasons']}")
        elif target.server == "mlflow":
            out["probability_mlflow"] = float(data["predictions"][0])
        elif target.path == "/predict":
            out["raw_score_floor"] = data["probability"]
        else:  # SHAP values sum to the log-odds of the same raw score
            out["raw_score_floor_shap"] = 1 / (1 + math.exp(-data["raw_score"]))
    out["probability_expected"] = setup["expected_probability"]
    for name in [k for k in out if k.startswith("probability_")]:
        if abs(out[name] - setup["expected_probability"]) > 1e-9:
            raise RuntimeError(f"{name} {out[name]} != expected {setup['expected_probability']}")
    for name in ("raw_score_floor", "raw_score_floor_shap"):
        if abs(out[name] - setup["expected_floor"]) > 1e-9:
            raise RuntimeError(f"{name} {out[name]} != expected {setup['expected_floor']}")
    out["same_answer_everywhere"] = True
    return out


def _measure(
    server: Server,
    target: Target,
    headers: dict[str, str],
    paths: dict[str, str],
    concurrency: int,
    sizes: Sizes,
    work: Path,
) -> dict[str, Any]:
    url = server.url + target.path
    body_path = paths[target.body]
    wrk.post(url, body_path, headers, concurrency, sizes.warmup_s, work)
    cpu = _tree_cpu_s(server.process.pid)
    figures = wrk.post(url, body_path, headers, concurrency, sizes.duration_s, work)
    cpu = _tree_cpu_s(server.process.pid) - cpu
    requests = figures["requests"]
    return {
        "server": target.server,
        "body": target.describe,
        "c": concurrency,
        **figures,
        "server_cpu_ms_per_req": 1000 * cpu / requests if requests else float("nan"),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _batch(server: Server, body_path: str, headers: dict[str, str], runs: int) -> dict[str, Any]:
    """POST the 1000-customer body ``runs`` times (after one warm-up) on one connection."""
    import httpx

    body = Path(body_path).read_bytes()
    walls = []
    with httpx.Client(
        base_url=server.url, headers={**headers, "Content-Type": "application/json"}, timeout=120
    ) as client:
        for i in range(runs + 1):
            started = time.perf_counter()
            answer = client.post("/v1/predict", content=body)
            wall = time.perf_counter() - started
            if answer.status_code != 200 or len(answer.json()["results"]) != BATCH_SIZE:
                raise RuntimeError(f"batch: HTTP {answer.status_code}: {answer.text[:500]}")
            if i:
                walls.append(wall * 1000)
    median = statistics.median(walls)
    limit = TARGETS["batch_ms_per_customer"]
    return {
        "server": server.name,
        "body": f"{BATCH_SIZE} customers, features, 3 reasons each",
        "runs": runs,
        "median_ms": median,
        "min_ms": min(walls),
        "max_run_ms": max(walls),
        "ms_per_customer": median / BATCH_SIZE,
        "target": f"<= {limit} ms/customer",
        "met": median / BATCH_SIZE <= limit,
    }


def _judge(rows: dict[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, str]]:
    """Ratios between servers and a verdict per target of the issue."""
    figures: dict[str, float] = {}
    verdicts: dict[str, str] = {}

    def verdict(name: str, value: float, ok: bool, unit: str, target: str) -> None:
        verdicts[name] = f"{value:.3g}{unit} (target {target}): {'met' if ok else 'MISSED'}"

    c1 = rows["ours c=1"]
    verdict(
        "ours c=1 p50",
        c1["p50_ms"],
        c1["p50_ms"] <= TARGETS["p50_ms_c1"],
        " ms",
        f"<= {TARGETS['p50_ms_c1']} ms",
    )
    verdict(
        "ours c=1 p99",
        c1["p99_ms"],
        c1["p99_ms"] <= TARGETS["p99_ms_c1"],
        " ms",
        f"<= {TARGETS['p99_ms_c1']} ms",
    )
    for c in CONCURRENCY:
        ours = rows[f"ours c={c}"]["req_per_s"]
        vs_mlflow = ours / rows[f"mlflow c={c}"]["req_per_s"]
        of_floor = ours / rows[f"floor c={c}"]["req_per_s"]
        figures[f"ours_over_mlflow_c{c}"] = vs_mlflow
        figures[f"ours_over_floor_c{c}"] = of_floor
        figures[f"floor_over_ours_c{c}"] = 1 / of_floor
        figures[f"ours_raw_over_ours_c{c}"] = rows[f"ours raw c={c}"]["req_per_s"] / ours
        omp1 = rows[f"ours omp1 c={c}"]["req_per_s"]
        figures[f"ours_omp1_over_mlflow_c{c}"] = omp1 / rows[f"mlflow c={c}"]["req_per_s"]
        figures[f"floor_over_ours_omp1_c{c}"] = rows[f"floor c={c}"]["req_per_s"] / omp1
        figures[f"floor_shap_over_ours_c{c}"] = rows[f"floor shap c={c}"]["req_per_s"] / ours
        verdict(
            f"ours/mlflow throughput c={c}",
            vs_mlflow,
            vs_mlflow >= TARGETS["x_mlflow_throughput"],
            "x",
            f">= {TARGETS['x_mlflow_throughput']:g}x",
        )
        verdict(
            f"floor/ours throughput c={c}",
            1 / of_floor,
            1 / of_floor <= TARGETS["floor_factor"],
            "x",
            f"<= {TARGETS['floor_factor']:g}x",
        )
    batch = rows[f"ours batch {BATCH_SIZE}"]
    verdict(
        f"batch {BATCH_SIZE} ms/customer",
        batch["ms_per_customer"],
        batch["met"],
        " ms",
        f"<= {TARGETS['batch_ms_per_customer']} ms ({BATCH_SIZE * TARGETS['batch_ms_per_customer']:g} ms)",
    )
    figures["ours_omp1_batch_ms_per_customer"] = rows[f"ours omp1 batch {BATCH_SIZE}"][
        "ms_per_customer"
    ]
    errors = sum(int(r.get("errors", 0)) for r in rows.values())
    verdicts["errors (non-2xx, socket) over all runs"] = str(errors)
    return figures, verdicts
