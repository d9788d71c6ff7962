"""NPS by group and period, the one report behind `nps-risk nps` and `GET /v1/nps`: counts,
NPS with its interval and the small-sample flag, overall, per group, per period and per group
and period; the latest period-over-period change with its z-test; the industry range.

Answers of internal and test accounts never count (``answers_with_context``). A missing
group value is reported as ``(unknown)``, never dropped, so every table adds up to the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from features.answers import answers_with_context
from features.dataset import Dataset
from nps_core.industry import INDUSTRIES, IndustryRange, compare
from nps_core.nps import (
    MIN_RELIABLE_N,
    NpsChange,
    NpsResult,
    nps_by_group,
    nps_change,
    nps_from_counts,
    nps_from_scores,
    with_period,
)

GROUPS = ("channel", "team", "segment", "region", "plan")
PERIODS = {"week": "W", "month": "M", "quarter": "Q"}  # the API's names -> pandas aliases
UNKNOWN = "(unknown)"
RESULT_COLUMNS = ("n", "promoters", "passives", "detractors", "nps", "ci_low", "ci_high")


@dataclass(frozen=True)
class PeriodChange:
    """The latest period against the one before it: ``change`` = after - before."""

    before: str
    after: str
    test: NpsChange

    def as_dict(self) -> dict[str, Any]:
        t = self.test
        return {
            "before": self.before,
            "after": self.after,
            "nps_before": t.before.nps,
            "nps_after": t.after.nps,
            "change": t.change,
            "se": t.se,
            "ci_low": t.ci_low,
            "ci_high": t.ci_high,
            "z": t.z,
            "p_value": t.p_value,
            "significant": t.significant,
        }


@dataclass(frozen=True)
class NpsReport:
    """What a manager reads: ``tables`` holds ``period`` and, for each group in ``by``, the
    group's table and ``<group>_by_period`` (one row per group and period)."""

    freq: str
    by: tuple[str, ...]
    date_from: date | None
    date_to: date | None
    overall: NpsResult
    tables: dict[str, pd.DataFrame]
    change: PeriodChange | None
    group_changes: dict[str, dict[str, PeriodChange]] = field(default_factory=dict)
    industry: str | None = None

    @property
    def industry_range(self) -> IndustryRange | None:
        return INDUSTRIES[self.industry] if self.industry else None


