"""Live data (issue 12): events in, live risk out, on real servers; the source's bulk reads.

- **events**: ``POST /v1/events`` to ``nps-risk serve --data sqlite:///...``, batches of 100
  (60 new tickets, 30 updates of earlier tickets, 10 survey answers about them), each batch
  different, posted one after another by one keep-alive httpx client (bodies encoded before
  the clock starts). Events/s is 100 over the median batch latency. References in the same
  run, in-process on other batches of the same kind into a copy of the same database:
  ``check_events`` + ``write_events`` (validation, upsert, history; no HTTP), and a plain
  ``executemany`` INSERT of the same rows into empty tables (what SQLite itself costs: no
  validation, upsert or history).
- **live risk**: ``GET /v1/customers/{id}/risk?live=true`` under wrk at c=1, for a customer
  with exactly 100 interactions, on PostgreSQL and SQLite; beside it in the same run, the
  same server's ``POST /v1/predict`` with that customer's feature values (the feature path:
  no database, no feature pipeline) as the reference. In-process medians split the live
  answer into its parts: the database read (``read_customer``), ``compute_features`` and
  the model (encode, probability, SHAP reasons).
- **reads**: the interactions table read whole, each way considered: PostgreSQL through ADBC
  (chosen) vs ``COPY ... TO STDOUT (FORMAT csv)`` into ``pyarrow.csv``; SQLite through
  sqlite3's rows straight into typed Arrow arrays (chosen) vs ``pandas.read_sql`` with the
  Arrow backend.

Setup (simulate a history ending now, train and promote a champion, load it into both
databases) is never timed. PostgreSQL is the server named by NPS_RISK_BENCH_POSTGRES_URL,
else a throwaway cluster from the machine's binaries (as the tests start one).

Over 400 lines: setup, the servers, the in-process references and the reads are one
experiment on one champion and one pair of databases; split, each would rebuild them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import BenchOptions, log, wrk
from benchmarks.api_bench import HOST, PY, Server, _server_env, _start, _stop

BATCH = 100
EVENTS_TARGET = 2_000.0  # events/s on SQLite, batches of 100
LIVE_TARGET_MS = 5.0  # p50 on PostgreSQL, a customer with 100 interactions
HISTORY = 100  # interactions of the customer asked about


@dataclass(frozen=True)
class Sizes:
    customers: int
    days: int
    batches: int
    wrk_seconds: int
    in_process_calls: int


FULL = Sizes(customers=20_000, days=365, batches=60, wrk_seconds=10, in_process_calls=200)
QUICK = Sizes(customers=4_000, days=180, batches=12, wrk_seconds=3, in_process_calls=30)


def missing_tools() -> str | None:
    return wrk.missing()


@contextmanager
def _postgres() -> Iterator[str]:
    given = os.environ.get("NPS_RISK_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    from tests import postgres

    bin_dir = postgres.binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL: set NPS_RISK_BENCH_POSTGRES_URL or install postgresql")
    with postgres.throwaway_cluster(bin_dir) as url:
        yield url


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _timed(step: Callable[[], Any], times: int) -> list[float]:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        step()
        out.append(time.perf_counter() - start)
    return out


# --- setup --------------------------------------------------------------------------------


def prepare(home: str, sizes: Sizes, sqlite_url: str, pg_url: str) -> dict[str, Any]:
    """Simulate a history ending today, train a champion, load both databases, and give one
    customer exactly HISTORY interactions. Runs in a fresh interpreter; never timed."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import pandas as pd

    from features.database import open_source
    from features.dataset import load_dataset
    from features.ingest import check_events, load_tables, write_events
    from features.simulate import SimulationConfig, simulate, write_simulation
    from nps_core.config import Settings
    from training.registry import promote
    from training.workflow import train_from_data

    root = Path(home)
    today = pd.Timestamp.now(tz="UTC").floor("D")
    start = (today - pd.Timedelta(days=sizes.days)).date().isoformat()
    data = root / "data"
    config = SimulationConfig(customers=sizes.customers, days=sizes.days, seed=12, start=start)
    write_simulation(simulate(config), data)
    settings = Settings(home=root)
    train_from_data(settings, data)
    decision = promote(settings)
    if not decision.promoted:
        raise RuntimeError(f"no champion to serve: {decision.reason}")
    dataset = load_dataset(data)
    tables = {
        "interactions": dataset.interactions,
        "surveys": dataset.surveys,
        "customers": dataset.customers,
    }
    counts = dataset.interactions["customer_id"].value_counts()
    customer = str(counts[counts <= HISTORY].index[0])
    have = int(counts[customer])
    mine = dataset.interactions[dataset.interactions["customer_id"] == customer]
    extra = [
        (
            k,
            {
                **{c: v for c, v in mine.iloc[k % len(mine)].to_dict().items() if pd.notna(v)},
                "interaction_id": f"BENCH-{customer}-{k}",
                "opened_at": today - pd.Timedelta(days=3 + 2 * k),
                "first_response_at": None,
                "resolved_at": today - pd.Timedelta(days=2 + 2 * k),
            },
        )
        for k in range(HISTORY - have)
    ]
    checked = check_events(extra, [], dataset.scale)
    if checked.problems:
        raise RuntimeError(f"bench tickets refused: {checked.problems[:3]}")
    for url in (sqlite_url, pg_url):
        load_tables(url, tables, dataset.scale)
        write_events(open_source(url), checked, dataset.scale)
    customers = list(dataset.customers["customer_id"].astype(str))
    return {"customer": customer, "customers": customers, "rows": len(dataset.interactions)}


