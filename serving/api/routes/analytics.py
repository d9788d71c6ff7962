"""The CX manager's figures over HTTP: NPS by group and period (GET /v1/nps). Each route reads
the database source as recorded now and answers what the matching command prints."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from nps_core.industry import INDUSTRIES
from serving.analytics.nps import PERIODS, nps_report, report_dict
from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas_analytics import GroupName, NpsOut, PeriodName
from serving.api.state import current_dataset

router = APIRouter()


def refuse(parameter: str, message: str) -> RequestValidationError:
    """A 422 in the API's one shape, naming the query parameter."""
    return RequestValidationError(
        [{"loc": ("query", parameter), "msg": message, "type": "value_error"}]
    )


def checked_dates(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise refuse("to", f"'to' ({date_to}) is before 'from' ({date_from})")


@router.get("/v1/nps", response_model=NpsOut, responses=ERRORS, tags=["analytics"])
async def nps(
    request: Request,
    _key: ApiKey,
    by: Annotated[GroupName, Query(description="the breakdown")] = "channel",
    period: Annotated[PeriodName, Query(description="the trend's period")] = "month",
    date_from: Annotated[
        date | None, Query(alias="from", description="first answer day counted (UTC)")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="last answer day counted")
    ] = None,
    industry: Annotated[
        str | None,
        Query(
            max_length=50,
            description=f"industry range to compare with ({', '.join(sorted(INDUSTRIES))}); "
            "default NPS_RISK_INDUSTRY",
        ),
    ] = None,
) -> NpsOut:
    """NPS overall, by period, by group and by group and period: counts, NPS, 95% interval
    and the small-sample flag (n < 30); the latest period-over-period change with its z-test;
    the industry's typical range when one is configured. Internal and test accounts never
    count. The same figures as `nps-risk nps --json`."""
    checked_dates(date_from, date_to)
    if industry is not None and industry not in INDUSTRIES:
        raise refuse("industry", f"unknown industry; known: {', '.join(sorted(INDUSTRIES))}")
    chosen = industry or request.app.state.settings.industry

    def work() -> NpsOut:
        data = current_dataset(request)
        report = nps_report(
            data, [by], PERIODS[period], date_from=date_from, date_to=date_to, industry=chosen
        )
        return NpsOut.model_validate(report_dict(report))

    return await run_in_threadpool(work)
