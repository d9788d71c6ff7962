"""One router per resource: risk (predict), the model, daily lists, outreach, live-data
events, operations, and the dashboard's pages."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.routes import dashboard, events, lists, model, ops, outreach, predict


def api_router() -> APIRouter:
    """Every route of the API, in the order the OpenAPI page lists them."""
    router = APIRouter()
    for module in (predict, model, lists, outreach, events, ops, dashboard):
        router.include_router(module.router)
    return router
