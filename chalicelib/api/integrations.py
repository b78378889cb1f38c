"""Integration keys (the Owner's) and the import of open balances."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Response

from ..domain.integrations import IMPORTS_WRITE, SCOPES
from ..domain.roles import OWNER_ADMIN, OWNER_ONLY
from ..services import imports, integrations
from . import views
from .routing import JSON, RequestContext, route
from .types import Body, Out, text


class IntegrationIn(Body):
    name: text(1, 100)
    scopes: list[Literal[SCOPES]]


class IntegrationOut(Out):
    integration_id: str
    name: str
    scopes: list[str]
    key_hint: str
    created_at: str
    created_by: str
    last_used_at: str | None


class NewIntegrationOut(IntegrationOut):
    key: str


class IntegrationList(Out):
    items: list[IntegrationOut]


class ImportIn(Body):
    """A JSON import (rows are checked one by one, each error reported with its row number)."""

    rows: list[dict[str, Any]]


class ImportErrorOut(Out):
    row: int
    field: str
    message: str


class ImportOut(Out):
    rows: int
    patients_created: int
    patients_updated: int
    invoices_created: int
    invoices_unchanged: int
    errors: list[ImportErrorOut]


@route("/integrations", "POST", roles=OWNER_ONLY, body=IntegrationIn, response=NewIntegrationOut, status=201)
def create_integration(ctx: RequestContext) -> dict:
    """Make an integration key with scopes; `key` is shown in this answer only."""
    integration, key = integrations.create(ctx.uow, ctx.caller, ctx.now, name=ctx.body.name,
                                           scopes=list(ctx.body.scopes))
    return views.integration(integration, key)


@route("/integrations", "GET", roles=OWNER_ADMIN, response=IntegrationList)
def list_integrations(ctx: RequestContext) -> dict:
    """The clinic's active keys with `key_hint` (last 4 characters) and `last_used_at`."""
    return {"items": [views.integration(i) for i in integrations.list_all(ctx.uow, ctx.caller)]}


@route("/integrations/{integration_id}", "DELETE", roles=OWNER_ONLY, status=204)
def revoke_integration(ctx: RequestContext, integration_id: str) -> Response:
    """Revoke a key: it gets 401 within 60 s."""
    integrations.revoke(ctx.uow, ctx.caller, ctx.now, integration_id)
    return Response(body="", status_code=204)


@route("/imports", "POST", roles=OWNER_ADMIN, body=ImportIn, response=ImportOut, accepts=(JSON, "text/csv"),
       scopes=(IMPORTS_WRITE,))
def import_rows(ctx: RequestContext) -> dict:
    """Import open balances: text/csv with a header row, or JSON {"rows": [..]}; at most 1,000
    rows (more: 413 too_many_rows). Columns: patient_external_id, patient_name, phone, email,
    invoice_external_id, invoice_date, amount_cents, service_date, description. Rows with errors
    write nothing; the others are written by external id (the same file twice creates nothing)."""
    if ctx.media_type == JSON:
        rows = imports.check_count(ctx.body.rows)
    else:
        rows = imports.parse_rows(ctx.request.raw_body or b"", ctx.media_type)
    return views.import_summary(imports.run(ctx.uow, ctx.caller, ctx.now, rows))
