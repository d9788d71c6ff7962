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
    print(
        "\nDone. Compare runs in the MLflow UI with `make ui`; the evaluation report is under outputs/reports/."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
