"""Real processes at once on one store, SQLite and PostgreSQL: a fresh store's migrations,
and re-runs of one date. Nothing fails for being second, and a day's list is always one
run's, whole."""

import multiprocessing
import subprocess
import sys
import time

import pytest

from serving.lists.store import MIGRATIONS, open_store, read_followups, read_list, runs_for
from tests.serving.lists.test_store import DAY, _follow, _run, _scores

PROCESSES = 4


def _size(run_id: str) -> int:
    return 10 + int(run_id.removeprefix("p"))


def _open_and_write(url: str, run_id: str, barrier) -> None:
    from serving.lists.store import replace_list

    barrier.wait()
    store = open_store(url)  # every process finds the store empty and migrates it
    replace_list(
        store,
        DAY,
        run=_run(run_id),
        scores=_scores(_size(run_id), run_id),
        followups=_follow(run_id),
    )


def _assert_one_whole_list(url: str, expected: set[str]) -> str:
    store = open_store(url)
    _, rows = read_list(store, DAY, limit=1000, flagged_only=False, group=None)
    winners = set(rows["run_id"])
    assert len(winners) == 1 and winners <= expected, winners
    (winner,) = winners
    assert [r["run_id"] for r in runs_for(store, DAY)] == [winner]
    assert set(read_followups(store, DAY)["run_id"]) == {winner}
    store.engine.dispose()
    return winner


def test_processes_opening_a_fresh_store_at_once_all_succeed(store_url):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    runs = [f"p{i}" for i in range(PROCESSES)]
    processes = [
        context.Process(target=_open_and_write, args=(store_url, run, barrier)) for run in runs
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(300)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    assert open_store(store_url).version() == MIGRATIONS[-1][0]
    winner = _assert_one_whole_list(store_url, set(runs))
    _, rows = read_list(open_store(store_url), DAY, limit=1000, flagged_only=False, group=None)
    assert len(rows) == _size(winner)


HOLDER = """
import sys
from tests.serving.lists.test_store import DAY, _follow, _run, _scores
from serving.lists.store import open_store, replace_list

def pause():
    print("DELETED", flush=True)
    sys.stdin.readline()  # hold the open transaction until told to go on

replace_list(open_store(sys.argv[1]), DAY, run=_run("holder"), scores=_scores(12, "holder"),
             followups=_follow("holder"), pause=pause)
"""

RERUN = """
import sys
from nps_core.errors import NpsRiskError
from serving.lists import store
from tests.serving.lists.test_store import DAY, _follow, _run, _scores

store.LOCK_WAIT_S = float(sys.argv[2])
opened = store.open_store(sys.argv[1])
print("OPENED", flush=True)
try:
    store.replace_list(opened, DAY, run=_run("rerun"), scores=_scores(30, "rerun"),
                       followups=_follow("rerun"))
except NpsRiskError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("patience", "hold", "winner"), [(120.0, 3.0, "rerun"), (1.0, 3.0, "holder")]
)
def test_a_rerun_of_a_date_being_written_waits_or_says_so_in_one_line(
    store_url, patience, hold, winner
):
    """One run has deleted the day's rows and not yet written its own; a re-run of the same
    date waits for it (then replaces its list), or, out of patience, gives up in one line."""
    from serving.lists.store import replace_list

    store = open_store(store_url)
    replace_list(store, DAY, run=_run("good"), scores=_scores(8, "good"), followups=_follow("good"))
    store.engine.dispose()
    holder = _python(HOLDER, store_url)
    assert holder.stdout.readline().strip() == "DELETED"
    rerun = _python(RERUN, store_url, str(patience))
    assert rerun.stdout.readline().strip() == "OPENED"
    if winner == "rerun":
        time.sleep(hold)
        assert rerun.poll() is None  # it waits while the other run holds the date
    else:
        code, err = rerun.wait(hold * 10), rerun.stderr.read()  # gives up while it is held
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "busy" in err and "Traceback" not in err
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(120) == 0, holder.stderr.read()
    if winner == "rerun":
        code, err = rerun.wait(120), rerun.stderr.read()
        assert code == 0, err
    assert _assert_one_whole_list(store_url, {winner}) == winner
