"""POST /v1/events: validated by the contracts, all or nothing, idempotent, one batch one
transaction; the agent/team answer history stays what a rebuild from the tables gives.

In-process (no model is needed for events: ``lifespan=False``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from features.database import answer_days, answer_links, interactions, open_source, surveys
from features.ingest import rebuild_history
from nps_core.config import Settings
from serving.api.app import create_app
from serving.api.auth import digest
from tests.serving.conftest import USER_KEY
from tests.serving.inprocess import InProcessClient

AUTH = {"Authorization": f"Bearer {USER_KEY}"}


def ticket(n: int, **fields) -> dict:
    return {
        "type": "interaction",
        "interaction_id": f"T{n}",
        "customer_id": "C1",
        "channel": "Chat",
        "opened_at": "2026-03-01T09:00:00Z",
        "agent_id": "A1",
        "team": "billing",
        **fields,
    }


def answer(n: int, score: int, **fields) -> dict:
    return {
        "type": "survey",
        "response_id": f"R{n}",
        "customer_id": "C1",
        "responded_at": "2026-03-02T10:00:00Z",
        "score": score,
        "interaction_id": f"T{n}",
        **fields,
    }


@pytest.fixture
def client(store_url, tmp_path):
    settings = Settings(home=tmp_path, api_keys=digest(USER_KEY), data_url=store_url, max_events=5)
    with InProcessClient(create_app(settings), headers=AUTH, lifespan=False) as c:
        yield c, open_source(store_url)


def _rows(source, table) -> pd.DataFrame:
    with source.engine.connect() as conn:
        return pd.DataFrame(conn.execute(select(table)).mappings().all())


def _history(source) -> tuple[list, list]:
    with source.engine.connect() as conn:
        links = sorted(map(tuple, conn.execute(select(answer_links)).all()))
        days = sorted(
            map(tuple, conn.execute(select(answer_days).where(answer_days.c.answers != 0)).all())
        )
    return links, days


def test_a_ticket_is_created_then_updated_and_answered(client):
    c, source = client
    assert c.post("/v1/events", json={"events": [ticket(1)]}).json() == {
        "accepted": 1,
        "interactions": 1,
        "surveys": 0,
    }
    solved = ticket(1, resolved_at="2026-03-01T12:00:00Z", escalated=True)
    r = c.post("/v1/events", json={"events": [solved, answer(1, 3)]})
    assert r.status_code == 200, r.text
    rows = _rows(source, interactions)
    assert len(rows) == 1 and bool(rows.loc[0, "escalated"]) is True
    assert rows.loc[0, "channel"] == "chat"  # canonical, as validation makes it
    links, _ = _history(source)
    assert [(link[0], link[3], link[4], link[5]) for link in links] == [("R1", "A1", "billing", 1)]


def test_the_same_batch_twice_changes_nothing(client):
    c, source = client
    batch = {"events": [ticket(1), ticket(2, agent_id="A2"), answer(1, 2), answer(2, 9)]}
    assert c.post("/v1/events", json=batch).status_code == 200
    before = (_rows(source, interactions), _rows(source, surveys), _history(source))
    assert c.post("/v1/events", json=batch).status_code == 200
    after = (_rows(source, interactions), _rows(source, surveys), _history(source))
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])
    assert before[2] == after[2]


def test_incremental_history_equals_a_rebuild(client):
    c, source = client
    steps = [
        [ticket(1), answer(1, 2)],  # a Detractor about A1's ticket
        [answer(2, 10)],  # an answer before its ticket exists: not linked yet
        [ticket(2, agent_id="A2", team="tech")],  # now it is
        [ticket(1, agent_id="A3")],  # the ticket moves to another agent: relinked
        [answer(1, 9)],  # the answer corrected: no longer a Detractor
        [ticket(3, opened_at="2026-03-05T00:00:00Z"), answer(3, 0)],  # answer before ticket
    ]
    for events in steps:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    incremental = _history(source)
    rebuild_history(source)
    assert _history(source) == incremental
    links = {link[0]: link for link in incremental[0]}
    assert set(links) == {"R1", "R2"}  # R3 answers about a ticket opened later
    assert (links["R1"][3], links["R1"][5]) == ("A3", 0)


@pytest.mark.parametrize(
    ("event", "field", "said"),
    [
        (answer(1, 11), "score", "score 11 outside the scale 0-10"),
        (ticket(1, resolved_at="2026-02-01T00:00:00Z"), "resolved_at", "before opened_at"),
        (ticket(1, sentiment=3.0), "sentiment", "outside [-1, 1]"),
        (ticket(1, transfers=-1), "transfers", "negative transfers"),
        (ticket(1, customer_id="   "), "customer_id", "missing required value"),
    ],
)
def test_a_bad_event_refuses_the_whole_batch(client, event, field, said):
    c, source = client
    r = c.post("/v1/events", json={"events": [ticket(7), event]})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "events", 1, field]
    assert said in detail[0]["msg"]
    assert len(_rows(source, interactions)) == 0  # not even the good ticket


def test_a_malformed_event_names_its_index_and_field(client):
    c, _ = client
    r = c.post("/v1/events", json={"events": [ticket(1), {**answer(1, 5), "score": "ten"}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:4] == ["body", "events", 1, "survey"]
    r = c.post("/v1/events", json={"events": [{**ticket(1), "priority": 3}]})
    assert r.status_code == 422 and "passthrough field 'priority'" in r.text
    r = c.post("/v1/events", json={"events": [{"type": "refund"}]})
    assert r.status_code == 422


def test_a_batch_over_the_limit_is_413(client):
    c, source = client
    r = c.post("/v1/events", json={"events": [ticket(n) for n in range(6)]})
    assert r.status_code == 413 and "at most 5 events" in r.json()["error"]
    with source.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(interactions)).scalar() == 0


def test_events_need_a_key_and_a_source(tmp_path, store_url):
    settings = Settings(home=tmp_path, api_keys=digest(USER_KEY), data_url=store_url)
    with InProcessClient(create_app(settings), lifespan=False) as c:
        assert c.post("/v1/events", json={"events": [ticket(1)]}).status_code == 401
    settings = Settings(home=tmp_path, api_keys=digest(USER_KEY))
    with InProcessClient(create_app(settings), headers=AUTH, lifespan=False) as c:
        r = c.post("/v1/events", json={"events": [ticket(1)]})
        assert r.status_code == 503 and "--data URL" in r.json()["error"]


def test_concurrent_batches_keep_the_history_exact(store_url):
    """Writers are serialised (SQLite's write lock at BEGIN, an advisory lock on PostgreSQL):
    answers posted from several threads at once count exactly once each."""
    from concurrent.futures import ThreadPoolExecutor

    from features.ingest import check_events, write_events
    from nps_core.scale import NPS_SCALE

    source = open_source(store_url)

    def post(worker: int) -> None:
        for round_ in range(5):
            n = worker * 100 + round_
            events = [ticket(n, agent_id=f"A{worker % 2}"), answer(n, n % 11)]
            tickets = [(0, {k: v for k, v in events[0].items() if k != "type"})]
            answers = [(1, {k: v for k, v in events[1].items() if k != "type"})]
            tickets[0][1]["opened_at"] = pd.Timestamp(tickets[0][1]["opened_at"])
            answers[0][1]["responded_at"] = pd.Timestamp(answers[0][1]["responded_at"])
            write_events(source, check_events(tickets, answers, NPS_SCALE), NPS_SCALE)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, range(4)))
    incremental = _history(source)
    assert len(incremental[0]) == 20
    rebuild_history(source)
    assert _history(source) == incremental
