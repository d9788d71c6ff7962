"""The outreach ledger over HTTP: record a contact against a follow-up (POST /v1/outreach),
read the follow-ups with their SLA clocks (GET /v1/outreach), and each team's
close-the-loop figures (GET /v1/outreach/teams). Only treatment customers have follow-ups:
a control customer is never shown here as someone to call."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, status
from starlette.concurrency import run_in_threadpool

from nps_core.errors import FollowUpMismatchError, FollowUpNotFoundError, TransitionError
from nps_core.playbooks import ACTIONS, DETRACTOR_FOLLOW_UP, Band
from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import (
    ErrorOut,
    FollowUpListOut,
    FollowUpOut,
    FollowUpStatus,
    OutreachIn,
    OutreachOut,
    TeamFigureOut,
    TeamFiguresOut,
    Timestamp,
)
from serving.api.state import current_store
from serving.lists.ledger import DETRACTOR_ANSWER
from serving.lists.store import read_follow_ups, record_contact, team_figures_as_of

router = APIRouter()


@router.post(
    "/v1/outreach",
    response_model=OutreachOut,
    status_code=201,
    responses={
        **ERRORS,
        404: {"model": ErrorOut, "description": "no such follow-up"},
        409: {"model": ErrorOut, "description": "the follow-up's status refuses this outcome"},
    },
    tags=["outreach"],
)
async def record_outreach(body: OutreachIn, request: Request, _key: ApiKey) -> OutreachOut:
    """Record a contact with a customer and how it went, against a follow-up of the ledger
    (named, or the customer's earliest-due open one). A closed follow-up (resolved,
    declined, expired) takes no more outcomes: 409."""
    record = body.model_dump()
    record["contacted_at"] = record["contacted_at"] or dt.datetime.now(dt.UTC)
    try:
        contact = await run_in_threadpool(lambda: record_contact(current_store(request), **record))
    except FollowUpNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except TransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except FollowUpMismatchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return OutreachOut(
        id=contact.outreach_id,
        customer_id=contact.customer_id,
        recorded=True,
        follow_up_id=contact.follow_up_id,
        status=cast("FollowUpStatus | None", contact.status),
    )


def _value(v: Any) -> Any:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _follow_up(row: dict[str, Any]) -> FollowUpOut:
    band = _value(row["band"])
    action = (
        DETRACTOR_FOLLOW_UP
        if row["kind"] == DETRACTOR_ANSWER
        else ACTIONS[Band(band)]
        if band
        else ACTIONS[Band.HIGH]
    )
    return FollowUpOut(
        follow_up_id=row["follow_up_id"],
        customer_id=row["customer_id"],
        kind=row["kind"],
        response_id=_value(row["response_id"]),
        owner_team=_value(row["owner_team"]),
        list_date=pd.Timestamp(row["list_date"]).date(),
        period=row["period"],
        band=band,
        status=row["status"],
        status_at=_value(row["status_at"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        first_contact_at=_value(row["first_contact_at"]),
        hours_left=_value(row["hours_left"]),
        overdue=None if _value(row["overdue"]) is None else bool(row["overdue"]),
        action=action,
    )


@router.get("/v1/outreach", response_model=FollowUpListOut, responses=ERRORS, tags=["outreach"])
async def list_follow_ups(
    request: Request,
    _key: ApiKey,
    status_: Annotated[FollowUpStatus | None, Query(alias="status")] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    overdue: Annotated[bool | None, Query(description="only overdue (true) or not")] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    as_of: Annotated[
        Timestamp | None, Query(description="the ledger as known then; defaults to now")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FollowUpListOut:
    """The ledger's follow-ups, most urgent first, with status and SLA clock as of ``as_of``."""
    when = as_of or dt.datetime.now(dt.UTC)
    total, frame = await run_in_threadpool(
        lambda: read_follow_ups(
            current_store(request),
            when,
            status=status_,
            team=team,
            overdue=overdue,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        )
    )
    rows = cast("list[dict[str, Any]]", frame.to_dict("records"))
    items = [_follow_up(r) for r in rows]
    return FollowUpListOut(as_of=when, total=total, count=len(items), follow_ups=items)


@router.get(
    "/v1/outreach/teams", response_model=TeamFiguresOut, responses=ERRORS, tags=["outreach"]
)
async def team_figures(
    request: Request,
    _key: ApiKey,
    as_of: Annotated[
        Timestamp | None, Query(description="the ledger as known then; defaults to now")
    ] = None,
    window_days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> TeamFiguresOut:
    """Each team's close-the-loop rate (Detractors reached within 24 hours, with a 95%
    Wilson interval) and median hours to first contact: the numbers of the list's HTML."""
    when = as_of or dt.datetime.now(dt.UTC)
    figures = await run_in_threadpool(team_figures_as_of, current_store(request), when, window_days)
    return TeamFiguresOut(
        as_of=when,
        window_days=window_days,
        teams=[TeamFigureOut(**f.__dict__) for f in figures],
    )
