"""Which support behaviours go with Detractor answers, overall and per team, for coaching:
`nps-risk drivers` and GET /v1/drivers.

Two views that check each other. The plain one: on the ticket that triggered each answer,
the Detractor rate when first contact failed vs succeeded, when the first response was slow
vs fast (slower than three in four of the channel's answered tickets), and when the ticket
was transferred vs not, each rate with n and a Wilson interval and the difference with
Newcombe's (statsmodels). The model's one: the champion's mean SHAP contribution (log-odds of
a Detractor) on the answers' features as of each answer, summed by feature family, so
"first response" counts once however many windows it has. A team is compared with the rest
of the teams on the same figures. These are associations: a team's customers and tickets
differ from the rest's, so a gap is a place to look and coach, never a verdict on people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import feature_family
from features.dataset import Dataset
from features.rows import build_training_rows
from nps_core.proportions import Comparison, compare, wilson
from serving.analytics.nps import finite, report_answers
from serving.predictor import ServingModel

SLOW_QUANTILE = 0.75  # a first response slower than 3 in 4 of its channel's is slow
# feature families that are things support does (coachable); the rest are context
BEHAVIOURS = {
    "first_response": "first response time",
    "response_wait": "waiting for a response",
    "awaiting": "tickets awaiting a first response",
    "resolution": "resolution time",
    "escalat": "escalations",
    "transfer": "transfers",
    "fcr": "first-contact resolution",
    "repeat": "repeat contacts",
    "reopen": "reopened tickets",
    "extra_contacts": "extra contacts on one issue",
    "open_ticket": "tickets still open",
    "handle_time": "handling time",
}
# the plain comparisons: key -> (what it says, the group with it, the group without it)
ASSOCIATIONS = {
    "first_contact_failed": ("first contact failed vs succeeded", "failed", "succeeded"),
    "slow_first_response": ("slow vs fast first response", "slow", "fast"),
    "transferred": ("transferred vs not", "transferred", "not transferred"),
}
_MORE_OF = {
    "first_contact_failed": "first contacts that did not resolve the issue",
    "slow_first_response": "slow first responses",
    "transferred": "transfers",
}


@dataclass(frozen=True)
class DriversReport:
    team: str | None
    answers: int
    detractors: int
    slow_thresholds_h: dict[str, float]
    associations: dict[str, Comparison]
    shap: pd.DataFrame | None  # family, behaviour, mean_shap, mean_abs_shap (+ rest_*)
    teams: list[dict[str, Any]]
    model: dict[str, str] | None


def answer_behaviours(data: Dataset) -> pd.DataFrame:
    """Counted answers with their triggering ticket's behaviours: ``detractor`` (0/1),
    ``team``, ``channel`` and the three flags (NA where the ticket does not say), plus the
    slow threshold used for the answer's channel (hours)."""
    answers = report_answers(data)
    tickets = data.interactions.drop_duplicates("interaction_id").set_index("interaction_id")
    ticket = tickets.reindex(answers["interaction_id"])
    delay_h = (
        (ticket["first_response_at"] - ticket["opened_at"]).dt.total_seconds() / 3600
    ).to_numpy()
    channel = answers["channel"].to_numpy()
    threshold = (
        pd.Series(delay_h).groupby(channel).transform(lambda d: d.quantile(SLOW_QUANTILE))
    ).to_numpy()
    fcr = ticket["first_contact_resolved"].astype("boolean")
    transfers = ticket["transfers"].to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(
        {
            "response_id": answers["response_id"].to_numpy(),
            "team": answers["team"].to_numpy(),
            "channel": channel,
            "detractor": data.scale.is_detractor(answers["score"]).astype(int).to_numpy(),
            "first_contact_failed": _flag(
                ~fcr.fillna(True).to_numpy(dtype=bool), fcr.isna().to_numpy()
            ),
            "slow_first_response": _flag(delay_h > threshold, np.isnan(delay_h)),
            "transferred": _flag(transfers >= 1, np.isnan(transfers)),
            "slow_threshold_h": threshold,
        }
    )


