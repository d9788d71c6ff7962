"""Features for customers described in a request (raw recent interactions), in-process.

Each request is isolated under its own key, so two requests for the same customer at
different times never see each other's rows; then the batch code runs unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import pandas as pd

from features.catalog import FeatureSpec
from features.pipeline import AGENT_HISTORY_COLUMNS, compute_features
from features.rows import as_of_timestamp
from features.validation import canonical_text
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS, TableContract, conform
from nps_core.scale import ScoreScale


@dataclass(frozen=True)
class OnlineCustomer:
    customer_id: str
    as_of: pd.Timestamp
    interactions: Sequence[Mapping[str, Any]] = ()
    surveys: Sequence[Mapping[str, Any]] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=list(dict.fromkeys([*columns, *(k for r in rows for k in r)]))
    )


def empty_history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "responded_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "agent_id": pd.Series([], dtype="str"),
            "team": pd.Series([], dtype="str"),
            "is_detractor": pd.Series([], dtype="float64"),
        },
        columns=list(AGENT_HISTORY_COLUMNS),
    )


def online_features(
    customers: Sequence[OnlineCustomer],
    spec: FeatureSpec,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One feature row per request customer, equal to what the batch pipeline computes for
    that customer at that time from the same rows."""
    keys = [str(i) for i in range(len(customers))]
    interactions, surveys, attributes = [], [], []
    for key, c in zip(keys, customers, strict=True):
        interactions += [{**row, "customer_id": key} for row in c.interactions]
        surveys += [{**row, "customer_id": key} for row in c.surveys]
        attributes.append({**c.attributes, "customer_id": key})
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series(keys, dtype="str"),
            "as_of": pd.Series(
                [as_of_timestamp(c.as_of) for c in customers], dtype="datetime64[ns, UTC]"
            ),
        }
    )

    def table(rows: list[dict[str, Any]], contract: TableContract) -> pd.DataFrame:
        return canonical_text(conform(_frame(rows, contract.required), contract), contract)

    features = compute_features(
        table(interactions, INTERACTIONS),
        table(surveys, SURVEYS),
        table(attributes, CUSTOMERS),
        queries,
        spec,
        history=empty_history() if history is None else history,
    )
    return features.set_axis(pd.Index([c.customer_id for c in customers], name="customer_id"))


@dataclass(frozen=True)
class OnlineProblem:
    """One value of a request's rows that the features cannot read as given."""

    customer: int  # position among the customers checked
    where: tuple[str | int, ...]  # inside that customer: ("interactions", 2, "resolvedAt")
    message: str
    kind: str = "value_error"


def online_problems(customers: Sequence[OnlineCustomer], spec: FeatureSpec) -> list[OnlineProblem]:
    """Everything in these rows the features would not read, or the batch path would set
    aside, found before any feature is computed: fields the model does not know (a typo
    such as ``resolvedAt`` would otherwise read as "never resolved"), scores off the
    model's scale, and an id twice in one customer (the batch quarantines repeats)."""
    known = {*INTERACTIONS.names, *spec.extra_categoricals} - {"customer_id"}
    problems: list[OnlineProblem] = []
    for k, customer in enumerate(customers):
        for j, row in enumerate(customer.interactions):
            for name in [n for n in row if n not in known]:  # in the order sent
                where = ("interactions", j, name)
                problems.append(
                    OnlineProblem(k, where, _unknown(name, known, spec), "extra_forbidden")
                )
            for name in spec.extra_categoricals:
                value = row.get(name)
                if value is not None and not isinstance(value, str):
                    message = (
                        f"'{name}' is one of this model's extra columns: send it as text or null"
                    )
                    problems.append(OnlineProblem(k, ("interactions", j, name), message))
        scale = spec.scale
        for j, row in enumerate(customer.surveys):
            score = row.get("score")
            if not _on_scale(score, scale):
                message = (
                    f"score {_shown(score)} is not on this model's scale: a whole number "
                    f"from {scale.low} to {scale.high}"
                )
                problems.append(OnlineProblem(k, ("surveys", j, "score"), message))
        problems += _repeated_ids(k, "interactions", "interaction_id", customer.interactions)
        problems += _repeated_ids(k, "surveys", "response_id", customer.surveys)
    return problems


def _unknown(name: str, known: set[str], spec: FeatureSpec) -> str:
    if name == "customer_id":
        return "an interaction belongs to the customer it is sent under: remove 'customer_id'"
    close = difflib.get_close_matches(name.lower(), sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    extras = ", ".join(spec.extra_categoricals)
    also = f"the extra columns {extras}" if extras else "no extra columns"
    return (
        f"unknown interaction field {_shown(name)}{hint}: this model reads the fields of "
        f"the InteractionIn schema (/docs) and {also}"
    )


def _repeated_ids(
    customer: int, table: str, key: str, rows: Sequence[Mapping[str, Any]]
) -> list[OnlineProblem]:
    first: dict[object, int] = {}
    problems = []
    for j, row in enumerate(rows):
        value = row.get(key)
        if value is None:
            continue
        if value in first:
            message = (
                f"duplicate {key} {_shown(value)}, also at {table}[{first[value]}]: "
                "send each row once (the batch path sets repeats aside)"
            )
            problems.append(OnlineProblem(customer, (table, j, key), message))
        else:
            first[value] = j
    return problems


def _on_scale(score: object, scale: ScoreScale) -> bool:
    if isinstance(score, bool):  # an Integral too, but never a score
        return False
    return isinstance(score, Integral) and scale.low <= int(score) <= scale.high


def _shown(value: object, limit: int = 80) -> str:
    """A client's value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
