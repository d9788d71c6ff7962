"""Live risk from the database source equals the daily snapshot for the same customer and
time, also a month after training (where the history frozen in the model has gone stale);
and through a real uvicorn, events for a new escalated, unresolved ticket raise the risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.database import open_source
from features.dataset import load_dataset, write_tables
from features.ingest import load_tables
from features.live import live_features
from features.online import OnlineCustomer, online_features
from features.rows import snapshot_as_of
from nps_core.config import Settings
from serving.lists.live import live_risk
from serving.lists.policy import ListPolicy, in_control, period_label
from serving.predictor import ServingModel
from tests.serving.conftest import start_server, stop_server
from training.registry import CHAMPION, load_model, promote
from training.workflow import train_from_data

DAY = pd.Timedelta(days=1)


def _tables(dataset) -> dict[str, pd.DataFrame]:
    return {
        "interactions": dataset.interactions,
        "surveys": dataset.surveys,
        "customers": dataset.customers,
    }


@pytest.fixture(scope="module")
def full(sim_dir):
    return load_dataset(sim_dir)


@pytest.fixture(scope="module")
def trained_at(full) -> pd.Timestamp:
    """Training time: 30 days before the last simulated answer."""
    return full.surveys["responded_at"].max().floor("D") - 30 * DAY


@pytest.fixture(scope="module")
def early_model(tmp_path_factory, full, trained_at) -> ServingModel:
    """A champion trained on what was known 30 days before the data ends."""
    known = tmp_path_factory.mktemp("known-at-training")
    write_tables(
        known,
        {
            "interactions": full.interactions[full.interactions["opened_at"] < trained_at],
            "surveys": full.surveys[full.surveys["responded_at"] < trained_at],
            "customers": full.customers,
        },
    )
    settings = Settings(home=tmp_path_factory.mktemp("early-home"))
    train_from_data(settings, known)
    assert promote(settings).promoted
    return ServingModel(load_model(settings, CHAMPION))


def _snapshot_probabilities(model: ServingModel, dataset, as_of: pd.Timestamp) -> pd.Series:
    assert model.spec is not None
    snap = snapshot_as_of(
        dataset.interactions, dataset.surveys, dataset.customers, as_of, model.spec
    )
    matrix = model.model.encoder_.transform(snap)
    ids = list(snap["customer_id"].astype(str))
    return pd.Series([s.probability for s in model.answer(ids, matrix)], index=ids)


def test_live_risk_equals_the_snapshot_a_month_after_training(
    early_model, full, trained_at, store_url
):
    load_tables(store_url, _tables(full), full.scale)
    source = open_source(store_url)
    as_of = trained_at + 30 * DAY + pd.Timedelta(hours=13, minutes=7)  # mid-day: partial day
    expected = _snapshot_probabilities(early_model, full, as_of)
    ids = list(expected.index[:: max(1, len(expected) // 60)])
    policy = ListPolicy(control_share=0.0)
    live = pd.Series(
        [live_risk(early_model, source, cid, as_of, policy).probability for cid in ids],
        index=ids,
    )
    np.testing.assert_array_equal(live.to_numpy(), expected.loc[ids].to_numpy())

    # the history frozen in the model at training time has gone stale by now
    assert early_model.spec is not None and early_model.history is not None
    frozen = _frozen_probabilities(early_model, full, ids, as_of)
    assert (np.abs(frozen - expected.loc[ids].to_numpy()) > 1e-9).any()


def _frozen_probabilities(model: ServingModel, dataset, ids: list[str], as_of) -> np.ndarray:
    """The same customers through the raw-interaction path and the model's frozen history."""
    assert model.spec is not None
    customers = []
    for cid in ids:
        mine = dataset.interactions[dataset.interactions["customer_id"] == cid]
        answers = dataset.surveys[dataset.surveys["customer_id"] == cid]
        attributes = dataset.customers[dataset.customers["customer_id"] == cid]
        customers.append(
            OnlineCustomer(
                customer_id=cid,
                as_of=as_of,
                interactions=mine.drop(columns="customer_id").to_dict("records"),
                surveys=answers.drop(columns="customer_id").to_dict("records"),
                attributes=attributes.drop(columns="customer_id").iloc[0].to_dict()
                if len(attributes)
                else {},
            )
        )
    frame = online_features(customers, model.spec, model.history)
    scored = model.answer(ids, model.model.encoder_.transform(frame))
    return np.array([s.probability for s in scored])


