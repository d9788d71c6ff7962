"""The API through a real uvicorn process on 127.0.0.1."""

import concurrent.futures
import json

import numpy as np
import pandas as pd
import pytest

from features.catalog import feature_family
from features.dataset import load_dataset
from features.rows import LABEL_COLUMNS, build_training_rows
from serving.api.examples import raw_customer
from serving.api.schemas import PredictResponse
from tests.serving.conftest import ADMIN_KEY, MAX_BATCH, MAX_BODY, start_server, stop_server
from training.registry import CHAMPION, configure, load_model

LABELS = set(LABEL_COLUMNS)


@pytest.fixture(scope="module")
def served(serving_settings):
    return load_model(serving_settings, CHAMPION)


@pytest.fixture(scope="module")
def feature_rows(served, sim_dir):
    from features.catalog import FeatureSpec

    data = load_dataset(sim_dir)
    spec = FeatureSpec.from_dict(served.meta["spec"])
    return data, build_training_rows(data.interactions, data.surveys, data.customers, spec)


def _payload(rows: pd.DataFrame) -> dict:
    customers = []
    for _, r in rows.iterrows():
        values = {
            k: (None if pd.isna(v) else (v if isinstance(v, str) else float(v)))
            for k, v in r.items()
            if k not in LABELS
        }
        customers.append({"customer_id": str(r["customer_id"]), "features": values})
    return {"customers": customers}


def test_health_ready_and_openapi_need_no_key(api_server):
    with api_server.client(key=None) as c:
        assert c.get("/healthz").json() == {"status": "ok", "model_version": None}
        assert c.get("/readyz").json()["status"] == "ready"
        spec = c.get("/openapi.json").json()
        assert "/v1/predict" in spec["paths"]
        page = c.get("/docs").text
        assert "/static/swagger/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
        assert (
            c.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
        )  # offline: served locally


def test_keys_are_required_and_admin_routes_need_an_admin_key(api_server, feature_rows):
    body = _payload(feature_rows[1].head(1))
    with api_server.client(key=None) as c:
        r = c.post("/v1/predict", json=body)
        assert (
            r.status_code == 401
            and r.headers["www-authenticate"] == "Bearer"
            and "error" in r.json()
        )
    with api_server.client(key="not-a-key") as c:
        assert c.post("/v1/predict", json=body).status_code == 401
        assert c.get("/v1/model").status_code == 401
    with api_server.client() as c:
        assert c.post("/v1/predict", json=body).status_code == 200
        r = c.post("/v1/admin/reload")
        assert r.status_code == 403 and "admin" in r.json()["error"]


