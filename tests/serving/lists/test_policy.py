"""The pure rules of the daily list."""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nps_core.scale import NPS_SCALE
from serving.lists.policy import (
    ListPolicy,
    answer_follow_ups,
    exclusions,
    in_control,
    period_label,
    rank_and_flag,
)
from tests.conftest import REPO

AS_OF = pd.Timestamp("2026-06-10", tz="UTC")


def test_control_group_is_reproducible_and_about_the_share():
    ids = pd.Series([f"c{i}" for i in range(20_000)])
    first = in_control(ids, "2026-06", 0.10)
    assert np.array_equal(first, in_control(ids, "2026-06", 0.10))  # same customers, same period
    assert 0.09 < first.mean() < 0.11
    next_month = in_control(ids, "2026-07", 0.10)
    assert 0.005 < (first & next_month).mean() < 0.02  # a new period draws afresh
    assert period_label(AS_OF, "M") == "2026-06"


def _draw(customer: str, period: str) -> float:
    """The documented recipe, written out independently of the code under test."""
    return (
        int.from_bytes(hashlib.sha256(f"{customer}|{period}".encode()).digest()[:8], "big") / 2**64
    )


def test_control_assignment_is_the_documented_sha256_recipe():
    ids = pd.Series([f"c{i}" for i in range(20)] + ["Ünïcode-42", "42", "a|b"])
    chosen = ids[in_control(ids, "2026-06", 0.3)].tolist()
    assert chosen == ["c0", "c2", "c5", "c11", "c12", "c15", "c17", "c18"]  # pinned
    assert chosen == [c for c in ids if _draw(c, "2026-06") < 0.3]
    numbers = pd.Series([42, 7])  # ids are compared as their text
    assert in_control(numbers, "2026-07", 0.5).tolist() == [
        _draw(str(n), "2026-07") < 0.5 for n in (42, 7)
    ]


def test_the_readme_sql_gives_the_same_control_group(postgres_url):
    """An analyst's query (README, "The control group"), run as written on PostgreSQL."""
    from sqlalchemy import create_engine, text

    sql = re.search(r"```sql\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    ids = [f"C{i:05d}" for i in range(2000)] + ["Ünïcode-42"]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE customers (customer_id text)"))
        conn.execute(text("INSERT INTO customers VALUES (:c)"), [{"c": c} for c in ids])
        rows = dict(conn.execute(text(sql)).all())
    engine.dispose()
    expected = in_control(pd.Series(ids), "2026-06", 0.10)
    assert [rows[c] for c in ids] == expected.tolist() and 150 < expected.sum() < 250


@settings(max_examples=80, deadline=None)
@given(
    probabilities=st.lists(st.floats(0, 1), min_size=0, max_size=60),
    capacity=st.integers(1, 20),
    seed=st.integers(0, 1000),
)
def test_flagging_fills_capacity_with_treatment_and_keeps_control_in_the_prefix(
    probabilities, capacity, seed
):
    scored = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(len(probabilities))], "probability": probabilities}
    )
    control = np.random.default_rng(seed).uniform(size=len(scored)) < 0.3
    ranked = rank_and_flag(scored, control, capacity)
    treated = ranked[ranked["grp"] == "treatment"]
    assert treated["flagged"].sum() == min(capacity, len(treated))
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert ranked["probability"].is_monotonic_decreasing
    if ranked["flagged"].any():  # flagged rows are exactly a prefix of the ranking
        last = ranked.loc[ranked["flagged"], "rank"].max()
        assert ranked.loc[ranked["rank"] <= last, "flagged"].all()
    shuffled = scored.sample(frac=1, random_state=seed)
    again = rank_and_flag(shuffled, control[shuffled.index.to_numpy()], capacity)
    assert (
        again["customer_id"].tolist() == ranked["customer_id"].tolist()
    )  # input order changes nothing


def test_exclusions_say_why():
    candidates = pd.Series(["fresh", "surveyed", "called", "following"])
    surveys = pd.DataFrame(
        {
            "customer_id": ["surveyed", "fresh"],
            "responded_at": [AS_OF - pd.Timedelta(days=3), AS_OF - pd.Timedelta(days=45)],
        }
    )
    calls = pd.DataFrame(
        {"customer_id": ["called"], "contacted_at": [AS_OF - pd.Timedelta(days=29)]}
    )
    why = exclusions(candidates, AS_OF, surveys, calls, {"following"}, ListPolicy())
    assert [None if pd.isna(w) else w for w in why] == [
        None,
        "surveyed in the last 30 days",
        "contacted by us in the last 30 days",
        "already in follow-up",
    ]


def test_close_the_loop_clock_and_what_is_already_followed_up():
    surveys = pd.DataFrame(
        {
            "response_id": ["late", "fresh", "done", "passive", "old", "internal"],
            "customer_id": ["a", "b", "c", "d", "e", "i"],
            "responded_at": [
                AS_OF - pd.Timedelta(hours=30),
                AS_OF - pd.Timedelta(hours=2),
                AS_OF - pd.Timedelta(hours=5),
                AS_OF - pd.Timedelta(days=1),
                AS_OF - pd.Timedelta(days=9),
                AS_OF - pd.Timedelta(hours=1),
            ],
            "score": [2, 4, 0, 8, 1, 0],
            "comment": ["waited a week", None, None, None, None, None],
            "channel": ["email"] * 6,
        }
    )
    calls = pd.DataFrame(
        {
            "customer_id": ["c"],
            "contacted_at": [AS_OF - pd.Timedelta(hours=1)],
            "response_id": [None],
        }
    )
    follow = answer_follow_ups(surveys, calls, AS_OF, NPS_SCALE, ListPolicy(), internal={"i"})
    by_id = follow.set_index("response_id")
    assert set(by_id.index) == {
        "late",
        "fresh",
        "passive",
    }  # done was called after; old is too old; internal never
    assert by_id.loc["late", "overdue"] and by_id.loc["late", "hours_left"] == -6
    assert not by_id.loc["fresh", "overdue"] and by_id.loc["fresh", "hours_left"] == 22
    assert by_id.loc["passive", "kind"] == "passive" and pd.isna(by_id.loc["passive", "hours_left"])
    assert by_id.loc["late", "comment"] == "waited a week"


def test_assignment_holds_across_the_months_of_a_quarter():
    """The experiment period is a quarter by default: April, May and June draw one group."""
    from nps_core.config import Settings

    assert ListPolicy().period == "Q" and Settings().experiment_period == "Q"
    ids = pd.Series([f"c{i}" for i in range(5000)])
    labels = {
        period_label(pd.Timestamp(day, tz="UTC"), ListPolicy().period)
        for day in ("2026-04-01", "2026-05-15", "2026-06-30T23:59")
    }
    assert labels == {"2026Q2"}
    april = in_control(ids, period_label(pd.Timestamp("2026-04-01", tz="UTC"), "Q"), 0.1)
    june = in_control(ids, period_label(pd.Timestamp("2026-06-30", tz="UTC"), "Q"), 0.1)
    july = in_control(ids, period_label(pd.Timestamp("2026-07-01", tz="UTC"), "Q"), 0.1)
    assert np.array_equal(april, june) and not np.array_equal(april, july)


def test_an_unknown_experiment_period_is_refused():
    from pydantic import ValidationError

    from nps_core.config import Settings

    with pytest.raises(ValidationError, match="not a period alias"):
        Settings(experiment_period="fortnight")
