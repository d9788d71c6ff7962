"""How many threads a vectorised feature or validation step uses.

The count is the caller's (``Settings.threads``: the machine's cores by default), so no
machine policy lives in the feature code. Below ``PARALLEL_MIN_ROWS`` a pool costs more
than it saves (the API's one-customer requests), so small inputs run on the caller alone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

PARALLEL_MIN_ROWS = 200_000
T = TypeVar("T")


def workers_for(rows: int, workers: int) -> int:
    return max(1, workers) if rows >= PARALLEL_MIN_ROWS else 1


class Inline(Executor):
    """Runs each task at once in the caller: small inputs skip a pool's thread hand-offs
    (a quarter of validating a 100-row batch of events)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # re-raised by future.result(), as a pool would
            future.set_exception(error)
        return future


def executor(rows: int, workers: int) -> Executor:
    """``workers_for(rows, workers)`` threads, or none (``Inline``) when that is one."""
    count = workers_for(rows, workers)
    return ThreadPoolExecutor(max_workers=count) if count > 1 else Inline()