def test_invalid_input_names_the_field(api_server):
    with api_server.client() as c:
        r = c.post(
            "/v1/predict",
            json={
                "customers": [
                    {
                        "customer_id": "c",
                        "interactions": [
                            {
                                "interaction_id": "i",
                                "channel": "chat",
                                "opened_at": "2026-01-01T00:00:00Z",
                                "sentiment": 3,
                            }
                        ],
                    }
                ]
            },
        )
        assert r.status_code == 422
        assert ["body", "customers", 0, "interactions", 0, "sentiment"] in [
            d["loc"] for d in r.json()["detail"]
        ]
        r = c.post(
            "/v1/predict",
            json={"customers": [{"customer_id": "c", "features": {"contacts_7d": "many"}}]},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "contacts_7d"
        r = c.post("/v1/predict", json={"customers": [{"customer_id": "c"}]})
        assert r.status_code == 422 and "either 'features' or 'interactions'" in r.text
        r = c.post(
            "/v1/predict",
            json={
                "customers": [
                    {
                        "customer_id": "c",
                        "interactions": [],
                        "attributes": {"signup_at": "0001-01-02T00:00:00Z"},
                    }
                ]
            },
        )
        assert (
            r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "signup_at"
        )  # found by the fuzzer
        r = c.post(
            "/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and "Traceback" not in r.text
        # what the model cannot read is refused, not guessed (all cases: test_inprocess.py)
        contact = {"interaction_id": "i", "channel": "chat", "opened_at": "2026-01-01T00:00:00Z"}
        for interactions, where in [
            ([contact | {"resolvedAt": "2026-01-02T00:00:00Z"}], [0, "resolvedAt"]),
            ([contact, contact], [1, "interaction_id"]),
        ]:
            body = {"customers": [{"customer_id": "c", "interactions": interactions}]}
            r = c.post("/v1/predict", json=body)
            assert r.status_code == 422 and set(r.json()) == {"error", "detail"}, r.text
            assert r.json()["detail"][0]["loc"] == ["body", "customers", 0, "interactions", *where]


def test_batch_and_body_limits_answer_413(api_server, feature_rows):
    with api_server.client() as c:
        many = _payload(pd.concat([feature_rows[1].head(1)] * (MAX_BATCH + 1)))
        r = c.post("/v1/predict", json=many)
        assert r.status_code == 413 and str(MAX_BATCH) in r.json()["error"]
        r = c.post(
            "/v1/predict",
            content=b"x" * (MAX_BODY + 10),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"] == "request body too large"


def test_batch_equals_single_and_matches_the_model(api_server, feature_rows, served):
    rows = feature_rows[1].tail(30)
    body = _payload(rows)
    with api_server.client() as c:
        batch = c.post("/v1/predict", json=body).json()
        singles = [
            c.post("/v1/predict", json={"customers": [one]}).json()["results"][0]
            for one in body["customers"]
        ]
    assert batch["results"] == singles
    assert batch["model"] == {"name": served.name, "version": served.version}
    expected = served.model.predict_proba(rows)
    np.testing.assert_allclose([r["probability"] for r in batch["results"]], expected, rtol=1e-9)
    assert {r["band"] for r in batch["results"]} <= {"high", "medium", "low"}


def test_reasons_follow_the_shap_ordering(api_server, feature_rows, served):
    rows = feature_rows[1].tail(10)
    with api_server.client() as c:
        results = c.post("/v1/predict", json=_payload(rows)).json()["results"]
    matrix = served.model.encoder_.transform(rows)
    contrib = served.model.contributions(matrix)
    families = [feature_family(f) for f in served.model.features]
    for i, result in enumerate(results):
        named = [r["feature"] for r in result["reasons"]]
        shap = {f: contrib[i, j] for j, f in enumerate(served.model.features)}
        # the first reason is the single strongest driver; impacts are the SHAP values
        assert named[0] == served.model.features[int(np.argmax(contrib[i]))]
        impacts = [r["impact"] for r in result["reasons"]]
        assert impacts == pytest.approx([shap[f] for f in named])
        assert impacts == sorted(impacts, reverse=True)
        # one reason per family, and no family left out beats the weakest reason given
        given = {feature_family(f) for f in named}
        assert len(given) == len(named) == 3
        stronger = [
            f
            for j, f in enumerate(served.model.features)
            if families[j] not in given and contrib[i, j] > impacts[-1]
        ]
        assert not stronger
        assert all(r["text"] for r in result["reasons"]) and result["action"]


def test_raw_interactions_give_the_batch_pipeline_probability(api_server, feature_rows, served):
    """Parity: the same customer and time through the API's online features and through
    the batch training rows give the same probability. Whole histories are sent, later
    rows included: the API must ignore what came after as_of by itself."""
    data, rows = feature_rows
    sample = rows.sample(25, random_state=1)
    customers = [raw_customer(data, r["customer_id"], r["as_of"]) for _, r in sample.iterrows()]
    with api_server.client() as c:
        r = c.post("/v1/predict", json={"customers": customers})
    assert r.status_code == 200, r.text
    got = [x["probability"] for x in r.json()["results"]]
    np.testing.assert_allclose(got, served.model.predict_proba(sample), rtol=1e-9, atol=1e-12)


def test_model_info_and_metrics(api_server, served):
    with api_server.client() as c:
        info = c.get("/v1/model").json()
        c.post("/v1/predict", json={"customers": [{"customer_id": "m", "features": {}}]})
        text = c.get("/metrics").text
    assert (
        info["version"] == served.version
        and info["source"] == "registry"
        and info["alias"] == CHAMPION
    )
    assert info["test_metrics"]["roc_auc"] > 0.5 and len(info["features"]) == len(
        served.model.features
    )
    assert 'nps_risk_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert "nps_risk_request_seconds_bucket" in text and "nps_risk_predictions_total{band=" in text
    assert (
        f'nps_risk_model_info{{name="{served.name}",source="registry",version="{served.version}"}} 1.0'
        in text
    )


def test_unreachable_registry_serves_the_last_good_copy(api_server, serving_settings, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    server = start_server(  # a store that cannot be opened (an empty one would say "no model")
        serving_settings, NPS_RISK_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/a-file/absent.db"
    )
    try:
        with server.client() as c:
            info = c.get("/v1/model").json()
            assert (
                info["source"] == "local-cache"
                and info["version"] == load_model(serving_settings).version
            )
            assert (
                c.post(
                    "/v1/predict", json={"customers": [{"customer_id": "x", "features": {}}]}
                ).status_code
                == 200
            )
    finally:
        stop_server(server)


def test_reload_swaps_models_without_failing_a_request(
    api_server, serving_settings, sim_dir, feature_rows
):
    """A broken new champion is refused and the old keeps serving; a good one is swapped in
    while requests keep flowing, with zero failures."""
    from training.workflow import train_from_data

    client = configure(serving_settings)
    before = load_model(serving_settings).version
    body = _payload(feature_rows[1].tail(5))
    # a broken champion: its booster file is gone from the artifact store
    broken = train_from_data(serving_settings, sim_dir).logged
    model_id = client.get_model_version(serving_settings.model_name, broken.version).source.split(
        "/"
    )[-1]
    for path in serving_settings.artifact_root.rglob("booster.txt"):
        if model_id in str(path):
            path.write_text("not a model")
    client.set_registered_model_alias(serving_settings.model_name, CHAMPION, broken.version)
    with api_server.client(key=ADMIN_KEY) as admin:
        r = admin.post("/v1/admin/reload")
        assert r.status_code == 409 and f"still serving version {before}" in r.json()["error"]
        assert admin.get("/v1/model").json()["version"] == before
        good = train_from_data(serving_settings, sim_dir).logged
        client.set_registered_model_alias(serving_settings.model_name, CHAMPION, good.version)

        def hammer(n: int) -> list[int]:
            with api_server.client() as c:
                return [c.post("/v1/predict", json=body).status_code for _ in range(n)]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(hammer, 40) for _ in range(4)]
            swapped = admin.post("/v1/admin/reload")
            codes = [code for f in futures for code in f.result()]
        assert swapped.status_code == 200 and swapped.json()["version"] == good.version
        assert codes.count(200) == len(codes) == 160
        assert admin.get("/v1/model").json()["version"] == good.version


def test_risk_list_routes_read_the_store_and_outreach_is_recorded(
    api_server, serving_settings, sim_dir
):
    from serving.lists.policy import ListPolicy
    from serving.lists.scoring import score_day
    from serving.lists.store import open_store, outreach, read_table

    day = (load_dataset(sim_dir).interactions["opened_at"].max() - pd.Timedelta(days=1)).date()
    report = score_day(
        serving_settings, sim_dir, day, policy=ListPolicy(capacity=15), progress=False
    )
    with api_server.client() as c:
        listed = c.get("/v1/risk-list", params={"limit": 5}).json()
        assert listed["list_date"] == str(day) and listed["count"] == 5
        ranks = [e["rank"] for e in listed["entries"]]
        assert ranks == sorted(ranks) and all(
            e["group"] == "treatment" and e["flagged"] for e in listed["entries"]
        )
        first = listed["entries"][0]
        assert len(first["reasons"]) == 3 and first["action"]
        high = c.get(
            "/v1/risk-list", params={"date": str(day), "band": "high", "limit": 1000}
        ).json()
        assert all(e["band"] == "high" for e in high["entries"])
        assert c.get("/v1/risk-list", params={"band": "urgent"}).status_code == 422
        one = c.get(f"/v1/customers/{first['customer_id']}/risk").json()
        assert one["rank"] == first["rank"] and one["list_date"] == str(day)
        assert c.get("/v1/customers/nobody-at-all/risk").status_code == 404
        r = c.post(
            "/v1/outreach",
            json={
                "customer_id": first["customer_id"],
                "outcome": "reached",
                "list_date": str(day),
                "notes": "apologised",
            },
        )
        assert r.status_code == 201 and r.json()["recorded"]
        # the ledger through a real server: the entry's follow-up took the outcome
        assert r.json()["follow_up_id"] == first["follow_up_id"] and r.json()["status"] == "reached"
        assert first["hours_left"] is not None and first["period"]
        ledger = c.get("/v1/outreach", params={"customer_id": first["customer_id"]}).json()
        assert [f["status"] for f in ledger["follow_ups"]] == ["reached"]
        teams = c.get("/v1/outreach/teams")
        assert teams.status_code == 200 and "teams" in teams.json()
        closed = c.post(
            "/v1/outreach",
            json={
                "customer_id": first["customer_id"],
                "follow_up_id": first["follow_up_id"],
                "outcome": "resolved",
            },
        )
        assert closed.json()["status"] == "resolved"
        refused = c.post(
            "/v1/outreach",
            json={
                "customer_id": first["customer_id"],
                "follow_up_id": first["follow_up_id"],
                "outcome": "reached",
            },
        )
        assert refused.status_code == 409 and "closed" in refused.json()["error"]
        assert (
            c.post("/v1/outreach", json={"customer_id": "x", "outcome": "maybe"}).status_code == 422
        )
    saved = read_table(
        open_store(serving_settings.store_url), outreach, customer_id=first["customer_id"]
    )
    assert "apologised" in set(saved["notes"]) and report.counts["to_call"] == 15
    assert set(saved["follow_up_id"]) == {first["follow_up_id"]}  # the attempt log links it


def test_every_v1_route_needs_a_key_and_says_so_in_openapi(api_server):
    with api_server.client(key=None) as c:
        spec = c.get("/openapi.json").json()
        operations = [
            (method, path)
            for path, item in spec["paths"].items()
            if path.startswith("/v1/")
            for method in item
        ]
        assert ("post", "/v1/predict") in operations and len(operations) >= 6
        for method, path in operations:
            assert spec["paths"][path][method]["security"] == [{"HTTPBearer": []}], path
            url = path.replace("{customer_id}", "someone")
            r = c.request(method.upper(), url, json={})
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (
                path,
                r.text,
            )


def test_predict_documents_its_body_and_answer_in_openapi(api_server):
    with api_server.client(key=None) as c:
        spec = c.get("/openapi.json").json()
    operation = spec["paths"]["/v1/predict"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    schemas = spec["components"]["schemas"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert answer == {"$ref": "#/components/schemas/PredictResponse"}
    customer = schemas["PredictRequest"]["properties"]["customers"]["items"]["$ref"]
    assert customer == "#/components/schemas/CustomerIn"
    interactions = schemas["CustomerIn"]["properties"]["interactions"]["anyOf"][0]["items"]
    assert interactions["$ref"].removeprefix("#/components/schemas/") in schemas
    refs = [v for v in _walk(spec) if isinstance(v, str) and v.startswith("#/components/")]
    assert all(r.removeprefix("#/components/schemas/") in schemas for r in refs)


def _walk(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
    else:
        yield node


def test_predict_answers_json_that_matches_its_schema(api_server, feature_rows):
    body = _payload(feature_rows[1].tail(3))
    with api_server.client() as c:
        r = c.post("/v1/predict", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    answer = PredictResponse.model_validate_json(r.content)
    assert [x.customer_id for x in answer.results] == [x["customer_id"] for x in body["customers"]]
    for result in answer.results:
        assert 0 <= result.probability <= 1 and len(result.reasons) == 3 and result.action
        assert all(isinstance(reason.impact, float) and reason.text for reason in result.reasons)


def test_predict_body_must_be_json_with_finite_numbers(api_server):
    one = {"customers": [{"customer_id": "c", "features": {}}]}
    with api_server.client() as c:
        for content_type in ("text/plain", None):
            headers = {"content-type": content_type} if content_type else {}
            r = c.post("/v1/predict", content=json.dumps(one), headers=headers)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"], r.text
        r = c.post(
            "/v1/predict",
            content=json.dumps(one),
            headers={"content-type": "application/vnd.api+json; charset=utf-8"},
        )
        assert r.status_code == 200
        huge = (
            b'{"customers": [{"customer_id": "c", "features": {"contacts_7d": 1'
            + b"0" * 400
            + b"}}]}"
        )
        r = c.post("/v1/predict", content=huge, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "contacts_7d", r.text
        r = c.post("/v1/predict", json={"customers": []})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "customers"]


def test_predict_checks_the_key_before_reading_the_body(api_server):
    with api_server.client(key="not-a-key") as c:
        r = c.post(
            "/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert r.status_code == 401 and r.json()["error"] == "unknown API key"


def test_an_invalid_feature_value_is_located_at_its_own_customer(api_server):
    """Customers given as raw interactions and as feature values mix in one request; an
    error names the index of the customer at fault in the request."""
    body = {
        "customers": [
            {"customer_id": "raw", "interactions": []},
            {"customer_id": "bad", "features": {"contacts_7d": "many"}},
        ]
    }
    with api_server.client() as c:
        r = c.post("/v1/predict", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "customers", 1, "features", "contacts_7d"]


def test_a_streamed_body_over_the_limit_answers_413(api_server):
    """No Content-Length to refuse up front: the limit holds while the body streams in."""

    def chunks():
        for _ in range(MAX_BODY // 10_000 + 2):
            yield b" " * 10_000

    with api_server.client() as c:
        r = c.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and r.json()["error"] == "request body too large"


def test_the_api_answers_the_same_with_the_fast_shap_path_disabled(
    api_server, serving_settings, feature_rows
):
    """If a LightGBM release breaks its private single-row API, the public path answers:
    same probabilities, same reasons, only slower."""
    _, rows = feature_rows
    payload = _payload(rows.head(3))
    single = {"customers": payload["customers"][:1]}
    public = start_server(serving_settings, NPS_RISK_FAST_SHAP="false")
    try:
        with public.client() as slow, api_server.client() as fast:
            for body in (single, payload):
                a, b = slow.post("/v1/predict", json=body), fast.post("/v1/predict", json=body)
                assert a.status_code == b.status_code == 200, a.text
                assert a.json()["results"] == b.json()["results"]
    finally:
        stop_server(public)
