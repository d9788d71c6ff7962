"""Benchmarks behind ``make bench``: the harness every named benchmark shares.

A benchmark is a function ``(BenchOptions) -> dict`` registered by name in
``benchmarks.run``. Timed steps run in a freshly spawned interpreter (``in_fresh_process``)
so that peak memory is the step's own and not what earlier steps left behind.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

MIB = 1024**2
GIB = 1024**3

T = TypeVar("T")


@dataclass(frozen=True)
class BenchOptions:
    """What the command line asked for; each benchmark picks its own sizes from ``quick``."""

    quick: bool = False
    cache_dir: Path = Path(".bench")
    repeats: int | None = None  # None: the benchmark's own default


def log(message: str) -> None:
    """Progress on stderr (benchmarks take minutes; the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def in_fresh_process(func: Callable[..., T], /, *args: Any) -> T:
    """``func(*args)`` in a newly spawned interpreter (nothing inherited), its result returned."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(func, *args).result()


def _status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (Linux); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0: '5' > /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _maxrss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(step: Callable[[], Any]) -> tuple[dict[str, float | str], Any]:
    """Wall time and peak RSS of ``step()`` in this process; returns (figures, its result).

    The baseline is the RSS just before the step (inputs loaded, garbage collected). The
    peak is reset first where the OS allows, so it is the step's peak, not the loader's;
    otherwise it is the process's lifetime peak (``peak_source`` says which).
    """
    gc.collect()
    current = _status_kib("VmRSS")
    baseline = current * 1024 if current is not None else _maxrss_bytes()
    was_reset = _reset_peak_rss()
    cpu = _cpu_s()
    start = time.perf_counter()
    result = step()
    wall = time.perf_counter() - start
    cpu = _cpu_s() - cpu
    hwm = _status_kib("VmHWM")
    if was_reset and hwm is not None:
        peak, source = hwm * 1024, "VmHWM reset before the step"
    else:
        peak, source = _maxrss_bytes(), "ru_maxrss (lifetime of the process)"
    figures: dict[str, float | str] = {
        "wall_s": wall,
        "cpu_s": cpu,  # well below wall: the step waited for a CPU (shared machine)
        "load_avg_1m_after": os.getloadavg()[0],
        "rss_before_gib": baseline / GIB,
        "peak_rss_gib": peak / GIB,
        "peak_over_baseline_gib": max(peak - baseline, 0) / GIB,
        "peak_source": source,
    }
    return figures, result


def summarize(runs: Sequence[dict[str, Any]], rows: int) -> dict[str, Any]:
    """Median wall over runs, rows/s at that median, the worst peak RSS seen."""
    walls = [float(r["wall_s"]) for r in runs]
    median = statistics.median(walls)
    return {
        "runs": len(runs),
        "wall_median_s": median,
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "cpu_median_s": statistics.median(float(r["cpu_s"]) for r in runs),
        "rows": rows,
        "rows_per_s": rows / median if median > 0 else float("nan"),
        "peak_rss_gib": max(float(r["peak_rss_gib"]) for r in runs),
        "peak_over_baseline_gib": max(float(r["peak_over_baseline_gib"]) for r in runs),
        "rss_before_gib": statistics.median(float(r["rss_before_gib"]) for r in runs),
        "load_avg_1m_max": max(float(r["load_avg_1m_after"]) for r in runs),
        "peak_source": str(runs[0]["peak_source"]),
    }
