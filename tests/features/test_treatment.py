"""Training rows know whether we contacted the customer before the answer, point in time,
and nothing about a contact's outcome reaches the features."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.catalog import feature_catalog
from features.rows import build_training_rows, learn_spec
from features.simulate import SimulationConfig, simulate
from features.treatment import apply_treated_policy, mark_treated, treated_summary

AT = pd.Timestamp("2026-03-10 12:00", tz="UTC")


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "responded_at": [AT] * 4, "score": [3, 9, 5, 10]}
    )


def test_a_contact_counts_only_if_made_and_recorded_before_the_answer():
    hour, day = pd.Timedelta(hours=1), pd.Timedelta(days=1)
    contacts = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            # a: before, recorded before; b: before, logged only after the answer;
            # c: after the answer; d: 100 days before (outside the 90-day lookback)
            "contacted_at": [AT - day, AT - day, AT + hour, AT - 100 * day],
            "recorded_at": [AT - day + hour, AT + hour, AT + hour, AT - 100 * day],
            "outcome": ["reached", "resolved", "reached", "reached"],
        }
    )
    marked = mark_treated(_rows(), contacts)
    assert marked["treated"].tolist() == [True, False, False, False]
    assert list(marked.columns) == [*_rows().columns, "treated"]  # one column, no outcome
    same_moment = contacts.assign(contacted_at=AT, recorded_at=AT)
    assert not mark_treated(_rows(), same_moment)["treated"].any()  # strictly before
    assert mark_treated(_rows(), contacts.drop(columns="recorded_at"))["treated"].tolist() == [
        True,
        True,
        False,
        False,
    ]


def test_the_default_leaves_treated_rows_out_and_counts_them():
    marked = _rows().assign(treated=[True, False, True, False])
    kept = apply_treated_policy(marked, "exclude")
    assert kept["customer_id"].tolist() == ["b", "d"]
    assert len(apply_treated_policy(marked, "include")) == 4
    assert treated_summary(marked, "exclude") == {
        "treated_rows": "exclude",
        "rows_answered": 4,
        "rows_treated": 2,
        "rows_treated_excluded": 2,
    }
    with pytest.raises(ValueError, match="weight"):
        apply_treated_policy(marked, "weight")  # type: ignore[arg-type]


@given(
    offsets=st.lists(st.integers(-200, 200), min_size=1, max_size=6),
    late=st.integers(0, 100),
)
def test_contacts_known_only_at_or_after_the_answer_never_mark_it(offsets, late):
    """Adding contacts recorded at or after the answer changes no row's treated flag."""
    contacts = pd.DataFrame(
        {
            "customer_id": ["a"] * len(offsets),
            "contacted_at": [AT + pd.Timedelta(hours=h) for h in offsets],
            "recorded_at": [AT + pd.Timedelta(hours=max(h, 0)) for h in offsets],
        }
    )
    late_calls = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "contacted_at": [AT - pd.Timedelta(hours=5), AT],
            "recorded_at": [AT + pd.Timedelta(hours=late), AT],
        }
    )
    before = mark_treated(_rows(), contacts)["treated"]
    after = mark_treated(_rows(), pd.concat([contacts, late_calls]))["treated"]
    assert before.tolist() == after.tolist()


@pytest.fixture(scope="module")
def small_sim():
    return simulate(SimulationConfig(customers=300, days=90, seed=5))


def test_ledger_outcomes_never_reach_the_features_of_the_same_answer(small_sim):
    """Rows from the same data with the same calls but different recorded outcomes (reached
    vs resolved, with notes) are identical; the only added column is `treated`, which is no
    feature."""
    sim = small_sim
    spec = learn_spec(sim.interactions)
    rows = build_training_rows(sim.interactions, sim.surveys, sim.customers, spec)
    answers = rows.drop_duplicates("customer_id").head(40)
    calls = pd.DataFrame(
        {
            "customer_id": answers["customer_id"].to_numpy(),
            "contacted_at": (answers["responded_at"] - pd.Timedelta(days=2)).to_numpy(),
            "recorded_at": (answers["responded_at"] - pd.Timedelta(days=2)).to_numpy(),
        }
    )
    reached = mark_treated(rows, calls.assign(outcome="reached", notes="left a message"))
    resolved = mark_treated(rows, calls.assign(outcome="resolved", notes="refund agreed"))
    pd.testing.assert_frame_equal(reached, resolved)
    assert set(reached.columns) - set(rows.columns) == {"treated"}
    assert reached["treated"].sum() >= len(answers) > 10
    features = list(feature_catalog(spec))
    assert "treated" not in features
    assert not {"outcome", "notes", "contacted_at", "recorded_at"} & set(reached.columns)
    pd.testing.assert_frame_equal(reached[features], rows[features])
    pd.testing.assert_frame_equal(reached.drop(columns="treated"), rows)