def event_batches(customers: list[str], count: int, now_iso: str) -> list[list[dict[str, Any]]]:
    """``count`` different batches: 60 new tickets, 30 updates of the previous batch's
    tickets (answered, escalated, solved), 10 answers about this batch's tickets."""
    batches = []
    for b in range(count):
        events: list[dict[str, Any]] = []
        for k in range(60):
            events.append(
                {
                    "type": "interaction",
                    "interaction_id": f"EV-{b}-{k}",
                    "customer_id": customers[(b * 60 + k) % len(customers)],
                    "channel": ("chat", "email", "phone")[k % 3],
                    "opened_at": now_iso,
                    "agent_id": f"A{k % 40:03d}",
                    "team": ("billing", "technical", "accounts")[k % 3],
                    "category": "billing",
                }
            )
        for k in range(30):
            previous = b - 1 if b else 0
            events.append(
                {
                    "type": "interaction",
                    "interaction_id": f"EV-{previous}-{k}",
                    "customer_id": customers[(previous * 60 + k) % len(customers)],
                    "channel": ("chat", "email", "phone")[k % 3],
                    "opened_at": now_iso,
                    "first_response_at": now_iso,
                    "resolved_at": now_iso,
                    "escalated": k % 4 == 0,
                    "transfers": k % 3,
                    "agent_id": f"A{k % 40:03d}",
                    "team": ("billing", "technical", "accounts")[k % 3],
                    "category": "billing",
                }
            )
        for k in range(10):
            events.append(
                {
                    "type": "survey",
                    "response_id": f"EV-R-{b}-{k}",
                    "customer_id": customers[(b * 60 + k) % len(customers)],
                    "responded_at": now_iso,
                    "score": (b + k) % 11,
                    "interaction_id": f"EV-{b}-{k}",
                }
            )
        batches.append(events)
    return batches


# --- the in-process references --------------------------------------------------------------


def in_process_events(url: str, batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """``check_events`` + ``write_events`` per batch, and a plain executemany INSERT of the
    same rows into empty tables of a scratch SQLite file: medians per batch."""
    import pandas as pd

    from features.database import open_source, read_scale
    from features.ingest import check_events, write_events

    source = open_source(url)
    scale = read_scale(source)
    ours = []
    checked_all = []
    for events in batches:
        start = time.perf_counter()
        tickets = [
            (i, {**e, "opened_at": pd.Timestamp(e["opened_at"])})
            for i, e in enumerate(events)
            if e["type"] == "interaction"
        ]
        answers = [(i, e) for i, e in enumerate(events) if e["type"] == "survey"]
        for fields in (f for _, f in tickets + answers):
            fields.pop("type", None)
        checked = check_events(tickets, answers, scale)
        write_events(source, checked, scale)
        ours.append(time.perf_counter() - start)
        checked_all.append(checked)
    floor = _plain_inserts(url, checked_all)
    return {
        "ours_batch_ms": 1000 * _median(ours),
        "plain_insert_batch_ms": 1000 * _median(floor),
    }


def _plain_inserts(url: str, batches: list[Any]) -> list[float]:
    from features.database import interactions, surveys

    path = Path(url.removeprefix("sqlite:///")).with_name("plain.db")
    conn = sqlite3.connect(path)
    for table in (interactions, surveys):
        names = [c.name for c in table.columns]
        conn.execute(f"CREATE TABLE {table.name} ({', '.join(names)})")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    times = []
    for checked in batches:
        start = time.perf_counter()
        with conn:
            for table, frame in ((interactions, checked.interactions), (surveys, checked.surveys)):
                names = [c.name for c in table.columns if c.name in frame.columns]
                rows = [
                    tuple(None if v is None else str(v) for v in row)
                    for row in frame[names].astype(object).itertuples(index=False)
                ]
                conn.executemany(
                    f"INSERT INTO {table.name} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' for _ in names)})",
                    rows,
                )
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def in_process_live(url: str, home: str, customer: str, calls: int) -> dict[str, float]:
    """Medians of the live answer's parts for the customer, as of now."""
    import pandas as pd

    from features.database import open_source
    from features.live import read_customer
    from features.pipeline import compute_features
    from nps_core.config import Settings
    from serving.predictor import ServingModel
    from training.registry import CHAMPION, load_model

    model = ServingModel(load_model(Settings(home=Path(home)), CHAMPION))
    assert model.spec is not None
    source = open_source(url)
    now = pd.Timestamp.now(tz="UTC")
    rows = read_customer(source, customer, now)
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series([customer], dtype="str"),
            "as_of": pd.Series([now], dtype="datetime64[ns, UTC]"),
        }
    )

    def features() -> Any:
        return compute_features(
            rows.interactions, rows.surveys, rows.customers, queries, model.spec, rows.history
        )

    frame = features()
    values = {k: (None if pd.isna(v) else v) for k, v in frame.iloc[0].to_dict().items()}
    read = _timed(lambda: read_customer(source, customer, now), calls)
    compute = _timed(features, calls)
    answer = _timed(
        lambda: model.answer([customer], model.matrix_from_features([values], ["live"])), calls
    )
    return {
        "interactions": float(len(rows.interactions)),
        "read_ms": 1000 * _median(read),
        "features_ms": 1000 * _median(compute),
        "model_ms": 1000 * _median(answer),
    }


