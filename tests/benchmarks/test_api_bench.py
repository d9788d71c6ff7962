"""The API benchmark's server figures: CPU and RSS summed over a server's process tree
(mlflow's CLI runs its uvicorn as a child, so the parent alone would miss the work)."""

import os
import signal
import subprocess
import sys

import psutil
import pytest

from benchmarks.api_bench import _tree_cpu_s, _tree_rss_mib, missing_tools

# the parent waits; its child burns ~0.4 s of CPU, then sleeps until killed
PARENT = """\
import subprocess, sys
child = "import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass\\nprint('busy done', flush=True)\\ntime.sleep(60)"
subprocess.run([sys.executable, "-c", child])
"""


def test_tree_cpu_and_rss_include_the_children():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "busy done"
        root = psutil.Process(parent.pid)
        (child,) = root.children(recursive=True)
        alone = sum(root.cpu_times()[:2])
        assert alone < 0.3
        assert _tree_cpu_s(parent.pid) == pytest.approx(alone + sum(child.cpu_times()[:2]))
        assert _tree_cpu_s(parent.pid) >= 0.35
        rss = (root.memory_info().rss + child.memory_info().rss) / 2**20
        assert _tree_rss_mib(parent.pid) == pytest.approx(rss, rel=0.05)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)


def test_a_server_that_died_is_an_error_not_zero_cpu():
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=30)
    with pytest.raises(psutil.NoSuchProcess):
        _tree_cpu_s(done.pid)


def test_missing_tools_is_the_wrk_check(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "wrk" in (missing_tools() or "")
