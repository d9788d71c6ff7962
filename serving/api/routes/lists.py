"""The daily lists: GET /v1/risk-list and one customer's newest entry."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool

from nps_core.playbooks import CONTROL_ACTION
from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import ErrorOut, RiskEntry, RiskListOut
from serving.api.state import current_store
from serving.lists.store import latest_for_customer, read_list

router = APIRouter()


def _entry(row: dict[str, Any]) -> RiskEntry:
    reasons = json.loads(row["reasons"]) if isinstance(row.get("reasons"), str) else None
    return RiskEntry(
        list_date=str(row["list_date"]),
        customer_id=row["customer_id"],
        rank=int(row["rank"]),
        probability=float(row["probability"]),
        band=row["band"],
        group=row["grp"],
        flagged=bool(row["flagged"]),
        owner_team=None
        if row.get("owner_team") is None or row["owner_team"] != row["owner_team"]
        else row["owner_team"],
        # a list written before control rows stored their own action still never says "call"
        action=CONTROL_ACTION if row["grp"] == "control" else row["action"],
        reasons=reasons,
        model_version=str(row["model_version"]),
    )


@router.get("/v1/risk-list", response_model=RiskListOut, responses=ERRORS, tags=["risk"])
async def risk_list(
    request: Request,
    _key: ApiKey,
    date: Annotated[
        dt.date | None, Query(description="list date; the newest list if omitted")
    ] = None,
    band: Annotated[Literal["high", "medium", "low"] | None, Query()] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> RiskListOut:
    """The day's list to work (outreach group only), best first."""
    list_date, frame = await run_in_threadpool(
        read_list, current_store(request), date, band=band, team=team, limit=limit
    )
    records = cast("list[dict[str, Any]]", frame.to_dict("records"))  # columns are text
    entries = [_entry(r) for r in records]
    return RiskListOut(
        list_date=None if list_date is None else str(list_date), count=len(entries), entries=entries
    )


@router.get(
    "/v1/customers/{customer_id}/risk",
    response_model=RiskEntry,
    responses={**ERRORS, 404: {"model": ErrorOut}},
    tags=["risk"],
)
async def customer_risk(
    customer_id: Annotated[str, Path(max_length=200)], request: Request, _key: ApiKey
) -> RiskEntry:
    """This customer's entry in the newest daily list that scored them. A customer of the
    control group answers ``group: control`` and the action "control: no outreach"."""
    row = await run_in_threadpool(latest_for_customer, current_store(request), customer_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"customer {customer_id!r} is on no daily list yet"
        )
    return _entry(row)
