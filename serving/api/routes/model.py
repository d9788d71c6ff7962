"""The served model: what it is (GET /v1/model) and swapping it (POST /v1/admin/reload)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from nps_core.redaction import redact
from serving.api.auth import AdminKey, ApiKey
from serving.api.errors import ERRORS
from serving.api.schemas import ErrorOut, FeatureDoc, ModelInfo, ReloadOut
from serving.api.state import current_model, swap_champion

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
    try:
        fresh, previous = await swap_champion(request.app.state)
    except Exception as exc:
        kept = request.app.state.holder.current
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"reload refused, still serving version {kept.version if kept else None}: "
            f"{redact(exc)}",
        ) from exc
    return ReloadOut(
        reloaded=True,
        version=fresh.version,
        previous_version=previous.version if previous else None,
        message=f"serving version {fresh.version}",
    )
