"""Operations: liveness, readiness and Prometheus metrics (no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.api.schemas import ErrorOut, Health
from serving.api.state import current_model

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["ops"])
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": ErrorOut}}, tags=["ops"])
async def readyz(request: Request) -> Health:
    """A model is loaded and can answer."""
    model = current_model(request)
    return Health(status="ready", model_version=model.version)


@router.get("/metrics", tags=["ops"], response_class=Response)
async def prometheus(request: Request) -> Response:
    """Prometheus exposition: requests and latency by route and status, predictions by band."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
