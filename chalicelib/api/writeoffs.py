"""Writing off a patient's balance: an Owner, or a staff member holding an active delegation."""

from __future__ import annotations

from typing import Literal

from ..domain.roles import ALL_STAFF, WRITE_OFF
from ..services import writeoffs
from .routing import RequestContext, route
from .types import Body, Out, text


class WriteOffIn(Body):
    reason: text(3, 500)


class WriteOffOut(Out):
    written_off_cents: int
    entry_id: str
    follow_up_status: Literal["written_off"]
    patient_id: str
    audit_id: str
    written_off_invoice_ids: list[str]
    cancelled_plan_id: str | None
    balance_cents: int


@route("/follow-ups/{patient_id}/write-off", "POST", roles=ALL_STAFF, permission=WRITE_OFF, body=WriteOffIn,
       response=WriteOffOut)
def write_off(ctx: RequestContext, patient_id: str) -> dict:
    """Write off everything the patient owes (needs write_off: an Owner or an active delegate)."""
    done = writeoffs.write_off(ctx.uow, ctx.caller, ctx.now, patient_id=patient_id, reason=ctx.body.reason)
    return {"patient_id": done.patient_id, "written_off_cents": done.written_off_cents, "entry_id": done.entry_id,
            "audit_id": done.audit_id, "written_off_invoice_ids": done.written_off_invoice_ids,
            "cancelled_plan_id": done.cancelled_plan_id, "balance_cents": 0,
            "follow_up_status": done.follow_up_status}
