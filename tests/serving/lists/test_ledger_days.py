"""The ledger across daily runs on simulated data: state carries from day to day, follow-ups
expire at the next run, a past date re-runs to the same list, and the API reads it all."""

import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from features.dataset import load_dataset
from nps_core.config import Settings
from nps_core.playbooks import CONTROL_ACTION
from serving.lists.policy import ListPolicy
from serving.lists.scoring import score_day
from serving.lists.store import (
    first_flags,
    open_store,
    read_follow_ups,
    read_followups,
    read_list,
    record_contact,
)

POLICY = ListPolicy(capacity=15, control_share=0.2)


def _t(day) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture(scope="module")
def loop(serving_settings, sim_dir, tmp_path_factory):
    """Days 1..5 scored in order, with outcomes recorded as they happen; then late records
    (contacts before day 3, recorded after day 5) and a re-run of day 3."""
    last = load_dataset(sim_dir).interactions["opened_at"].max()
    days = [(last - pd.Timedelta(days=k)).date() for k in (7, 6, 5, 4, 3)]
    settings = Settings(
        home=serving_settings.home,
        outputs_dir=tmp_path_factory.mktemp("outputs"),
        database_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/store.db",
    )
    store = open_store(settings.store_url)

    def run(day):
        return score_day(settings, sim_dir, day, policy=POLICY, progress=False)

    facts = {"days": days, "settings": settings, "store": store}
    first = run(days[0])
    t1 = _t(days[0])
    _, work1 = read_list(store, days[0], limit=1000)
    facts["idle"] = work1["customer_id"].iloc[0]  # flagged, nobody calls: stays in follow-up
    facts["tried"] = work1["customer_id"].iloc[1]
    record_contact(
        store,
        customer_id=facts["tried"],
        outcome="no_answer",
        contacted_at=t1 + timedelta(hours=3),
        recorded_at=t1 + timedelta(hours=3),
    )
    detractors = read_followups(store, days[0], "detractor")
    waiting = detractors[detractors["status"] == "open"].sort_values("hours_left")
    assert len(waiting) >= 2, "the simulation should give day 1 two Detractor answers"
    # one reached within its 24 hours (1 hour into the day), one nobody calls
    facts["resolved"], facts["ignored"] = waiting.iloc[-1], waiting.iloc[0]
    assert facts["resolved"]["hours_left"] > 1
    done = record_contact(
        store,
        customer_id=facts["resolved"]["customer_id"],
        follow_up_id=facts["resolved"]["follow_up_id"],
        outcome="resolved",
        contacted_at=t1 + timedelta(hours=1),
        recorded_at=t1 + timedelta(hours=1),
    )
    assert done.status == "resolved"
    facts[days[0]] = first
    for day in days[1:]:
        facts[day] = run(day)
    facts["csv3"] = facts[days[2]].files["list to work"].read_bytes()
    _, facts["list3"] = read_list(store, days[2], limit=100_000, flagged_only=False, group=None)
    _, work3 = read_list(store, days[2], limit=1000)
    late = _t(days[4]) + timedelta(days=30)  # known long after, about contacts before day 3
    for customer in work3["customer_id"].head(3):
        record_contact(
            store,
            customer_id=customer,
            outcome="resolved",
            contacted_at=_t(days[1]) + timedelta(hours=5),
            recorded_at=late,
        )
    facts["rerun3"] = run(days[2])
    return facts


def test_a_customer_in_follow_up_is_not_listed_again(loop):
    store, (_, d2, *_) = loop["store"], loop["days"]
    _, day2 = read_list(store, d2, limit=100_000, flagged_only=False, group=None)
    assert loop["idle"] not in set(day2["customer_id"])
    assert loop["tried"] not in set(day2["customer_id"])
    assert loop[d2].left_out["already in follow-up"] >= 2
    state = read_follow_ups(store, _t(d2), customer_id=loop["idle"])[1]
    assert state["status"].tolist() == ["open"] and state["kind"].tolist() == ["predicted_risk"]