def _flag(values: np.ndarray, unknown: np.ndarray) -> pd.Series:
    """True/False per answer, NA where the ticket does not say."""
    return pd.Series(values.astype(bool)).astype("boolean").mask(unknown)


def associations(frame: pd.DataFrame) -> dict[str, Comparison]:
    """Detractor rate with each behaviour vs without it (answers whose ticket says)."""
    out = {}
    for key in ASSOCIATIONS:
        known = frame[frame[key].notna()]
        with_it = known[known[key].astype(bool)]["detractor"]
        without = known[~known[key].astype(bool)]["detractor"]
        out[key] = compare(int(with_it.sum()), len(with_it), int(without.sum()), len(without))
    return out


def mean_shap(model: ServingModel, data: Dataset) -> pd.DataFrame:
    """Each answer's SHAP contributions (log-odds of a Detractor) by feature family, from
    its features as of the answer: one row per answer, ``response_id`` then families."""
    if model.spec is None:
        raise ValueError("the model was trained on a feature table: no features to explain")
    rows = build_training_rows(data.interactions, data.surveys, data.customers, model.spec)
    if not len(rows):
        return pd.DataFrame({"response_id": pd.Series(dtype="str")})
    _, contrib = model.score(model.model.encoder_.transform(rows))
    by_feature = pd.DataFrame(contrib, columns=model.features)
    families = by_feature.T.groupby([feature_family(f) for f in model.features]).sum().T
    return pd.concat([rows[["response_id"]].reset_index(drop=True), families], axis=1)


def _shap_table(contrib: pd.DataFrame, team_rows: pd.Series | None) -> pd.DataFrame:
    values = contrib.drop(columns="response_id")
    mine = values if team_rows is None else values[team_rows.to_numpy()]
    table = pd.DataFrame(
        {
            "family": values.columns,
            "behaviour": [c in BEHAVIOURS for c in values.columns],
            "label": [BEHAVIOURS.get(c, c.replace("_", " ")) for c in values.columns],
            "mean_shap": mine.mean().to_numpy(),
            "mean_abs_shap": mine.abs().mean().to_numpy(),
        }
    )
    if team_rows is not None:
        rest = values[~team_rows.to_numpy()]
        table["rest_mean_shap"] = rest.mean().to_numpy() if len(rest) else math.nan
        table["difference"] = table["mean_shap"] - table["rest_mean_shap"]
    return table.sort_values(
        ["mean_abs_shap", "family"], ascending=[False, True], ignore_index=True
    )


def _team_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Every team against the rest: its Detractor rate, and where its behaviour gaps are."""
    out = []
    for team in sorted(frame["team"].unique()):
        mine = frame["team"] == team
        vs_rest = compare(
            int(frame.loc[mine, "detractor"].sum()),
            int(mine.sum()),
            int(frame.loc[~mine, "detractor"].sum()),
            int((~mine).sum()),
        )
        gaps = {}
        for key in ASSOCIATIONS:
            known_mine = frame.loc[mine, key].dropna()
            known_rest = frame.loc[~mine, key].dropna()
            share = compare(
                int(known_mine.sum()), len(known_mine), int(known_rest.sum()), len(known_rest)
            )
            gaps[key] = share
        focus = _focus(gaps)
        out.append(
            {"team": str(team), "vs_rest": vs_rest, "behaviour_shares": gaps, "focus": focus}
        )
    return out


def _focus(gaps: dict[str, Comparison]) -> str | None:
    """The behaviour the team does clearly more often than the rest (interval above 0),
    the largest gap first: where coaching could start."""
    clear = [(c.effect, k) for k, c in gaps.items() if math.isfinite(c.ci_low) and c.ci_low > 0]
    return max(clear)[1] if clear else None


def drivers_report(
    data: Dataset, model: ServingModel | None = None, team: str | None = None
) -> DriversReport:
    """The associations and mean SHAP for all answers, or one team's against the rest."""
    frame = answer_behaviours(data)
    teams = set(frame["team"])
    if team is not None and team not in teams:
        known = ", ".join(sorted(teams)) or "none"
        raise ValueError(f"no answers for team {team!r}; teams: {known}")
    mine = frame if team is None else frame[frame["team"] == team]
    shap = None
    if model is not None and model.spec is not None:
        contrib = mean_shap(model, data)
        answer_team = contrib["response_id"].map(frame.set_index("response_id")["team"])
        contrib, answer_team = contrib[answer_team.notna()], answer_team.dropna()
        shap = _shap_table(contrib, None if team is None else answer_team == team)
    thresholds = (
        frame.dropna(subset=["slow_threshold_h"])
        .groupby("channel")["slow_threshold_h"]
        .first()
        .to_dict()
    )
    return DriversReport(
        team=team,
        answers=len(mine),
        detractors=int(mine["detractor"].sum()),
        slow_thresholds_h={str(k): float(v) for k, v in thresholds.items()},
        associations=associations(mine),
        shap=shap,
        teams=_team_rows(frame),
        model=None if model is None else {"name": model.loaded.name, "version": model.version},
    )


