"""The app factory: ``create_app(settings)`` wires state, routers, errors and middleware.

The champion is loaded at start through ``training.registry`` (the one loader), within a
deadline: an unreachable registry never holds the server (``state.load_at_start``). A
reload builds a complete new ``ServingModel`` off the event loop, then swaps one reference:
requests in flight keep the model they started with, none fails. No answer and no log line
carries a credential (``nps_core.redaction``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nps_core.config import Settings, get_settings
from nps_core.redaction import redact_logs
from serving.api.bodies import document_bodies
from serving.api.metrics import Metrics
from serving.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from serving.api.routes import api_router
from serving.api.schemas import EventsIn, PredictRequest
from serving.api.state import ModelHolder, load_at_start, stop_asking
from serving.predictor import InputError

log = logging.getLogger("nps_risk.serving")
# every logger that writes in the server process: ours, uvicorn's, and the root's handlers
LOGGERS = ("nps_risk", "nps_risk.serving", "uvicorn", "uvicorn.error", "uvicorn.access", "")


def _validation_detail(exc: RequestValidationError) -> list[dict[str, object]]:
    """Where and what, without echoing inputs or internal objects."""
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


def _mount_docs(app: FastAPI) -> None:
    """The OpenAPI page at /docs with Swagger UI's files from the swagger-ui-bundle package."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="nps-risk API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()
    holder = ModelHolder()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_logs(*LOGGERS)  # here: uvicorn has set up its loggers by now
        await load_at_start(app.state)
        yield
        await stop_asking(holder)

    app = FastAPI(
        title="nps-risk",
        version="0.1.0",
        summary="Which customers are about to become NPS Detractors, why, and what to do.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: this must work offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.holder = holder

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid request", "detail": _validation_detail(exc)}, status_code=422
        )

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            {
                "error": str(exc),
                "detail": [
                    {"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in exc.problems
                ],
            },
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(
            {"error": "internal error; the server log has the details"}, status_code=500
        )

    app.include_router(api_router())
    document_bodies(app, PredictRequest, EventsIn)  # routes that read their body themselves
    _mount_docs(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
