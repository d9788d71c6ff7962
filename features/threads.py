"""How many threads a vectorised feature or validation step uses.

The count is the caller's (``Settings.threads``: the machine's cores by default), so no
machine policy lives in the feature code. Below ``PARALLEL_MIN_ROWS`` a pool costs more
than it saves (the API's one-customer requests), so small inputs run on the caller alone.
"""

from __future__ import annotations

PARALLEL_MIN_ROWS = 200_000


def workers_for(rows: int, workers: int) -> int:
    return max(1, workers) if rows >= PARALLEL_MIN_ROWS else 1
