"""What each view shows, from figures built in the test: NPS equal to a count by hand, follow-ups
overdue first, the change in risk since the last list, test metrics with their intervals, and
themes and drivers drawn from the shapes the analytics will answer (or "not computed yet")."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.answers import answers_with_context
from features.dataset import load_dataset
from serving.dashboard import sources, views
from serving.lists.ledger import TeamFigure

AS_OF = pd.Timestamp("2026-09-08", tz="UTC")
HOSTILE = "<script>alert(1)</script>"


def _page(here, view):
    return views.render_view(here, view, prefix="/dashboard", as_of=AS_OF)


def _charts(html):
    found = re.search(r'<script type="application/json" id="dashboard-charts">(.*?)</script>', html)
    return json.loads(found.group(1))


def _by_hand(scores: pd.Series) -> tuple[int, float]:
    n = len(scores)
    return n, 100 * ((scores >= 9).sum() - (scores <= 6).sum()) / n


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_nps_figures_equal_a_count_by_hand_for_every_group_and_period(sim_dir, period):
    data = load_dataset(sim_dir)
    figures = sources.nps_figures(data, period=period)
    answers = answers_with_context(data.interactions, data.surveys, data.customers)
    stamps = answers["responded_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    answers = answers.assign(period=stamps.dt.to_period(sources.PERIODS[period]).astype(str))
    internal = data.customers.loc[data.customers["is_internal"].fillna(False).astype(bool)]
    assert not set(answers["customer_id"]) & set(internal["customer_id"])
    n, nps = _by_hand(answers["score"])
    assert figures["overall"]["n"] == n and figures["overall"]["nps"] == pytest.approx(nps)
    for key, entries in [("period", figures["periods"])] + [
        (g, figures["groups"][g]) for g in sources.GROUPS
    ]:
        assert sum(e["n"] for e in entries) == n
        for entry in entries:
            mine = answers[answers[key].fillna("(unknown)").astype(str) == entry[key]]["score"]
            count, value = _by_hand(mine)
            assert entry["n"] == count and entry["nps"] == pytest.approx(value)
            assert entry["ci_low"] <= entry["nps"] <= entry["ci_high"]
            assert entry["small_sample"] == (count < 30)
    page = _page("nps", views.nps_view(figures))
    charts = {c["id"]: c for c in _charts(page)}
    assert set(charts) == {"nps-trend", "nps-by-channel", "nps-by-team", "nps-by-segment"}
    assert charts["nps-trend"]["n"] == [p["n"] for p in figures["periods"]]
    assert page.count("<canvas") == 4


def _follow_ups(hours_left):
    n = len(hours_left)
    return pd.DataFrame(
        {
            "follow_up_id": [f"f{i}" for i in range(n)],
            "customer_id": [f"C{i}" if i else HOSTILE for i in range(n)],
            "owner_team": ["north"] * n,
            "created_at": [AS_OF - pd.Timedelta(hours=30)] * n,
            "due_at": [AS_OF + pd.Timedelta(hours=h) for h in hours_left],
            "status": ["open"] * n,
            "hours_left": hours_left,
            "overdue": [h < 0 for h in hours_left],
        }
    )


@given(
    st.lists(
        st.floats(min_value=-200, max_value=200, allow_nan=False).filter(lambda h: h != 0),
        min_size=1,
        max_size=30,
    )
)
def test_follow_ups_are_overdue_first_most_overdue_at_the_top(hours_left):
    view = views.loop_view(_follow_ups(hours_left), [])
    shown = [r[-1] for r in view["follow_ups"]["rows"]]
    overdue = [h for h in hours_left if h < 0]
    assert view["overdue"] == len(overdue) and view["open"] == len(hours_left)
    assert all(s.startswith("overdue by") for s in shown[: len(overdue)])
    assert not any(s.startswith("overdue by") for s in shown[len(overdue) :])
    expected = [views._clock(h) for h in sorted(hours_left)]
    assert shown == expected


def test_the_loop_page_escapes_and_draws_team_figures():
    teams = [
        TeamFigure("north", 10, 7, 0.7, 0.4, 0.89, 8, 5.5),
        TeamFigure("south", 0, 0, None, None, None, 0, None),
    ]
    page = _page("loop", views.loop_view(_follow_ups([-5.0, 3.0]), teams))
    assert HOSTILE not in page and "&lt;script&gt;" in page
    charts = {c["id"]: c for c in _charts(page)}
    assert charts["loop-rate-by-team"]["value"] == [70.0, None]
    assert charts["loop-rate-by-team"]["low"] == [40.0, None]
    assert charts["loop-hours-by-team"]["series"][0]["values"] == [5.5, None]
    assert "overdue by 5.0 h" in page and "3.0 h left" in page


def test_the_list_shows_the_change_since_the_previous_list():
    today = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "customer_id": ["A", "B", "C"],
            "probability": [0.8, 0.5, 0.4],
            "band": ["high", "medium", "medium"],
            "owner_team": ["north", None, "south"],
            "reasons": [json.dumps([{"text": "3 escalations in the last 30 days"}]), None, "[]"],
            "action": ["call"] * 3,
        }
    )
    previous = pd.DataFrame({"customer_id": ["A", "B"], "probability": [0.5, 0.6]})
    day, before = pd.Timestamp("2026-09-07").date(), pd.Timestamp("2026-09-06").date()
    view = views.list_view(day, today, before, previous)
    rows = view["table"]["rows"]
    assert [r[6] for r in rows] == ["+30.0 pts", "-10.0 pts", "n/a"]
    assert (view["rose"], view["fell"], view["new"]) == (1, 1, 1)
    assert rows[0][7] == "3 escalations in the last 30 days"
    chart = view["charts"][0]
    assert chart["series"][0]["values"] == [50.0, 60.0, None]
    assert chart["series"][1]["values"] == [80.0, 50.0, 40.0]
    empty = _page("list", views.list_view(None, pd.DataFrame(), None, pd.DataFrame()))
    assert "No risk list yet" in empty and "<canvas" not in empty


def test_test_metrics_carry_their_intervals():
    rows = views.metric_rows(
        {"roc_auc": 0.74, "roc_auc_low": 0.67, "roc_auc_high": 0.81, "brier": 0.17, "n": 252.0}
    )
    assert rows == [
        ["ROC-AUC", "0.740", "0.670 to 0.810"],
        ["Brier score", "0.170", ""],
        ["test answers", "252", ""],
    ]


def _theme(label, impact, ranked=True):
    return {
        "label": label,
        "top_terms": ["late", "parcel"],
        "volume": 120,
        "nps": -20.0,
        "impact": impact,
        "impact_ci_low": impact - 2,
        "impact_ci_high": impact + 2,
        "trend": [
            {"period": "2026-07", "n": 60, "nps": -25.0},
            {"period": "2026-08", "n": 60, "nps": -15.0},
        ],
        "detractor_share": 0.4,
        "promoter_share": 0.05,
        "examples": ["parcel came late", "still waiting", HOSTILE, "a fourth one"],
        "ranked": ranked,
    }


def test_themes_render_from_the_analytics_shape_and_say_when_not_computed():
    figures = {
        "themes": [
            _theme("praise", 4.0),
            _theme("delivery", -6.5),
            _theme("rare", 1.0, ranked=False),
        ],
        "min_count": 30,
    }
    page = _page("themes", views.themes_view(figures))
    assert page.index("delivery") < page.index("praise")  # most negative impact first
    assert "-6.5" in page and "-8.5 to -4.5" in page and "40.0% of Detractors" in page
    assert "still waiting" in page and "a fourth one" not in page  # three examples
    assert HOSTILE not in page
    assert "not ranked" in page and "rare (120)" in page
    assert {c["id"] for c in _charts(page)} == {"themes-impact", "themes-share"}
    assert page.count("<canvas") == 2
    waiting = _page("themes", views.themes_view(None))
    assert "not computed yet" in waiting and "<canvas" not in waiting and _charts(waiting) == []


def test_drivers_render_from_the_analytics_shape_and_say_when_not_computed():
    figures = {
        "associations": [
            {
                "team": None,
                "behaviour": "first contact",
                "level": "failed",
                "n": 200,
                "detractor_rate": 0.45,
                "ci_low": 0.38,
                "ci_high": 0.52,
            },
            {
                "team": "north",
                "behaviour": "first contact",
                "level": "succeeded",
                "n": 300,
                "detractor_rate": 0.2,
                "ci_low": 0.16,
                "ci_high": 0.25,
            },
        ],
        "shap": [{"feature": "fcr_rate_90d", "mean_shap": 0.31}],
    }
    page = _page("drivers", views.drivers_view(figures, "north"))
    assert "all teams" in page and "45.0%" in page and "38.0% to 52.0%" in page
    assert "team north beside the rest" in page and "0.310" in page
    charts = {c["id"]: c for c in _charts(page)}
    assert charts["drivers-association"]["value"] == pytest.approx([45.0, 20.0])
    waiting = _page("drivers", views.drivers_view(None, None))
    assert "not computed yet" in waiting and "<canvas" not in waiting


def test_a_view_without_data_says_why_and_draws_nothing():
    for here in ("nps", "impact", "themes", "drivers", "model"):
        page = _page(here, None)
        assert "empty" in page and "<canvas" not in page and _charts(page) == []
    assert "nps-risk serve --data URL" in _page("nps", None)
    assert "No model loaded" in _page("model", None)


def test_the_impact_view_shows_points_with_their_interval():
    group = {
        "band": "all",
        "n_treatment": 100,
        "n_control": 20,
        "answered_treatment": 40,
        "answered_control": 8,
        "detractor_rate_treatment": 0.25,
        "detractor_rate_control": 0.375,
        "effect": -0.125,
        "ci_low": -0.45,
        "ci_high": 0.1,
        "verdict": "no evidence either way",
    }
    report = {
        "date_from": "2026-08-31",
        "date_to": "2026-09-07",
        "verdict": "no band shows an effect",
        "overall": group,
        "by_band": [{**group, "band": "high"}],
    }
    view = views.impact_view(report)
    assert (
        view["table"]["rows"][0][6] == "-12.5 pts"
        and view["table"]["rows"][0][7] == "-45.0 to 10.0"
    )
    assert view["charts"][0]["value"] == [-12.5, -12.5] and view["charts"][0]["n"] == [48, 48]
    assert np.isfinite(view["charts"][0]["low"][0])
