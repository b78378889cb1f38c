"""Every key format in one place. Every key starts with the clinic id.

The one exception is the auto-invoicing run schedule (`RUNS` on the `due` index), which
holds only clinic ids and times: it is how the scheduled function finds the clinics whose
03:00 has come without reading every clinic.
"""

from __future__ import annotations

import hashlib

PROFILE = "0#PROFILE"
INVOICE = "1#INV#"
PLAN = "2#PLAN#"
PROMISE = "3#PROM#"
PAYMENT = "4#PAY#"
ATTEMPT = "5#ATT#"
CALLBACK = "6#CB#"
# A money operation loads the profile, the invoices and the plans with one Query: sk in
# [ACCOUNT_FIRST, ACCOUNT_LAST]; the follow-up detail reads the whole partition.
ACCOUNT_FIRST = "0#"
ACCOUNT_LAST = "2#~"
RUNS = "RUNS"


def clinic_pk(clinic_id: str) -> str:
    return f"C#{clinic_id}"


def patient_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}"


def ledger_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}#LEDGER"


def ledger_sk(seq: int) -> str:
    return f"{seq:010d}"


def idempotency_pk(clinic_id: str, scope: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"C#{clinic_id}#IDEM#{scope}#{digest}"


def staff_sk(sub: str) -> str:
    return f"STAFF#{sub}"


def delegation_sk(delegation_id: str) -> str:
    return f"DELEG#{delegation_id}"


def feed_sk(sub: str) -> str:
    return f"FEED#{sub}"


def worklist_sk(oldest_open_invoice_date: str, patient_id: str) -> str:
    return f"{oldest_open_invoice_date}#{patient_id}"


def timeline_pk(clinic_id: str, kind: str) -> str:
    return f"C#{clinic_id}#{kind}"


def timeline_sk(at: str, item_id: str) -> str:
    return f"{at}#{item_id}"


# What is owed, for the aging report: on the `timeline` index under `timeline_pk(clinic, OWED)`,
# an invoice only while it is open, a plan only while it has an uninvoiced remainder.
OWED = "OWED"


def owed_invoice_sk(invoice_date: str, invoice_id: str) -> str:
    return f"INV#{invoice_date}#{invoice_id}"


def owed_plan_sk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


def assignee_pk(clinic_id: str, sub: str) -> str:
    return f"C#{clinic_id}#U#{sub}"


def audit_patient_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}"


def audit_action_pk(clinic_id: str, action: str) -> str:
    return f"C#{clinic_id}#A#{action}"
