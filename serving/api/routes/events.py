"""POST /v1/events: ticket and survey events from a helpdesk, into the database source.

Each event is checked by the table contracts' own validation; one bad event refuses the
whole batch (422, every problem located by event index and field) and nothing is written.
A good batch is upserted by key in one transaction, so sending it twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from features.ingest import CheckedEvents, check_events, write_events
from serving.api.auth import BEARER_DOC, authorize
from serving.api.bodies import json_body, json_body_doc, json_response, refuse_large_batch
from serving.api.errors import ERRORS
from serving.api.schemas import EventsIn, EventsOut, InteractionEvent
from serving.api.state import LiveSource, current_source

router = APIRouter()


@router.post(
    "/v1/events",
    response_model=EventsOut,
    responses=ERRORS,
    tags=["live data"],
    openapi_extra={**json_body_doc(EventsIn), **BEARER_DOC},
)
async def post_events(request: Request) -> Response:
    """Upsert a batch of ticket and survey events (at most NPS_RISK_MAX_EVENTS, default 1000)."""
    authorize(request)
    body = await json_body(request, EventsIn)
    refuse_large_batch(
        len(body.events),
        request.app.state.settings.max_events,
        "events per batch",
        ": send them in batches",
    )
    live = current_source(request)
    written = await run_in_threadpool(_ingest, live, body)
    return json_response(
        EventsOut(accepted=len(body.events), interactions=written[0], surveys=written[1])
    )


def _ingest(live: LiveSource, body: EventsIn) -> tuple[int, int]:
    tickets: list[tuple[int, dict[str, Any]]] = []
    answers: list[tuple[int, dict[str, Any]]] = []
    for index, event in enumerate(body.events):
        fields = event.model_dump(exclude={"type"})
        (tickets if isinstance(event, InteractionEvent) else answers).append((index, fields))
    checked = check_events(tickets, answers, live.scale)
    if checked.problems:
        raise _refused(checked)
    counts = write_events(live.source, checked, live.scale)
    return counts["interactions"], counts["surveys"]


def _refused(checked: CheckedEvents) -> RequestValidationError:
    """Every problem, in the API's one error shape, located at ``body.events[i].field``."""
    return RequestValidationError(
        [
            {
                "loc": ("body", "events", p.index, p.field),
                "msg": f"{p.reason} (value {p.value!r})" if p.value else p.reason,
                "type": "value_error",
            }
            for p in checked.problems
        ]
    )
