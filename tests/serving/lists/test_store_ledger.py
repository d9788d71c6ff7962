"""The ledger in the store on SQLite and PostgreSQL: the v1 -> v2 migration keeps old
outreach readable, outcomes follow the allowed transitions, reads are point-in-time, and
first_flags gives each customer the arm of their first flag with its censor date."""

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, inspect, select

from nps_core.errors import FollowUpNotFoundError, TransitionError
from serving.lists import store as st
from serving.lists.store import (
    first_flags,
    open_store,
    read_follow_ups,
    read_outreach,
    record_contact,
    replace_list,
)
from tests.serving.lists.test_store import _follow, _run, _scores

T = datetime(2026, 4, 10, tzinfo=UTC)


def _opened(customer: str, day: date, hours: float = 72) -> pd.DataFrame:
    at = pd.Timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return pd.DataFrame(
        {
            "follow_up_id": [f"risk:{customer}:{day}"],
            "customer_id": [customer],
            "kind": ["predicted_risk"],
            "response_id": [None],
            "owner_team": ["billing"],
            "list_date": [day],
            "period": ["2026Q2"],
            "arm": ["treatment"],
            "band": ["high"],
            "probability": [0.7],
            "created_at": [at],
            "due_at": [at + pd.Timedelta(hours=hours)],
            "recorded_at": [at],
        }
    )


def _day(store, day: date, scores: pd.DataFrame, opened=None, events=None) -> None:
    replace_list(
        store,
        day,
        run={**_run(f"run-{day}"), "list_date": day},
        scores=scores.assign(list_date=day, run_id=f"run-{day}"),
        followups=_follow(f"run-{day}").assign(list_date=day),
        opened=opened,
        events=events,
    )


def test_a_v1_store_migrates_and_keeps_its_outreach(store_url):
    engine = create_engine(store_url)
    with engine.begin() as conn:  # a store as version 1 left it, with one call logged
        st.schema_version.create(conn)
        st._v1(conn)
        conn.execute(insert(st.schema_version).values(version=1, applied_at=T, description="v1"))
    with engine.begin() as conn:
        for table, names in {
            "risk_scores": ("period", "follow_up_id"),
            "outreach": ("follow_up_id",),
        }.items():
            for name in names:
                conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {name}")
        conn.exec_driver_sql(
            "INSERT INTO outreach (customer_id, contacted_at, outcome, recorded_at) "
            "VALUES ('old', '2026-04-10 00:00:00', 'reached', '2026-04-10 00:00:00')"
        )
    engine.dispose()
    store = open_store(store_url)
    assert store.version() == 2
    with store.engine.connect() as conn:
        assert {"period", "follow_up_id"} <= {
            c["name"] for c in inspect(conn).get_columns("risk_scores")
        }
    old = read_outreach(store)
    assert old["customer_id"].tolist() == ["old"] and old["follow_up_id"].isna().all()
    # a contact for a customer with no follow-up goes to the attempt log alone
    logged = record_contact(store, customer_id="old", outcome="reached", contacted_at=T)
    assert logged.follow_up_id is None and logged.status is None


