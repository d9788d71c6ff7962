"""One router per resource: risk (predict), the model, daily lists, outreach, the manager's
analytics (NPS, themes, drivers), live-data events, operations, and the dashboard's pages."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.routes import analytics, dashboard, events, lists, model, ops, outreach, predict


def api_router() -> APIRouter:
    """Every route of the API, in the order the OpenAPI page lists them."""
    router = APIRouter()
    for module in (predict, model, lists, outreach, analytics, events, ops, dashboard):
        router.include_router(module.router)
    return router