def source_reads(sqlite_url: str, pg_url: str, repeats: int) -> dict[str, dict[str, Any]]:
    """The interactions table read whole, each way considered."""
    import pandas as pd
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from features.database import _select_all, interactions, open_source, read_arrow

    pg = open_source(pg_url)
    lite = open_source(sqlite_url)
    plain = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def copy_csv() -> Any:
        with psycopg.connect(plain) as conn, conn.cursor() as cursor:
            buffer = io.BytesIO()
            with cursor.copy(
                "COPY (SELECT * FROM interactions) TO STDOUT WITH (FORMAT csv, HEADER true)"
            ) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            buffer.seek(0)
            return pacsv.read_csv(buffer)

    def read_sql() -> Any:
        with lite.engine.connect() as conn:
            frame = pd.read_sql(
                text(_select_all(interactions, "sqlite")), conn, dtype_backend="pyarrow"
            )
        return pa.Table.from_pandas(frame, preserve_index=False)

    ways = {
        "postgresql: ADBC -> Arrow (chosen)": lambda: read_arrow(pg, ["interactions"]),
        "postgresql: COPY csv -> pyarrow.csv": copy_csv,
        "sqlite: sqlite3 rows -> typed Arrow (chosen)": lambda: read_arrow(lite, ["interactions"]),
        "sqlite: pandas.read_sql, Arrow backend": read_sql,
    }
    return {name: {"read_median_s": _median(_timed(way, repeats))} for name, way in ways.items()}


# --- the run ------------------------------------------------------------------------------------


def _post_batches(server: Server, key: str, bodies: list[bytes]) -> list[float]:
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        for body in bodies:
            start = time.perf_counter()
            answer = client.post("/v1/events", content=body)
            times.append(time.perf_counter() - start)
            if answer.status_code != 200:
                raise RuntimeError(f"events refused: {answer.status_code} {answer.text[:500]}")
    return times


