"""The error answers every /v1 route documents (one shape: ``ErrorOut``)."""

from __future__ import annotations

from typing import Any

from serving.api.schemas import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown API key"},
    403: {"model": ErrorOut, "description": "needs an admin key"},
    413: {"model": ErrorOut, "description": "body or batch too large"},
    422: {"model": ErrorOut, "description": "invalid input; detail names the field"},
    503: {"model": ErrorOut, "description": "no model loaded"},
}
