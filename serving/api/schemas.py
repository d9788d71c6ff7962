"""Typed requests and answers of the HTTP API. Column names are the table contracts' own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from features.online import OnlineCustomer

FeatureValue = float | int | str | bool | None
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    """Naive times are UTC; years outside 1900-2199 are refused (and would overflow)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError("timestamp must fall between 1900 and 2199")
    return aware


Timestamp = Annotated[datetime, AfterValidator(_plausible)]


class InteractionIn(BaseModel):
    """One support contact. Any other field must be one of the served model's extra columns
    (text, or null); an unknown one, such as ``resolvedAt``, answers 422 naming it."""

    # extra columns depend on the model served: checked by the hot path, with the model
    model_config = ConfigDict(extra="allow")

    interaction_id: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=50)
    opened_at: Timestamp
    first_response_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    handle_time_s: float | None = Field(default=None, ge=0)
    contacts: int | None = Field(default=None, ge=0, le=1000)
    first_contact_resolved: bool | None = None
    escalated: bool | None = None
    reopened: bool | None = None
    transfers: int | None = Field(default=None, ge=0, le=1000)
    sentiment: float | None = Field(default=None, ge=-1, le=1)
    agent_id: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _in_order(self) -> InteractionIn:
        for name in ("first_response_at", "resolved_at"):
            value = getattr(self, name)
            if value is not None and value < self.opened_at:
                raise ValueError(f"{name} is before opened_at")
        return self


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_id: str = Field(min_length=1, max_length=200)
    responded_at: Timestamp
    score: int = Field(
        description="on the served model's scale (NPS: 0-10); a score off it answers 422"
    )
    interaction_id: str | None = None
    channel: str | None = None
    comment: str | None = Field(default=None, max_length=5000)


class AttributesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: str | None = None
    plan: str | None = None
    region: str | None = None
    signup_at: Timestamp | None = None


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=200)
    as_of: Timestamp | None = Field(
        default=None, description="defaults to now; a time without zone is UTC"
    )
    features: dict[str, FeatureValue] | None = Field(
        default=None, description="precomputed feature values (see GET /v1/model for the list)"
    )
    interactions: Annotated[list[InteractionIn], Field(max_length=5000)] | None = Field(
        default=None,
        description="raw recent contacts; one interaction_id (and response_id) once each",
    )
    surveys: Annotated[list[SurveyIn], Field(max_length=1000)] | None = None
    attributes: AttributesIn | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CustomerIn:
        if (self.features is None) == (self.interactions is None):
            raise ValueError(
                "give either 'features' or 'interactions' (raw recent interactions), not both or neither"
            )
        return self


class PredictRequest(BaseModel):
    """Unknown fields anywhere are refused (422) rather than ignored: a misspelt ``as_of``
    would otherwise be scored as of now."""

    model_config = ConfigDict(extra="forbid")

    customers: list[CustomerIn] = Field(min_length=1)


class ModelRef(BaseModel):
    name: str
    version: str


class ReasonOut(BaseModel):
    feature: str
    value: FeatureValue
    text: str
    impact: float = Field(
        description="contribution to the log-odds of being a Detractor; > 0 raises the risk"
    )


class ResultOut(BaseModel):
    customer_id: str
    probability: float
    band: Literal["high", "medium", "low"]
    reasons: list[ReasonOut]
    action: str


class PredictResponse(BaseModel):
    model: ModelRef
    results: list[ResultOut]


class FeatureDoc(BaseModel):
    name: str
    kind: str
    description: str


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str
    source: Literal["registry", "local-cache"]
    trained_at: str | None
    test_metrics: dict[str, float]
    bands: dict[str, float]
    features: list[FeatureDoc]


class Health(BaseModel):
    status: str
    model_version: str | None = None


class ErrorOut(BaseModel):
    error: str
    detail: list[dict[str, object]] | str | None = None


class ReloadOut(BaseModel):
    reloaded: bool
    version: str
    previous_version: str | None
    message: str


class RiskEntry(BaseModel):
    list_date: str
    customer_id: str
    rank: int
    probability: float
    band: str
    group: Literal["treatment", "control"]
    flagged: bool
    owner_team: str | None
    action: str
    reasons: list[ReasonOut] | None
    model_version: str
    period: str | None = Field(default=None, description="the experiment period of the draw")
    follow_up_id: str | None = Field(
        default=None, description="the ledger follow-up this entry opened (treatment only)"
    )
    status: str | None = Field(default=None, description="the follow-up's status now")
    due_at: datetime | None = None
    hours_left: float | None = Field(
        default=None, description="SLA clock: hours to the due time (negative: overdue by)"
    )
    overdue: bool | None = None


class RiskListOut(BaseModel):
    list_date: str | None
    count: int
    entries: list[RiskEntry]


class OutreachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not dropped

    customer_id: str = Field(min_length=1, max_length=200)
    follow_up_id: str | None = Field(
        default=None,
        max_length=300,
        description="the follow-up worked on (GET /v1/outreach); if omitted, the answer's "
        "(response_id) or the customer's earliest-due open one; with none, the contact is "
        "logged without a follow-up",
    )
    contacted_at: Timestamp | None = Field(default=None, description="defaults to now")
    outcome: Literal["attempted", "no_answer", "reached", "escalated", "resolved", "declined"] = (
        Field(
            description="attempted / no_answer: tried, not reached; reached / escalated: "
            "reached, still to be resolved; resolved, declined: closes the follow-up"
        )
    )
    list_date: date | None = None
    response_id: str | None = Field(
        default=None, max_length=200, description="the answer being followed up, if any"
    )
    channel: str | None = Field(default=None, max_length=50)
    agent_id: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=5000)


class OutreachOut(BaseModel):
    id: int
    customer_id: str
    recorded: bool
    follow_up_id: str | None = Field(
        description="the follow-up the outcome was recorded against; null: none was open"
    )
    status: Literal["open", "attempted", "reached", "resolved", "declined", "expired"] | None


FollowUpStatus = Literal["open", "attempted", "reached", "resolved", "declined", "expired"]


class FollowUpOut(BaseModel):
    follow_up_id: str
    customer_id: str
    kind: Literal["detractor_answer", "predicted_risk"]
    response_id: str | None
    owner_team: str | None
    list_date: date
    period: str
    band: str | None
    status: FollowUpStatus
    status_at: datetime | None
    created_at: datetime
    due_at: datetime
    first_contact_at: datetime | None
    hours_left: float | None = Field(
        description="SLA clock: hours to the due time (negative: overdue by); null once reached"
    )
    overdue: bool | None
    action: str


class FollowUpListOut(BaseModel):
    as_of: datetime
    total: int = Field(description="follow-ups that match, before limit and offset")
    count: int
    follow_ups: list[FollowUpOut]


class TeamFigureOut(BaseModel):
    team: str
    due: int = Field(description="Detractor follow-ups whose 24 hours ended in the window")
    closed_in_time: int = Field(description="... whose customer was reached within 24 hours")
    rate: float | None = Field(description="close-the-loop rate: closed_in_time / due")
    ci_low: float | None = Field(description="95% Wilson interval of the rate")
    ci_high: float | None
    contacted: int
    median_hours_to_first_contact: float | None


class TeamFiguresOut(BaseModel):
    as_of: datetime
    window_days: int
    teams: list[TeamFigureOut]


def online_customer(customer: CustomerIn) -> OnlineCustomer:
    """A request customer as the online feature code wants it."""
    as_of = customer.as_of or datetime.now(UTC)
    attributes = customer.attributes.model_dump() if customer.attributes else {}
    return OnlineCustomer(
        customer_id=customer.customer_id,
        as_of=pd.Timestamp(as_of),
        interactions=[i.model_dump() for i in customer.interactions or []],
        surveys=[s.model_dump() for s in customer.surveys or []],
        attributes=attributes,
    )


# --- live data: events in ------------------------------------------------------------------


class InteractionEvent(BaseModel):
    """A ticket as it is now: created, then sent again whenever it is answered, escalated or
    solved. Upserted by ``interaction_id``: the whole row is replaced, so a field left out is
    unknown (null). Other fields are passthrough columns (text). Contract rules (times in
    order, ranges) are checked with the tables' own validation."""

    model_config = ConfigDict(extra="allow")

    type: Literal["interaction"]
    interaction_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=50)
    opened_at: Timestamp
    first_response_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    handle_time_s: float | None = None
    contacts: int | None = None
    first_contact_resolved: bool | None = None
    escalated: bool | None = None
    reopened: bool | None = None
    transfers: int | None = None
    sentiment: float | None = None
    agent_id: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _extras_are_text(self) -> InteractionEvent:
        for name, value in (self.model_extra or {}).items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"passthrough field '{name}' must be text or null")
        return self


class SurveyEvent(BaseModel):
    """A survey answer, upserted by ``response_id`` (the score on the data's own scale)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["survey"]
    response_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    responded_at: Timestamp
    score: int
    comment: str | None = Field(default=None, max_length=5000)
    interaction_id: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=50)


Event = Annotated[InteractionEvent | SurveyEvent, Field(discriminator="type")]


class EventsIn(BaseModel):
    """A batch of helpdesk events, written in one transaction or not at all. A later event
    for the same key replaces an earlier one of the batch."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1)


class EventsOut(BaseModel):
    accepted: int = Field(description="events in the batch")
    interactions: int = Field(description="tickets written (the last event per interaction_id)")
    surveys: int = Field(description="answers written (the last event per response_id)")


class LiveRiskOut(BaseModel):
    """A customer's risk as of now, computed from the database source's history."""

    customer_id: str
    as_of: str
    live: Literal[True] = True
    probability: float
    band: Literal["high", "medium", "low"]
    group: Literal["treatment", "control"] = Field(
        description="control: held out of outreach this period (the daily list's own rule)"
    )
    action: str = Field(description='what to do; "control: no outreach" for the control group')
    reasons: list[ReasonOut]
    features: dict[str, FeatureValue] = Field(description="the feature values the model read")
    model_version: str