def _comparison(c: Comparison, with_name: str, without_name: str) -> dict[str, Any]:
    return {
        with_name: {
            "n": c.n_treatment,
            "detractors": c.events_treatment,
            "rate": finite(c.rate_treatment),
            "ci_low": finite(c.rate_treatment_low),
            "ci_high": finite(c.rate_treatment_high),
        },
        without_name: {
            "n": c.n_control,
            "detractors": c.events_control,
            "rate": finite(c.rate_control),
            "ci_low": finite(c.rate_control_low),
            "ci_high": finite(c.rate_control_high),
        },
        "difference": finite(c.effect),
        "difference_ci_low": finite(c.ci_low),
        "difference_ci_high": finite(c.ci_high),
        "p_value": finite(c.p_value),
    }


def _coaching(team: str, vs_rest: Comparison, focus: str | None) -> str:
    """One sentence a team lead can use: the team's rate against the rest, said as a
    place to look, and the behaviour to start coaching on, if one stands out."""
    if not vs_rest.n_treatment:
        return f"{team}: no answers yet."
    rate = f"{vs_rest.rate_treatment:.0%} of {team}'s answers are Detractors vs {vs_rest.rate_control:.0%} for the other teams"
    if math.isfinite(vs_rest.ci_low) and vs_rest.ci_low > 0:
        where = "higher beyond noise"
    elif math.isfinite(vs_rest.ci_high) and vs_rest.ci_high < 0:
        where = "lower beyond noise: practices worth sharing"
    else:
        where = "within noise"
    start = (
        f"; its tickets have more {_MORE_OF[focus]} than the other teams': a place to start coaching"
        if focus
        else ""
    )
    return f"{rate} ({where}){start}. Customers and tickets differ by team: a gap is a place to look, not a verdict."


