"""The daily list end to end on simulated data, through the store, the files and the API."""

import json

import pandas as pd
import pytest

from features.dataset import load_dataset
from features.rows import internal_ids
from nps_core.config import Settings
from nps_core.playbooks import CONTROL_ACTION
from serving.lists.policy import ListPolicy
from serving.lists.scoring import score_day
from serving.lists.store import open_store, read_followups, read_list, runs_for


@pytest.fixture(scope="module")
def day(sim_dir):
    return (load_dataset(sim_dir).interactions["opened_at"].max() - pd.Timedelta(days=2)).date()


@pytest.fixture(scope="module")
def scored(serving_settings, sim_dir, day, tmp_path_factory):
    settings = Settings(
        home=serving_settings.home,
        outputs_dir=tmp_path_factory.mktemp("outputs"),
        database_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/store.db",
    )
    report = score_day(
        settings, sim_dir, day, policy=ListPolicy(capacity=25, control_share=0.2), progress=False
    )
    return settings, report


def test_the_list_respects_capacity_control_and_exclusions(scored, sim_dir):
    settings, report = scored
    store = open_store(settings.store_url)
    _, work = read_list(store, report.list_date, limit=10_000)
    _, everyone = read_list(store, report.list_date, limit=100_000, flagged_only=False, group=None)
    assert len(work) == report.counts["to_call"] == 25 and (work["grp"] == "treatment").all()
    assert work["probability"].is_monotonic_decreasing and work["reasons"].notna().all()
    control = everyone[everyone["flagged"] & (everyone["grp"] == "control")]
    assert len(control) == report.counts["control_flagged"] > 0
    assert (
        control["rank"].max() < work["rank"].max()
    )  # control met on the way down the same ranking
    data = load_dataset(sim_dir)
    assert not set(everyone["customer_id"]) & set(internal_ids(data.customers))
    as_of = pd.Timestamp(report.list_date, tz="UTC")
    recent = data.surveys[
        (data.surveys["responded_at"] >= as_of - pd.Timedelta(days=30))
        & (data.surveys["responded_at"] < as_of)
    ]
    assert not set(everyone["customer_id"]) & set(recent["customer_id"])  # survey fatigue
    assert (
        report.left_out["beyond today's capacity of 25"]
        == report.counts["eligible"] - len(work) - (everyone["grp"] == "control").sum()
    )
    reasons = json.loads(work.iloc[0]["reasons"])
    assert len(reasons) == 3 and all(r["text"] for r in reasons)


def test_files_keep_control_customers_out_of_the_list_to_work(scored):
    _, report = scored
    work = pd.read_csv(report.files["list to work"])
    control = pd.read_csv(report.files["control group"])
    assert not set(work["customer_id"]) & set(control["customer_id"])
    predicted = work[work["part"] == "predicted risk"]
    assert len(predicted) == 25 and predicted["reasons"].str.len().gt(0).all()
    loop = work[work["part"].str.startswith("close the loop")]
    assert len(loop) == report.counts["detractor_follow_ups"]
    html = report.files["summary"].read_text()
    assert (
        "Who to call on" in html
        and "data:image/png;base64," in html
        and "Left out, and why" in html
    )


def test_close_the_loop_lists_recent_detractors(scored):
    settings, report = scored
    follow = read_followups(open_store(settings.store_url), report.list_date, "detractor")
    assert len(follow) == report.counts["detractor_follow_ups"] > 0
    assert (follow["score"] <= 6).all() and follow["hours_left"].notna().all()
    assert (follow["overdue"] == (follow["hours_left"] < 0)).all()


def test_rerunning_a_date_replaces_it(scored, sim_dir):
    settings, report = scored
    again = score_day(
        settings,
        sim_dir,
        report.list_date,
        policy=ListPolicy(capacity=10, control_share=0.2),
        progress=False,
    )
    store = open_store(settings.store_url)
    _, work = read_list(store, report.list_date, limit=10_000)
    assert len(work) == 10 and set(work["run_id"]) == {again.run_id}
    assert [r["run_id"] for r in runs_for(store, report.list_date)] == [again.run_id]


def test_control_customers_are_never_someone_to_call(scored):
    settings, report = scored
    store = open_store(settings.store_url)
    _, everyone = read_list(store, report.list_date, limit=100_000, flagged_only=False, group=None)
    control = everyone[everyone["grp"] == "control"]
    assert len(control) and (control["action"] == CONTROL_ACTION).all()
    assert not (everyone.loc[everyone["grp"] == "treatment", "action"] == CONTROL_ACTION).any()
    follow = read_followups(store, report.list_date)
    assert (follow.loc[follow["grp"] == "control", "action"] == CONTROL_ACTION).all()
    work = pd.read_csv(report.files["list to work"])
    held_out = set(control["customer_id"]) | set(
        follow.loc[follow["grp"] == "control", "customer_id"]
    )
    assert not set(work["customer_id"].astype(str)) & held_out
    assert not work["action"].eq(CONTROL_ACTION).any()
    analysis = pd.read_csv(report.files["control group"])
    assert len(analysis) and (analysis["action"] == CONTROL_ACTION).all()


def test_the_api_shows_a_control_customer_as_control_with_no_call(scored):
    """Also for a list stored before control rows carried their own action."""
    from nps_core.playbooks import ACTIONS, Band
    from serving.api.app import create_app
    from serving.lists.store import replace_list
    from tests.serving.conftest import USER_KEY, _digest
    from tests.serving.inprocess import InProcessClient
    from tests.serving.lists.test_store import _follow, _run, _scores

    settings, report = scored
    store = open_store(settings.store_url)
    _, everyone = read_list(store, report.list_date, limit=100_000, flagged_only=False, group=None)
    member = everyone.loc[everyone["grp"] == "control", "customer_id"].iloc[0]
    older = report.list_date - pd.Timedelta(days=40)
    legacy = _scores(1, "legacy", older).assign(
        customer_id="legacy-control", grp="control", flagged=True, action=ACTIONS[Band.HIGH]
    )
    replace_list(
        store,
        older,
        run={**_run("legacy"), "list_date": older},
        scores=legacy,
        followups=_follow("legacy").iloc[:0],
    )
    app = create_app(settings.model_copy(update={"api_keys": _digest(USER_KEY)}))
    with InProcessClient(app, headers={"Authorization": f"Bearer {USER_KEY}"}) as client:
        for customer in (member, "legacy-control"):
            entry = client.get(f"/v1/customers/{customer}/risk").json()
            assert entry["group"] == "control" and entry["action"] == CONTROL_ACTION, entry
        listed = client.get("/v1/risk-list", params={"limit": 10_000}).json()["entries"]
        assert listed and all(e["group"] == "treatment" for e in listed)
        assert all(e["action"] != CONTROL_ACTION for e in listed)
        spec = client.get("/openapi.json").json()
    assert "not the outreach decision" in spec["paths"]["/v1/predict"]["post"]["description"]
