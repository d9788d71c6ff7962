"""`nps-risk nps`: NPS by channel, team and segment and by month, with intervals, the change
since the previous period, the industry context, and a trend plot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.answers import answers_with_context
from features.dataset import Dataset
from nps_core.industry import compare
from nps_core.nps import (
    MIN_RELIABLE_N,
    nps_by_group,
    nps_change,
    nps_from_counts,
    nps_from_scores,
    with_period,
)


def nps_tables(data: Dataset, by: list[str], freq: str = "M") -> dict[str, pd.DataFrame]:
    answers = with_period(
        answers_with_context(data.interactions, data.surveys, data.customers), freq
    )
    tables = {"period": nps_by_group(answers, "period", data.scale)}
    for group in by:
        tables[group] = nps_by_group(
            answers.assign(**{group: answers[group].fillna("(unknown)")}), group, data.scale
        ).sort_values("n", ascending=False, ignore_index=True)
    return tables


def plot_trend(by_period: pd.DataFrame, path: Path) -> Path:
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
    low = by_period[by_period["low_sample"]]
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
    ax.set_title("NPS by month")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def describe(data: Dataset, tables: dict[str, pd.DataFrame], industry: str | None) -> str:
    def fmt(frame: pd.DataFrame, key: str) -> list[str]:
        return [
            f"  {r[key]!s:<16} n={r['n']:>6}  NPS {r['nps']:+6.1f}  [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
            + ("  (under 30 answers: unreliable)" if r["low_sample"] else "")
            for _, r in frame.iterrows()
        ]

    overall = nps_from_scores(
        answers_with_context(data.interactions, data.surveys, data.customers)["score"], data.scale
    )
    lines = [
        f"NPS {overall.nps:+.1f} [{overall.ci_low:+.1f}, {overall.ci_high:+.1f}] from {overall.n:,} answers ({overall.promoters:,} Promoters, {overall.passives:,} Passives, {overall.detractors:,} Detractors)"
    ]
    if industry:
        lines.append(compare(overall.nps, industry))
    periods = tables["period"]
    if len(periods) >= 2:
        a, b = periods.iloc[-2], periods.iloc[-1]
        change = nps_change(
            nps_from_counts(a["promoters"], a["passives"], a["detractors"]),
            nps_from_counts(b["promoters"], b["passives"], b["detractors"]),
        )
        verdict = "a significant change" if change.significant else "within noise"
        lines.append(
            f"{b['period']} vs {a['period']}: {change.change:+.1f} points (95% CI {change.ci_low:+.1f} to {change.ci_high:+.1f}, p={change.p_value:.2f}): {verdict}"
        )
    for name, frame in tables.items():
        lines.append(f"by {name}:")
        lines += fmt(frame, name)
    return "\n".join(lines)
