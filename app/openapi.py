"""One pass over the generated OpenAPI that documents the error answers every operation can
give, as application/problem+json with one Problem schema, so a schema-driven client can rely
on them. Routes declare only what is particular to them (their success shapes, a 200 for
ignored webhooks); the errors that come from the app's shared layers are added here:

- 500 anywhere; 503 (with Retry-After) wherever the database is used; 422 anywhere (the input
  guard refuses NUL characters, lone surrogates and over-deep JSON before any route runs);
- 401 (and 429 for repeated failed keys) where a key is needed, 403 where it must be an
  admin key (app/auth/deps.py);
- 404 where the path or the body names something; 413 where a body may be sent; 409 for
  /api/v1 writes;
- 400 for a bad pagination `cursor`; 410 and 429 on the feedback pages, which also answer
  text/html to browsers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.auth.deps import AdminKey
from app.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "https://xpulse.dev/problems/<name>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation errors: each bad field, why, and a machine-readable type",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "Invalid pagination cursor",
    "401": "No API key, or an unknown or revoked one (`WWW-Authenticate: Bearer`)",
    "403": "The key's scope does not allow this route (needs `admin`)",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "410": "The feedback request has closed",
    "413": "Request body too large (`XPULSE_MAX_BODY_BYTES`)",
    "422": "Invalid request: `errors` names each field",
    "429": "Too many requests, or too many failed keys from this address (`Retry-After`)",
    "500": "Internal error",
    "503": f"The database is unreachable; retry after `Retry-After` ({RETRY_AFTER_SECONDS} s)",
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer"},
}
# Answers without touching the database.
NO_DATABASE = {"/healthz"}
# The feedback pages answer people's browsers with HTML and JSON clients with problem+json.
PAGE_PREFIX = "/f/"
WRITES = {"post", "put", "patch", "delete"}
METHODS = WRITES | {"get", "head", "options"}


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with the generated schema plus the documented error answers."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate(), admin_operations(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def admin_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every route that depends on an admin key."""
    admin_check = AdminKey.__metadata__[0].dependency
    found = set()
    for path, route in _api_routes(app):
        if any(d.call is admin_check for d in _dependants(route.dependant)):
            found.update((path, m.lower()) for m in route.methods)
    return found


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Each APIRoute with its full path. FastAPI 0.16x keeps included routers as such
    (routing.iter_route_contexts flattens them); older versions list APIRoutes directly."""
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_contexts is None:
        yield from ((r.path_format, r) for r in app.routes if isinstance(r, APIRoute))
        return
    for context in iter_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.path_format, context.original_route


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    stack = [dependant]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(item.dependencies)


def document_errors(schema: dict[str, Any], admin: set[tuple[str, str]]) -> dict[str, Any]:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            declared = {c for c in responses if c[:1] in ("4", "5")}
            for code in sorted(declared | set(error_codes(path, method, operation, admin))):
                _document(responses, code, page=path.startswith(PAGE_PREFIX))
            if path.startswith(PAGE_PREFIX):
                for code, response in responses.items():
                    if code.startswith("2"):
                        response.setdefault("content", {}).setdefault("text/html", {})
    # FastAPI's own 422 shapes are never answered: every 422 is a Problem.
    if "HTTPValidationError" not in str(schema.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return schema


def error_codes(
    path: str, method: str, operation: dict[str, Any], admin: set[tuple[str, str]]
) -> list[str]:
    codes = {"422", "500"}
    if path not in NO_DATABASE and path != "/readyz":
        codes.add("503")
    if operation.get("security"):  # 429: failed keys are throttled per client address
        codes.update({"401", "429"})
    if (path, method) in admin:
        codes.add("403")
    if "{" in path or "requestBody" in operation:  # a path or a body may name what is not
        codes.add("404")
    if method in WRITES:
        codes.add("413")
        if path.startswith("/api/v1/"):
            codes.add("409")
    if any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
        codes.add("400")
    if path.startswith(PAGE_PREFIX):
        codes.update({"410", "429"})
    return sorted(codes)


def _document(responses: dict[str, Any], code: str, *, page: bool) -> None:
    response = responses.setdefault(code, {"description": DESCRIPTIONS.get(code, "Error")})
    content = response.setdefault("content", {})
    # FastAPI's generated 422 names HTTPValidationError, and a route-declared error without a
    # model gets an empty application/json placeholder: neither is ever answered. A route's
    # own error model (/readyz) is its answer: left as declared.
    schema = content.get("application/json", {}).get("schema", {})
    if schema not in ({}, {"$ref": "#/components/schemas/HTTPValidationError"}):
        return
    content.pop("application/json", None)
    content[PROBLEM_JSON] = {"schema": PROBLEM_REF}
    if page:
        content["text/html"] = {"schema": {"type": "string"}}
    if code in ("503", "429"):
        response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
