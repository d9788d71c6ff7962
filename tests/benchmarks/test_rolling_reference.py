"""The pandas rolling yardstick computes exactly our pipeline's columns, so the speed ratio
in docs/benchmarks.md compares like with like."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.rolling_reference import FEATURES, rolling_features
from features.catalog import FeatureSpec
from features.pipeline import compute_features
from features.rows import build_training_rows, learn_spec
from features.simulate import SimulationConfig, simulate
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS, conform
from tests.features.strategies import CUSTOMER_IDS, at, interaction_rows, survey_rows, tables

SPEC = FeatureSpec(channels=("chat", "email", "phone"))
DAY = pd.Timedelta(days=1)
T = pd.Timestamp("2026-05-01 12:00", tz="UTC")


def assert_same(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Equal within 1e-9 (relative, or absolute near 0); NaN only where the other is NaN."""
    for name in FEATURES:
        a = ours[name].to_numpy(dtype=np.float64)
        b = reference[name].to_numpy(dtype=np.float64)
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=name)


def ours(inter, surv, cust, queries, spec=SPEC) -> pd.DataFrame:
    return compute_features(inter, surv, cust, queries, spec)[list(FEATURES)]


def queries_of(customers, times) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customers, dtype="str"),
            "as_of": pd.Series(pd.DatetimeIndex(times)).dt.tz_convert("UTC").dt.as_unit("ns"),
        }
    )


def one_ticket(i, customer, opened, first_response=None, resolved=None, **outcome) -> dict:
    return {
        "interaction_id": f"i{i}",
        "customer_id": customer,
        "channel": "chat",
        "opened_at": opened,
        "first_response_at": first_response,
        "resolved_at": resolved,
        "escalated": outcome.get("escalated"),
        "first_contact_resolved": outcome.get("fcr"),
        "transfers": outcome.get("transfers", 0),
    }


def test_window_edges_and_ties_match_the_pipeline():
    """Opened exactly at t: out. Exactly at t - 30d: in. Resolved exactly at t: still open."""
    rows = [
        one_ticket(0, "a", T - 30 * DAY, T - 30 * DAY, T - 30 * DAY, escalated=True, fcr=False),
        one_ticket(1, "a", T - 30 * DAY - pd.Timedelta(seconds=1)),  # just outside
        one_ticket(2, "a", T - 5 * DAY, T, T, escalated=True, fcr=True, transfers=2),  # at t
        one_ticket(3, "a", T, T, T + DAY, escalated=True),  # opened at t
        one_ticket(4, "a", T - DAY, T - DAY + pd.Timedelta(hours=3), T - DAY, transfers=1),
        one_ticket(5, "b", T - DAY, T - DAY, T - DAY, escalated=True, fcr=True),  # not a's
    ]
    inter = conform(pd.DataFrame(rows, columns=list(INTERACTIONS.names)), INTERACTIONS)
    surv = conform(pd.DataFrame(columns=list(SURVEYS.names)), SURVEYS)
    cust = conform(pd.DataFrame({"customer_id": ["a", "b", "c"]}), CUSTOMERS)
    # a twice at the same t (two surveys at one instant), c with no history at all
    queries = queries_of(["a", "a", "c", "b"], [T, T, T, T - DAY])

    reference = rolling_features(inter, queries)

    assert reference.index.equals(queries.index)
    a = reference.iloc[0]
    assert a["contacts_30d"] == 3  # tickets 0, 2, 4
    assert a["resolved_30d"] == 2  # tickets 0 and 4 (2 resolves at t, 3 after)
    assert a["escalations_30d"] == 1
    assert a["transfers_30d"] == 1
    assert a["failed_fcr_30d"] == 1
    assert a["fcr_rate_30d"] == 0.0
    assert a["mean_first_response_h_30d"] == 1.5  # tickets 0 (0 h) and 4 (3 h)
    assert reference.iloc[1].equals(a)
    assert reference.iloc[2]["contacts_30d"] == 0
    assert np.isnan(reference.iloc[2]["mean_first_response_h_30d"])
    assert reference.iloc[3]["contacts_30d"] == 0  # b's ticket opened exactly at its t
    assert_same(ours(inter, surv, cust, queries), reference)


def test_matches_the_pipeline_on_simulated_training_rows_and_a_snapshot():
    sim = simulate(SimulationConfig(customers=400, days=150, seed=5))
    spec = learn_spec(sim.interactions)
    rows = build_training_rows(sim.interactions, sim.surveys, sim.customers, spec)
    assert len(rows) > 100

    assert_same(rows, rolling_features(sim.interactions, rows[["customer_id", "as_of"]]))

    ids = sim.customers["customer_id"]
    for when in ("2026-05-30", "2026-04-10 13:37:01"):
        queries = queries_of(ids, [pd.Timestamp(when, tz="UTC")] * len(ids))
        assert_same(
            ours(sim.interactions, sim.surveys, sim.customers, queries, spec),
            rolling_features(sim.interactions, queries),
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_matches_the_pipeline_at_event_times_and_window_edges(data):
    """Random small tables on a minute grid; queries at every event time and 30 days after."""
    rows = data.draw(interaction_rows())
    inter, surv, cust = tables(rows, data.draw(survey_rows(len(rows))))
    edges = pd.concat(
        [inter[c].dropna() for c in ("opened_at", "first_response_at", "resolved_at")]
    )
    times = [*edges, *(edges + 30 * DAY), at(data.draw(st.integers(0, 60 * 24 * 130)))]
    queries = queries_of(
        [c for c in CUSTOMER_IDS for _ in times], [t for _ in CUSTOMER_IDS for t in times]
    )
    assert_same(ours(inter, surv, cust, queries), rolling_features(inter, queries))


def test_the_merge_asof_shortcut_is_wrong_on_this_data():
    """Rolling at contact times then merge_asof anchors the window at the last contact, not at
    t; the simulated data above must be able to tell the two apart (else the test is weak)."""
    sim = simulate(SimulationConfig(customers=400, days=150, seed=5))
    rows = build_training_rows(sim.interactions, sim.surveys, sim.customers, SPEC)
    contacts = sim.interactions.dropna(subset=["customer_id"]).sort_values(
        ["customer_id", "opened_at"]
    )
    counted = (
        contacts.assign(one=1.0)
        .groupby("customer_id")
        .rolling("30D", on="opened_at")["one"]
        .sum()
        .reset_index()
        .sort_values("opened_at")
    )
    shortcut = pd.merge_asof(
        rows[["customer_id", "as_of"]].reset_index().sort_values("as_of"),
        counted,
        left_on="as_of",
        right_on="opened_at",
        by="customer_id",
        allow_exact_matches=False,
    ).set_index("index")["one"]
    shortcut = shortcut.reindex(rows.index).fillna(0.0)

    wrong = (shortcut != rows["contacts_30d"]).mean()
    assert wrong > 0.01
    reference = rolling_features(sim.interactions, rows[["customer_id", "as_of"]])
    assert (reference["contacts_30d"] == rows["contacts_30d"]).all()
