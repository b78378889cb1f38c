"""The OpenAPI 3 document, generated from the registered routes and their pydantic models."""

from __future__ import annotations

from functools import lru_cache

from pydantic.json_schema import models_json_schema

from . import integration_auth
from .wiring import api_routes

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
}


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@lru_cache(maxsize=1)
def document() -> dict:
    routes = api_routes()
    models = {m for spec in routes for m in (spec.body, spec.response) if m is not None}
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, defs = models_json_schema([(m, "validation") for m in ordered],
                                    ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict] = {}
    for spec in routes:
        op: dict = {"summary": spec.summary, "operationId": f"{spec.method.lower()}{spec.path}",
                    "responses": {}}
        params = [{"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in spec.path.split("/") if p.startswith("{")]
        for header in spec.headers:
            params.append({"name": header, "in": "header", "required": True,
                           "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
        if spec.query is not None:
            qs = spec.query.model_json_schema()
            for name, prop in qs.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                               "schema": _plain(prop)})
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {"required": True, "content": {kind: {
                "schema": refs[(spec.body, "validation")] if kind == "application/json" else {"type": "string"}}
                for kind in spec.accepts}}
        ok: dict = {"description": "success"}
        if spec.response is not None:
            ok["content"] = {spec.content_type: {"schema": refs[(spec.response, "validation")]}}
        elif spec.status != 204:
            ok["content"] = {spec.content_type: {"schema": {"type": "object"} if spec.content_type
                                                 == "application/json" else {"type": "string"}}}
        for other in spec.also_returns:
            ok.setdefault("content", {})[other] = {"schema": {"type": "string"}}
        op["responses"][str(spec.status)] = ok
        for other_status in spec.also_status:
            op["responses"][str(other_status)] = ok
        if spec.roles is not None:
            op["security"] = [{"cognito": []}]
            op["responses"]["401"] = _error("no valid ID token")
            op["responses"]["403"] = _error("the role does not allow it")
        if spec.scopes:
            op["security"] = [{"cognito": []}, {"integrationKey": []}]
            op["x-integration-scopes"] = list(spec.scopes)
            op["description"] = (f"An integration key needs one of the scopes {', '.join(spec.scopes)}. A key may "
                                 f"send {integration_auth.DEFAULT_RATE_PER_MINUTE} requests per clock minute "
                                 "(FOLLOWUPS_KEY_RATE_PER_MINUTE); past that 429 rate_limited with Retry-After.")
            op["responses"]["429"] = {**_error("the integration key sent more than its rate limit this minute"),
                                      "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                                  "description": "seconds until the next minute"}}}
        if spec.body is not None or spec.query is not None or spec.headers:
            op["responses"]["400"] = _error("invalid input")
        if "{" in spec.path or spec.body is not None:
            op["responses"]["404"] = _error("not found in the caller's clinic")
        if spec.method != "GET":
            op["responses"]["409"] = _error("the current state forbids it")
        if spec.method in ("POST", "PUT", "PATCH"):
            op["responses"]["415"] = _error(f"a body sent as another type than {', '.join(spec.accepts)}")
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "Clinic Follow-ups", "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "Cognito ID token (JWT)"},
            "integrationKey": {"type": "http", "scheme": "bearer", "bearerFormat": "fu_live_ integration key",
                               "description": "Made by an Owner (POST /integrations). Each key is limited to "
                                              f"{integration_auth.DEFAULT_RATE_PER_MINUTE} requests per clock "
                                              "minute (a fixed window); past that 429 rate_limited with "
                                              "Retry-After."}}},
    }


def _plain(prop: dict) -> dict:
    """Query parameter schemas: OpenAPI 3.0 has no `anyOf: [.., null]` for an absent value."""
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        return options[0] if len(options) == 1 else {"anyOf": options}
    return {k: v for k, v in prop.items() if k not in ("title", "default")}
