"""The shared page templates: one base layout, one stylesheet, every value escaped, and a
missing value is an error rather than a blank."""

import math
import re

import jinja2
import numpy as np
import pytest
from jinja2 import meta

from nps_core.pages import count, environment, lift, num, percent, render

PAGES = ("model_report.html", "list_summary.html")
HOSTILE = "<script>alert(1)</script>"


def _source(name: str) -> str:
    env = environment()
    return env.loader.get_source(env, name)[0]


def model_context(**overrides: object) -> dict[str, object]:
    """The smallest context model_report.html accepts."""
    metric = {"label": "PR-AUC", "cells": ["0.500", "0.600"], "best": 1}
    return {
        "title": "a report",
        "verdict": "LightGBM beats the logistic baseline.",
        "level": "ok",
        "run": [("data", "demo")],
        "models": [{"name": "lightgbm", "label": "LightGBM"}, {"name": "logistic", "label": "L"}],
        "metrics": [metric],
        "capacity": "no outreach capacity k in the metrics.",
        "baselines": {"logistic": "a line"},
        "figures": [],
        "drivers": [{"description": "escalations", "feature": "esc_30d", "mean_abs_shap": 0.2}],
        "groups": [],
        "deciles": [],
        "calibration": [],
        "validation": [["PR-AUC", "0.700"]],
        "truth": None,
        **overrides,
    }


def list_context(**overrides: object) -> dict[str, object]:
    """The smallest context list_summary.html accepts."""
    counts = dict.fromkeys(
        ["detractor_follow_ups", "overdue", "to_call", "control_flagged", "scored"], 1
    )
    counts |= {"passive_follow_ups": 0, "promoter_follow_ups": 0}
    counts |= {"follow_ups_in_progress": 0, "follow_ups_expired": 0}
    table = {"header": ["customer_id", "owner_team"], "rows": [["C1", "north"]]}
    return {
        "list_date": "2025-06-02",
        "model_version": "3",
        "run_id": "abc",
        "counts": counts,
        "left_out": {},
        "follow_ups": table,
        "top": table,
        "called": 1,
        "by_band": table,
        "by_team": table,
        "teams": table,
        "histogram": "",
        **overrides,
    }


def test_both_pages_extend_the_one_base_and_share_the_macros():
    for page in PAGES:
        referenced = set(meta.find_referenced_templates(environment().parse(_source(page))))
        assert referenced == {"base.html", "macros.html"}, page
        assert "<style" not in _source(page) and "<html" not in _source(page), page


def test_both_pages_inline_the_same_stylesheet_and_fetch_nothing():
    style = _source("style.css")
    pages = [render("model_report.html", **model_context()), render(PAGES[1], **list_context())]
    for html in pages:
        assert re.findall(r"<style>\n(.*?)</style>", html, flags=re.S) == [style]
        assert "<link" not in html and 'src="http' not in html and "<script" not in html
    skeleton = [html[: html.index("<title>")] for html in pages]
    assert skeleton[0] == skeleton[1]


def test_every_value_is_escaped():
    tricky = {"header": [HOSTILE], "rows": [[HOSTILE], ["tickets & calls"]]}
    pages = [
        render(
            "model_report.html",
            **model_context(
                title=HOSTILE,
                run=[(HOSTILE, HOSTILE)],
                drivers=[{"description": HOSTILE, "feature": "a&b", "mean_abs_shap": 0.1}],
                groups=[{"name": HOSTILE, "rows": [[HOSTILE] * 12], "classes": [""]}],
            ),
        ),
        render(
            "list_summary.html",
            **list_context(run_id=HOSTILE, top=tricky, by_team=tricky, left_out={HOSTILE: 2}),
        ),
    ]
    for html in pages:
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<code>a&amp;b</code>" in pages[0]
    assert "<td>tickets &amp; calls</td>" in pages[1]


def test_a_missing_value_fails_instead_of_rendering_blank():
    context = list_context()
    del context["run_id"]
    with pytest.raises(jinja2.UndefinedError, match="run_id"):
        render("list_summary.html", **context)
    with pytest.raises(jinja2.UndefinedError, match="verdict"):
        render("model_report.html", **{k: v for k, v in model_context().items() if k != "verdict"})


def test_the_table_macro_marks_rows_and_tables():
    html = (
        environment()
        .from_string(
            '{% from "macros.html" import table %}{{ table(["a"], [["1"], ["2"]], ["", "low"], "text") }}'
        )
        .render()
    )
    assert html.startswith('<table class="text"><thead><tr><th>a</th></tr></thead>')
    assert "<tr><td>1</td></tr>" in html and '<tr class="low"><td>2</td></tr>' in html


@pytest.mark.parametrize("value", [None, math.nan, np.float32("nan")])
def test_a_missing_number_reads_n_a(value):
    assert num(value, 3) == count(value) == percent(value) == lift(value) == "n/a"


def test_number_formats():
    assert num(0.12345, 3) == "0.123"
    assert count(12345.0) == "12,345"
    assert percent(0.1234) == "12.3%"
    assert lift(np.float64(1.5)) == "1.50×"
    assert (
        render("list_summary.html", **list_context(left_out={"too new": 1234})).count(
            "<li>1,234 too new</li>"
        )
        == 1
    )
