"""The served model: what it is (GET /v1/model) and swapping it (POST /v1/admin/reload)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from nps_core.errors import NpsRiskError
from serving.api.auth import AdminKey, ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import ErrorOut, FeatureDoc, ModelInfo, ReloadOut
from serving.api.state import build_serving_model, current_model

router = APIRouter()


@router.get("/v1/model", response_model=ModelInfo, responses=ERRORS, tags=["model"])
async def model_info(request: Request, _key: ApiKey) -> ModelInfo:
    """The model being served: version, where it came from, test metrics, features."""
    model = current_model(request)
    meta = model.loaded.meta
    return ModelInfo(
        name=model.loaded.name,
        version=model.version,
        alias=model.loaded.alias,
        source=model.loaded.source,
        trained_at=meta.get("trained_at"),
        test_metrics={k: float(v) for k, v in (meta.get("test_metrics") or {}).items()},
        bands=model.bands,
        features=[
            FeatureDoc(
                name=f,
                kind=model.catalog[f].kind
                if f in model.catalog
                else ("categorical" if f in model.categories else "numeric"),
                description=model.catalog[f].description if f in model.catalog else f,
            )
            for f in model.features
        ],
    )


@router.post(
    "/v1/admin/reload",
    response_model=ReloadOut,
    responses={
        **ERRORS,
        409: {"model": ErrorOut, "description": "new model refused; the old one keeps serving"},
    },
    tags=["admin"],
)
async def reload_model(request: Request, _key: AdminKey) -> ReloadOut:
    """Swap to the newest champion without dropping a request; a broken model is refused."""
    holder = request.app.state.holder
    metrics = request.app.state.metrics
    async with holder.lock:
        previous = holder.current
        try:
            fresh = await run_in_threadpool(
                build_serving_model, request.app.state.settings, use_cache=False
            )
        except (NpsRiskError, Exception) as exc:
            metrics.reloads.labels(outcome="refused").inc()
            kept = previous.version if previous else None
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"reload refused, still serving version {kept}: {exc}"
            ) from exc
        holder.current, holder.error = fresh, None
        metrics.reloads.labels(outcome="swapped").inc()
        metrics.set_model(fresh.loaded.name, fresh.version, fresh.loaded.source)
    return ReloadOut(
        reloaded=True,
        version=fresh.version,
        previous_version=previous.version if previous else None,
        message=f"serving version {fresh.version}",
    )
