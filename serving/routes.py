"""Routes of the API; every /v1 route needs an API key, admin routes an admin key."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from nps_core.errors import NpsRiskError
from serving.auth import BEARER_DOC, AdminKey, ApiKey, authorize
from serving.bodies import json_body, json_body_doc, json_response
from serving.predictor import ServingModel, online_customer
from serving.schemas import (
    ErrorOut,
    FeatureDoc,
    Health,
    ModelInfo,
    ModelRef,
    OutreachIn,
    OutreachOut,
    PredictRequest,
    PredictResponse,
    ReloadOut,
    ResultOut,
    RiskEntry,
    RiskListOut,
)

router = APIRouter()
ERRORS = {
    401: {"model": ErrorOut, "description": "missing or unknown API key"},
    403: {"model": ErrorOut, "description": "needs an admin key"},
    413: {"model": ErrorOut, "description": "body or batch too large"},
    422: {"model": ErrorOut, "description": "invalid input; detail names the field"},
    503: {"model": ErrorOut, "description": "no model loaded"},
}
BATCH_INLINE_LIMIT = 64  # larger batches are scored off the event loop


def current_model(request: Request) -> ServingModel:
    holder = request.app.state.holder
    model = holder.current
    if model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {holder.error or 'starting'}"
        )
    return model


@router.post(
    "/v1/predict",
    response_model=PredictResponse,  # documents the answer; the route sends it serialised
    responses=ERRORS,
    tags=["risk"],
    openapi_extra={**json_body_doc(PredictRequest), **BEARER_DOC},
)
async def predict(request: Request) -> Response:
    """Calibrated Detractor risk, band, top reasons and suggested action per customer."""
    authorize(request)  # the ApiKey check, without a dependency to solve on the hot route
    body = await json_body(request, PredictRequest)
    limit = request.app.state.settings.max_batch
    if len(body.customers) > limit:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"at most {limit} customers per request; got {len(body.customers)}",
        )
    model = current_model(request)  # this request keeps this model even if a reload swaps it
    customers = body.customers
    # one call for every customer given as feature values (errors name the customer's own
    # index); those sent as raw interactions get their rows below
    matrix = model.matrix_from_features(
        [c.features or {} for c in customers], ["body", "customers"]
    )
    raw = [i for i, c in enumerate(customers) if c.features is None]
    if raw:
        online = [online_customer(customers[i]) for i in raw]
        matrix[raw] = await run_in_threadpool(model.matrix_from_raw, online)
    ids = [c.customer_id for c in customers]
    if len(customers) > BATCH_INLINE_LIMIT:
        scored = await run_in_threadpool(model.answer, ids, matrix)
    else:
        scored = model.answer(ids, matrix)
    metrics = request.app.state.metrics
    for band, count in Counter(s.band for s in scored).items():  # once per band, not per customer
        metrics.count_predictions(band, count)
    answer = PredictResponse(
        model=ModelRef(name=model.loaded.name, version=model.version),
        results=[
            ResultOut(
                customer_id=s.customer_id,
                probability=s.probability,
                band=s.band,
                reasons=s.reasons,
                action=s.action,
            )
            for s in scored
        ],  # type: ignore[arg-type]
    )
    return json_response(answer)


@router.get("/v1/model", response_model=ModelInfo, responses=ERRORS, tags=["model"])
async def model_info(request: Request, _key: ApiKey) -> ModelInfo:
    """The model being served: version, where it came from, test metrics, features."""
    model = current_model(request)
    meta = model.loaded.meta
    return ModelInfo(
        name=model.loaded.name,
        version=model.version,
        alias=model.loaded.alias,
        source=model.loaded.source,  # type: ignore[arg-type]
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
    from serving.app import build_serving_model

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


def _store(request: Request) -> Any:
    from serving.store import open_store

    state = request.app.state
    if getattr(state, "store", None) is None:
        state.store = open_store(state.settings.store_url)
    return state.store


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
        action=row["action"],
        reasons=reasons,
        model_version=str(row["model_version"]),
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
    from serving.store import read_list

    list_date, frame = await run_in_threadpool(
        read_list, _store(request), date, band=band, team=team, limit=limit
    )
    entries = [_entry(r) for r in frame.to_dict("records")]
    return RiskListOut(
        list_date=None if list_date is None else str(list_date), count=len(entries), entries=entries
    )


@router.get(
    "/v1/customers/{customer_id}/risk",
    response_model=RiskEntry,
    responses={**ERRORS, 404: {"model": ErrorOut}},
    tags=["risk"],
)
async def customer_risk(
    customer_id: Annotated[str, Path(max_length=200)], request: Request, _key: ApiKey
) -> RiskEntry:
    """This customer's entry in the newest daily list that scored them."""
    from serving.store import latest_for_customer

    row = await run_in_threadpool(latest_for_customer, _store(request), customer_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"customer {customer_id!r} is on no daily list yet"
        )
    return _entry(row)


@router.post(
    "/v1/outreach", response_model=OutreachOut, status_code=201, responses=ERRORS, tags=["risk"]
)
async def record_outreach(body: OutreachIn, request: Request, _key: ApiKey) -> OutreachOut:
    """Record that a customer was contacted, and how it went (closes a follow-up)."""
    from serving.store import record_outreach as save

    record = body.model_dump()
    record["contacted_at"] = record["contacted_at"] or dt.datetime.now(dt.UTC)
    new_id = await run_in_threadpool(save, _store(request), record)
    return OutreachOut(id=new_id, customer_id=body.customer_id, recorded=True)
