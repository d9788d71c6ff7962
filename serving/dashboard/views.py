"""What each dashboard view shows: pure functions from figures to a template's context.

Every view returns plain values: tables as header + rows (the house ``table`` macro) and
charts as small JSON specs the page's script draws with the vendored Chart.js (``trend``: a
line with its interval band and n; ``interval``: a point per group with its interval;
``bars``: one or more series per label). No view invents a figure: a missing one is "n/a",
and a view without data says why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date
from pathlib import PurePath
from typing import Any

import pandas as pd

from nps_core.pages import count, num, percent, render
from nps_core.redaction import redact
from serving.dashboard.assets import assets
from serving.dashboard.sources import PERIODS
from serving.lists.ledger import TeamFigure
from serving.lists.report import team_rows

VIEWS = (
    ("nps", "NPS"),
    ("loop", "Close the loop"),
    ("list", "Today's list"),
    ("impact", "Impact"),
    ("themes", "Themes"),
    ("drivers", "Drivers"),
    ("model", "Model card"),
)
TITLES = {
    "nps": "NPS with its intervals",
    "loop": "Close the loop",
    "list": "Today's list",
    "impact": "Did the calls help?",
    "themes": "Comment themes",
    "drivers": "Drivers for coaching",
    "model": "Model card",
}
NO_SOURCE = (
    "No data source: start the server with `nps-risk serve --data URL` "
    "(or set NPS_RISK_DATA_URL) to see this view."
)
NO_MODEL = "No model loaded: the server has no champion."
Context = dict[str, Any]
Chart = dict[str, Any]
METRIC_NAMES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier score",
    "log_loss": "log loss",
    "ece": "calibration error (ECE)",
    "precision_at_k": "precision at k (per list day)",
    "recall_at_k": "recall at k (per list day)",
    "lift_top_decile": "lift of the riskiest tenth",
    "detractor_rate": "Detractor rate",
    "n": "test answers",
    "k": "k (calls a day)",
}


def _none(value: Any) -> Any:
    """JSON-safe: NaN and missing become null."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _interval(low: Any, high: Any, digits: int = 1, fmt: str = "num") -> str:
    if _none(low) is None or _none(high) is None:
        return "n/a"
    if fmt == "percent":
        return f"{percent(low)} to {percent(high)}"
    return f"{num(low, digits)} to {num(high, digits)}"


def interval_chart(
    chart_id: str, title: str, entries: Sequence[dict[str, Any]], key: str, unit: str
) -> Chart:
    """A point per group with its interval (entries carry ``nps``-like value keys)."""
    return {
        "id": chart_id,
        "kind": "interval",
        "title": title,
        "unit": unit,
        "labels": [str(e[key]) for e in entries],
        "value": [_none(e["value"]) for e in entries],
        "low": [_none(e["ci_low"]) for e in entries],
        "high": [_none(e["ci_high"]) for e in entries],
        "n": [_none(e.get("n")) for e in entries],
    }


# --- NPS -----------------------------------------------------------------------------------
def _nps_rows(entries: Sequence[dict[str, Any]], key: str) -> tuple[list[str], list[list[str]]]:
    header = [key, "answers", "Promoters", "Passives", "Detractors", "NPS", "95% interval"]
    rows = [
        [
            str(e[key]),
            count(e["n"]),
            count(e["promoters"]),
            count(e["passives"]),
            count(e["detractors"]),
            num(e["nps"], 1) + (" (under 30 answers)" if e["small_sample"] else ""),
            _interval(e["ci_low"], e["ci_high"]),
        ]
        for e in entries
    ]
    return header, rows


