"""POST /v1/predict: the model's risk for customers given as features or raw interactions.

It answers the model's risk, not the outreach decision: control membership and the daily
list live in the list routes.
"""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from serving.api.auth import BEARER_DOC, authorize
from serving.api.bodies import json_body, json_body_doc, json_response, refuse_large_batch
from serving.api.errors import ERRORS
from serving.api.schemas import (
    ModelRef,
    PredictRequest,
    PredictResponse,
    ResultOut,
    online_customer,
)
from serving.api.state import current_model

router = APIRouter()
BATCH_INLINE_LIMIT = 64  # larger batches are scored off the event loop


@router.post(
    "/v1/predict",
    response_model=PredictResponse,  # documents the answer; the route sends it serialised
    responses=ERRORS,
    tags=["risk"],
    openapi_extra={**json_body_doc(PredictRequest), **BEARER_DOC},
)
async def predict(request: Request) -> Response:
    """Calibrated Detractor risk, band, top reasons and suggested action per customer.

    This is the model's risk, not the outreach decision: the action is the band's playbook,
    whatever list the customer is on. Who to call today, with the control group held out
    (never called), comes from `GET /v1/risk-list` and `GET /v1/customers/{id}/risk`.
    """
    authorize(request)  # the ApiKey check, without a dependency to solve on the hot route
    body = await json_body(request, PredictRequest)
    refuse_large_batch(
        len(body.customers), request.app.state.settings.max_batch, "customers per request"
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
        matrix[raw] = await run_in_threadpool(
            model.matrix_from_raw, online, ["body", "customers"], raw
        )
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
        ],
    )
    return json_response(answer)
