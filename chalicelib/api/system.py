"""Health, the OpenAPI document, and who am I."""

from __future__ import annotations

from ..domain.roles import ALL_STAFF
from .routing import RequestContext, route
from .types import Out


class HealthOut(Out):
    status: str


class MeOut(Out):
    sub: str
    email: str
    clinic_id: str
    roles: list[str]
    permissions: list[str]


@route("/health", "GET", roles=None, response=HealthOut)
def health(ctx: RequestContext) -> dict:
    """Liveness: answers without touching AWS."""
    return {"status": "ok"}


@route("/openapi.json", "GET", roles=None)
def openapi_document(ctx: RequestContext) -> dict:
    """This API, described from the same pydantic models that validate its requests."""
    from . import openapi  # noqa: PLC0415 - imports every route module: only when asked for

    return openapi.document()


@route("/me", "GET", roles=ALL_STAFF, response=MeOut)
def me(ctx: RequestContext) -> dict:
    """The caller as the verified token and the grant store see them."""
    c = ctx.with_permissions()
    return {"sub": c.sub, "email": c.email, "clinic_id": c.clinic_id, "roles": sorted(c.roles),
            "permissions": sorted(c.permissions)}
