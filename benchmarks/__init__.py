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

import psutil

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


def _maxrss_bytes() -> int:
    """The process's lifetime peak RSS as the kernel counts it (``getrusage``)."""
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(step: Callable[[], Any]) -> tuple[dict[str, float | str], Any]:
    """Wall time, CPU time and peak RSS of ``step()`` in this process; (figures, its result).

    The baseline is the RSS just before the step (psutil; inputs loaded, garbage collected).
    The peak is the kernel's lifetime peak (``ru_maxrss``): no portable call resets it, so
    when the step raised it, it is exactly the step's peak; when it did not (loading went
    higher), it is only an upper bound, and ``peak_source`` says which. Not polling psutil
    on a thread: a 10 ms sampler slowed a pure-Python step by ~5% on a loaded 2-core box.
    A fresh process starts with its parent's RSS as its lifetime peak (Linux carries it
    through fork and exec), so a step smaller than the parent shows as an upper bound.
    """
    gc.collect()
    baseline = psutil.Process().memory_info().rss
    lifetime_before = _maxrss_bytes()
    cpu = _cpu_s()
    start = time.perf_counter()
    result = step()
    wall = time.perf_counter() - start
    cpu = _cpu_s() - cpu
    peak = _maxrss_bytes()
    if peak > lifetime_before:
        source = "ru_maxrss, raised by the step: its own peak"
    else:
        source = "ru_maxrss, set before the step: an upper bound on its peak"
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
        "peak_source": "; ".join(sorted({str(r["peak_source"]) for r in runs})),
    }