def drivers_dict(report: DriversReport) -> dict[str, Any]:
    """The report as JSON-ready data: GET /v1/drivers and ``drivers --json``."""
    rate, low, high = wilson(report.detractors, report.answers)
    return {
        "team": report.team,
        "answers": report.answers,
        "detractors": report.detractors,
        "detractor_rate": finite(rate),
        "detractor_rate_ci_low": finite(low),
        "detractor_rate_ci_high": finite(high),
        "model": report.model,
        "slow_first_response_hours": report.slow_thresholds_h,
        "associations": [
            {
                "behaviour": key,
                "label": label,
                **_comparison(report.associations[key], "with", "without"),
                "groups": [with_name, without_name],
            }
            for key, (label, with_name, without_name) in ASSOCIATIONS.items()
        ],
        "shap": None
        if report.shap is None
        else [
            {k: (finite(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in report.shap.to_dict("records")
        ],
        "teams": [
            {
                "team": t["team"],
                **_comparison(t["vs_rest"], "team_rate", "rest_rate"),
                "behaviour_shares": [
                    {"behaviour": key, **_comparison(c, "team", "rest")}
                    for key, c in t["behaviour_shares"].items()
                ],
                "focus": t["focus"],
                "coaching": _coaching(t["team"], t["vs_rest"], t["focus"]),
            }
            for t in report.teams
        ],
        "note": "associations on the answers' own tickets, not causes; teams serve different "
        "customers and tickets, so a gap is a place to look and coach, not a verdict",
    }


def describe_drivers(report: DriversReport) -> str:
    data = drivers_dict(report)
    who = f"team {report.team}" if report.team else "all teams"
    lines = [
        f"{who}: {report.answers:,} answers, {report.detractors:,} Detractors"
        + (
            f" ({data['detractor_rate']:.0%}, 95% {data['detractor_rate_ci_low']:.0%}-{data['detractor_rate_ci_high']:.0%})"
            if report.answers
            else ""
        ),
        "Detractor rate on the answer's own ticket (Wilson intervals; difference with Newcombe's):",
    ]
    for a in data["associations"]:
        g_with, g_without = a["groups"]
        w, wo = a["with"], a["without"]
        if not (w["n"] and wo["n"]):
            lines.append(f"  {a['label']}: not enough tickets that say")
            continue
        lines.append(
            f"  {g_with:<15} {w['rate']:6.1%} [{w['ci_low']:.1%}, {w['ci_high']:.1%}] n={w['n']:<6,}"
            f" vs {g_without:<15} {wo['rate']:6.1%} [{wo['ci_low']:.1%}, {wo['ci_high']:.1%}] n={wo['n']:<6,}"
            f" difference {100 * a['difference']:+.1f} points [{100 * a['difference_ci_low']:+.1f}, {100 * a['difference_ci_high']:+.1f}]"
        )
    if data["shap"]:
        lines.append(
            f"model {report.model['version'] if report.model else ''}: mean SHAP (log-odds of a Detractor) on these answers, largest first:"
        )
        for row in data["shap"][:8]:
            extra = (
                f"  vs rest {row['rest_mean_shap']:+.3f}"
                if row.get("rest_mean_shap") is not None
                else ""
            )
            kind = "behaviour" if row["behaviour"] else "context"
            lines.append(
                f"  {row['label']:<36} {kind:<9} mean {row['mean_shap']:+.3f}  mean |SHAP| {row['mean_abs_shap']:.3f}{extra}"
            )
    lines.append("teams against the rest, for coaching (not blame):")
    for t in data["teams"]:
        lines.append(f"  {t['coaching']}")
    return "\n".join(lines)


def plot_teams(report: DriversReport, path: Path) -> Path:
    """Each team's Detractor rate with its Wilson interval against all answers' rate."""
    from matplotlib.figure import Figure

    teams = report.teams
    fig = Figure(figsize=(8, 0.4 * max(len(teams), 2) + 1.3), dpi=110)
    ax = fig.add_subplot()
    y = np.arange(len(teams))[::-1]
    rate = np.array([t["vs_rest"].rate_treatment for t in teams])
    low = np.array([t["vs_rest"].rate_treatment_low for t in teams])
    high = np.array([t["vs_rest"].rate_treatment_high for t in teams])
    ax.errorbar(rate, y, xerr=[rate - low, high - rate], fmt="o", capsize=3)
    overall = sum(t["vs_rest"].events_treatment for t in teams) / max(
        sum(t["vs_rest"].n_treatment for t in teams), 1
    )
    ax.axvline(overall, color="grey", linewidth=0.8, label=f"all answers {overall:.0%}")
    ax.set_yticks(
        y, [f"{t['team'][:30]} (n={t['vs_rest'].n_treatment})" for t in teams], fontsize=8
    )
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("Detractor rate (95% Wilson interval)")
    ax.set_title("Detractor rate by team: a place to look, not a verdict")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
