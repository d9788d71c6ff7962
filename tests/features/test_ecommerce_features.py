"""Training rows from the real e-commerce CSAT export (one contact per customer there)."""

import numpy as np
import pandas as pd
import pytest

from features.dataset import load_dataset
from features.importer import import_export
from features.rows import build_training_rows, learn_spec
from tests.conftest import ECOMMERCE_CSV, REPO


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory):
    out = tmp_path_factory.mktemp("ecommerce")
    import_export(ECOMMERCE_CSV, REPO / "examples" / "ecommerce_csat.mapping.toml", out)
    data = load_dataset(out)
    spec = learn_spec(data.interactions, data.scale)
    return data, spec, build_training_rows(data.interactions, data.surveys, data.customers, spec)


def test_every_answer_becomes_a_row_with_the_csat_label(ecommerce):
    data, spec, rows = ecommerce
    assert len(rows) == len(data.surveys) == 13_122
    assert spec.scale.high == 5 and rows["is_detractor"].mean() == pytest.approx(
        (data.surveys["score"] <= 2).mean()
    )


def test_the_response_delay_is_a_feature_known_at_answer_time(ecommerce):
    data, _, rows = ecommerce
    contact = data.interactions.set_index("interaction_id")
    answered = data.surveys.set_index("response_id").loc[rows["response_id"], "interaction_id"]
    ticket = contact.loc[answered.to_numpy()]
    delay_h = (
        ticket["first_response_at"] - ticket["opened_at"]
    ).dt.total_seconds().to_numpy() / 3600
    np.testing.assert_allclose(rows["last_contact_response_wait_h"].to_numpy(), delay_h, rtol=1e-9)
    # the known fact: slow answers make Detractors (about 8.5% within 5 minutes, 30% past 10 hours)
    fast = rows.loc[rows["last_contact_response_wait_h"] <= 5 / 60, "is_detractor"].mean()
    slow = rows.loc[rows["last_contact_response_wait_h"] > 10, "is_detractor"].mean()
    assert fast < 0.11 and slow > 0.25


def test_the_agents_earlier_detractor_rate_uses_only_earlier_answers(ecommerce):
    data, spec, rows = ecommerce
    assert rows["last_agent_detractor_rate"].notna().mean() > 0.95
    agent_of = data.interactions.set_index("interaction_id")["agent_id"]
    answers = data.surveys.assign(
        agent=data.surveys["interaction_id"].map(agent_of),
        det=(data.surveys["score"] <= 2).astype(float),
    )
    overall_before = lambda t: answers.loc[answers["responded_at"] < t, "det"]  # noqa: E731
    for _, row in rows.sample(40, random_state=0).iterrows():
        agent = agent_of[
            data.surveys.set_index("response_id").loc[row["response_id"], "interaction_id"]
        ]
        earlier = answers[(answers["agent"] == agent) & (answers["responded_at"] < row["as_of"])]
        prior = overall_before(row["as_of"]).mean()
        expected = (earlier["det"].sum() + spec.agent_prior_weight * prior) / (
            len(earlier) + spec.agent_prior_weight
        )
        assert row["last_agent_prior_surveys"] == len(earlier)
        assert row["last_agent_detractor_rate"] == pytest.approx(expected, nan_ok=True)


def test_no_feature_depends_on_the_customer_remarks(ecommerce):
    """Remarks are written with the survey: rewriting every one of them changes nothing."""
    data, spec, rows = ecommerce
    assert data.surveys["comment"].notna().sum() > 3000
    scrambled = data.surveys.assign(
        comment=data.surveys["comment"].sample(frac=1, random_state=1).to_numpy()
    )
    again = build_training_rows(data.interactions, scrambled, data.customers, spec)
    pd.testing.assert_frame_equal(rows, again)
    assert not [c for c in rows.columns if "remark" in c.lower() or "comment" in c.lower()]
    assert "comment" not in data.interactions.columns
