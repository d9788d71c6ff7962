"""`nps-risk impact`: did outreach help? Flagged customers, called vs control, by risk band.

Intention to treat: every customer flagged in the period is analysed in the arm of their
FIRST flag in it (treatment: on the list to call; control: held out, "would have been
called"), whether or not anyone picked up the phone. Follow-up stops (is censored) where
that arm stops being true: a later flag in the other arm, or a call recorded for a control
customer. Outcomes:

- answered within ``window_days``, and Detractor among those who answered (outreach can
  change who answers, so the answer rate per arm is shown, and a Detractor effect weighted
  by the inverse probability of answering);
- outcomes every customer has: a repeat contact within ``repeat_days``, churn within
  ``churn_days`` (when the customers table records ``churned_at`` at all).

The statistics are in ``serving.lists.uplift``; this module gathers the customers and
their outcomes from the store and the data DIR.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from nps_core.scale import ScoreScale
from serving.lists.store import Store, read_contacts, risk_scores
from serving.lists.uplift import (
    band_verdict,
    compare_frame,
    plot_qini,
    qini_coefficient,
    qini_curve,
    summary_verdict,
    verdict_kind,
    weighted_detractor_effect,
)

BANDS = ("high", "medium", "low")  # report order; any other band follows
COVARIATES = ("risk_logit", "prior_answers", "contacts_90d")  # known at the first flag


def first_flags(store: Store, date_from: date, date_to: date) -> pd.DataFrame:
    """Each customer's first flag in the period (list_date, grp, band, probability, rank)
    and ``switched_at``: the first later list date on which they were flagged in the other
    arm (NaT if never).

    Stand-in until the ledger's experiment period lands (branch ``ledger``: a store
    function ``first_flags(store, period)``); swap this one function for it then.
    """
    columns = [
        risk_scores.c.list_date,
        risk_scores.c.customer_id,
        risk_scores.c.grp,
        risk_scores.c.band,
        risk_scores.c.probability,
        risk_scores.c.rank,
    ]
    with store.engine.connect() as conn:
        rows = pd.read_sql(
            select(*columns)
            .where(risk_scores.c.flagged.is_(True))
            .where(risk_scores.c.list_date >= date_from),
            conn,
        )
    rows["list_date"] = pd.to_datetime(rows["list_date"])
    rows = rows.sort_values(["list_date", "rank"], kind="stable")
    in_period = rows[rows["list_date"] <= pd.Timestamp(date_to)]
    first = in_period.drop_duplicates("customer_id").reset_index(drop=True)
    later = rows.merge(
        first[["customer_id", "list_date", "grp"]], on="customer_id", suffixes=("", "_first")
    )
    switches = later[
        (later["list_date"] > later["list_date_first"]) & (later["grp"] != later["grp_first"])
    ]
    switched = (
        switches.groupby("customer_id")["list_date"].min().rename("switched_at").reset_index()
    )
    return first.merge(switched, on="customer_id", how="left")


def _utc_day(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days).dt.tz_localize("UTC").dt.as_unit("ns")


def _lookup(ids: pd.Series, values: pd.Series) -> pd.Series:
    """``values`` (indexed by customer) for each id; missing where it has none."""
    return values.reindex(ids.to_numpy()).set_axis(ids.index)


def _first_event_before(
    people: pd.DataFrame, events: pd.DataFrame, time: str, end: str
) -> pd.DataFrame:
    """Each person's first event in [start, ``end``) (rows of ``events`` merged in)."""
    joined = people[["customer_id", "start", end]].merge(events, on="customer_id", how="inner")
    joined = joined[(joined[time] >= joined["start"]) & (joined[time] < joined[end])]
    return joined.sort_values(time, kind="stable").drop_duplicates("customer_id")


