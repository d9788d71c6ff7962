"""JSON in and out of the hot route in one pydantic pass each, from and to bytes.

FastAPI's own way (``json.loads`` into Python objects, then validation; on the way out,
``response_model`` validation and serialisation again) cost /v1/predict about a tenth of
its time. These helpers give the same 422 answers and keep the route documented in OpenAPI.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
JSON = "application/json"


def _is_json(content_type: str | None) -> bool:
    """application/json or application/*+json, parameters ignored (FastAPI's rule)."""
    if not content_type:
        return False
    kind = content_type.partition(";")[0].strip().lower()
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


async def json_body(request: Request, model: type[M]) -> M:
    """The request body validated as ``model``; errors are 422s located under ``body``."""
    if not _is_json(request.headers.get("content-type")):
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": f"send the body as JSON, with 'Content-Type: {JSON}'",
                }
            ]
        )
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def refuse_large_batch(count: int, limit: int, what: str, hint: str = "") -> None:
    """413 when a body carries more items than the route's setting allows."""
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {limit} {what}; got {count}{hint}"
        )


def json_response(answer: BaseModel, status_code: int = 200) -> Response:
    """``answer`` serialised once (it was validated when it was built)."""
    return Response(answer.model_dump_json(), status_code=status_code, media_type=JSON)


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with ``json_body``; the schema
    itself is added to the components by ``document_bodies``."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": ref}}}}


def document_bodies(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put ``models`` (and the models they use) into the app's OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(doc.pop("$defs", {}))
                components[model.__name__] = doc
        assert app.openapi_schema is not None  # generate() stored it
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
