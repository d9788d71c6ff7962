"""The CX manager's figures over HTTP: NPS by group and period (GET /v1/nps), comment themes
and their NPS impact (GET /v1/themes), support behaviours that go with Detractors by team
(GET /v1/drivers). Each route reads the database source as recorded now
and answers what the matching command writes with --json."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from nps_core.industry import INDUSTRIES
from serving.analytics.drivers import drivers_dict, drivers_report
from serving.analytics.nps import PERIODS, nps_report, report_dict
from serving.analytics.taxonomy import load_taxonomy
from serving.analytics.themes import BOOTSTRAP, MIN_COUNT, themes_dict, themes_report
from serving.api.auth import ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas_analytics import DriversOut, GroupName, NpsOut, PeriodName, ThemesOut
from serving.api.state import current_dataset

router = APIRouter()

PeriodQuery = Annotated[PeriodName, Query(description="the trend's period")]
FromQuery = Annotated[
    date | None, Query(alias="from", description="first answer day counted (UTC)")
]
ToQuery = Annotated[date | None, Query(alias="to", description="last answer day counted (UTC)")]


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
    period: PeriodQuery = "month",
    date_from: FromQuery = None,
    date_to: ToQuery = None,
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


@router.get("/v1/themes", response_model=ThemesOut, responses=ERRORS, tags=["analytics"])
async def themes(
    request: Request,
    _key: ApiKey,
    period: PeriodQuery = "month",
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    min_count: Annotated[
        int, Query(ge=1, le=100_000, description="fewer comments: flagged, not ranked")
    ] = MIN_COUNT,
    bootstrap: Annotated[
        int, Query(ge=1, le=1000, description="resamples for each impact's interval")
    ] = BOOTSTRAP,
) -> ThemesOut:
    """Themes of the survey comments (the shipped support taxonomy, plus topics TF-IDF + NMF
    proposes among comments it misses), each with volume, theme NPS, impact = NPS(all) -
    NPS(without the theme) and its bootstrap interval, trend, Detractor and Promoter
    shares and three examples; ``assignments`` gives every comment's themes. The same
    figures as `nps-risk themes --json`."""
    checked_dates(date_from, date_to)
    settings = request.app.state.settings

    def work() -> ThemesOut:
        report = themes_report(
            current_dataset(request),
            load_taxonomy(),
            freq=PERIODS[period],
            date_from=date_from,
            date_to=date_to,
            min_count=min_count,
            bootstrap=bootstrap,
            seed=settings.random_state,
        )
        return ThemesOut.model_validate(themes_dict(report))

    return await run_in_threadpool(work)


@router.get("/v1/drivers", response_model=DriversOut, responses=ERRORS, tags=["analytics"])
async def drivers(
    request: Request,
    _key: ApiKey,
    team: Annotated[
        str | None, Query(max_length=200, description="one team against the rest; none: all")
    ] = None,
) -> DriversOut:
    """Which support behaviours go with Detractor answers, for coaching: the Detractor rate
    when first contact failed vs succeeded, slow vs fast first response, transferred vs not
    (Wilson intervals, Newcombe for the difference), the served model's mean SHAP by feature
    family on the answers, and every team against the rest. Associations, not causes: a
    team's gap is a place to look, not a verdict. Without a model loaded, ``shap`` is null.
    The same figures as `nps-risk drivers --json`."""
    model = request.app.state.holder.current

    def work() -> DriversOut:
        try:
            report = drivers_report(current_dataset(request), model, team)
        except ValueError as exc:  # a team with no answers
            raise refuse("team", str(exc)) from None
        return DriversOut.model_validate(drivers_dict(report))

    return await run_in_threadpool(work)
