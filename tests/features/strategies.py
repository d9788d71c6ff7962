"""Hypothesis strategies for small canonical tables on a minute grid (ties happen often)."""

import pandas as pd
from hypothesis import strategies as st

from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS, conform

BASE = pd.Timestamp("2026-03-01", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)
CUSTOMER_IDS = ["c0", "c1", "c2"]


def at(minute: int) -> pd.Timestamp:
    return BASE + minute * MINUTE


@st.composite
def interaction_rows(draw, n_max: int = 12, horizon: int = 60 * 24 * 100):
    n = draw(st.integers(0, n_max))
    rows = []
    for i in range(n):
        opened = draw(st.integers(0, horizon))
        response = draw(st.one_of(st.none(), st.integers(0, 60 * 48)))
        resolution = draw(st.one_of(st.none(), st.integers(0, 60 * 24 * 20)))
        rows.append(
            {
                "interaction_id": f"i{i}",
                "customer_id": draw(st.sampled_from(CUSTOMER_IDS)),
                "channel": draw(st.sampled_from(["chat", "email", "phone"])),
                "opened_at": at(opened),
                "first_response_at": None if response is None else at(opened + response),
                "resolved_at": None
                if resolution is None
                else at(opened + max(resolution, response or 0)),
                "escalated": draw(st.sampled_from([True, False, None])),
                "first_contact_resolved": draw(st.sampled_from([True, False, None])),
                "transfers": draw(st.integers(0, 3)),
                "contacts": draw(st.integers(1, 4)),
                "sentiment": draw(st.one_of(st.none(), st.floats(-1, 1, width=32))),
                "agent_id": draw(st.sampled_from(["a0", "a1", None])),
                "team": draw(st.sampled_from(["t0", "t1"])),
                "category": draw(st.sampled_from(["billing", "delivery"])),
            }
        )
    return rows


@st.composite
def survey_rows(draw, n_interactions: int, n_max: int = 6, horizon: int = 60 * 24 * 100):
    n = draw(st.integers(0, n_max))
    return [
        {
            "response_id": f"r{i}",
            "customer_id": draw(st.sampled_from(CUSTOMER_IDS)),
            "responded_at": at(draw(st.integers(0, horizon))),
            "score": draw(st.integers(0, 10)),
            "interaction_id": f"i{draw(st.integers(0, max(n_interactions - 1, 0)))}"
            if n_interactions
            else None,
        }
        for i in range(n)
    ]


def tables(interactions: list[dict], surveys: list[dict]):
    inter = conform(pd.DataFrame(interactions, columns=list(INTERACTIONS.names)), INTERACTIONS)
    surv = conform(pd.DataFrame(surveys, columns=list(SURVEYS.names)), SURVEYS)
    cust = conform(
        pd.DataFrame(
            {
                "customer_id": CUSTOMER_IDS,
                "segment": ["smb", "enterprise", "consumer"],
                "signup_at": [at(-1000), at(5000), None],
            }
        ),
        CUSTOMERS,
    )
    return inter, surv, cust
