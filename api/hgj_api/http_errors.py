"""Error answers every endpoint shares, described once and kept true on the wire.

- A body that is not JSON at all (bytes that do not decode) is answered 400 by FastAPI before
  validation: every operation taking a body documents it.
- 422 comes in two shapes: FastAPI's validation errors (``detail`` a list of issues) and the
  routes' own refusals (``detail`` a sentence, e.g. "a unit needs its building"). Every 422 is
  documented as either (``Unprocessable``), rather than as one of them.
- 405 names every method the path supports in ``Allow`` (Starlette names only those of the
  first route whose path matches, and a path such as ``/api/v1/users`` has two routes).
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    detail: str | list[ValidationIssue]


def install(app: FastAPI) -> None:
    """Describe the shared errors in ``app``'s OpenAPI and answer 405 with a complete Allow."""
    app.openapi = _describing_errors(app, app.openapi)  # type: ignore[method-assign]
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _describing_errors(
    app: FastAPI, generate: Callable[[], dict[str, Any]]
) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        shape = Unprocessable.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(shape.pop("$defs", {}))
        components["Unprocessable"] = shape
        unprocessable = {"$ref": "#/components/schemas/Unprocessable"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "requestBody" in operation and "400" not in responses:
                    responses["400"] = {
                        "description": "the body is not JSON",
                        "content": {"application/json": {"schema": _error_detail(components)}},
                    }
                if "422" in responses:
                    responses["422"]["content"] = {"application/json": {"schema": unprocessable}}
        app.openapi_schema = schema
        return schema

    return openapi


def _error_detail(components: dict[str, Any]) -> dict[str, Any]:
    if "ErrorDetail" in components:
        return {"$ref": "#/components/schemas/ErrorDetail"}
    return {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    }


def served_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route under ``routes``, those of included routers too (this FastAPI keeps an
    included router as one entry of ``app.routes``; the routers here add no prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from served_routes(included.routes)
        else:
            yield route


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)  # registered for it alone
    if error.status_code == 405:
        allowed = sorted(
            method
            for route in served_routes(request.app.routes)
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
            for method in route.methods or ()
        )
        error = StarletteHTTPException(
            405, error.detail, headers={**(error.headers or {}), "Allow": ", ".join(allowed)}
        )
    return await http_exception_handler(request, error)