def test_outcomes_follow_the_transitions_and_reads_are_point_in_time(store_url):
    store = open_store(store_url)
    day = T.date()
    _day(store, day, _scores(4, "r"), opened=_opened("c1", day))
    fid = f"risk:c1:{day}"
    tried = record_contact(
        store,
        customer_id="c1",
        outcome="no_answer",
        contacted_at=T + timedelta(hours=2),
        recorded_at=T + timedelta(hours=2),
    )
    assert (tried.follow_up_id, tried.status) == (fid, "attempted")
    done = record_contact(
        store,
        customer_id="c1",
        follow_up_id=fid,
        outcome="resolved",
        contacted_at=T + timedelta(hours=5),
        recorded_at=T + timedelta(hours=5),
    )
    assert done.status == "resolved"
    with pytest.raises(TransitionError, match="resolved: it is closed"):
        record_contact(
            store,
            customer_id="c1",
            follow_up_id=fid,
            outcome="reached",
            contacted_at=T + timedelta(hours=6),
            recorded_at=T + timedelta(hours=6),
        )
    with pytest.raises(FollowUpNotFoundError):
        record_contact(
            store, customer_id="c1", follow_up_id="risk:nobody", outcome="reached", contacted_at=T
        )
    assert len(read_outreach(store)) == 2  # the refused ones wrote nothing
    for hours, status in ((1, "open"), (3, "attempted"), (5, "resolved")):
        _, state = read_follow_ups(store, T + timedelta(hours=hours))
        assert state["status"].tolist() == [status], hours
    _, early = read_follow_ups(store, T - timedelta(seconds=1))
    assert early.empty  # not known before the run that opened it
    total, _ = read_follow_ups(store, T + timedelta(hours=80), overdue=True)
    assert total == 0  # resolved: its clock stopped


def test_an_expiry_is_written_once_and_a_rerun_adds_nothing(store_url):
    store = open_store(store_url)
    d1, d2 = T.date(), (T + timedelta(days=4)).date()
    _day(store, d1, _scores(4, "r"), opened=_opened("c1", d1, hours=24))
    expiry = pd.DataFrame(
        {
            "follow_up_id": [f"risk:c1:{d1}"],
            "status": ["expired"],
            "at": [pd.Timestamp(d2, tz="UTC")],
            "recorded_at": [pd.Timestamp(d2, tz="UTC")],
        }
    )
    for _ in range(2):  # a re-run of each date
        _day(store, d1, _scores(4, "r"), opened=_opened("c1", d1, hours=24))
        _day(store, d2, _scores(4, "r"), events=expiry)
    with store.engine.connect() as conn:
        events = conn.execute(select(st.ledger_events.c.status)).scalars().all()
        follow = conn.execute(select(st.ledger_follow_ups.c.follow_up_id)).scalars().all()
    assert sorted(events) == ["expired", "open"] and len(follow) == 1
    with pytest.raises(TransitionError, match="expired"):
        record_contact(
            store,
            customer_id="c1",
            follow_up_id=f"risk:c1:{d1}",
            outcome="reached",
            contacted_at=datetime.now(UTC),
        )


def test_first_flags_keep_the_first_arm_and_censor_a_called_control(store_url):
    store = open_store(store_url)
    april, may, july = date(2026, 4, 10), date(2026, 5, 12), date(2026, 7, 1)
    scores = _scores(4, "r").assign(
        customer_id=["t1", "k1", "k2", "x"],
        grp=["treatment", "control", "control", "treatment"],
        flagged=[True, True, True, False],
        period="2026Q2",
    )
    _day(store, april, scores)
    _day(store, may, scores.assign(band="low"))
    _day(store, july, scores.assign(period="2026Q3"))
    record_contact(
        store, customer_id="k1", outcome="reached", contacted_at=datetime(2026, 5, 1, 9, tzinfo=UTC)
    )
    flags = first_flags(store, "2026Q2").set_index("customer_id")
    assert sorted(flags.index) == ["k1", "k2", "t1"]  # x was never flagged
    assert (flags["first_flag_date"] == april).all()
    assert flags["band"].to_dict() == {
        "k1": "high",
        "k2": "low",
        "t1": "high",
    }  # April's, not May's
    assert flags.loc["k1", "arm"] == "control" and flags.loc["k1", "censor_date"] == date(
        2026, 5, 1
    )
    assert flags.loc["k1", "censor_reason"] == "contacted while in control"
    for c in ("t1", "k2"):
        assert flags.loc[c, "censor_date"] == date(2026, 7, 1)
        assert flags.loc[c, "censor_reason"] == "period end"
    assert len(first_flags(store, "2026Q3")) == 3
    known_then = first_flags(store, "2026Q2", as_of=datetime(2026, 4, 30, tzinfo=UTC))
    assert known_then.empty or (known_then["censor_reason"] == "period end").all()
