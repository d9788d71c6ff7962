"""The daily list's HTML summary, from tiny frames built here (no model, no store)."""

import json
from datetime import date

import pandas as pd
import pytest

from nps_core.pages import environment
from serving.lists.report import render_summary
from serving.lists.scoring import ScoreReport

HOSTILE = "<script>alert(1)</script>"
COUNTS = {
    "detractor_follow_ups": 2,
    "overdue": 1,
    "to_call": 3,
    "control_flagged": 1,
    "scored": 12_345,
    "eligible": 4,
    "passive_follow_ups": 0,
    "promoter_follow_ups": 1,
    "follow_ups_opened": 5,
    "follow_ups_expired": 0,
    "follow_ups_in_progress": 2,
}


def ranked_rows() -> pd.DataFrame:
    reasons = json.dumps([{"text": "slow answers & escalations"}, {"text": "low sentiment"}])
    return pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "customer_id": [HOSTILE, "C2", "C3", "C4"],
            "probability": [0.8123, 0.61, 0.4, 0.2],
            "flagged": [True, True, True, True],
            "grp": ["treatment", "treatment", "control", "treatment"],
            "band": ["high", "medium", "medium", "low"],
            "owner_team": ["billing & payments", HOSTILE, "north", None],
            "reasons": [reasons, reasons, reasons, None],
            "hours_left": [72.0, 72.0, None, 72.0],
        }
    )


def follow_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["D1", "D2", "P1"],
            "score": [2, 5, 8],
            "comment": [HOSTILE, None, "fine"],
            "hours_left": [3.14159, -2.5, 10.0],
            "overdue": [False, True, False],
            "owner_team": ["north", "south", "north"],
            "kind": ["detractor", "detractor", "promoter"],
            "status": ["open", "attempted", None],
        }
    )


@pytest.fixture(scope="module")
def page() -> str:
    report = ScoreReport(date(2025, 6, 2), "run-1", "7", COUNTS, {"asked <30 days> ago": 1234})
    return render_summary(report, ranked_rows(), follow_rows())


def test_the_summary_shows_its_sections_and_figures(page):
    for text in (
        "<title>Risk list 2025-06-02</title>",
        "Who to call on 2025-06-02",
        "Model version 7; features as of 00:00 UTC that day. Run run-1.",
        "<b>12,345</b>active customers scored",
        "1. Close the loop (within 24 hours of the answer)",
        "2. Predicted risk: the top 3 of 3",
        "<td>81.2%</td>",
        "<td>-2.5</td>",  # most urgent first, hours rounded to one decimal
        "slow answers &amp; escalations; low sentiment",
        "Where the calls go",
        "<td>(unknown)</td>",
        "<li>1,234 asked &lt;30 days&gt; ago</li>",
        'src="data:image/png;base64,',
    ):
        assert text in page, text
    assert page.index("<td>D2</td>") < page.index("<td>D1</td>")
    assert "<td>P1</td>" not in page  # Promoters are in the CSV only


def test_untrusted_text_is_escaped(page):
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4  # id, team x2, comment
    assert "<td>billing &amp; payments</td>" in page


def test_the_summary_uses_the_shared_layout_and_stylesheet(page):
    env = environment()
    style = env.loader.get_source(env, "style.css")[0]
    assert page.count("<style>") == 1 and f"<style>\n{style}</style>" in page
    assert "<link" not in page and 'src="http' not in page


def test_an_empty_day_says_so():
    report = ScoreReport(date(2025, 6, 2), "run-1", "7", COUNTS, {})
    ranked, follow = ranked_rows().iloc[:0], follow_rows().iloc[:0]
    page = render_summary(report, ranked, follow)
    assert "No Detractor answer waits for a follow-up." in page
    assert "<li>nobody</li>" in page and "the top 0 of 0" in page
    assert "<img" not in page