def customer_outcomes(
    flags: pd.DataFrame,
    surveys: pd.DataFrame,
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    contacts: pd.DataFrame,
    scale: ScoreScale,
    *,
    window_days: int = 60,
    repeat_days: int = 30,
    churn_days: int = 90,
) -> pd.DataFrame:
    """One row per first-flagged customer: arm, band, covariates known at the flag, and the
    outcomes observed before the follow-up ends (its horizon, or censoring)."""
    ids = flags["customer_id"].astype(str)
    start = _utc_day(flags["list_date"])
    switched = _utc_day(flags["switched_at"])
    control_ids = set(ids[flags["grp"].eq("control").to_numpy()])
    called = contacts[contacts["customer_id"].astype(str).isin(control_ids)]
    people = pd.DataFrame({"customer_id": ids, "start": start})
    first_call = _first_event_before(
        people.assign(end=start + pd.Timedelta(days=max(window_days, repeat_days, churn_days))),
        called.assign(customer_id=called["customer_id"].astype(str)),
        "contacted_at",
        "end",
    ).set_index("customer_id")["contacted_at"]
    censor = pd.concat([switched, _lookup(ids, first_call)], axis=1).min(axis=1)
    people = people.assign(censor=censor)

    def until(days: int) -> pd.Series:
        horizon = start + pd.Timedelta(days=days)
        return horizon.where(censor.isna() | (horizon <= censor), censor)

    answers = surveys.assign(customer_id=surveys["customer_id"].astype(str))
    answers = answers[scale.on_scale(answers["score"])][["customer_id", "responded_at", "score"]]
    first_answer = _first_event_before(
        people.assign(answer_end=until(window_days)), answers, "responded_at", "answer_end"
    ).set_index("customer_id")
    score = _lookup(ids, first_answer["score"])
    contacts_in = interactions.assign(customer_id=interactions["customer_id"].astype(str))[
        ["customer_id", "opened_at"]
    ]
    repeat = _first_event_before(
        people.assign(repeat_end=until(repeat_days)), contacts_in, "opened_at", "repeat_end"
    )
    churned_at = (
        customers.assign(customer_id=customers["customer_id"].astype(str))
        .set_index("customer_id")["churned_at"]
        .dropna()
    )
    churn_known = bool(len(churned_at))
    churn_time = _lookup(ids, churned_at)
    churned = (churn_time >= start) & (churn_time < until(churn_days))

    before = people.merge(answers, on="customer_id")
    prior = before[before["responded_at"] < before["start"]].groupby("customer_id").size()
    seen = people.merge(contacts_in, on="customer_id")
    recent = (
        seen[
            (seen["opened_at"] < seen["start"])
            & (seen["opened_at"] >= seen["start"] - pd.Timedelta(days=90))
        ]
        .groupby("customer_id")
        .size()
    )
    p = flags["probability"].clip(1e-6, 1 - 1e-6).to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "list_date": flags["list_date"],
            "grp": flags["grp"].to_numpy(),
            "band": flags["band"].to_numpy(),
            "probability": flags["probability"].to_numpy(dtype=float),
            "rank": flags["rank"].to_numpy(),
            "censored_at": censor,
            "answered": score.notna().astype(int),
            "detractor": scale.is_detractor(score.fillna(-1)).astype(float).where(score.notna()),
            "repeat_contact": ids.isin(set(repeat["customer_id"])).astype(int),
            "churned": churned.astype(int) if churn_known else np.nan,
            "risk_logit": np.log(p / (1 - p)),
            "prior_answers": _lookup(ids, prior).fillna(0).to_numpy(dtype=float),
            "contacts_90d": _lookup(ids, recent).fillna(0).to_numpy(dtype=float),
        }
    ).reset_index(drop=True)


@dataclass
class ImpactReport:
    date_from: date
    date_to: date
    settings: dict[str, Any]
    overall: dict[str, Any]
    by_band: list[dict[str, Any]]
    at_capacity: dict[str, Any]
    qini: dict[str, Any]
    verdict: str
    customers: pd.DataFrame = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "settings": self.settings,
            "overall": self.overall,
            "by_band": self.by_band,
            "at_capacity": self.at_capacity,
            "qini": self.qini,
            "verdict": self.verdict,
        }


def _group_figures(part: pd.DataFrame, band: str, bootstrap: int, seed: int) -> dict[str, Any]:
    """The contract's flat keys first, then every outcome with its intervals."""
    detractor = compare_frame(part[part["answered"] == 1], "detractor")
    answer = compare_frame(part, "answered")
    arms = part["grp"]
    figures: dict[str, Any] = {
        "band": band,
        "n_treatment": int(arms.eq("treatment").sum()),
        "n_control": int(arms.eq("control").sum()),
        "answered_treatment": detractor.n_treatment,
        "answered_control": detractor.n_control,
        "detractor_rate_treatment": detractor.as_dict()["rate_treatment"],
        "detractor_rate_control": detractor.as_dict()["rate_control"],
        "effect": detractor.as_dict()["effect"],
        "ci_low": detractor.as_dict()["ci_low"],
        "ci_high": detractor.as_dict()["ci_high"],
        "p_value": detractor.as_dict()["p_value"],
        "verdict": band_verdict(band, detractor),
        "verdict_kind": verdict_kind(detractor),
        "answer_rate": answer.as_dict(),
        "detractor": detractor.as_dict(),
        "repeat_contact": compare_frame(part, "repeat_contact").as_dict(),
        "churn": (
            None if part["churned"].isna().all() else compare_frame(part, "churned").as_dict()
        ),
        "censored_treatment": int((arms.eq("treatment") & part["censored_at"].notna()).sum()),
        "censored_control": int((arms.eq("control") & part["censored_at"].notna()).sum()),
    }
    if detractor.n_treatment and detractor.n_control:
        weighted = weighted_detractor_effect(part, COVARIATES, bootstrap=bootstrap, seed=seed)
        figures["weighted_detractor"] = weighted.as_dict()
    else:
        figures["weighted_detractor"] = None
    return figures


