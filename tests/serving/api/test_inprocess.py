"""The API in-process (httpx's ASGITransport on ``create_app``): fast, so every refusal
of /v1/predict is checked here; test_api.py runs a few of them through a real uvicorn."""

import numpy as np
import pandas as pd
import pytest

from features.catalog import FeatureSpec, feature_catalog
from features.rows import build_training_rows
from nps_core.config import Settings
from nps_core.scale import CSAT_SCALE
from serving.api.app import create_app
from serving.api.auth import digest
from serving.predictor import ServingModel
from tests.features.strategies import at, tables
from tests.serving.conftest import USER_KEY
from tests.serving.inprocess import InProcessClient
from training.model import DetractorModel, LgbmParams
from training.registry import LoadedModel

AUTH = {"Authorization": f"Bearer {USER_KEY}"}
NOW = "2026-03-10T00:00:00Z"


def _settings(home) -> Settings:
    return Settings(home=home, api_keys=digest(USER_KEY), max_batch=50)


@pytest.fixture(scope="module")
def client(serving_settings):
    """The session's champion (NPS scale, no extra columns), loaded by the app's lifespan."""
    with InProcessClient(create_app(_settings(serving_settings.home)), headers=AUTH) as c:
        assert c.get("/readyz").status_code == 200
        yield c


def _tiny_model(folder) -> ServingModel:
    """A model that reads one extra interaction column ('priority') on a CSAT 1-5 scale:
    fitted in a second on 120 made-up answers, never registered."""
    spec = FeatureSpec(
        channels=("chat", "email"), extra_categoricals=("priority",), scale=CSAT_SCALE
    )
    rng = np.random.default_rng(0)
    customers = [f"c{k}" for k in range(3)]
    rows = [
        {
            "interaction_id": f"i{k}",
            "customer_id": customers[k % 3],
            "channel": ["chat", "email"][k % 2],
            "opened_at": at(60 * k),
            "resolved_at": at(60 * k + 30),
            "priority": ["high", "low"][int(rng.integers(2))],
        }
        for k in range(120)
    ]
    answers = [
        {
            "response_id": f"r{k}",
            "customer_id": customers[k % 3],
            "responded_at": at(60 * k + 45),
            "score": int(rng.integers(1, 6)),
            "interaction_id": f"i{k}",
        }
        for k in range(120)
    ]
    inter, surv, cust = tables(rows, answers)
    inter = inter.assign(priority=pd.Series([r["priority"] for r in rows], dtype="str"))
    train = build_training_rows(inter, surv, cust, spec)
    catalog = feature_catalog(spec)
    features = list(catalog)
    y = train["is_detractor"].to_numpy(dtype=np.int64)
    model = DetractorModel(
        features,
        [f for f in features if catalog[f].kind == "categorical"],
        catalog,
        LgbmParams(max_rounds=5, early_stopping_rounds=5, min_child_samples=5, num_threads=1),
    ).fit(train, y, train, y, train, y)  # a fixture model: early stopping, calibration alike
    loaded = LoadedModel(
        model, {"spec": spec.as_dict()}, "tiny", "1", "champion", "registry", folder
    )
    return ServingModel(loaded)


@pytest.fixture(scope="module")
def tiny_client(tmp_path_factory):
    """An app serving ``_tiny_model``, put in place by hand (no registry, no lifespan)."""
    home = tmp_path_factory.mktemp("tiny-home")
    app = create_app(_settings(home))
    with InProcessClient(app, headers=AUTH, lifespan=False) as c:
        app.state.holder.current = _tiny_model(home)
        yield c


def _interaction(i: str = "i0", **fields) -> dict:
    return {"interaction_id": i, "channel": "chat", "opened_at": "2026-03-01T09:00:00Z"} | fields


def _raw(interactions: list[dict], surveys: list[dict] | None = None, **fields) -> dict:
    customer = {"customer_id": "c", "as_of": NOW, "interactions": interactions}
    return customer | ({"surveys": surveys} if surveys is not None else {}) | fields


def _body(*customers: dict) -> dict:
    """The customers after one given as feature values, so positions are checked too."""
    return {"customers": [{"customer_id": "f", "features": {}}, *customers]}


def _refused(response) -> list[dict]:
    """A 422 in the API's one error shape, with nothing of the server's insides."""
    assert response.status_code == 422, response.text
    answer = response.json()
    assert set(answer) == {"error", "detail"} and isinstance(answer["error"], str)
    assert answer["detail"] and all(set(d) == {"loc", "msg", "type"} for d in answer["detail"])
    for leak in ("Traceback", 'File "', ".py", "/work", "site-packages", "numpy", "pandas"):
        assert leak not in response.text
    return answer["detail"]


@pytest.mark.parametrize(
    ("field", "hint"), [("resolvedAt", "resolved_at"), ("escalted", "escalated")]
)
def test_an_unknown_interaction_field_is_refused_by_name(client, field, hint):
    """It used to be carried along and dropped: a ticket sent with ``resolvedAt`` was
    scored as never resolved."""
    rows = [_interaction("i0"), _interaction("i1"), _interaction("i2", **{field: True})]
    detail = _refused(client.post("/v1/predict", json=_body(_raw(rows))))
    assert detail == [
        {
            "loc": ["body", "customers", 1, "interactions", 2, field],
            "msg": detail[0]["msg"],
            "type": "extra_forbidden",
        }
    ]
    assert f"'{field}'" in detail[0]["msg"] and f"did you mean '{hint}'" in detail[0]["msg"]