def report_answers(
    data: Dataset, date_from: date | None = None, date_to: date | None = None
) -> pd.DataFrame:
    """Counted answers with their context, answered on days ``date_from``..``date_to``
    (UTC, both included; None: open)."""
    answers = answers_with_context(data.interactions, data.surveys, data.customers)
    day = answers["responded_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    keep = pd.Series(True, index=answers.index)
    if date_from is not None:
        keep &= day >= pd.Timestamp(date_from)
    if date_to is not None:
        keep &= day <= pd.Timestamp(date_to)
    answers = answers[keep & data.scale.on_scale(answers["score"])]
    return answers.assign(**{g: answers[g].fillna(UNKNOWN) for g in GROUPS if g in answers})


def latest_change(by_period: pd.DataFrame) -> PeriodChange | None:
    """The last period of a ``period`` table against the one before it (None with < 2)."""
    ordered = by_period.sort_values("period")
    if len(ordered) < 2:
        return None
    a, b = ordered.iloc[-2], ordered.iloc[-1]
    test = nps_change(
        nps_from_counts(int(a["promoters"]), int(a["passives"]), int(a["detractors"])),
        nps_from_counts(int(b["promoters"]), int(b["passives"]), int(b["detractors"])),
    )
    return PeriodChange(str(a["period"]), str(b["period"]), test)


def nps_report(
    data: Dataset,
    by: list[str] | tuple[str, ...],
    freq: str = "M",
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    industry: str | None = None,
) -> NpsReport:
    """NPS overall, by period, by each group of ``by`` and by group and period."""
    unknown = [g for g in by if g not in GROUPS]
    if unknown:
        raise ValueError(f"cannot report NPS by {unknown[0]!r}; groups: {', '.join(GROUPS)}")
    if industry is not None and industry not in INDUSTRIES:
        raise ValueError(f"unknown industry {industry!r}; known: {', '.join(sorted(INDUSTRIES))}")
    answers = with_period(report_answers(data, date_from, date_to), freq)
    by_period = nps_by_group(answers, "period", data.scale)
    tables = {"period": by_period}
    group_changes: dict[str, dict[str, PeriodChange]] = {}
    last_two = sorted(by_period["period"])[-2:]
    for group in by:
        tables[group] = nps_by_group(answers, group, data.scale).sort_values(
            ["n", group], ascending=[False, True], ignore_index=True
        )
        per_period = nps_by_group(answers, [group, "period"], data.scale).sort_values(
            [group, "period"], ignore_index=True
        )
        tables[f"{group}_by_period"] = per_period
        changes = {}
        if len(last_two) == 2:
            recent = per_period[per_period["period"].isin(last_two)]
            for name, rows in recent.groupby(group, sort=True):
                change = latest_change(rows)
                if change is not None:
                    changes[str(name)] = change
        group_changes[group] = changes
    return NpsReport(
        freq=freq,
        by=tuple(by),
        date_from=date_from,
        date_to=date_to,
        overall=nps_from_scores(answers["score"], data.scale),
        tables=tables,
        change=latest_change(by_period),
        group_changes=group_changes,
        industry=industry,
    )


def nps_tables(data: Dataset, by: list[str], freq: str = "M") -> dict[str, pd.DataFrame]:
    """The report's tables alone (period, then each group)."""
    return nps_report(data, by, freq).tables


def finite(value: Any) -> Any:
    """NaN and infinities as None (JSON has neither), numpy scalars as Python's."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_dict(row: Any) -> dict[str, Any]:
    """One table row (or NpsResult) as the API's figure: counts, NPS, interval, flag."""
    get = row.get if isinstance(row, dict | pd.Series) else lambda k: getattr(row, k)
    out = {k: finite(get(k)) for k in RESULT_COLUMNS}
    out["small_sample"] = bool(get("small_sample"))
    return out


def report_dict(report: NpsReport) -> dict[str, Any]:
    """The report as JSON-ready data: what ``/v1/nps`` answers and ``nps --json`` writes."""

    def rows(frame: pd.DataFrame, group: str | None = None) -> list[dict[str, Any]]:
        return [
            {
                **({"group": str(r[group])} if group else {}),
                **({"period": str(r["period"])} if "period" in r else {}),
                **result_dict(r),
            }
            for r in frame.to_dict("records")
        ]

    def change(c: PeriodChange | None) -> dict[str, Any] | None:
        return None if c is None else {k: finite(v) for k, v in c.as_dict().items()}

    groups = {}
    for group in report.by:
        per_group = rows(report.tables[group], group)
        for entry in per_group:
            entry["change"] = change(report.group_changes[group].get(entry["group"]))
        groups[group] = {
            "groups": per_group,
            "by_period": rows(report.tables[f"{group}_by_period"], group),
        }
    ref = report.industry_range
    return {
        "period": {v: k for k, v in PERIODS.items()}[report.freq],
        "from": report.date_from.isoformat() if report.date_from else None,
        "to": report.date_to.isoformat() if report.date_to else None,
        "min_reliable_n": MIN_RELIABLE_N,
        "overall": result_dict(report.overall),
        "periods": rows(report.tables["period"]),
        "change": change(report.change),
        "by": groups,
        "industry": None
        if ref is None or report.industry is None
        else {
            "industry": report.industry,
            "name": ref.industry,
            "low": ref.low,
            "high": ref.high,
            "top_quartile": ref.top_quartile,
            "verdict": None
            if math.isnan(report.overall.nps)
            else compare(report.overall.nps, report.industry),
        },
    }


def plot_trend(by_period: pd.DataFrame, path: Path, freq: str = "M") -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5), dpi=110)
    ax = fig.add_subplot()
    ax.fill_between(
        by_period["period"],
        by_period["ci_low"],
        by_period["ci_high"],
        alpha=0.25,
        label="95% interval",
    )
    ax.plot(by_period["period"], by_period["nps"], marker="o", label="NPS")
    low = by_period[by_period["small_sample"]]
    if len(low):
        ax.scatter(
            low["period"],
            low["nps"],
            color="#c44e52",
            zorder=3,
            label=f"under {MIN_RELIABLE_N} answers",
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("NPS")
    ax.set_title(f"NPS by {({v: k for k, v in PERIODS.items()})[freq]}")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def describe(report: NpsReport) -> str:
    def fmt(frame: pd.DataFrame, key: str) -> list[str]:
        return [
            f"  {r[key]!s:<16} n={r['n']:>6}  NPS {r['nps']:+6.1f}  [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
            + ("  (under 30 answers: unreliable)" if r["small_sample"] else "")
            for _, r in frame.iterrows()
        ]

    overall = report.overall
    if overall.n == 0:
        return "no answers counted (internal and test accounts never count)"
    lines = [
        f"NPS {overall.nps:+.1f} [{overall.ci_low:+.1f}, {overall.ci_high:+.1f}] from {overall.n:,} answers ({overall.promoters:,} Promoters, {overall.passives:,} Passives, {overall.detractors:,} Detractors)"
    ]
    if report.industry:
        lines.append(compare(overall.nps, report.industry))
    change = report.change
    if change is not None and math.isfinite(change.test.change):
        t = change.test
        verdict = "a significant change" if t.significant else "within noise"
        lines.append(
            f"{change.after} vs {change.before}: {t.change:+.1f} points (95% CI {t.ci_low:+.1f} to {t.ci_high:+.1f}, p={t.p_value:.2f}): {verdict}"
        )
    for name in ("period", *report.by):
        lines.append(f"by {name}:")
        lines += fmt(report.tables[name], name)
    return "\n".join(lines)
