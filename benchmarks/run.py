"""``make bench``: run the named benchmarks, print a table each, keep the figures as JSON.

    python -m benchmarks.run [--only NAME ...] [--quick] [--repeats N]

A benchmark is one entry in ``registry()``: a name, a line saying what it measures, and a
function ``(BenchOptions) -> dict``. The dict holds ``rows`` (step -> figures, printed as a
table, columns from ``columns`` if given), optionally ``runs`` (every run's raw figures,
kept in the JSON only) and any other keys (``figures``, ``notes``, ...), printed below the
table. Everything lands in ``.bench/results.json``, merged by name (``NAME:quick`` for
--quick runs), so running one benchmark keeps the others' last figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import BenchOptions, log


@dataclass(frozen=True)
class Benchmark:
    name: str
    summary: str
    run: Callable[[BenchOptions], dict[str, Any]]
    missing: Callable[[], str | None] = lambda: None  # what it needs that is not installed


def registry() -> dict[str, Benchmark]:
    """Every benchmark by name; add one entry per new benchmark (API latency, risk list)."""
    from benchmarks import (
        api_bench,
        dashboard_bench,
        features_bench,
        live_bench,
        risklist_bench,
        startup_bench,
    )

    entries = [
        Benchmark(
            "features",
            "10M interactions / 1M surveys -> training rows; 1M-customer snapshot; "
            "vs pandas groupby().rolling()",
            features_bench.run,
        ),
        Benchmark(
            "risklist",
            "nps-risk score over 1M customers, reasons for the top 10,000 (<= 60 s)",
            risklist_bench.run,
        ),
        Benchmark(
            "api",
            "/v1/predict under wrk at c=1 and c=16 vs mlflow models serve and a bare "
            "Booster.predict endpoint; a 1000-customer batch",
            api_bench.run,
            api_bench.missing_tools,
        ),
        Benchmark(
            "startup",
            "nps-risk serve to /healthz: registry up, registry refusing with and without a "
            "local copy (issue 16: was 105 s when refusing)",
            startup_bench.run,
        ),
        Benchmark(
            "events",
            "live data: POST /v1/events batches of 100 on SQLite (>= 2,000 events/s); "
            "GET /v1/customers/{id}/risk?live=true for 100 interactions on PostgreSQL "
            "(<= 5 ms p50) beside /v1/predict's feature path; the source's bulk reads",
            live_bench.run,
            live_bench.missing_tools,
        ),
        Benchmark(
            "dashboard",
            "each /dashboard view's answer time on a 2,000-customer simulated loop, "
            "beside GET /v1/model on the same server",
            dashboard_bench.run,
        ),
    ]
    return {entry.name: entry for entry in entries}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy
    import pandas
    import psutil
    import pyarrow

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus": cpus,
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu_model": _cpu_model(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def _cpu_model() -> str:
    # psutil has no CPU model name, and platform.processor() is empty on Linux
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_table(rows: dict[str, dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """One line per step, one column per figure (strings, numbers and booleans only)."""
    if columns is None:
        columns = list(dict.fromkeys(k for figures in rows.values() for k in figures))
    columns = [c for c in columns if any(c in figures for figures in rows.values())]
    header = ["step", *columns]
    body = [[name, *(_cell(figures.get(c, "")) for c in columns)] for name, figures in rows.items()]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [" | ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for line in body:
        lines.append(" | ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(name: str, result: dict[str, Any]) -> str:
    lines = [f"== {name} ==", format_table(result.get("rows", {}), result.get("columns"))]
    for key, value in result.items():
        if key in ("rows", "columns", "runs"):
            continue
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {_cell(v)}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  - {v}" for v in value)
        else:
            lines.append(f"{key}: {_cell(value)}")
    return "\n".join(lines)


def save(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Merge this benchmark's entry into the results file (other benchmarks kept)."""
    document: dict[str, Any] = {"benchmarks": {}}
    if path.exists():
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError:
            log(f"{path} was not valid JSON; starting it afresh")
    document.setdefault("benchmarks", {})[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    benchmarks = registry()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=sorted(benchmarks), help="run only this (repeatable)"
    )
    parser.add_argument("--quick", action="store_true", help="small data, one run: a smoke test")
    parser.add_argument("--repeats", type=int, help="runs per timed step (default: per benchmark)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".bench"), help="data and results")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    options = BenchOptions(quick=args.quick, cache_dir=args.cache_dir, repeats=args.repeats)
    selected = args.only or list(benchmarks)
    missing = {name: benchmarks[name].missing() for name in selected}
    if any(missing.values()):  # say so before minutes of other benchmarks, not after
        for name, what in missing.items():
            if what:
                print(f"benchmark {name!r} cannot run: {what}", file=sys.stderr)
        others = [name for name, what in missing.items() if not what]
        if others:
            print(f"(the others alone: --only {' --only '.join(others)})", file=sys.stderr)
        return 2
    host = machine()
    for name in selected:
        log(f"{name}: {benchmarks[name].summary}")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        begin = time.perf_counter()
        result = benchmarks[name].run(options)
        entry = {
            "started": started,
            "elapsed_s": round(time.perf_counter() - begin, 1),
            "options": {"quick": options.quick, "repeats": options.repeats},
            "machine": host,
            "result": result,
        }
        # a --quick smoke run never overwrites the real figures
        save(options.cache_dir / "results.json", f"{name}:quick" if options.quick else name, entry)
        print(report(name, result), flush=True)
    print(f"results: {options.cache_dir / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
