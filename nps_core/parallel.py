"""How many threads a vectorised step may use: up to two on large inputs, one on small.

Arrow's kernels and numpy's sorts, gathers and sums release the GIL, so independent
column or stream work overlaps on the 2 cores; below ~200k rows a pool costs more than
it saves (the API's one-customer requests).
"""

from __future__ import annotations

import os

PARALLEL_MIN_ROWS = 200_000
MAX_WORKERS = 2


def default_workers(rows: int) -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1) if rows >= PARALLEL_MIN_ROWS else 1
