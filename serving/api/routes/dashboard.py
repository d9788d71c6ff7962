"""The dashboard over HTTP: one page per view under /dashboard, a login form, and the
vendored scripts (``serving.dashboard`` shapes the pages; this module reads the data,
checks who asks, and answers).

A page needs the API's Bearer key (scripts, tests) or a session cookie from the login form
(people): HttpOnly, SameSite=Strict, the key's digest signed with the server's secret, never
the key. Without either, a page redirects to the login form and shows no data. Forms carry
CSRF tokens. Pages are never cached (they hold customer data); the scripts are, for a year,
under an address that changes with their bytes. Nothing a page loads leaves this server
(Content-Security-Policy ``default-src 'self'``).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from features.dataset import Dataset, load_dataset
from nps_core.config import Settings
from nps_core.pages import render
from serving.api.auth import authorize, digest
from serving.api.schemas import Timestamp
from serving.api.state import current_store
from serving.dashboard import sources, views
from serving.dashboard.assets import assets
from serving.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    issue_session,
    new_login_token,
    same_token,
    session_csrf,
    session_digest,
)
from serving.lists.impact import estimate_impact
from serving.lists.ledger import DETRACTOR_ANSWER
from serving.lists.store import list_dates, read_follow_ups, read_list, scores_for
from serving.lists.store import team_figures_as_of as team_figures
from training.registry import run_url

log = logging.getLogger("nps_risk.serving")
router = APIRouter(include_in_schema=False)
PREFIX = "/dashboard"
DATA_TTL_S = 60.0  # a page reads the source at most once a minute
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
STILL = ("open", "attempted", "reached")  # a Detractor follow-up nobody closed yet
_data_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Viewer:
    key_digest: str
    session: str | None  # the cookie, when a person signed in (a script sends its key)


def _secret(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    if settings.session_secret:
        return settings.session_secret.encode()
    state = request.app.state
    if getattr(state, "session_secret", None) is None:
        state.session_secret = secrets.token_bytes(32)
    secret: bytes = state.session_secret
    return secret


def _known(settings: Settings) -> frozenset[str]:
    return settings.key_digests() | settings.key_digests(admin=True)


def _viewer(request: Request) -> Viewer | None:
    """Who asks: a Bearer key (a wrong one answers 401), else a valid session, else nobody."""
    if request.headers.get("authorization"):
        return Viewer(digest(authorize(request)), None)
    cookie = request.cookies.get(SESSION_COOKIE)
    found = session_digest(
        _secret(request), cookie, time.time(), _known(request.app.state.settings)
    )
    return None if found is None or cookie is None else Viewer(found, cookie)


def _dataset(request: Request, as_of: pd.Timestamp) -> Dataset | None:
    """The data source's tables (read at most once a minute), as known before ``as_of``."""
    settings: Settings = request.app.state.settings
    if not settings.data_url:
        return None
    state = request.app.state
    with _data_lock:
        cached = getattr(state, "dashboard_data", None)
        if cached is None or time.monotonic() - cached[0] > DATA_TTL_S:
            cached = (time.monotonic(), load_dataset(settings.data_url, workers=settings.threads))
            state.dashboard_data = cached
    data: Dataset = cached[1]
    return dataclasses.replace(
        data,
        surveys=data.surveys[data.surveys["responded_at"] < as_of],
        interactions=data.interactions[data.interactions["opened_at"] < as_of],
    )


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, prefix=PREFIX, **context), headers=HEADERS)


# --- the views' data -----------------------------------------------------------------------
def _nps(request: Request, as_of: pd.Timestamp, period: str) -> dict[str, Any] | None:
    data = _dataset(request, as_of)
    return None if data is None else views.nps_view(sources.nps_figures(data, period=period))


def _loop(request: Request, as_of: pd.Timestamp) -> dict[str, Any]:
    store = current_store(request)
    _, follow = read_follow_ups(store, as_of.to_pydatetime(), kind=DETRACTOR_ANSWER, limit=100_000)
    open_ = follow[follow["status"].isin(STILL)]
    return views.loop_view(open_, team_figures(store, as_of.to_pydatetime()))


def _list(request: Request, as_of: pd.Timestamp) -> dict[str, Any]:
    store = current_store(request)
    days = list_dates(store, up_to=_last_day(as_of))
    if not days:
        return views.list_view(None, pd.DataFrame(), None, pd.DataFrame())
    day, today = read_list(store, days[-1], limit=1000)
    before = days[-2] if len(days) > 1 else None
    previous = (
        scores_for(store, before, [str(c) for c in today["customer_id"]])
        if before is not None
        else pd.DataFrame(columns=["customer_id", "probability"])
    )
    return views.list_view(day, today, before, previous)


def _last_day(as_of: pd.Timestamp) -> date:
    """The newest list date known at ``as_of``: a day's list is made at 00:00 UTC that day."""
    return as_of.date()


def _impact(request: Request, as_of: pd.Timestamp) -> dict[str, Any] | None:
    data = _dataset(request, as_of)
    if data is None:
        return None
    store = current_store(request)
    days = list_dates(store, up_to=_last_day(as_of))
    if not days:
        return None
    report = estimate_impact(
        store,
        data.surveys,
        data.interactions,
        data.customers,
        data.scale,
        days[0],
        days[-1],
        capacity=request.app.state.settings.daily_capacity,
        bootstrap=0,  # the page shows the Newcombe intervals; `nps-risk impact` the weighted one
    )
    return views.impact_view(report.to_json())