def run(options: BenchOptions) -> dict[str, Any]:
    from benchmarks import in_fresh_process
    from serving.api.auth import new_key

    sizes = QUICK if options.quick else FULL
    if missing := missing_tools():
        raise RuntimeError(f"the live-data benchmark cannot run: {missing}")
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="nps-live-bench-") as tmp, _postgres() as pg_url:
        work = Path(tmp)
        sqlite_url = f"sqlite:///{work / 'source.db'}"
        started = time.perf_counter()
        setup = in_fresh_process(prepare, tmp, sizes, sqlite_url, pg_url)
        log(f"setup in {time.perf_counter() - started:.0f} s; customer {setup['customer']}")
        shutil.copyfile(work / "source.db", work / "scratch.db")  # the reference's own copy
        key, digest = new_key()
        env = {"NPS_RISK_HOME": tmp, "NPS_RISK_API_KEYS": digest}
        now_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        others = [c for c in setup["customers"] if c != setup["customer"]]
        batches = event_batches(others, sizes.batches * 2, now_iso)
        served, scratch = batches[: sizes.batches], batches[sizes.batches :]

        # events on SQLite, through the server
        argv = [*PY, "serving.cli", "serve", "--host", HOST, "--port", "{port}"]
        server = _start(
            "events-sqlite",
            [*argv, "--log-level", "warning", "--data", sqlite_url],
            _server_env(**env),
            "/readyz",
            work,
        )
        try:
            bodies = [json.dumps({"events": b}).encode() for b in served]
            _post_batches(server, key, bodies[:2])  # warm-up (already written: idempotent)
            times = _post_batches(server, key, bodies)
        finally:
            _stop(server)
        median = _median(times)
        reference = in_process_events(f"sqlite:///{work / 'scratch.db'}", scratch)
        rows["events, SQLite, POST /v1/events"] = {
            "batch_p50_ms": 1000 * median,
            "events_per_s": BATCH / median,
            "events_per_s_overall": BATCH * len(times) / sum(times),
            "target": f">= {EVENTS_TARGET:,.0f} events/s",
            "met": BATCH / median >= EVENTS_TARGET,
        }
        rows["events, in-process write_events (reference)"] = {
            "batch_p50_ms": reference["ours_batch_ms"],
            "events_per_s": 1000 * BATCH / reference["ours_batch_ms"],
        }
        rows["events, plain executemany INSERT (floor)"] = {
            "batch_p50_ms": reference["plain_insert_batch_ms"],
            "events_per_s": 1000 * BATCH / reference["plain_insert_batch_ms"],
        }

        # live risk on PostgreSQL and SQLite, through the server, beside the feature path
        customer = setup["customer"]
        headers = {"Authorization": f"Bearer {key}"}
        for name, url in (("PostgreSQL", pg_url), ("SQLite", sqlite_url)):
            server = _start(
                f"live-{name}",
                [*argv, "--log-level", "warning", "--data", url],
                _server_env(**env),
                "/readyz",
                work,
            )
            try:
                live_url = f"{server.url}/v1/customers/{customer}/risk?live=true"
                answer = _get_json(live_url, headers)
                wrk.get(live_url, headers, 1, 2, work)  # warm-up
                live = wrk.get(live_url, headers, 1, sizes.wrk_seconds, work)
                body = work / "predict.json"
                values = {k: v for k, v in answer["features"].items() if v is not None}
                body.write_text(
                    json.dumps({"customers": [{"customer_id": customer, "features": values}]})
                )
                feature_path = wrk.post(
                    f"{server.url}/v1/predict", str(body), headers, 1, sizes.wrk_seconds, work
                )
            finally:
                _stop(server)
            parts = in_fresh_process(in_process_live, url, tmp, customer, sizes.in_process_calls)
            rows[f"live risk, {name}, GET ?live=true"] = {
                "p50_ms": live["p50_ms"],
                "p90_ms": live["p90_ms"],
                "req_per_s": live["req_per_s"],
                "errors": live["errors"],
                "x_feature_path": live["p50_ms"] / feature_path["p50_ms"],
                "in_process_read_ms": parts["read_ms"],
                "in_process_features_ms": parts["features_ms"],
                "in_process_model_ms": parts["model_ms"],
                "interactions": parts["interactions"],
                "target": f"<= {LIVE_TARGET_MS:g} ms p50" if name == "PostgreSQL" else "",
                "met": live["p50_ms"] <= LIVE_TARGET_MS if name == "PostgreSQL" else "",
            }
            rows[f"feature path, {name} server, POST /v1/predict (reference)"] = {
                "p50_ms": feature_path["p50_ms"],
                "p90_ms": feature_path["p90_ms"],
                "req_per_s": feature_path["req_per_s"],
                "errors": feature_path["errors"],
            }
        reads = in_fresh_process(source_reads, sqlite_url, pg_url, 1 if options.quick else 5)
    for name, figures in reads.items():
        rows[f"read interactions, {name}"] = {**figures, "rows": setup["rows"]}
    return {
        "rows": rows,
        "notes": (
            f"{sizes.customers:,} simulated customers over {sizes.days} days ending today "
            f"({setup['rows']:,} interactions); events: {sizes.batches} batches of {BATCH} "
            "(60 new tickets, 30 updates, 10 answers), one client, keep-alive; live risk: "
            f"wrk -c1 for {sizes.wrk_seconds} s, a customer with {HISTORY} interactions; "
            "in-process parts are medians in a fresh interpreter"
        ),
    }


def _get_json(url: str, headers: dict[str, str]) -> dict[str, Any]:
    import httpx

    answer = httpx.get(url, headers=headers, timeout=60)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:500]}")
    result: dict[str, Any] = answer.json()
    return result
