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

from datetime import datetime

from ..domain.errors import Forbidden, NotFound, ValidationError
from ..domain.ids import is_patient_id
from ..logs import logger
from ..store import accounts
from ..store.tx import Unit, retrying
from .delegations import WRITE_OFF, authority

MIN_REASON, MAX_REASON = 3, 500


def write_off(clinic_id: str, actor: str, now: datetime, *, patient_id: str, reason: str) -> dict:
    """Business rule: only an Owner or an active delegate writes off, with a reason, and only
    when something is owed; the balance becomes zero through one `write_off` ledger entry."""
    if not isinstance(reason, str) or not MIN_REASON <= len(reason.strip()) <= MAX_REASON:
        raise ValidationError("a reason of 3 to 500 characters is required",
                              fields={"reason": f"{MIN_REASON}-{MAX_REASON} characters, not only spaces"})
    if not is_patient_id(patient_id):
        raise NotFound(f"no patient {patient_id}")

    def attempt() -> dict:
        grounds = authority(clinic_id, actor, WRITE_OFF, now)
        if not grounds:
            raise Forbidden("the write_off permission was revoked or has expired")
        loaded = accounts.load(clinic_id, patient_id)
        account = loaded.account
        invoice_ids = [i.invoice_id for i in account.open_invoices()]
        plan_id = account.plan.plan_id if account.plan else None
        unit = Unit(now)
        # The audit record is the write-off's own record: the ledger entry refers to it.
        audit = unit.audit(clinic_id, actor, "writeoff.recorded", patient_id=patient_id)
        amount = account.write_off(audit.audit_id)  # 409 (NothingOwed) before anything is written
        ledger = accounts.stage_account(unit, loaded)
        entry_id = ledger[0].entry_id
        # The reason is the justification of this act, not a patient note copied from elsewhere:
        # it lives here, in the append-only audit, and is never logged.
        audit.details = {"amount_cents": amount, "entry_id": entry_id, "invoice_ids": invoice_ids,
                         "plan_id": plan_id, "reason": reason.strip()}
        for record, condition in grounds:
            unit.check(record, condition, label="permission")
        unit.commit()
        logger.info("write-off recorded", extra={"patient_id": patient_id, "entry_id": entry_id,
                                                 "amount_cents": amount, "invoices": len(invoice_ids)})
        return {"patient_id": patient_id, "written_off_cents": amount, "entry_id": entry_id,
                "audit_id": audit.audit_id, "written_off_invoice_ids": invoice_ids, "cancelled_plan_id": plan_id,
                "balance_cents": 0, "follow_up_status": account.status}

    return retrying(attempt)