def _model(request: Request) -> dict[str, Any] | None:
    model = request.app.state.holder.current
    if model is None:
        return None
    loaded = model.loaded
    run_id = loaded.meta.get("run_id")
    link = None
    if run_id:
        try:
            link = run_url(request.app.state.settings, str(run_id))
        except Exception as exc:  # the registry may be down: the card shows the run id alone
            log.warning("no link to the MLflow run: %s", exc)
    identity = {
        "name": loaded.name,
        "version": model.version,
        "alias": loaded.alias,
        "source": loaded.source,
    }
    return views.model_view(identity, loaded.meta, link)


def _themes(request: Request, as_of: pd.Timestamp) -> dict[str, Any] | None:
    data = _dataset(request, as_of)
    return None if data is None else views.themes_view(sources.themes_figures(data))


def _drivers(request: Request, as_of: pd.Timestamp, team: str | None) -> dict[str, Any] | None:
    data = _dataset(request, as_of)
    return None if data is None else views.drivers_view(sources.drivers_figures(data, team), team)


# --- pages ---------------------------------------------------------------------------------
def _as_of(value: datetime | None) -> pd.Timestamp:
    return pd.Timestamp(value or datetime.now(UTC)).tz_convert("UTC")


AsOf = Annotated[
    Timestamp | None,
    Query(description="the dashboard as known then (YYYY-MM-DD or a time); defaults to now"),
]


async def _view(
    request: Request, here: str, as_of_value: datetime | None, **options: Any
) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return RedirectResponse(
            f"{PREFIX}/login?next={quote(f'{PREFIX}/{here}', safe='/')}",
            status.HTTP_303_SEE_OTHER,
            headers=HEADERS,
        )
    as_of = _as_of(as_of_value)
    if here == "nps":
        view = await run_in_threadpool(_nps, request, as_of, options["period"])
    elif here == "loop":
        view = await run_in_threadpool(_loop, request, as_of)
    elif here == "list":
        view = await run_in_threadpool(_list, request, as_of)
    elif here == "impact":
        view = await run_in_threadpool(_impact, request, as_of)
    elif here == "themes":
        view = await run_in_threadpool(_themes, request, as_of)
    elif here == "drivers":
        view = await run_in_threadpool(_drivers, request, as_of, options.get("team"))
    else:
        view = await run_in_threadpool(_model, request)
    html = views.render_view(
        here,
        view,
        prefix=PREFIX,
        as_of=as_of,
        query=f"?as_of={quote(as_of_value.isoformat())}" if as_of_value else "",
        logout_csrf=session_csrf(_secret(request), viewer.session) if viewer.session else None,
    )
    return HTMLResponse(html, headers=HEADERS)


@router.get(PREFIX)
@router.get(PREFIX + "/nps")
async def dashboard_nps(
    request: Request,
    as_of: AsOf = None,
    period: Annotated[str, Query(pattern="^(week|month|quarter)$")] = "month",
) -> Response:
    """NPS with its trend and breakdowns: the first view, also at /dashboard."""
    return await _view(request, "nps", as_of, period=period)


@router.get(PREFIX + "/drivers")
async def dashboard_drivers(
    request: Request, as_of: AsOf = None, team: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    return await _view(request, "drivers", as_of, team=team)


def _simple(here: str) -> None:
    async def page(request: Request, as_of: AsOf = None) -> Response:
        return await _view(request, here, as_of)

    router.add_api_route(f"{PREFIX}/{here}", page, methods=["GET"], name=f"dashboard_{here}")


for _here in ("loop", "list", "impact", "themes", "model"):
    _simple(_here)


# --- signing in and out --------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    """Only a dashboard page of this server (no open redirect)."""
    if target and target.startswith(PREFIX) and "//" not in target and "\\" not in target:
        return target
    return PREFIX


def _login_form(request: Request, target: str, error: str | None, code: int) -> HTMLResponse:
    token = new_login_token()
    response = _page(request, "dashboard/login.html", csrf=token, next=target, error=error)
    response.status_code = code
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
        max_age=3600,
    )
    return response


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the form, url-encoded")
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


@router.get(PREFIX + "/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, _safe_next(next), None, status.HTTP_200_OK)


@router.post(PREFIX + "/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    target = _safe_next(form.get("next"))
    if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_form(
            request, target, "The form expired; please sign in again.", status.HTTP_403_FORBIDDEN
        )
    settings: Settings = request.app.state.settings
    key_digest = digest(form.get("key", ""))
    if not form.get("key") or key_digest not in _known(settings):
        return _login_form(request, target, "Unknown API key.", status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER, headers=HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        issue_session(_secret(request), key_digest, time.time(), settings.session_hours),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
        max_age=int(settings.session_hours * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


@router.post(PREFIX + "/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or not same_token(form.get("csrf_token"), session_csrf(_secret(request), cookie)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    response = RedirectResponse(f"{PREFIX}/login", status.HTTP_303_SEE_OTHER, headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


# --- the scripts ---------------------------------------------------------------------------
@router.get(PREFIX + "/static/{version}/{name}")
async def script(version: str, name: str) -> Response:
    """A vendored script, cached for a year: its address changes when its bytes do."""
    asset = assets().get(name)
    if asset is None or asset.digest != version:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return Response(
        asset.body,
        media_type="text/javascript",
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "ETag": f'"{asset.digest}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
