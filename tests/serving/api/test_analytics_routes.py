"""The manager's routes in-process over a database source filled from a simulation: the
figures are the analytics' own (and, for NPS, an independent recomputation's); bad query
parameters answer 422 naming the parameter; no source, 503; no key, 401."""

from __future__ import annotations

import json

import pytest

from features.dataset import load_dataset
from features.ingest import load_tables
from nps_core.config import Settings
from serving.analytics.nps import PERIODS
from serving.api.app import create_app
from serving.api.auth import digest
from tests.serving.analytics.test_nps_report import recompute
from tests.serving.conftest import USER_KEY
from tests.serving.inprocess import InProcessClient

AUTH = {"Authorization": f"Bearer {USER_KEY}"}


@pytest.fixture(scope="module")
def source(sim_dir, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'source.db'}"
    data = load_dataset(sim_dir)
    tables = {
        "interactions": data.interactions,
        "surveys": data.surveys,
        "customers": data.customers,
    }
    load_tables(url, tables, data.scale)
    return url, load_dataset(url)


@pytest.fixture(scope="module")
def client(source, tmp_path_factory):
    settings = Settings(
        home=tmp_path_factory.mktemp("analytics-home"),
        api_keys=digest(USER_KEY),
        data_url=source[0],
        industry="saas",
    )
    with InProcessClient(create_app(settings), headers=AUTH, lifespan=False) as c:
        yield c


@pytest.mark.parametrize("by", ["channel", "team", "segment", "region", "plan"])
@pytest.mark.parametrize("period", sorted(PERIODS))
def test_nps_answers_the_recomputed_figures(client, source, by, period):
    answer = client.get("/v1/nps", params={"by": by, "period": period})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    want = recompute(source[1], by, PERIODS[period])
    assert got["overall"]["n"] == want["overall"]["n"] > 100
    assert got["overall"]["nps"] == pytest.approx(want["overall"]["nps"])
    assert {p["period"]: (p["n"], p["detractors"]) for p in got["periods"]} == {
        k: (v["n"], v["detractors"]) for k, v in want["periods"].items()
    }
    for entry in got["by"][by]["groups"]:
        figure = want["groups"][entry["group"]]
        assert (entry["n"], entry["promoters"], entry["passives"]) == (
            figure["n"],
            figure["promoters"],
            figure["passives"],
        )
        assert entry["ci_low"] == pytest.approx(figure["ci_low"])
        assert entry["small_sample"] == figure["small_sample"]
    assert len(got["by"][by]["by_period"]) == len(want["by_period"])
    for entry in got["by"][by]["by_period"]:
        assert entry["nps"] == pytest.approx(
            want["by_period"][(entry["group"], entry["period"])]["nps"]
        )
    assert got["industry"]["industry"] == "saas" and got["period"] == period


def test_nps_takes_a_date_window(client, source):
    from datetime import date

    got = client.get(
        "/v1/nps", params={"by": "team", "from": "2026-03-01", "to": "2026-04-30"}
    ).json()
    want = recompute(source[1], "team", "M", date(2026, 3, 1), date(2026, 4, 30))
    assert got["from"] == "2026-03-01" and got["to"] == "2026-04-30"
    assert [p["period"] for p in got["periods"]] == ["2026-03", "2026-04"]
    assert got["overall"]["n"] == want["overall"]["n"]
    assert got["change"]["before"] == "2026-03" and got["change"]["after"] == "2026-04"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"by": "agent"}, "by"),
        ({"period": "day"}, "period"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "soon"}, "to"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"industry": "space"}, "industry"),
    ],
)
def test_bad_parameters_answer_422_naming_them(client, params, parameter):
    answer = client.get("/v1/nps", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", parameter]


def test_without_a_source_503_and_without_a_key_401(tmp_path, client):
    settings = Settings(home=tmp_path, api_keys=digest(USER_KEY))
    with InProcessClient(create_app(settings), headers=AUTH, lifespan=False) as c:
        answer = c.get("/v1/nps")
    assert answer.status_code == 503 and "NPS_RISK_DATA_URL" in answer.json()["error"]
    assert client.get("/v1/nps", headers={"Authorization": ""}).status_code == 401


def test_the_openapi_page_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    nps = paths["/v1/nps"]["get"]
    assert {p["name"] for p in nps["parameters"]} >= {"by", "period", "from", "to"}
    assert {"200", "401", "422", "503"} <= set(nps["responses"])
    themes = paths["/v1/themes"]["get"]
    assert {p["name"] for p in themes["parameters"]} >= {"period", "from", "to", "min_count"}


def test_themes_answers_the_commands_figures(client, source):
    from serving.analytics.taxonomy import load_taxonomy
    from serving.analytics.themes import themes_dict, themes_report

    answer = client.get(
        "/v1/themes", params={"period": "quarter", "bootstrap": 30, "min_count": 25}
    )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    want = themes_dict(
        themes_report(source[1], load_taxonomy(), freq="Q", min_count=25, bootstrap=30, seed=42)
    )
    assert got == json.loads(json.dumps(want))
    assert got["taxonomy"]["name"] == "support" and got["period"] == "quarter"
    assert {a["response_id"] for a in got["assignments"]} <= set(source[1].surveys["response_id"])


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"min_count": 0}, "min_count"),
        ({"bootstrap": 5000}, "bootstrap"),
        ({"period": "year"}, "period"),
        ({"from": "2026-06-01", "to": "2026-05-01"}, "to"),
    ],
)
def test_themes_refuses_bad_parameters_naming_them(client, params, parameter):
    answer = client.get("/v1/themes", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", parameter]


def test_drivers_without_a_model_give_the_plain_table(client, source):
    from serving.analytics.drivers import drivers_dict, drivers_report

    got = client.get("/v1/drivers").json()
    assert got == json.loads(json.dumps(drivers_dict(drivers_report(source[1]))))
    assert got["shap"] is None and got["model"] is None and got["teams"]
    bad = client.get("/v1/drivers", params={"team": "nobody"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "team"]


def test_drivers_with_the_champion_add_its_shap(source, serving_settings):
    from serving.analytics.drivers import drivers_dict, drivers_report
    from serving.api.state import build_serving_model

    settings = serving_settings.model_copy(
        update={"api_keys": digest(USER_KEY), "data_url": source[0]}
    )
    with InProcessClient(create_app(settings), headers=AUTH) as c:
        answer = c.get("/v1/drivers", params={"team": "billing"})
    assert answer.status_code == 200, answer.text
    want = drivers_dict(drivers_report(source[1], build_serving_model(serving_settings), "billing"))
    assert answer.json() == json.loads(json.dumps(want))
    assert answer.json()["shap"] and answer.json()["model"]["version"]
