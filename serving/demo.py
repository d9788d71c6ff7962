"""`make demo`: the main job end to end on the embedded default, saying what it produced."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from serving.cli import main as cli


def _step(title: str, run: Callable[[], int]) -> None:
    print(f"\n== {title}", flush=True)
    started = time.perf_counter()
    code = run()
    if code != 0:
        raise SystemExit(f"demo stopped: '{title}' exited with {code}")
    print(f"   ({time.perf_counter() - started:.1f} s)")


def _ask_the_api(data: Path, outputs: Path) -> int:
    """Start the real server with a freshly generated key, call it, show the answer."""
    import json
    import os
    import select
    import socket
    import subprocess
    import sys

    import httpx
    import pandas as pd

    from features.dataset import load_dataset
    from serving.api.auth import new_key
    from serving.api.examples import raw_customer

    dataset = load_dataset(data)
    as_of = (dataset.interactions["opened_at"].max() + pd.Timedelta(hours=1)).floor("h")
    recent = dataset.interactions[dataset.interactions["opened_at"] > as_of - pd.Timedelta(days=14)]
    customer = str(recent["customer_id"].value_counts().index[0])  # the busiest recent customer
    body = {"customers": [raw_customer(dataset, customer, as_of)]}
    request_file = outputs / "predict-request.json"
    request_file.write_text(json.dumps(body, indent=1))
    key, digest = new_key()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "NPS_RISK_API_KEYS": digest}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                select.select([], [], [], 0.1)
        answer = httpx.post(
            f"{url}/v1/predict", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        answer.raise_for_status()
        result = answer.json()["results"][0]
        print(
            f"customer {customer} as of {as_of.isoformat()}: risk {result['probability']:.0%} ({result['band']})"
        )
        for reason in result["reasons"]:
            print(f"  - {reason['text']}")
        print(f"  action: {result['action']}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        "\nTry it yourself (the key was generated for this demo; the server stores only its digest):"
    )
    print(f"  NPS_RISK_API_KEYS={digest} .venv/bin/nps-risk serve &")
    print(
        f"  curl -s -H 'Authorization: Bearer {key}' -H 'content-type: application/json' \\\n       -d @{request_file} http://127.0.0.1:8000/v1/predict"
    )
    print("  open http://127.0.0.1:8000/docs for the OpenAPI page")
    return 0


def _day_after(data: Path) -> str:
    import pandas as pd

    last: pd.Timestamp = pd.read_parquet(data / "interactions.parquet", columns=["opened_at"])[
        "opened_at"
    ].max()
    return (last + pd.Timedelta(days=1)).date().isoformat()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.demo")
    parser.add_argument("--out", type=Path, default=Path("data/demo"))
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--days", type=int, default=270)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    data = args.out
    outputs = Path("outputs/demo")
    _step(
        "simulate support data",
        lambda: cli(
            [
                "simulate",
                "--customers",
                str(args.customers),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--out",
                str(data),
            ]
        ),
    )
    _step(
        "point-in-time training rows",
        lambda: cli(
            ["features", "--data", str(data), "--out", str(outputs / "training_rows.parquet")]
        ),
    )
    _step(
        "train LightGBM beside its baselines; register a challenger",
        lambda: cli(["train", "--data", str(data), "--metrics-out", str(outputs / "metrics.json")]),
    )
    _step("promote the challenger if it earns it", lambda: cli(["promote"]))
    _step("serve the champion and ask it about one customer", lambda: _ask_the_api(data, outputs))
    _step(
        "today's risk list (the day after the data ends)",
        lambda: cli(["score", "--data", str(data), "--as-of", _day_after(data), "--quiet"]),
    )
    print(
        "\nDone. Compare runs in the MLflow UI with `make ui`; the evaluation report is under "
        "outputs/reports/, the daily list under outputs/risk_lists/. The simulator's dirty rows "
        "each load set aside are in the *-quarantine.csv files beside them."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
