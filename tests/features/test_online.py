"""Rows sent online are refused exactly where the batch path would set them aside."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.catalog import FeatureSpec
from features.online import OnlineCustomer, online_problems
from features.validation import validate_table
from nps_core.contracts import INTERACTIONS, SURVEYS
from nps_core.scale import CSAT_SCALE, NPS_SCALE
from tests.features.strategies import at


def _customer(interactions=(), surveys=()) -> OnlineCustomer:
    return OnlineCustomer("c", at(10_000), interactions=interactions, surveys=surveys)


@st.composite
def one_customers_rows(draw):
    interactions = [
        {"interaction_id": draw(st.sampled_from(["i0", "i1", "i2"])), "channel": "chat"}
        | {"opened_at": at(j)}
        for j in range(draw(st.integers(0, 6)))
    ]
    surveys = [
        {"response_id": draw(st.sampled_from(["r0", "r1"])), "responded_at": at(j)}
        | {"score": draw(st.integers(-2, 12))}
        for j in range(draw(st.integers(0, 5)))
    ]
    return interactions, surveys, draw(st.sampled_from([NPS_SCALE, CSAT_SCALE]))


def _set_aside(rows: list[dict], contract, scale, column: str) -> set[int]:
    """Positions of the rows the batch validation quarantines for ``column``."""
    raw = pd.DataFrame(rows, columns=[*contract.required]).assign(customer_id="c")
    quarantine = validate_table(raw, contract, source="t", scale=scale).quarantine
    return {int(r) - 1 for r in quarantine.loc[quarantine["column"] == column, "row"]}


@settings(max_examples=150, deadline=None)
@given(one_customers_rows())
def test_online_refuses_exactly_what_the_batch_sets_aside(rows):
    interactions, surveys, scale = rows
    spec = FeatureSpec(scale=scale)
    found = online_problems([_customer(interactions, surveys)], spec)

    def refused(table: str, column: str) -> set[int]:
        return {p.where[1] for p in found if p.where[0] == table and p.where[2] == column}

    assert refused("interactions", "interaction_id") == _set_aside(
        interactions, INTERACTIONS, scale, "interaction_id"
    )
    assert refused("surveys", "response_id") == _set_aside(surveys, SURVEYS, scale, "response_id")
    assert refused("surveys", "score") == _set_aside(surveys, SURVEYS, scale, "score")


def test_unknown_fields_are_named_with_a_hint_and_known_extras_pass():
    spec = FeatureSpec(extra_categoricals=("priority",))
    row = {"interaction_id": "i", "channel": "chat", "opened_at": at(0)}
    sent = [row | {"resolvedAt": at(1), "priority": "high"}, row | {"priority": 2}]
    found = online_problems(
        [_customer([sent[0]]), _customer([sent[1] | {"interaction_id": "j"}])], spec
    )
    assert [(p.customer, p.where) for p in found] == [
        (0, ("interactions", 0, "resolvedAt")),
        (1, ("interactions", 0, "priority")),
    ]
    assert "did you mean 'resolved_at'" in found[0].message and found[0].kind == "extra_forbidden"
    assert "the extra columns priority" in found[0].message
    assert "text or null" in found[1].message


def test_long_client_values_are_cut_short_in_messages():
    row = {"interaction_id": "i", "channel": "chat", "opened_at": at(0), "x" * 10_000: 1}
    (problem,) = online_problems([_customer([row])], FeatureSpec())
    assert len(problem.message) < 400