def nps_view(figures: dict[str, Any]) -> Context:
    """The trend with its band and n, then one breakdown per group."""
    periods = figures["periods"]
    charts: list[Chart] = [
        {
            "id": "nps-trend",
            "kind": "trend",
            "title": f"NPS by {figures['period']} with its 95% interval",
            "labels": [p["period"] for p in periods],
            "value": [_none(p["nps"]) for p in periods],
            "low": [_none(p["ci_low"]) for p in periods],
            "high": [_none(p["ci_high"]) for p in periods],
            "n": [p["n"] for p in periods],
        }
    ]
    breakdowns = []
    for group, entries in figures["groups"].items():
        shown = [{**e, "value": e["nps"]} for e in entries]
        charts.append(
            interval_chart(f"nps-by-{group}", f"NPS by {group}", shown, group, "NPS points")
        )
        header, rows = _nps_rows(entries, group)
        breakdowns.append(
            {"group": group, "chart": f"nps-by-{group}", "header": header, "rows": rows}
        )
    header, rows = _nps_rows(periods, "period")
    change = figures.get("change")
    return {
        "overall": figures["overall"],
        "overall_interval": _interval(figures["overall"]["ci_low"], figures["overall"]["ci_high"]),
        "period": figures["period"],
        "trend": {"header": header, "rows": rows},
        "breakdowns": breakdowns,
        "change": change,
        "change_interval": _interval(change["ci_low"], change["ci_high"]) if change else "",
        "charts": charts,
    }


# --- close the loop ------------------------------------------------------------------------
def _clock(hours_left: Any) -> str:
    if _none(hours_left) is None:
        return "stopped"
    hours = float(hours_left)
    return f"overdue by {-hours:.1f} h" if hours < 0 else f"{hours:.1f} h left"