def test_an_interaction_cannot_name_another_customer(client):
    detail = _refused(client.post("/v1/predict", json=_body(_raw([_interaction(customer_id="x")]))))
    assert detail[0]["loc"][-1] == "customer_id" and "remove 'customer_id'" in detail[0]["msg"]


@pytest.mark.parametrize(
    ("where", "body"),
    [
        (["body", "customers", 1, "asof"], _body(_raw([_interaction()], asof=NOW))),
        (["body", "customer"], _body() | {"customer": []}),
        (
            ["body", "customers", 1, "surveys", 0, "scroe"],
            _body(_raw([], [{"response_id": "r", "responded_at": NOW, "score": 3, "scroe": 9}])),
        ),
        (
            ["body", "customers", 1, "attributes", "segmnet"],
            _body(_raw([], attributes={"segmnet": "x"})),
        ),
    ],
    ids=["customer", "request", "survey", "attributes"],
)
def test_unknown_fields_anywhere_else_are_refused(client, where, body):
    """A misspelt ``as_of`` was ignored and the customer scored as of now."""
    detail = _refused(client.post("/v1/predict", json=body))
    assert [d["loc"] for d in detail] == [where] and detail[0]["type"] == "extra_forbidden"


def test_a_score_off_the_models_scale_is_refused_with_field_and_value(client, tiny_client):
    answer = {"response_id": "r0", "responded_at": "2026-03-02T00:00:00Z", "score": 7}
    # 7 is an NPS score: the NPS champion reads it ...
    assert (
        client.post("/v1/predict", json=_body(_raw([_interaction()], [answer]))).status_code == 200
    )
    # ... the CSAT 1-5 model cannot (the schema used to allow 0-10 whatever the model)
    body = _body(_raw([_interaction(priority="high")], [answer, answer | {"response_id": "r1"}]))
    detail = _refused(tiny_client.post("/v1/predict", json=body))
    assert detail[0]["loc"] == ["body", "customers", 1, "surveys", 0, "score"]
    assert "score 7" in detail[0]["msg"] and "from 1 to 5" in detail[0]["msg"]
    assert len(detail) == 2  # every problem is named, not only the first
    for score in (11, -1):
        off = _body(_raw([_interaction()], [answer | {"score": score}]))
        assert f"score {score}" in _refused(client.post("/v1/predict", json=off))[0]["msg"]


def test_duplicate_ids_within_one_customer_are_refused(client):
    """The batch path quarantines the repeat of an id; online it used to count twice."""
    twice = [_interaction("i0"), _interaction("i1"), _interaction("i0")]
    detail = _refused(client.post("/v1/predict", json=_body(_raw(twice))))
    assert detail[0]["loc"] == ["body", "customers", 1, "interactions", 2, "interaction_id"]
    assert "'i0'" in detail[0]["msg"] and "interactions[0]" in detail[0]["msg"]
    answer = {"response_id": "r0", "responded_at": "2026-03-02T00:00:00Z", "score": 3}
    body = _body(_raw([_interaction()], [answer, answer]))
    assert _refused(client.post("/v1/predict", json=body))[0]["loc"][-3:] == [
        "surveys",
        1,
        "response_id",
    ]
    # one customer asked about at two times may repeat its rows: each request customer is apart
    again = {"customers": [_raw([_interaction()]), _raw([_interaction()])]}
    assert client.post("/v1/predict", json=again).status_code == 200


def test_the_models_own_extra_columns_are_read(tiny_client):
    one = _body(_raw([_interaction(priority="high")]))
    assert tiny_client.post("/v1/predict", json=one).status_code == 200
    detail = _refused(tiny_client.post("/v1/predict", json=_body(_raw([_interaction(priority=3)]))))
    assert detail[0]["loc"][-1] == "priority" and "text or null" in detail[0]["msg"]
    detail = _refused(
        tiny_client.post("/v1/predict", json=_body(_raw([_interaction(tier="gold")])))
    )
    assert detail[0]["loc"][-1] == "tier" and "extra columns priority" in detail[0]["msg"]


@pytest.mark.parametrize("as_of", ["NaT", "", "not a time", "2262-05-01T00:00:00Z"])
def test_an_unusable_as_of_is_refused(client, as_of):
    detail = _refused(client.post("/v1/predict", json=_body(_raw([_interaction()], as_of=as_of))))
    assert detail[0]["loc"] == ["body", "customers", 1, "as_of"]


def test_a_history_over_three_centuries_is_answered(client):
    """1900-2199 is accepted, and 300 years of nanoseconds overflow int64."""
    old = _interaction(opened_at="1900-01-02T00:00:00Z", first_response_at="2199-01-02T00:00:00Z")
    r = client.post("/v1/predict", json=_body(_raw([old], as_of="2199-12-30T00:00:00Z")))
    assert r.status_code == 200, r.text
    assert all(0 <= x["probability"] <= 1 for x in r.json()["results"])


def test_an_outreach_record_with_a_misspelt_field_is_refused(client):
    r = client.post("/v1/outreach", json={"customer_id": "c1", "outcome": "reached", "note": "x"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "note"]
