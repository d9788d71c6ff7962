"""POST /v1/outreach: a contact with a customer and how it went."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import OutreachIn, OutreachOut
from serving.api.state import current_store
from serving.lists.store import record_outreach as save

router = APIRouter()


@router.post(
    "/v1/outreach", response_model=OutreachOut, status_code=201, responses=ERRORS, tags=["risk"]
)
async def record_outreach(body: OutreachIn, request: Request, _key: ApiKey) -> OutreachOut:
    """Record that a customer was contacted, and how it went (closes a follow-up)."""
    record = body.model_dump()
    record["contacted_at"] = record["contacted_at"] or dt.datetime.now(dt.UTC)
    new_id = await run_in_threadpool(save, current_store(request), record)
    return OutreachOut(id=new_id, customer_id=body.customer_id, recorded=True)
