"""The outreach ledger's rules, pure: statuses, transitions, the SLA clock and team figures.

A follow-up is opened for each Detractor answer (``detractor_answer``, due 24 hours after
the answer) and for each customer the daily list flags in the treatment arm
(``predicted_risk``, due ``Settings.predicted_follow_up_hours`` after the run). Its life is
an append-only series of events; its status is the last event known at a time:

- ``open`` -> ``attempted`` (tried, not reached) -> ``reached`` -> ``resolved`` or ``declined``;
  any of them may be skipped (a first call may resolve it);
- ``open`` or ``attempted`` past due -> ``expired``, written by the next daily run, as of that
  run's time (00:00 UTC of its list date), never by a clock in the background;
- ``resolved``, ``declined`` and ``expired`` are closed: nothing more is recorded against them.

A customer with a follow-up not closed is not listed again. The store reads and writes the
tables (``serving.lists.store``); this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nps_core.errors import TransitionError

OPEN, ATTEMPTED, REACHED, RESOLVED, DECLINED, EXPIRED = (
    "open",
    "attempted",
    "reached",
    "resolved",
    "declined",
    "expired",
)
STATUSES = (OPEN, ATTEMPTED, REACHED, RESOLVED, DECLINED, EXPIRED)
WAITING = frozenset({OPEN, ATTEMPTED})  # nobody reached yet: the SLA clock runs, it may expire
CLOSED = frozenset({RESOLVED, DECLINED, EXPIRED})
CONTACTED = frozenset({REACHED, RESOLVED, DECLINED})  # the customer was reached: loop closed
DETRACTOR_ANSWER, PREDICTED_RISK = "detractor_answer", "predicted_risk"
KINDS = (DETRACTOR_ANSWER, PREDICTED_RISK)
DETRACTOR_HOURS = 24  # DOMAIN.md: a Detractor is reached within 24 hours of the answer

# what POST /v1/outreach's outcome does to a follow-up
OUTCOME_STATUS = {
    "attempted": ATTEMPTED,
    "no_answer": ATTEMPTED,
    "reached": REACHED,
    "escalated": REACHED,  # reached, and handed on: still to be resolved
    "resolved": RESOLVED,
    "declined": DECLINED,
}
ALLOWED: dict[str, frozenset[str]] = {
    OPEN: frozenset({ATTEMPTED, REACHED, RESOLVED, DECLINED, EXPIRED}),
    ATTEMPTED: frozenset({ATTEMPTED, REACHED, RESOLVED, DECLINED, EXPIRED}),
    REACHED: frozenset({REACHED, RESOLVED, DECLINED}),
    RESOLVED: frozenset(),
    DECLINED: frozenset(),
    EXPIRED: frozenset(),
}


def check_transition(follow_up_id: str, current: str, new: str) -> None:
    """Refuse a move the life of a follow-up does not allow, saying what to do instead."""
    if new in ALLOWED[current]:
        return
    if current in CLOSED:
        raise TransitionError(
            f"follow-up {follow_up_id} is {current}: it is closed and takes no more outcomes; "
            "record the contact without follow_up_id (it goes to the attempt log) if it happened"
        )
    raise TransitionError(
        f"follow-up {follow_up_id} is {current}: it cannot become {new}; "
        f"allowed next: {', '.join(sorted(ALLOWED[current]))}"
    )


def answer_follow_up_id(response_id: str) -> str:
    """Deterministic ids: a re-run of a date opens the same follow-ups, never new ones."""
    return f"answer:{response_id}"


def risk_follow_up_id(customer_id: str, list_date: object) -> str:
    return f"risk:{customer_id}:{list_date}"


def sla_clock(due_at: pd.Series, status: pd.Series, now: pd.Timestamp) -> pd.DataFrame:
    """Hours left to the due time (negative: overdue by) and the overdue flag, for follow-ups
    still waiting for a first reach; blank for the others (their clock has stopped)."""
    waiting = status.isin(WAITING)
    hours = (pd.to_datetime(due_at, utc=True) - now) / pd.Timedelta(hours=1)
    return pd.DataFrame(
        {
            "hours_left": hours.where(waiting).round(1),
            "overdue": (hours < 0).where(waiting),
        },
        index=due_at.index,
    )


def expiries(state: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """The follow-ups a run at ``now`` expires: still waiting, due at or before ``now``."""
    if not len(state):
        return state
    due = pd.to_datetime(state["due_at"], utc=True)
    return state[state["status"].isin(WAITING) & (due <= now)]


@dataclass(frozen=True)
class TeamFigure:
    team: str
    due: int  # Detractor follow-ups whose 24 hours had passed by the time asked
    closed_in_time: int  # ... whose customer was reached within the 24 hours
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    contacted: int  # follow-ups with a first contact (any attempt)
    median_hours_to_first_contact: float | None


def team_figures(
    follow_ups: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    window_days: int = 30,
    alpha: float = 0.05,
) -> list[TeamFigure]:
    """For each owner team, over Detractor follow-ups due in the ``window_days`` before
    ``as_of`` (their 24 hours are over, so the outcome is known): the close-the-loop rate
    (the customer reached within 24 hours of the answer) with a Wilson interval, and the
    median hours from the answer to the first contact of any kind. Both frames must hold only
    what was known at ``as_of``."""
    from statsmodels.stats.proportion import proportion_confint

    if not len(follow_ups):
        return []
    due = pd.to_datetime(follow_ups["due_at"], utc=True)
    chosen = follow_ups[
        follow_ups["kind"].eq(DETRACTOR_ANSWER)
        & (due <= as_of)
        & (due > as_of - pd.Timedelta(days=window_days))
    ]
    if not len(chosen):
        return []
    ev = events[events["follow_up_id"].isin(chosen["follow_up_id"])].assign(
        at=lambda f: pd.to_datetime(f["at"], utc=True)
    )
    contact = ev[ev["status"].isin({ATTEMPTED} | CONTACTED)]
    first_contact = contact.groupby("follow_up_id")["at"].min().reset_index()
    first_reach = ev[ev["status"].isin(CONTACTED)].groupby("follow_up_id")["at"].min().reset_index()
    rows = (
        chosen.assign(
            team=chosen["owner_team"].fillna("(unknown)").astype(str),
            created=pd.to_datetime(chosen["created_at"], utc=True),
        )
        .merge(first_contact.rename(columns={"at": "first_contact"}), on="follow_up_id", how="left")
        .merge(first_reach.rename(columns={"at": "first_reach"}), on="follow_up_id", how="left")
    )
    rows = rows.assign(
        first_contact=pd.to_datetime(rows["first_contact"], utc=True),
        first_reach=pd.to_datetime(rows["first_reach"], utc=True),
    )
    rows = rows.assign(
        in_time=rows["first_reach"].notna()
        & (rows["first_reach"] <= rows["created"] + pd.Timedelta(hours=DETRACTOR_HOURS)),
        hours=(rows["first_contact"] - rows["created"]).dt.total_seconds() / 3600,
    )
    figures = []
    for team, group in rows.groupby("team", sort=True):
        n, k = len(group), int(group["in_time"].sum())
        low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
        hours = group["hours"].dropna()
        figures.append(
            TeamFigure(
                team=str(team),
                due=n,
                closed_in_time=k,
                rate=k / n,
                # the Wilson bounds are exactly 0 with no success and 1 with no failure;
                # statsmodels leaves float noise there
                ci_low=0.0 if k == 0 else max(0.0, float(low)),
                ci_high=1.0 if k == n else min(1.0, float(high)),
                contacted=len(hours),
                median_hours_to_first_contact=float(np.round(hours.median(), 2))
                if len(hours)
                else None,
            )
        )
    return figures
