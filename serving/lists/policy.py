"""Who to call today: pure rules that turn scores and recent answers into the daily list.

- close the loop: real Detractor answers of the last days not yet followed up, with the
  hours left of the 24-hour target; Passives and Promoters get their own small lists;
- predicted risk: eligible customers ranked by the model; a reproducible control group (a
  SHA-256 of customer and period, ``in_control``) gets no outreach, so the effect can be
  measured later;
  walking down the ranking, treatment customers are flagged until the day's capacity is
  used, and the control customers met on the way are flagged too ("would have been called").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nps_core.playbooks import DETRACTOR_FOLLOW_UP, PASSIVE_FOLLOW_UP, PROMOTER_FOLLOW_UP
from nps_core.scale import ScoreScale, Segment

FOLLOW_UP_HOURS = 24


@dataclass(frozen=True)
class ListPolicy:
    capacity: int = 50
    control_share: float = 0.10
    fatigue_days: int = 30  # nobody surveyed or called by us this recently is called again
    answer_days: int = 7  # answers this recent are followed up (close the loop)
    reasons_for_top: int = 10_000
    period: str = "Q"  # the experiment period: control membership holds for a calendar quarter
    predicted_follow_up_hours: float = 72.0  # a predicted-risk follow-up is due this long after


def in_control(customer_ids: pd.Series, period_label: str, share: float) -> np.ndarray:
    """Stable, reproducible, portable control assignment: customer ``c`` is in the control
    group for period ``p`` if and only if

        int.from_bytes(hashlib.sha256(f"{c}|{p}".encode("utf-8")).digest()[:8], "big") / 2**64 < share

    that is, the first 8 bytes of the SHA-256 of the UTF-8 string "customer|period", read
    as a big-endian unsigned integer and divided by 2**64 (a uniform draw in [0, 1)), fall
    below the control share. The period is the experiment period's label, e.g. "2026Q2" for
    a quarter (``period_label``; "2026-06" for a month). Any SQL with SHA-256 reproduces it (the README shows PostgreSQL's);
    1M customers take ~0.7 s.
    """
    sha256, suffix = hashlib.sha256, f"|{period_label}".encode()
    keys = customer_ids.astype(str).tolist()
    prefixes = b"".join([sha256(key.encode() + suffix).digest()[:8] for key in keys])
    draws = np.frombuffer(prefixes, dtype=">u8").astype(np.float64) / 2.0**64
    return draws < share


def period_label(as_of: pd.Timestamp, period: str) -> str:
    return str(as_of.tz_convert("UTC").tz_localize(None).to_period(period))


def exclusions(
    candidates: pd.Series,
    as_of: pd.Timestamp,
    surveys: pd.DataFrame,
    outreach: pd.DataFrame,
    in_follow_up: set[str],
    policy: ListPolicy,
) -> pd.Series:
    """Why each candidate is left out (None = eligible). First reason wins."""
    since = as_of - pd.Timedelta(days=policy.fatigue_days)
    surveyed = set(
        surveys.loc[
            (surveys["responded_at"] >= since) & (surveys["responded_at"] < as_of), "customer_id"
        ]
    )
    called = (
        set(
            outreach.loc[
                (outreach["contacted_at"] >= since) & (outreach["contacted_at"] < as_of),
                "customer_id",
            ]
        )
        if len(outreach)
        else set()
    )
    reason = pd.Series(None, index=candidates.index, dtype=object)
    reason[candidates.isin(in_follow_up)] = "already in follow-up"
    reason[reason.isna() & candidates.isin(surveyed)] = (
        f"surveyed in the last {policy.fatigue_days} days"
    )
    reason[reason.isna() & candidates.isin(called)] = (
        f"contacted by us in the last {policy.fatigue_days} days"
    )
    return reason


def rank_and_flag(scored: pd.DataFrame, control: np.ndarray, capacity: int) -> pd.DataFrame:
    """Rank by probability (ties by customer id, so reruns agree); flag the prefix holding
    ``capacity`` treatment customers."""
    order = scored.assign(_control=control).sort_values(
        ["probability", "customer_id"], ascending=[False, True], kind="stable"
    )
    treatment_seen = np.cumsum(~order["_control"].to_numpy())
    # a row is inside the prefix if fewer than `capacity` treatment rows came before it
    before = treatment_seen - (~order["_control"].to_numpy()).astype(int)
    flagged = before < capacity
    return order.assign(
        rank=np.arange(1, len(order) + 1),
        grp=np.where(order["_control"], "control", "treatment"),
        flagged=flagged,
    ).drop(columns="_control")


def answer_follow_ups(
    surveys: pd.DataFrame,
    outreach: pd.DataFrame,
    as_of: pd.Timestamp,
    scale: ScoreScale,
    policy: ListPolicy,
    internal: set[str],
) -> pd.DataFrame:
    """Recent answers not yet followed up, by segment, with the 24-hour clock for Detractors."""
    since = as_of - pd.Timedelta(days=policy.answer_days)
    recent = surveys[
        (surveys["responded_at"] >= since)
        & (surveys["responded_at"] < as_of)
        & ~surveys["customer_id"].isin(internal)
    ]
    recent = recent[scale.on_scale(recent["score"])]
    if len(outreach):
        # followed up: an outreach for this answer, or for this customer after they answered
        by_answer = set(outreach["response_id"].dropna())
        last_call = outreach.groupby("customer_id")["contacted_at"].max()
        called_after = recent["customer_id"].map(last_call) >= recent["responded_at"]
        recent = recent[
            ~recent["response_id"].isin(by_answer) & ~called_after.fillna(False).astype(bool)
        ]
    kind = scale.classify(recent["score"]).astype(str)
    due = recent["responded_at"] + pd.Timedelta(hours=FOLLOW_UP_HOURS)
    hours_left = (due - as_of) / pd.Timedelta(hours=1)
    is_detractor = kind == Segment.DETRACTOR.value
    actions = kind.map(
        {
            Segment.DETRACTOR.value: DETRACTOR_FOLLOW_UP,
            Segment.PASSIVE.value: PASSIVE_FOLLOW_UP,
            Segment.PROMOTER.value: PROMOTER_FOLLOW_UP,
        }
    )
    return pd.DataFrame(
        {
            "response_id": recent["response_id"],
            "kind": kind,
            "customer_id": recent["customer_id"],
            "responded_at": recent["responded_at"],
            "score": recent["score"].astype("int64"),
            "comment": recent["comment"],
            "channel": recent["channel"],
            "due_at": due.where(is_detractor),
            "hours_left": hours_left.where(is_detractor),
            "overdue": (hours_left < 0).where(is_detractor),
            "action": actions,
        }
    ).sort_values(["kind", "responded_at"], kind="stable", ignore_index=True)
