"""Delegated permissions and the audit trail (read-only: no route changes or deletes audit records)."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Response

from ..domain.roles import OWNER_ADMIN, OWNER_ONLY, PERMISSIONS
from ..services import audit, delegations
from . import views
from .routing import RequestContext, route
from .types import Body, Instant, Out, Query, QueryLimit, text


class DelegationIn(Body):
    grantee_sub: text(1, 128)
    permission: Literal[PERMISSIONS]
    expires_at: Instant


class DelegationOut(Out):
    delegation_id: str
    grantee_sub: str
    permission: Literal[PERMISSIONS]
    expires_at: str
    created_by: str
    created_at: str


class DelegationList(Out):
    items: list[DelegationOut]


class AuditQuery(Query):
    patient_id: text(1, 80) | None = None
    action: text(1, 83) | None = None
    limit: QueryLimit = 25
    cursor: text(1, 400) | None = None


class AuditItemOut(Out):
    audit_id: str
    at: str
    actor: str
    action: str
    patient_id: str | None
    details: dict[str, Any]


class AuditList(Out):
    items: list[AuditItemOut]
    next_cursor: str | None


@route("/delegations", "POST", roles=OWNER_ONLY, body=DelegationIn, response=DelegationOut, status=201)
def grant_delegation(ctx: RequestContext) -> dict:
    """Grant write_off to a staff member until `expires_at` (future, at most 90 days away)."""
    b = ctx.body
    return views.delegation(delegations.grant(ctx.uow, ctx.caller, ctx.now, grantee_sub=b.grantee_sub,
                                              permission=b.permission, expires_at=b.expires_at))


@route("/delegations", "GET", roles=OWNER_ADMIN, response=DelegationList)
def list_delegations(ctx: RequestContext) -> dict:
    """Active delegations (neither revoked nor expired), ending soonest first."""
    return {"items": [views.delegation(g) for g in delegations.list_active(ctx.uow, ctx.caller, ctx.now)]}


@route("/delegations/{delegation_id}", "DELETE", roles=OWNER_ONLY, status=204)
def revoke_delegation(ctx: RequestContext, delegation_id: str) -> Response:
    """Revoke a delegation: the grantee loses the permission on their next request."""
    delegations.revoke(ctx.uow, ctx.caller, ctx.now, delegation_id)
    return Response(body="", status_code=204)


@route("/audit", "GET", roles=OWNER_ADMIN, query=AuditQuery, response=AuditList)
def list_audit(ctx: RequestContext) -> dict:
    """The audit trail, newest first, by patient and/or action; append-only, never edited."""
    q = ctx.query
    page = audit.search(ctx.uow, ctx.caller, patient_id=q.patient_id, action=q.action, limit=q.limit,
                        cursor=q.cursor)
    return {"items": [views.audit_entry(e) for e in page.entries], "next_cursor": page.next_cursor}