def test_closed_and_expired_detractor_follow_ups_never_reappear(loop):
    store, (_, d2, *_) = loop["store"], loop["days"]
    resolved, ignored = loop["resolved"], loop["ignored"]
    later = pd.concat([read_followups(store, d) for d in loop["days"][1:]])
    assert resolved["response_id"] not in set(later["response_id"])
    # nobody reached the other one within its 24 hours: the next run expired it, as of its time
    assert pd.Timestamp(ignored["due_at"]) <= pd.Timestamp(_t(d2))
    assert ignored["response_id"] not in set(later["response_id"])
    _, state = read_follow_ups(store, _t(d2), customer_id=ignored["customer_id"])
    row = state[state["follow_up_id"] == ignored["follow_up_id"]].iloc[0]
    assert row["status"] == "expired" and row["status_at"] == pd.Timestamp(_t(d2))
    _, before = read_follow_ups(
        store, _t(d2) - timedelta(seconds=1), customer_id=ignored["customer_id"]
    )
    assert before.set_index("follow_up_id").loc[ignored["follow_up_id"], "status"] == "open"
    assert loop[d2].counts["follow_ups_expired"] >= 1


def test_rerunning_a_past_date_reads_the_ledger_as_known_then(loop):
    d3 = loop["days"][2]
    rerun = loop["rerun3"].files["list to work"].read_bytes()
    changed = set(rerun.decode().splitlines()) ^ set(loop["csv3"].decode().splitlines())
    assert rerun == loop["csv3"], "\n".join(sorted(changed))
    _, again = read_list(loop["store"], d3, limit=100_000, flagged_only=False, group=None)
    cols = ["customer_id", "rank", "grp", "flagged", "band", "period", "follow_up_id"]
    pd.testing.assert_frame_equal(
        again[cols].reset_index(drop=True), loop["list3"][cols].reset_index(drop=True)
    )
    # the work CSV shows the SLA clock of each follow-up
    work = pd.read_csv(loop["rerun3"].files["list to work"])
    predicted = work[work["part"] == "predicted risk"]
    assert predicted["follow_up_id"].str.startswith("risk:").all()
    assert (predicted["hours_left"] == POLICY.predicted_follow_up_hours).all()
    assert not predicted["overdue"].any()


def test_the_period_is_stored_and_first_flags_follow_the_first_arm(loop):
    store, days = loop["store"], loop["days"]
    label = str(pd.Timestamp(days[0]).to_period("Q"))
    _, rows = read_list(store, days[0], limit=100_000, flagged_only=False, group=None)
    assert (rows["period"] == label).all()
    flags = first_flags(store, label)
    assert set(flags.columns) == {
        "customer_id",
        "period",
        "arm",
        "first_flag_date",
        "band",
        "censor_date",
        "censor_reason",
    }
    assert loop["idle"] in set(flags.loc[flags["arm"] == "treatment", "customer_id"])
    flagged = pd.concat(
        [read_list(store, d, limit=100_000, flagged_only=True, group=None)[1] for d in days]
    )
    assert set(flags["customer_id"]) == set(flagged["customer_id"])
    assert (flags["first_flag_date"] >= days[0]).all()


def test_control_customers_never_get_a_follow_up(loop):
    store, days = loop["store"], loop["days"]
    control = pd.concat(
        [read_list(store, d, limit=100_000, flagged_only=False, group="control")[1] for d in days]
    )
    assert len(control) and control["follow_up_id"].isna().all()
    _, everything = read_follow_ups(store, _t(days[-1]) + timedelta(days=60), limit=100_000)
    predicted = everything[everything["kind"] == "predicted_risk"]
    assert not set(predicted["customer_id"]) & set(control["customer_id"])
    for day in days:  # all in one quarter: a control customer is control on every one
        work = pd.read_csv(loop[day].files["list to work"])
        predicted = work[work["part"] == "predicted risk"]
        assert not set(predicted["customer_id"].astype(str)) & set(control["customer_id"])
        assert not work["action"].eq(CONTROL_ACTION).any()
        # a control customer who answers as a Detractor is still called back (the playbook):
        # first_flags censors them there, "contacted while in control"


def _client(loop):
    from serving.api.app import create_app
    from tests.serving.conftest import USER_KEY, _digest
    from tests.serving.inprocess import InProcessClient

    settings = loop["settings"].model_copy(update={"api_keys": _digest(USER_KEY)})
    return InProcessClient(
        create_app(settings), headers={"Authorization": f"Bearer {USER_KEY}"}, lifespan=False
    )


