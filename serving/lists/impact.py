"""`nps-risk impact`: did outreach help? Later answers of flagged customers, called vs not.

The primary comparison is intention-to-treat: every flagged treatment customer against every
flagged control customer (the ones we would have called), so who picks up the phone cannot
bias it. The customers actually reached are shown beside it, for context only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import pandas as pd
from sqlalchemy import select

from nps_core.nps import NpsChange, NpsResult, nps_change, nps_from_scores
from nps_core.scale import ScoreScale
from serving.lists.store import Store, outreach, risk_scores


@dataclass(frozen=True)
class GroupOutcome:
    customers: int
    answered: int
    detractor_rate: float
    ci_low: float
    ci_high: float
    nps: NpsResult


@dataclass(frozen=True)
class ImpactResult:
    date_from: date
    date_to: date
    window_days: int
    treatment: GroupOutcome
    control: GroupOutcome
    contacted: GroupOutcome
    difference: float  # treatment - control Detractor rate (negative = fewer Detractors)
    diff_low: float
    diff_high: float
    p_value: float
    nps: NpsChange
    verdict: str


def _rate(
    detractor: pd.Series, customers: int, scores: pd.Series, scale: ScoreScale
) -> GroupOutcome:
    n = len(detractor)
    p = float(detractor.mean()) if n else math.nan
    half = 1.959964 * math.sqrt(p * (1 - p) / n) if n else math.nan
    return GroupOutcome(customers, n, p, p - half, p + half, nps_from_scores(scores, scale))


def later_answers(flagged: pd.DataFrame, surveys: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Each flagged customer's first answer within ``window_days`` after the list date."""
    start = pd.to_datetime(flagged["list_date"]).dt.tz_localize("UTC")
    joined = flagged.assign(start=start).merge(
        surveys[["customer_id", "responded_at", "score"]], on="customer_id", how="inner"
    )
    joined = joined[
        (joined["responded_at"] >= joined["start"])
        & (joined["responded_at"] < joined["start"] + pd.Timedelta(days=window_days))
    ]
    return joined.sort_values("responded_at").drop_duplicates("customer_id")


def estimate_impact(
    store: Store,
    surveys: pd.DataFrame,
    scale: ScoreScale,
    date_from: date,
    date_to: date,
    *,
    window_days: int = 60,
) -> ImpactResult:
    with store.engine.connect() as conn:
        rows = pd.read_sql(
            select(risk_scores.c.list_date, risk_scores.c.customer_id, risk_scores.c.grp)
            .where(risk_scores.c.flagged.is_(True))
            .where(risk_scores.c.list_date >= date_from)
            .where(risk_scores.c.list_date <= date_to),
            conn,
        )
        calls = pd.read_sql(select(outreach.c.customer_id, outreach.c.contacted_at), conn)
    first = rows.sort_values("list_date").drop_duplicates("customer_id")  # first time flagged
    answers = later_answers(first, surveys, window_days)
    answers = answers.assign(detractor=scale.is_detractor(answers["score"]).astype(float))
    if len(calls):
        calls["contacted_at"] = pd.to_datetime(calls["contacted_at"], utc=True)
        reached = answers.merge(calls, on="customer_id", how="inner")
        reached = reached[
            (reached["contacted_at"] >= reached["start"])
            & (reached["contacted_at"] < reached["responded_at"])
        ]
        reached_ids = set(reached["customer_id"])
    else:
        reached_ids = set()

    def outcome(mask: pd.Series, customers: int) -> GroupOutcome:
        part = answers[mask]
        return _rate(part["detractor"], customers, part["score"], scale)

    treat_n = int((first["grp"] == "treatment").sum())
    control_n = int((first["grp"] == "control").sum())
    treatment = outcome(answers["grp"] == "treatment", treat_n)
    control = outcome(answers["grp"] == "control", control_n)
    contacted = outcome(
        (answers["grp"] == "treatment") & answers["customer_id"].isin(reached_ids), len(reached_ids)
    )
    diff = treatment.detractor_rate - control.detractor_rate
    se = math.sqrt(
        (
            treatment.detractor_rate * (1 - treatment.detractor_rate) / treatment.answered
            if treatment.answered
            else math.inf
        )
        + (
            control.detractor_rate * (1 - control.detractor_rate) / control.answered
            if control.answered
            else math.inf
        )
    )
    z = diff / se if se and math.isfinite(se) else math.nan
    p_value = 2 * (1 - NormalDist().cdf(abs(z))) if math.isfinite(z) else math.nan
    low, high = diff - 1.959964 * se, diff + 1.959964 * se
    change = nps_change(control.nps, treatment.nps)
    return ImpactResult(
        date_from,
        date_to,
        window_days,
        treatment,
        control,
        contacted,
        diff,
        low,
        high,
        p_value,
        change,
        _verdict(diff, low, high, treatment, control),
    )


def _verdict(
    diff: float, low: float, high: float, treatment: GroupOutcome, control: GroupOutcome
) -> str:
    if min(treatment.answered, control.answered) < 30:
        return (
            f"Too early to tell: {treatment.answered} answers from called customers and {control.answered} from the "
            "control group; wait for at least 30 in each."
        )
    points = f"{abs(diff) * 100:.1f} points (95% CI {low * 100:+.1f} to {high * 100:+.1f})"
    if high < 0:
        return f"Outreach works: flagged customers we called became Detractors less often, by {points}."
    if low > 0:
        return f"Warning: flagged customers we called became Detractors more often, by {points}. Review the playbook."
    return f"No measurable effect yet: the difference is {diff * 100:+.1f} points, and the interval ({low * 100:+.1f} to {high * 100:+.1f}) includes zero."


def describe(result: ImpactResult) -> str:
    def line(name: str, g: GroupOutcome) -> str:
        if not g.answered:
            return f"  {name:<28} {g.customers:>6} flagged, no later answers yet"
        return (
            f"  {name:<28} {g.customers:>6} flagged, {g.answered:>5} answered: Detractor rate {g.detractor_rate:.1%} "
            f"[{g.ci_low:.1%}, {g.ci_high:.1%}], NPS {g.nps.nps:+.0f} ± {1.96 * g.nps.se:.0f}"
        )

    return "\n".join(
        [
            f"outreach impact, lists {result.date_from} to {result.date_to}, answers within {result.window_days} days:",
            line("called (intention to treat)", result.treatment),
            line("control (not called)", result.control),
            line("actually reached", result.contacted),
            f"  NPS change called vs control: {result.nps.change:+.1f} (95% CI {result.nps.ci_low:+.1f} to {result.nps.ci_high:+.1f})",
            result.verdict,
        ]
    )
