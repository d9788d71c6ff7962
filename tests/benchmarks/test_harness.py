"""The shared harness: ``measure`` reports a step's peak RSS and says how far to trust it.

Each case runs in a fresh interpreter, as the benchmarks do, so the pytest process's own
history of allocations does not set the peak."""

import psutil
import pytest

from benchmarks import GIB, MIB, in_fresh_process, measure


def _allocate(before_mib: int, during_mib: int) -> dict:
    """Touch ``before_mib`` and free it (the "loading"), then measure a step touching
    ``during_mib``."""
    import numpy as np

    if before_mib:
        loaded = np.ones(before_mib * MIB // 8)
        del loaded
    figures, total = measure(lambda: float(np.ones(during_mib * MIB // 8).sum()))
    assert total == during_mib * MIB // 8
    return figures


def test_a_step_that_sets_the_peak_reports_its_own_peak():
    # a child starts with its parent's RSS as its lifetime peak (Linux carries it through
    # fork and exec), so the step must outgrow this pytest process, however much the
    # collected test modules made it
    during = int(psutil.Process().memory_info().rss // MIB) + 300
    figures = in_fresh_process(_allocate, 0, during)
    assert figures["peak_source"] == "ru_maxrss, raised by the step: its own peak"
    assert figures["peak_over_baseline_gib"] * GIB / MIB == pytest.approx(during, rel=0.1)
    assert figures["peak_rss_gib"] > figures["rss_before_gib"]
    assert figures["wall_s"] > 0
    assert figures["cpu_s"] > 0


def test_a_step_below_the_loaders_peak_is_reported_as_an_upper_bound():
    figures = in_fresh_process(_allocate, 400, 100)
    assert figures["peak_source"] == "ru_maxrss, set before the step: an upper bound on its peak"
    assert figures["peak_over_baseline_gib"] * GIB / MIB == pytest.approx(400, abs=40)
