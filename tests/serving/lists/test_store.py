"""The risk-list store on SQLite and PostgreSQL: schema, atomic replacement, a crash mid-write."""

import subprocess
import sys
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from serving.lists.store import (
    MIGRATIONS,
    latest_for_customer,
    open_store,
    outreach,
    read_followups,
    read_list,
    read_table,
    record_outreach,
    replace_list,
    runs_for,
)

DAY = date(2026, 6, 10)


def _scores(n: int, run_id: str, day: date = DAY) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "list_date": day,
            "customer_id": [f"c{i}" for i in range(n)],
            "rank": range(1, n + 1),
            "probability": [1 - i / n for i in range(n)],
            "band": ["high"] * (n // 2) + ["low"] * (n - n // 2),
            "grp": ["control" if i % 10 == 0 else "treatment" for i in range(n)],
            "flagged": [i < n // 2 for i in range(n)],
            "reasons": [
                '[{"feature": "escalations_30d", "value": 3, "text": "3 escalations", "impact": 0.4}]'
            ]
            * n,
            "action": "call",
            "owner_team": ["billing", "tech"] * (n // 2) + ["billing"] * (n % 2),
            "model_version": "7",
            "run_id": run_id,
        }
    )


def _follow(run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "list_date": [DAY],
            "response_id": ["r1"],
            "kind": ["detractor"],
            "customer_id": ["c1"],
            "responded_at": [pd.Timestamp("2026-06-09T08:00Z")],
            "score": [2],
            "comment": ["waited"],
            "channel": ["email"],
            "owner_team": ["billing"],
            "due_at": [pd.Timestamp("2026-06-10T08:00Z")],
            "hours_left": [8.0],
            "overdue": [False],
            "grp": ["treatment"],
            "action": ["close the loop"],
            "run_id": [run_id],
        }
    )


def _run(run_id: str) -> dict:
    now = datetime.now(UTC)
    return {
        "run_id": run_id,
        "list_date": DAY,
        "started_at": now,
        "finished_at": now,
        "model_name": "m",
        "model_version": "7",
        "summary": {"counts": {"to_call": 5}},
    }


def test_schema_is_versioned_and_reopening_is_harmless(store_url):
    store = open_store(store_url)
    assert store.version() == MIGRATIONS[-1][0]
    assert open_store(store_url).version() == MIGRATIONS[-1][0]


def test_a_rerun_replaces_the_days_list_and_reads_filter(store_url):
    store = open_store(store_url)
    replace_list(
        store, DAY, run=_run("first"), scores=_scores(20, "first"), followups=_follow("first")
    )
    replace_list(
        store, DAY, run=_run("second"), scores=_scores(8, "second"), followups=_follow("second")
    )
    listed_day, rows = read_list(store, limit=100, flagged_only=False, group=None)
    assert listed_day == DAY and len(rows) == 8 and set(rows["run_id"]) == {"second"}
    assert [r["run_id"] for r in runs_for(store, DAY)] == ["second"]
    _, high_billing = read_list(store, DAY, band="high", team="billing")
    assert (
        len(high_billing)
        and set(high_billing["band"]) == {"high"}
        and set(high_billing["owner_team"]) == {"billing"}
    )
    assert (high_billing["grp"] == "treatment").all() and high_billing["flagged"].all()
    assert (
        latest_for_customer(store, "c3")["run_id"] == "second"
        and latest_for_customer(store, "nobody") is None
    )
    assert read_followups(store, DAY).iloc[0]["comment"] == "waited"


def test_every_value_round_trips_through_the_bulk_insert(store_url):
    """The driver-level bulk insert stores what SQLAlchemy's own insert would: numpy and
    pandas values, missing values, booleans, dates and time-zone-aware times."""
    store = open_store(store_url)
    scores = _scores(6, "trip").astype({"rank": "int64", "probability": "float64"})
    scores.loc[1, "reasons"] = None
    scores.loc[2, "owner_team"] = None
    follow = pd.concat([_follow("trip")] * 2, ignore_index=True).astype({"overdue": "boolean"})
    follow.loc[1, ["response_id", "comment", "due_at", "hours_left", "overdue"]] = [
        "r2",
        None,
        pd.NaT,
        float("nan"),
        None,
    ]
    replace_list(store, DAY, run=_run("trip"), scores=scores, followups=follow)

    _, stored = read_list(store, DAY, flagged_only=False, group=None, limit=100)
    stored = stored.sort_values("rank").reset_index(drop=True)
    assert stored["rank"].tolist() == scores["rank"].tolist()
    assert stored["probability"].tolist() == pytest.approx(scores["probability"].tolist())
    assert stored["flagged"].map(bool).tolist() == scores["flagged"].tolist()
    assert stored["reasons"].isna().tolist() == [False, True, False, False, False, False]
    assert stored["owner_team"].isna().tolist() == [False, False, True, False, False, False]
    assert set(pd.to_datetime(stored["list_date"]).dt.date) == {DAY}
    back = read_followups(store, DAY).sort_values("response_id").reset_index(drop=True)
    responded = pd.to_datetime(back["responded_at"], utc=True)
    assert (responded == pd.Timestamp("2026-06-09T08:00Z")).all()
    assert pd.to_datetime(back["due_at"], utc=True).iloc[0] == pd.Timestamp("2026-06-10T08:00Z")
    assert back["due_at"].isna().tolist() == [False, True]
    assert back["hours_left"].isna().tolist() == [False, True]
    assert back["comment"].tolist()[0] == "waited" and back["comment"].isna().tolist()[1]
    assert back["score"].tolist() == [2, 2]


def test_outreach_is_recorded(store_url):
    store = open_store(store_url)
    new_id = record_outreach(
        store,
        {
            "customer_id": "c1",
            "contacted_at": datetime(2026, 6, 10, 9, tzinfo=UTC),
            "outcome": "reached",
            "list_date": DAY,
        },
    )
    saved = read_table(store, outreach, customer_id="c1")
    assert new_id >= 1 and saved.iloc[0]["outcome"] == "reached"


CHILD = """
import sys
from datetime import date
from tests.serving.lists.test_store import DAY, _follow, _run, _scores
from serving.lists.store import open_store, replace_list

def pause():
    print("DELETED", flush=True)
    sys.stdin.readline()  # hold the transaction open until killed

replace_list(open_store(sys.argv[1]), DAY, run=_run("crash"), scores=_scores(30, "crash"), followups=_follow("crash"), pause=pause)
"""


def test_a_crash_half_way_leaves_the_previous_list_intact(store_url):
    store = open_store(store_url)
    replace_list(
        store, DAY, run=_run("good"), scores=_scores(12, "good"), followups=_follow("good")
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert (
        child.stdout.readline().strip() == "DELETED"
    )  # old rows deleted inside the open transaction
    child.kill()
    child.wait()
    store.engine.dispose()
    _, rows = read_list(open_store(store_url), DAY, limit=100, flagged_only=False, group=None)
    assert len(rows) == 12 and set(rows["run_id"]) == {"good"}
    assert [r["run_id"] for r in runs_for(open_store(store_url), DAY)] == ["good"]


@pytest.mark.parametrize("bad", [{"outcome": None}])
def test_outreach_needs_an_outcome(store_url, bad):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        record_outreach(
            open_store(store_url), {"customer_id": "c1", "contacted_at": datetime.now(UTC), **bad}
        )
