"""The daily lists: GET /v1/risk-list and one customer's newest entry, or (``live=true``)
their risk as of now from the database source."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal, cast

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from starlette.concurrency import run_in_threadpool

from nps_core.playbooks import CONTROL_ACTION
from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import ErrorOut, LiveRiskOut, ReasonOut, RiskEntry, RiskListOut
from serving.api.state import current_model, current_source, current_store
from serving.lists.live import LiveRisk, live_risk
from serving.lists.policy import ListPolicy
from serving.lists.store import Store, follow_up_clocks, latest_for_customer, read_list

router = APIRouter()


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _clock(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry's follow-up status and SLA clock as of now (from the ledger)."""
    ids = [r["follow_up_id"] for r in rows if not _missing(r.get("follow_up_id"))]
    if not ids:
        return rows
    clocks = follow_up_clocks(store, ids, dt.datetime.now(dt.UTC))
    out = []
    for r in rows:
        fid = r.get("follow_up_id")
        if not _missing(fid) and fid in clocks.index:
            c = clocks.loc[fid]
            r = {
                **r,
                "status": c["status"],
                "due_at": c["due_at"],
                "hours_left": c["hours_left"],
                "overdue": c["overdue"],
            }
        out.append(r)
    return out


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
        period=None if _missing(row.get("period")) else row["period"],
        # a control row never carries a follow-up (nor an action): the ledger has none
        **(
            {}
            if row["grp"] == "control" or _missing(row.get("follow_up_id"))
            else {
                "follow_up_id": row["follow_up_id"],
                "status": None if _missing(row.get("status")) else row["status"],
                "due_at": None if _missing(row.get("due_at")) else row["due_at"],
                "hours_left": None if _missing(row.get("hours_left")) else row["hours_left"],
                "overdue": None if _missing(row.get("overdue")) else bool(row["overdue"]),
            }
        ),
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
    store = current_store(request)
    list_date, frame = await run_in_threadpool(
        read_list, store, date, band=band, team=team, limit=limit
    )
    records = cast("list[dict[str, Any]]", frame.to_dict("records"))  # columns are text
    records = await run_in_threadpool(_clock, store, records)
    entries = [_entry(r) for r in records]
    return RiskListOut(
        list_date=None if list_date is None else str(list_date), count=len(entries), entries=entries
    )


@router.get(
    "/v1/customers/{customer_id}/risk",
    response_model=RiskEntry | LiveRiskOut,
    responses={**ERRORS, 404: {"model": ErrorOut}},
    tags=["risk"],
)
async def customer_risk(
    customer_id: Annotated[str, Path(max_length=200)],
    request: Request,
    _key: ApiKey,
    live: Annotated[
        bool,
        Query(description="compute the risk as of now from the database source's history"),
    ] = False,
) -> RiskEntry | LiveRiskOut:
    """This customer's entry in the newest daily list that scored them; with ``live=true``
    their risk, reasons and action as of now (needs ``serve --data URL``). A customer of
    the control group answers ``group: control`` and the action "control: no outreach"."""
    if live:
        return await _live(request, customer_id)
    store = current_store(request)
    row = await run_in_threadpool(latest_for_customer, store, customer_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"customer {customer_id!r} is on no daily list yet"
        )
    (row,) = await run_in_threadpool(_clock, store, [row])
    return _entry(row)


async def _live(request: Request, customer_id: str) -> LiveRiskOut:
    model = current_model(request)
    if model.spec is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "the served model was trained on a feature table: live risk needs one trained on "
            "a data DIR or database",
        )
    source = current_source(request).source
    settings = request.app.state.settings
    policy = ListPolicy(
        capacity=settings.daily_capacity,
        control_share=settings.control_share,
        period=settings.experiment_period,  # the list's own experiment period
    )
    now = pd.Timestamp.now(tz="UTC")
    found = await run_in_threadpool(live_risk, model, source, customer_id, now, policy)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"customer {customer_id!r} has no ticket, answer or record in the database source",
        )
    return _live_out(found)


def _live_out(risk: LiveRisk) -> LiveRiskOut:
    return LiveRiskOut(
        customer_id=risk.customer_id,
        as_of=risk.as_of.isoformat(),
        probability=risk.probability,
        band=cast("Literal['high', 'medium', 'low']", risk.band),
        group=cast("Literal['treatment', 'control']", risk.group),
        action=risk.action,
        reasons=[ReasonOut(**reason) for reason in risk.reasons],
        features=risk.features,
        model_version=risk.model_version,
    )
