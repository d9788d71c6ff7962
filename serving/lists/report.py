"""The daily list's HTML summary: counts by band and team, the top of the list with reasons,
answers to close the loop, and a histogram of scores. One self-contained file, drawn by the
shared templates (nps_core.pages); this module only shapes the numbers."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pandas as pd

from nps_core.pages import percent, render
from serving.lists.ledger import TeamFigure


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


def _table(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A frame as the header and rows of the shared table macro; a missing value is blank."""
    rows = [["" if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)]
    return {"header": [str(c) for c in frame.columns], "rows": rows}


def team_rows(teams: list[TeamFigure]) -> pd.DataFrame:
    """The team figures as the page shows them: the same numbers GET /v1/outreach/teams
    answers, rounded for reading (rates as percentages with one decimal)."""

    def pct(value: float | None) -> str:
        return "" if value is None else f"{100 * value:.1f}%"

    return pd.DataFrame(
        {
            "team": [t.team for t in teams],
            "Detractor follow-ups due": [t.due for t in teams],
            "reached within 24 h": [t.closed_in_time for t in teams],
            "close-the-loop rate": [pct(t.rate) for t in teams],
            "95% interval (Wilson)": [f"{pct(t.ci_low)} - {pct(t.ci_high)}" for t in teams],
            "contacted": [t.contacted for t in teams],
            "median hours to first contact": [
                ""
                if t.median_hours_to_first_contact is None
                else f"{t.median_hours_to_first_contact:.2f}"
                for t in teams
            ],
        }
    )


def render_summary(
    report: Any,
    ranked: pd.DataFrame,
    follow: pd.DataFrame,
    teams: list[TeamFigure] | None = None,
    top: int = 25,
) -> str:
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
        ["customer_id", "score", "comment", "status", "hours_left", "overdue", "owner_team"]
    ].assign(hours_left=lambda f: f["hours_left"].round(1))
    head = called.head(top).assign(
        reasons=lambda f: f["reasons"].map(
            lambda r: "; ".join(x["text"] for x in json.loads(r)) if isinstance(r, str) else ""
        ),
        probability=lambda f: f["probability"].map(percent),
    )[["rank", "customer_id", "probability", "band", "owner_team", "hours_left", "reasons"]]
    threshold = float(called["probability"].min()) if len(called) else None
    return render(
        "list_summary.html",
        list_date=report.list_date,
        model_version=report.model_version,
        run_id=report.run_id,
        counts=report.counts,
        left_out=report.left_out,
        follow_ups=_table(loop),
        top=_table(head),
        called=len(called),
        by_band=_table(by_band),
        by_team=_table(by_team),
        teams=_table(team_rows(teams or [])),
        histogram=_histogram(ranked["probability"], threshold) if len(ranked) else "",
    )