def test_the_team_figures_of_the_page_are_the_json_route_s(loop):
    last = loop["days"][-1]
    html = loop[last].files["summary"].read_text()
    table = re.search(r'<div id="team-figures">(.*?)</div>', html, re.S).group(1)
    cells = [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]
    cells = [c for c in cells if c]
    with _client(loop) as client:
        answer = client.get("/v1/outreach/teams", params={"as_of": _t(last).isoformat()})
    assert answer.status_code == 200, answer.text
    teams = answer.json()["teams"]
    assert teams and len(cells) == len(teams)
    for row, team in zip(cells, teams, strict=True):
        assert row[0] == team["team"]
        assert int(row[1]) == team["due"] and int(row[2]) == team["closed_in_time"]
        assert row[3] == f"{100 * team['rate']:.1f}%"
        assert row[4] == f"{100 * team['ci_low']:.1f}% - {100 * team['ci_high']:.1f}%"
        assert team["ci_low"] <= team["rate"] <= team["ci_high"]
        assert int(row[5]) == team["contacted"]
        median = team["median_hours_to_first_contact"]
        assert row[6] == ("" if median is None else f"{median:.2f}")
    assert any(t["closed_in_time"] for t in teams)  # the resolved Detractor counts


def test_outreach_routes_record_validate_and_read(loop):
    store, days = loop["store"], loop["days"]
    _, open_now = read_follow_ups(store, datetime.now(UTC), status="open", kind="predicted_risk")
    target = open_now.iloc[0]
    with _client(loop) as client:
        r = client.post(
            "/v1/outreach",
            json={
                "customer_id": target["customer_id"],
                "follow_up_id": target["follow_up_id"],
                "outcome": "no_answer",
            },
        )
        assert r.status_code == 201 and r.json()["status"] == "attempted", r.text
        r = client.post(
            "/v1/outreach", json={"customer_id": target["customer_id"], "outcome": "resolved"}
        )
        assert (
            r.json()["follow_up_id"] == target["follow_up_id"] and r.json()["status"] == "resolved"
        )
        again = client.post(
            "/v1/outreach",
            json={
                "customer_id": target["customer_id"],
                "follow_up_id": target["follow_up_id"],
                "outcome": "reached",
            },
        )
        assert again.status_code == 409 and "resolved: it is closed" in again.json()["error"]
        expired = loop["ignored"]
        r = client.post(
            "/v1/outreach",
            json={
                "customer_id": expired["customer_id"],
                "follow_up_id": expired["follow_up_id"],
                "outcome": "reached",
            },
        )
        assert r.status_code == 409 and "expired" in r.json()["error"]
        r = client.post(
            "/v1/outreach",
            json={"customer_id": "x", "follow_up_id": "risk:nobody", "outcome": "reached"},
        )
        assert r.status_code == 404
        r = client.post(
            "/v1/outreach",
            json={
                "customer_id": "someone-else",
                "follow_up_id": target["follow_up_id"],
                "outcome": "reached",
            },
        )
        assert r.status_code == 422 and "another customer" in r.json()["error"]
        assert (
            client.post("/v1/outreach", json={"customer_id": "x", "outcome": "maybe"}).status_code
            == 422
        )
        listed = client.get("/v1/outreach", params={"status": "resolved", "limit": 1000}).json()
        assert target["follow_up_id"] in {f["follow_up_id"] for f in listed["follow_ups"]}
        assert all(f["status"] == "resolved" for f in listed["follow_ups"])
        page = client.get("/v1/outreach", params={"limit": 2}).json()
        assert page["count"] == 2 and page["total"] > 2
        assert client.get("/v1/outreach", params={"limit": 5000}).status_code == 422
        late = client.get("/v1/outreach", params={"overdue": "true", "limit": 1000}).json()[
            "follow_ups"
        ]
        assert late and all(f["overdue"] and f["hours_left"] < 0 for f in late)
        team = late[0]["owner_team"]
        by_team = client.get("/v1/outreach", params={"team": team, "limit": 1000}).json()[
            "follow_ups"
        ]
        assert by_team and all(f["owner_team"] == team for f in by_team)
        everything = client.get("/v1/outreach", params={"limit": 1000}).json()["follow_ups"]
        entries = client.get("/v1/risk-list", params={"limit": 1000}).json()["entries"]
        assert client.get("/v1/outreach").status_code == 200
    control = pd.concat(
        [read_list(store, d, limit=100_000, flagged_only=False, group="control")[1] for d in days]
    )
    assert not {f["customer_id"] for f in everything if f["kind"] == "predicted_risk"} & set(
        control["customer_id"]
    )
    assert all(f["action"] != CONTROL_ACTION for f in everything)
    assert entries and all(e["follow_up_id"] and e["due_at"] and e["status"] for e in entries)
    assert all(e["period"] for e in entries)
