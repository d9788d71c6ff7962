"""The daily list's HTML summary: counts by band and team, the top of the list with reasons,
answers to close the loop, and a histogram of scores. One self-contained file."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import pandas as pd


def _histogram(probabilities: pd.Series, threshold: float | None) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.8), dpi=100)
    ax = fig.add_subplot()
    ax.hist(probabilities, bins=40, color="#4c72b0")
    if threshold is not None:
        ax.axvline(
            threshold, color="#c44e52", linestyle="--", label="lowest risk still called today"
        )
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("predicted probability of a Detractor answer")
    ax.set_ylabel("customers")
    ax.set_title("Risk of every eligible customer", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_summary(report: Any, ranked: pd.DataFrame, follow: pd.DataFrame, top: int = 25) -> str:
    called = ranked[ranked["flagged"] & ranked["grp"].eq("treatment")]
    by_band = (
        called.groupby("band")
        .size()
        .reindex(["high", "medium", "low"], fill_value=0)
        .rename("customers to call")
        .reset_index()
    )
    by_team = (
        called.groupby(called["owner_team"].fillna("(unknown)"))
        .size()
        .sort_values(ascending=False)
        .rename("customers to call")
        .reset_index()
    )
    detractors = follow[follow["kind"].eq("detractor")].sort_values("hours_left")
    loop = detractors[
        ["customer_id", "score", "comment", "hours_left", "overdue", "owner_team"]
    ].assign(hours_left=lambda f: f["hours_left"].round(1))
    head = called.head(top).assign(
        reasons=lambda f: f["reasons"].map(
            lambda r: "; ".join(x["text"] for x in json.loads(r)) if isinstance(r, str) else ""
        ),
        probability=lambda f: (100 * f["probability"]).round(1).astype(str) + "%",
    )[["rank", "customer_id", "probability", "band", "owner_team", "reasons"]]
    threshold = float(called["probability"].min()) if len(called) else None
    image = _histogram(ranked["probability"], threshold) if len(ranked) else ""
    left_out = "".join(f"<li>{n:,} {html.escape(why)}</li>" for why, n in report.left_out.items())
    c = report.counts
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Risk list {report.list_date}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}}
th{{background:#f3f3f3}}.kpi{{display:inline-block;margin-right:2em;font-size:15px}}.kpi b{{font-size:24px;display:block}}</style></head><body>
<h1>Who to call on {report.list_date}</h1>
<p>Model version {html.escape(report.model_version)}; features as of 00:00 UTC that day. Run {html.escape(report.run_id)}.</p>
<div class="kpi"><b>{c["detractor_follow_ups"]}</b>Detractor answers to close ({c["overdue"]} overdue)</div>
<div class="kpi"><b>{c["to_call"]}</b>predicted Detractors to call</div>
<div class="kpi"><b>{c["control_flagged"]}</b>in the control group (no call)</div>
<div class="kpi"><b>{c["scored"]:,}</b>active customers scored</div>
<h2>1. Close the loop (within 24 hours of the answer)</h2>{_table(loop) if len(loop) else "<p>No Detractor answer waits for a follow-up.</p>"}
<p>{c["passive_follow_ups"]} Passives (ask what is missing) and {c["promoter_follow_ups"]} Promoters (ask for a referral) are in the CSV.</p>
<h2>2. Predicted risk: the top {min(top, len(called))} of {len(called)}</h2>{_table(head)}
<h2>Where the calls go</h2><div style="display:flex;gap:3em">{_table(by_band)}{_table(by_team)}</div>
<h2>Left out, and why</h2><ul>{left_out or "<li>nobody</li>"}</ul>
{f'<img alt="histogram of risk" src="data:image/png;base64,{image}">' if image else ""}
</body></html>"""