def _when(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")


def loop_view(follow_ups: pd.DataFrame, teams: list[TeamFigure]) -> Context:
    """Open Detractor follow-ups, overdue first (most overdue at the top), then by time left;
    each team's close-the-loop rate with its interval and median hours to first contact."""
    order = follow_ups.assign(
        _overdue=follow_ups["overdue"].fillna(False).astype(bool),
        _left=pd.to_numeric(follow_ups["hours_left"], errors="coerce"),
    ).sort_values(["_overdue", "_left", "follow_up_id"], ascending=[False, True, True])
    rows = [
        [
            str(r["customer_id"]),
            "" if pd.isna(r["owner_team"]) else str(r["owner_team"]),
            _when(r["created_at"]),
            _when(r["due_at"]),
            str(r["status"]),
            _clock(r["hours_left"]),
        ]
        for _, r in order.iterrows()
    ]
    classes = ["low" if o else "" for o in order["_overdue"]]
    table = team_rows(teams)
    team_chart = interval_chart(
        "loop-rate-by-team",
        "Close-the-loop rate by team (reached within 24 h, 95% Wilson interval)",
        [
            {
                "team": t.team,
                "value": None if t.rate is None else 100 * t.rate,
                "ci_low": None if t.ci_low is None else 100 * t.ci_low,
                "ci_high": None if t.ci_high is None else 100 * t.ci_high,
                "n": t.due,
            }
            for t in teams
        ],
        "team",
        "% reached in time",
    )
    hours_chart: Chart = {
        "id": "loop-hours-by-team",
        "kind": "bars",
        "title": "Median hours from the answer to the first contact",
        "unit": "hours",
        "labels": [t.team for t in teams],
        "series": [
            {"label": "median hours", "values": [t.median_hours_to_first_contact for t in teams]}
        ],
    }
    return {
        "open": len(rows),
        "overdue": int(order["_overdue"].sum()),
        "follow_ups": {
            "header": ["customer", "team", "answered (UTC)", "due (UTC)", "status", "SLA clock"],
            "rows": rows,
            "classes": classes,
        },
        "teams": {
            "header": [str(c) for c in table.columns],
            "rows": [
                ["" if pd.isna(v) else str(v) for v in row] for row in table.itertuples(index=False)
            ],
        },
        "charts": [team_chart]
        + ([hours_chart] if any(t.median_hours_to_first_contact is not None for t in teams) else [])
        if teams
        else [],
    }


# --- today's list --------------------------------------------------------------------------
def _reasons(raw: Any) -> str:
    if raw is None or (not isinstance(raw, str) and pd.isna(raw)) or not raw:
        return ""
    return "; ".join(str(r.get("text", r.get("feature", ""))) for r in json.loads(raw))


def list_view(
    list_date: date | None,
    today: pd.DataFrame,
    previous_date: date | None,
    previous: pd.DataFrame,
    top_chart: int = 20,
) -> Context:
    """The day's list to call with its reasons, and each customer's change in risk since the
    previous list (blank for a customer that list did not score)."""
    if list_date is None:
        return {"list_date": None, "charts": []}
    before = previous.set_index("customer_id")["probability"] if len(previous) else pd.Series()
    earlier = (
        today["customer_id"].map(before)
        if len(before)
        else pd.Series(float("nan"), index=today.index)
    )
    change = today["probability"] - earlier
    rows = [
        [
            str(r["rank"]),
            str(r["customer_id"]),
            percent(r["probability"]),
            str(r["band"]),
            "" if pd.isna(r["owner_team"]) else str(r["owner_team"]),
            "n/a" if pd.isna(b) else percent(b),
            "n/a" if pd.isna(c) else f"{100 * c:+.1f} pts",
            _reasons(r["reasons"]),
            str(r["action"]),
        ]
        for (_, r), b, c in zip(today.iterrows(), earlier, change, strict=True)
    ]
    head = today.head(top_chart)
    chart: Chart = {
        "id": "list-risk-change",
        "kind": "bars",
        "title": f"Risk of the top {len(head)}: this list and the one before",
        "unit": "% risk",
        "labels": [str(c) for c in head["customer_id"]],
        "series": [
            {
                "label": f"list of {previous_date}" if previous_date else "previous list",
                "values": [
                    _none(None if pd.isna(v) else round(100 * v, 1))
                    for v in earlier.head(top_chart)
                ],
            },
            {
                "label": f"list of {list_date}",
                "values": [round(100 * float(v), 1) for v in head["probability"]],
            },
        ],
    }
    moved = change.dropna()
    return {
        "list_date": list_date,
        "previous_date": previous_date,
        "size": len(rows),
        "rose": int((moved > 0).sum()),
        "fell": int((moved < 0).sum()),
        "new": int(change.isna().sum()),
        "table": {
            "header": [
                "rank",
                "customer",
                "risk",
                "band",
                "team",
                "risk on the previous list",
                "change",
                "why",
                "action",
            ],
            "rows": rows,
        },
        "charts": [chart] if rows else [],
    }


# --- impact --------------------------------------------------------------------------------
def impact_view(report: dict[str, Any]) -> Context:
    """Called minus control, overall and by band, each with its Newcombe interval."""
    groups = [report["overall"], *report["by_band"]]
    rows = [
        [
            str(g["band"]),
            count(g["n_treatment"]),
            count(g["n_control"]),
            f"{count(g['answered_treatment'])} / {count(g['answered_control'])}",
            percent(_none(g["detractor_rate_treatment"])),
            percent(_none(g["detractor_rate_control"])),
            "n/a" if _none(g["effect"]) is None else f"{100 * g['effect']:+.1f} pts",
            _interval(
                None if _none(g["ci_low"]) is None else 100 * g["ci_low"],
                None if _none(g["ci_high"]) is None else 100 * g["ci_high"],
            ),
            str(g["verdict"]),
        ]
        for g in groups
    ]
    chart = interval_chart(
        "impact-by-band",
        "Detractor rate, called minus control (points, 95% Newcombe interval)",
        [
            {
                "band": g["band"],
                "value": None if _none(g["effect"]) is None else 100 * g["effect"],
                "ci_low": None if _none(g["ci_low"]) is None else 100 * g["ci_low"],
                "ci_high": None if _none(g["ci_high"]) is None else 100 * g["ci_high"],
                "n": g["answered_treatment"] + g["answered_control"],
            }
            for g in groups
        ],
        "band",
        "points",
    )
    return {
        "date_from": report["date_from"],
        "date_to": report["date_to"],
        "verdict": report["verdict"],
        "table": {
            "header": [
                "band",
                "called",
                "control",
                "answered (called / control)",
                "Detractor rate, called",
                "Detractor rate, control",
                "effect",
                "95% interval",
                "verdict",
            ],
            "rows": rows,
        },
        "charts": [chart],
    }


# --- the model card ------------------------------------------------------------------------
def metric_rows(metrics: dict[str, float]) -> list[list[str]]:
    """Each test metric with its interval where the training run computed one
    (``name_low`` / ``name_high``)."""
    rows = []
    for name, value in metrics.items():
        if name.endswith(("_low", "_high")) and name.rsplit("_", 1)[0] in metrics:
            continue
        low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
        whole = name in ("n", "k", "calls", "list_days", "short_list_days", "recall_days")
        rows.append(
            [
                METRIC_NAMES.get(name, name.replace("_", " ")),
                count(value) if whole else num(value, 3),
                "" if low is None or high is None else _interval(low, high, digits=3),
            ]
        )
    return rows


def _shown_source(source: object) -> str:
    """A data source as a page may show it: a URL without its password, a folder by its name
    (no internal paths)."""
    if not source:
        return "n/a"
    text = str(source)
    return redact(text) if "://" in text else PurePath(text).name


def model_view(identity: dict[str, Any], meta: dict[str, Any], run_url: str | None) -> Context:
    split = meta.get("split") or {}
    return {
        "identity": [
            ("model", identity["name"]),
            ("version", identity["version"]),
            ("alias", identity["alias"]),
            ("loaded from", identity["source"]),
            ("trained at", meta.get("trained_at") or "n/a"),
            ("training data", _shown_source(meta.get("source"))),
            *[(f"split: {k}", str(v)) for k, v in split.items()],
            ("features", count(len(meta.get("features") or []))),
        ],
        "metrics": {
            "header": ["test metric", "value", "95% interval"],
            "rows": metric_rows({k: float(v) for k, v in (meta.get("test_metrics") or {}).items()}),
        },
        "run_id": meta.get("run_id"),
        "run_url": run_url,
        "charts": [],
    }


# --- themes and drivers --------------------------------------------------------------------
def themes_view(figures: dict[str, Any] | None) -> Context:
    """Ranked themes by impact, with their examples; themes under the minimum count are
    listed apart, not ranked."""
    if figures is None:
        return {"computed": False, "charts": []}
    themes = figures["themes"]
    ranked = sorted(
        (t for t in themes if t.get("ranked", True)),
        key=lambda t: (_none(t["impact"]) is None, _none(t["impact"]) or 0.0),
    )
    unranked = [t for t in themes if not t.get("ranked", True)]
    cards = [
        {
            "label": t["label"],
            "top_terms": ", ".join(t["top_terms"]),
            "volume": count(t["volume"]),
            "nps": num(t["nps"], 1),
            "impact": "n/a" if _none(t["impact"]) is None else f"{t['impact']:+.1f}",
            "impact_interval": _interval(t["impact_ci_low"], t["impact_ci_high"]),
            "detractor_share": percent(_none(t["detractor_share"])),
            "promoter_share": percent(_none(t["promoter_share"])),
            "examples": list(t["examples"])[:3],
            "trend": ", ".join(
                f"{p['period']}: {num(p['nps'], 0)} (n={count(p['n'])})" for p in t["trend"]
            ),
        }
        for t in ranked
    ]
    chart = interval_chart(
        "themes-impact",
        "Impact on NPS: NPS(all) minus NPS(answers without the theme), 95% bootstrap interval",
        [
            {
                "label": t["label"],
                "value": t["impact"],
                "ci_low": t["impact_ci_low"],
                "ci_high": t["impact_ci_high"],
                "n": t["volume"],
            }
            for t in ranked
        ],
        "label",
        "NPS points",
    )
    share: Chart = {
        "id": "themes-share",
        "kind": "bars",
        "title": "Share of Detractors and Promoters mentioning each theme",
        "unit": "%",
        "labels": [t["label"] for t in ranked],
        "series": [
            {
                "label": "Detractors",
                "values": [
                    _none(t["detractor_share"]) and 100 * t["detractor_share"] for t in ranked
                ],
            },
            {
                "label": "Promoters",
                "values": [
                    _none(t["promoter_share"]) and 100 * t["promoter_share"] for t in ranked
                ],
            },
        ],
    }
    return {
        "computed": True,
        "cards": cards,
        "unranked": [{"label": t["label"], "volume": count(t["volume"])} for t in unranked],
        "min_count": figures.get("min_count"),
        "charts": [chart, share] if ranked else [],
    }


def drivers_view(figures: dict[str, Any] | None, team: str | None) -> Context:
    """The association table (Detractor rate by behaviour level, with n and interval) and the
    model's mean SHAP per feature."""
    if figures is None:
        return {"computed": False, "team": team, "charts": []}
    rows = figures["associations"]
    table = [
        [
            str(r.get("team") or "all teams"),
            str(r["behaviour"]),
            str(r["level"]),
            count(r["n"]),
            percent(_none(r["detractor_rate"])),
            _interval(r["ci_low"], r["ci_high"], fmt="percent"),
        ]
        for r in rows
    ]
    chart = interval_chart(
        "drivers-association",
        "Detractor rate by behaviour (95% interval)",
        [
            {
                "label": f"{r.get('team') or 'all'}: {r['behaviour']}: {r['level']}",
                "value": None if _none(r["detractor_rate"]) is None else 100 * r["detractor_rate"],
                "ci_low": None if _none(r["ci_low"]) is None else 100 * r["ci_low"],
                "ci_high": None if _none(r["ci_high"]) is None else 100 * r["ci_high"],
                "n": r["n"],
            }
            for r in rows
        ],
        "label",
        "% Detractors",
    )
    shap = figures.get("shap") or []
    shap_chart: Chart = {
        "id": "drivers-shap",
        "kind": "bars",
        "title": "Mean SHAP contribution to the Detractor log-odds",
        "unit": "log-odds",
        "labels": [str(s["feature"]) for s in shap],
        "series": [{"label": "mean SHAP", "values": [_none(s["mean_shap"]) for s in shap]}],
    }
    return {
        "computed": True,
        "team": team,
        "associations": {
            "header": ["team", "behaviour", "level", "answers", "Detractor rate", "95% interval"],
            "rows": table,
        },
        "shap": {
            "header": ["feature", "mean SHAP"],
            "rows": [[str(s["feature"]), num(s["mean_shap"], 3)] for s in shap],
        },
        "charts": [c for c, show in ((chart, rows), (shap_chart, shap)) if show],
    }


# --- the page ------------------------------------------------------------------------------
def render_view(
    here: str,
    view: Context | None,
    *,
    prefix: str,
    as_of: pd.Timestamp,
    query: str = "",
    logout_csrf: str | None = None,
) -> str:
    """A view's page: the bar of views, the view (or why it is empty), its charts' specs."""
    charts: list[Chart] = (view or {}).get("charts", [])
    return render(
        f"dashboard/{here}.html",
        prefix=prefix,
        title=TITLES[here],
        views=VIEWS,
        here=here,
        query=query,
        query_amp=query.replace("?", "&"),
        periods=tuple(PERIODS),
        as_of=as_of.strftime("%Y-%m-%d %H:%M"),
        view=view,
        missing=NO_SOURCE if here != "model" else NO_MODEL,
        charts=charts,
        chart_ids={c["id"] for c in charts},
        logout_csrf=logout_csrf,
        chart_js=assets()["chart.umd.min.js"].url(prefix),
        dashboard_js=assets()["dashboard.js"].url(prefix),
    )