def test_live_features_equal_the_snapshot_at_any_time(full, store_url, serving_settings):
    load_tables(store_url, _tables(full), full.scale)
    source = open_source(store_url)
    spec = ServingModel(load_model(serving_settings, CHAMPION)).spec
    assert spec is not None
    end = full.surveys["responded_at"].max()
    for as_of in (end - 100 * DAY + pd.Timedelta(minutes=1), end.floor("D"), end + DAY):
        snap = snapshot_as_of(full.interactions, full.surveys, full.customers, as_of, spec)
        snap = snap.set_index("customer_id").drop(columns="as_of")
        for cid in snap.index[:: max(1, len(snap) // 25)]:
            live = live_features(source, cid, as_of, spec)
            assert live is not None
            pd.testing.assert_frame_equal(
                live.set_axis(pd.Index([cid], name="customer_id")),
                snap.loc[[cid]],
                check_dtype=False,
                check_index_type=False,
            )


# --- through a real uvicorn ---------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server(serving_settings, full, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('live-db') / 'source.db'}"
    load_tables(url, _tables(full), full.scale)
    server = start_server(serving_settings, NPS_RISK_DATA_URL=url)
    yield server, url
    stop_server(server)


def _treatment_customer(full) -> str:
    """A customer with history who is not in this month's control group."""
    now = pd.Timestamp.now(tz="UTC")
    ids = full.interactions["customer_id"].drop_duplicates().astype(str).reset_index(drop=True)
    control = in_control(ids, period_label(now, "M"), Settings().control_share)
    return str(ids[~control].iloc[0])


def test_events_for_a_new_escalated_open_ticket_raise_live_risk(live_server, full):
    server, url = live_server
    customer = _treatment_customer(full)
    with server.client() as client:
        before = client.get(f"/v1/customers/{customer}/risk", params={"live": "true"})
        assert before.status_code == 200, before.text
        opened = pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=2)
        ticket = {
            "type": "interaction",
            "interaction_id": f"LIVE-{customer}",
            "customer_id": customer,
            "channel": "phone",
            "opened_at": opened.isoformat(),
            "agent_id": "A001",
            "team": "technical",
            "category": "bug",
        }
        created = client.post("/v1/events", json={"events": [ticket]})
        assert created.status_code == 200, created.text
        escalated = {**ticket, "escalated": True, "transfers": 2, "contacts": 3}
        assert client.post("/v1/events", json={"events": [escalated]}).status_code == 200
        after = client.get(f"/v1/customers/{customer}/risk", params={"live": "true"})
    assert after.status_code == 200, after.text
    old, new = before.json(), after.json()
    assert new["group"] == "treatment" and new["action"]
    assert new["probability"] > old["probability"]
    assert new["features"]["open_tickets"] == old["features"]["open_tickets"] + 1
    assert new["features"]["contacts_7d"] == old["features"]["contacts_7d"] + 1
    assert new["features"]["last_channel"] == "phone"

    fresh = load_dataset(url)  # everything the database knows now, events included
    as_of = pd.Timestamp(new["as_of"])
    model = ServingModel(load_model(server.settings, CHAMPION))
    expected = _snapshot_probabilities(model, fresh, as_of)
    assert new["probability"] == expected[customer]


def test_a_control_customer_gets_no_outreach(live_server, full):
    server, _ = live_server
    now = pd.Timestamp.now(tz="UTC")
    ids = full.interactions["customer_id"].drop_duplicates().astype(str).reset_index(drop=True)
    settings = Settings()  # the experiment period the list and the live route share (a quarter)
    control = ids[
        in_control(ids, period_label(now, settings.experiment_period), settings.control_share)
    ]
    with server.client() as client:
        r = client.get(f"/v1/customers/{control.iloc[0]}/risk", params={"live": "true"})
    assert r.status_code == 200
    assert r.json()["group"] == "control" and r.json()["action"] == "control: no outreach"


def test_live_risk_of_an_unknown_customer_is_404(live_server):
    server, _ = live_server
    with server.client() as client:
        r = client.get("/v1/customers/NOBODY/risk", params={"live": "true"})
    assert r.status_code == 404 and "NOBODY" in r.json()["error"]


def test_the_daily_list_from_a_database_refreshes_its_history(
    serving_settings, full, tmp_path, monkeypatch
):
    """`score --data URL` rebuilds the answer history from the tables (here: after it was
    damaged behind the tool's back)."""
    from sqlalchemy import text

    from serving.lists.scoring import score_day

    url = f"sqlite:///{tmp_path / 'source.db'}"
    load_tables(url, _tables(full), full.scale)
    source = open_source(url)
    with source.engine.begin() as conn:
        conn.execute(text("UPDATE answer_days SET answers = answers + 1000"))
    settings = serving_settings.model_copy(
        update={"outputs_dir": tmp_path / "outputs", "database_url": f"sqlite:///{tmp_path}/s.db"}
    )
    day = (full.surveys["responded_at"].max() + DAY).date()
    report = score_day(settings, url, day, progress=False)
    assert report.history_answers and "history of the database source" in report.summary()
    with source.engine.connect() as conn:
        total = conn.execute(text("SELECT SUM(answers) FROM answer_days WHERE scope = 'all'"))
        assert total.scalar() == report.history_answers


def test_serve_data_names_the_source_of_the_live_routes(monkeypatch, tmp_path):
    import uvicorn

    from nps_core.config import get_settings
    from serving import cli

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    monkeypatch.setenv("NPS_RISK_HOME", str(tmp_path))
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'source.db'}"
    try:
        assert cli.main(["serve", "--data", url]) == 0
        assert served[0].state.settings.data_url == url
        monkeypatch.setenv("NPS_RISK_DATA_URL", url)
        get_settings.cache_clear()
        assert cli.main(["serve"]) == 0
        assert served[1].state.settings.data_url == url
    finally:
        get_settings.cache_clear()