def top_k_per_day(customers: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k riskiest first flags of each list day (both arms), as the team would call them."""
    order = customers.sort_values(["list_date", "rank"], kind="stable")
    return order[order.groupby("list_date").cumcount() < k]


def analyse(
    customers: pd.DataFrame,
    date_from: date,
    date_to: date,
    *,
    capacity: int,
    bootstrap: int = 200,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> ImpactReport:
    """Every figure of the report from the per-customer outcomes (pure)."""
    present = list(dict.fromkeys(customers["band"]))
    bands = [b for b in BANDS if b in present] + [b for b in present if b not in BANDS]
    overall = _group_figures(customers, "all", bootstrap, seed)
    by_band = [_group_figures(customers[customers["band"] == b], b, bootstrap, seed) for b in bands]
    top = top_k_per_day(customers, capacity)
    at_capacity = {
        "capacity": capacity,
        "customers": len(top),
        "detractor": compare_frame(top[top["answered"] == 1], "detractor").as_dict(),
        "repeat_contact": compare_frame(top, "repeat_contact").as_dict(),
    }
    answered = customers[customers["answered"] == 1]
    curves = {"all": qini_curve(answered)} | {
        b: qini_curve(answered[answered["band"] == b]) for b in bands
    }
    qini = {
        "outcome": "Detractor among customers who answered, riskiest first",
        "coefficient": {name: _nan_none(qini_coefficient(c)) for name, c in curves.items()},
        "prevented": {
            name: _nan_none(float(c["prevented"].iloc[-1])) if len(c) else None
            for name, c in curves.items()
        },
        "plot": None,
    }
    verdict = summary_verdict({b["band"]: b["verdict_kind"] for b in by_band})
    report = ImpactReport(
        date_from, date_to, settings or {}, overall, by_band, at_capacity, qini, verdict, customers
    )
    report.qini["curves"] = curves  # not in JSON: for the plot
    return report


def _nan_none(value: float) -> float | None:
    return None if not math.isfinite(value) else value


def estimate_impact(
    store: Store,
    surveys: pd.DataFrame,
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    scale: ScoreScale,
    date_from: date,
    date_to: date,
    *,
    capacity: int,
    window_days: int = 60,
    repeat_days: int = 30,
    churn_days: int = 90,
    bootstrap: int = 200,
    seed: int = 0,
) -> ImpactReport:
    """Read the period's first flags and recorded calls from the store, then ``analyse``."""
    flags = first_flags(store, date_from, date_to)
    outcomes = customer_outcomes(
        flags,
        surveys,
        interactions,
        customers,
        read_contacts(store),
        scale,
        window_days=window_days,
        repeat_days=repeat_days,
        churn_days=churn_days,
    )
    return analyse(
        outcomes,
        date_from,
        date_to,
        capacity=capacity,
        bootstrap=bootstrap,
        seed=seed,
        settings={
            "window_days": window_days,
            "repeat_days": repeat_days,
            "churn_days": churn_days,
            "capacity": capacity,
            "bootstrap": bootstrap,
            "first_flags": "derived from risk_scores (first flag per customer in the period)",
            "propensity_covariates": list(COVARIATES),
        },
    )


def write_outputs(report: ImpactReport, json_path: Path | None, plot_path: Path) -> None:
    """The Qini plot, then (if asked) the JSON naming it."""
    curves = report.qini.pop("curves", {})
    report.qini["plot"] = str(plot_qini(curves, plot_path))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_json(), indent=1, default=str))


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.1%}"


def _points(figures: dict[str, Any] | None) -> str:
    if not figures or figures.get("effect") is None:
        return "n/a"
    return (
        f"{figures['effect'] * 100:+.1f} pts [{figures['ci_low'] * 100:+.1f}, "
        f"{figures['ci_high'] * 100:+.1f}]"
    )


def describe(report: ImpactReport) -> str:
    s = report.settings
    lines = [
        f"outreach impact, first flags {report.date_from} to {report.date_to} "
        f"(answers within {s.get('window_days')} days; effects are called minus control, 95% CI):",
        f"  {'band':<7} {'called':>7} {'control':>7} {'answered':>15} {'Detractor rate':>17}  "
        f"{'Detractor effect':<24} {'weighted by answering':<24} {'repeat contact':<24} churn",
    ]
    for g in [report.overall, *report.by_band]:
        weighted = g["weighted_detractor"]
        lines.append(
            f"  {g['band']:<7} {g['n_treatment']:>7} {g['n_control']:>7} "
            f"{g['answered_treatment']:>7}/{g['answered_control']:<7} "
            f"{_pct(g['detractor_rate_treatment'])} / {_pct(g['detractor_rate_control'])}  "
            f"{_points(g):<24} {_points(weighted):<24} {_points(g['repeat_contact']):<24} "
            f"{_points(g['churn']) if g['churn'] else 'no churned_at in the data'}"
        )
    cap = report.at_capacity
    lines.append(
        f"  top {cap['capacity']} a day ({cap['customers']} customers): Detractor effect "
        f"{_points(cap['detractor'])}, repeat contact {_points(cap['repeat_contact'])}"
    )
    for g in report.by_band:
        lines.append(f"  {g['verdict']}")
    lines.append(f"verdict: {report.verdict}")
    if report.qini.get("plot"):
        lines.append(f"Qini curve: {report.qini['plot']}")
    return "\n".join(lines)
