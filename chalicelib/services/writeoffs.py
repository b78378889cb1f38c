"""Write-offs: the patient's whole balance written off, gated, explained and in the audit forever.

Order of refusals (documented in docs/data-model.md): no `write_off` permission -> 403 (the
route checks it before reading the body, so a caller without it learns nothing about the
patient); then a bad reason -> 400; an unknown patient -> 404; nothing owed -> 409.

One transaction holds: every open invoice `written_off`, the active plan `cancelled` (its `due`
index entry disappears with it), the pending promise cancelled, the `write_off` ledger entry, the
patient record (version-conditioned), the audit record, and condition checks on the records that
grant the permission, so a revoke or demotion that commits first makes the write-off fail (it
then reloads and answers 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.errors import NotFound, ValidationError
from ..domain.ids import is_patient_id, new_id
from ..domain.roles import WRITE_OFF, Caller
from ..logs import logger
from . import audit, corrections, events
from .delegations import require_authority

MIN_REASON, MAX_REASON = 3, 500


@dataclass(frozen=True)
class WriteOff:
    patient_id: str
    written_off_cents: int
    entry_id: str
    audit_id: str
    written_off_invoice_ids: list[str]
    cancelled_plan_id: str | None
    follow_up_status: str


def write_off(uow, caller: Caller, now: datetime, *, patient_id: str, reason: str) -> WriteOff:
    """Business rule: only an Owner or an active delegate writes off, with a reason, and only
    when something is owed; the balance becomes zero through one `write_off` ledger entry."""
    if not isinstance(reason, str) or not MIN_REASON <= len(reason.strip()) <= MAX_REASON:
        raise ValidationError("a reason of 3 to 500 characters is required",
                              fields={"reason": f"{MIN_REASON}-{MAX_REASON} characters, not only spaces"})
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")

    def attempt() -> WriteOff:
        require_authority(uow, caller, WRITE_OFF, now)
        loaded = uow.accounts.load(caller.clinic_id, patient_id)
        if loaded is None:
            raise NotFound(f"no patient {patient_id}")
        account = loaded.account
        invoice_ids = [i.invoice_id for i in account.open_invoices()]
        plan_id = account.plan.plan_id if account.plan else None
        # The audit record is the write-off's own record: the ledger entry refers to it.
        audit_id = new_id("aud")
        status_before, plan = account.status, account.plan
        amount = account.write_off(audit_id)  # 409 (NothingOwed) before anything is written
        entry_id = uow.accounts.stage(loaded, now)[0].entry_id
        # The reason is the justification of this act, not a patient note copied from elsewhere:
        # it lives here, in the append-only audit, and is never logged.
        audit.record(uow, caller.clinic_id, caller.actor, "writeoff.recorded", now, patient_id=patient_id,
                     audit_id=audit_id, details={"amount_cents": amount, "entry_id": entry_id,
                                                 "invoice_ids": invoice_ids, "plan_id": plan_id,
                                                 "reason": reason.strip()})
        events.announce(uow, caller.clinic_id, "writeoff.recorded", source_id=audit_id, at=now,
                        data={"patient_id": patient_id, "written_off_cents": amount, "invoice_ids": invoice_ids,
                              "status": account.status})
        events.announce(uow, caller.clinic_id, "follow_up.closed", source_id=audit_id, at=now, part="closed",
                        data={"patient_id": patient_id, "balance_cents": 0, "status": account.status,
                              "previous_status": status_before})
        if plan is not None:
            events.announce(uow, caller.clinic_id, "plan.cancelled", source_id=audit_id, at=now, part=plan_id,
                            data={"plan_id": plan_id, "patient_id": patient_id, "remainder_cents": 0,
                                  "invoice_id": None, "status": plan.status})
        corrections.hold_ended(uow, caller, account, now, "writeoff.recorded")
        uow.commit()
        logger.info("write-off recorded", extra={"patient_id": patient_id, "entry_id": entry_id,
                                                 "amount_cents": amount, "invoices": len(invoice_ids)})
        return WriteOff(patient_id, amount, entry_id, audit_id, invoice_ids, plan_id, account.status)

    return uow.retrying(attempt)
