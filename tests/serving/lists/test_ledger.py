"""The ledger's pure rules: transitions, the SLA clock, team figures with Wilson intervals."""

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from nps_core.errors import TransitionError
from serving.lists.ledger import (
    ALLOWED,
    CLOSED,
    check_transition,
    expiries,
    sla_clock,
    team_figures,
)

T = pd.Timestamp("2026-06-10", tz="UTC")


@pytest.mark.parametrize("closed", sorted(CLOSED))
def test_a_closed_follow_up_takes_no_outcome(closed):
    for new in ("attempted", "reached", "resolved", "declined"):
        with pytest.raises(TransitionError, match=f"is {closed}: it is closed"):
            check_transition("answer:r1", closed, new)


def test_the_life_of_a_follow_up():
    check_transition("f", "open", "attempted")
    check_transition("f", "attempted", "attempted")  # a second try
    check_transition("f", "attempted", "reached")
    check_transition("f", "reached", "resolved")
    with pytest.raises(TransitionError, match="allowed next: declined, reached, resolved"):
        check_transition("f", "reached", "attempted")
    assert "expired" not in ALLOWED["reached"]  # reached in time: the SLA was met


def test_sla_clock_and_expiry():
    due = pd.Series(
        [T + pd.Timedelta(hours=5), T - pd.Timedelta(hours=2), T - pd.Timedelta(hours=2)]
    )
    status = pd.Series(["open", "attempted", "reached"])
    clock = sla_clock(due, status, T)
    assert clock["hours_left"].tolist()[:2] == [5.0, -2.0] and pd.isna(clock["hours_left"][2])
    assert clock["overdue"].tolist()[:2] == [False, True]
    state = pd.DataFrame({"follow_up_id": ["a", "b", "c"], "due_at": due, "status": status})
    assert expiries(state, T)["follow_up_id"].tolist() == ["b"]  # reached ones never expire


def test_team_figures_count_reaches_within_24_hours_with_a_wilson_interval():
    created = T - pd.Timedelta(days=3)
    follow = pd.DataFrame(
        {
            "follow_up_id": ["a", "b", "c", "d", "e"],
            "kind": ["detractor_answer"] * 4 + ["predicted_risk"],
            "owner_team": ["north", "north", "north", "south", "north"],
            "created_at": created,
            "due_at": created + pd.Timedelta(hours=24),
        }
    )
    events = pd.DataFrame(
        {
            "follow_up_id": ["a", "a", "b", "c", "e"],
            "status": ["attempted", "reached", "resolved", "attempted", "reached"],
            "at": [
                created + pd.Timedelta(hours=2),
                created + pd.Timedelta(hours=5),
                created + pd.Timedelta(hours=30),  # too late
                created + pd.Timedelta(hours=4),  # tried, never reached
                created + pd.Timedelta(hours=1),
            ],
        }
    )
    north, south = team_figures(follow, events, T)
    low, high = proportion_confint(1, 3, method="wilson")
    assert (north.team, north.due, north.closed_in_time) == ("north", 3, 1)
    assert north.rate == pytest.approx(1 / 3)
    assert (north.ci_low, north.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert north.contacted == 3 and north.median_hours_to_first_contact == 4.0
    assert (south.due, south.closed_in_time, south.contacted) == (1, 0, 0)
    assert south.median_hours_to_first_contact is None
    # not yet due: not counted (its outcome is not known yet)
    assert team_figures(follow, events, created + pd.Timedelta(hours=10)) == []
