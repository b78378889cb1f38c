"""How the API shows each thing: domain dataclasses in, JSON-ready dicts out. Nothing else renders.

Instants are UTC with `Z` (to the second, `short_z`); dates are `YYYY-MM-DD`; money is integer cents.
"""

from __future__ import annotations

from datetime import date, datetime

from ..domain.account import Hold, Invoice, LedgerLine, Patient, Payment, Plan, Promise
from ..domain.audit import AuditEntry
from ..domain.clinic import Clinic
from ..domain.clock import short_z
from ..domain.contact import Attempt, Callback, LastAttempt
from ..domain.team import Delegation, StaffMember


def _t(value: datetime | None) -> str | None:
    return short_z(value) if value else None


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def clinic(c: Clinic) -> dict:
    return {"clinic_id": c.clinic_id, "name": c.name, "timezone": c.timezone, "currency": c.currency,
            "calendar_show_names": c.calendar_show_names, "contact_policy": c.contact_policy.as_dict()}


def staff_member(m: StaffMember) -> dict:
    return {"sub": m.sub, "email": m.email, "name": m.name, "role": m.role, "status": m.status}


def deactivation(d) -> dict:
    return {"sub": d.member.sub, "status": d.member.status, "callbacks_reassigned": d.callbacks_reassigned}


def delegation(g: Delegation) -> dict:
    return {"delegation_id": g.delegation_id, "grantee_sub": g.grantee_sub, "permission": g.permission,
            "expires_at": _t(g.expires_at), "created_by": g.created_by, "created_at": _t(g.created_at)}


def patient(p: Patient) -> dict:
    return {"patient_id": p.patient_id, "name": p.name, "phone": p.phone, "email": p.email,
            "external_id": p.external_id, "created_at": _t(p.created_at), "balance_cents": p.balance_cents,
            "follow_up_status": p.status, "hold": hold(p.hold), "timezone": p.timezone,
            "do_not_contact": list(p.do_not_contact), "preferred_channel": p.preferred_channel}


def hold(h: Hold | None) -> dict | None:
    if h is None:
        return None
    return {"hold_id": h.hold_id, "reason": h.reason, "until": _d(h.until), "note": h.note,
            "created_by": h.created_by, "created_at": _t(h.created_at)}


def invoice(i: Invoice) -> dict:
    out = {"invoice_id": i.invoice_id, "patient_id": i.patient_id, "amount_cents": i.amount_cents,
           "balance_cents": i.balance_cents, "invoice_date": _d(i.invoice_date), "service_date": _d(i.service_date),
           "status": i.status, "source": i.source, "description": i.description, "external_id": i.external_id,
           "created_at": _t(i.created_at)}
    if i.source == "plan":
        out["plan_id"] = i.plan_id
        out["installment_number"] = i.installment_number
    elif i.source == "plan_remainder":
        out["plan_id"] = i.plan_id
    if i.adjusted_cents:
        out["adjusted_cents"] = i.adjusted_cents
    return out


def payment(p: Payment) -> dict:
    return {"payment_id": p.payment_id, "patient_id": p.patient_id, "amount_cents": p.amount_cents,
            "method": p.method, "received_at": _t(p.received_at), "invoice_id": p.invoice_id,
            "allocations": [{"invoice_id": a.invoice_id, "amount_cents": a.amount_cents} for a in p.allocations],
            "balance_cents": p.balance_after_cents, "follow_up_status": p.status_after, "created_by": p.created_by,
            "reversed": p.reversed, "reversal_id": p.reversal_id, "reversed_at": _t(p.reversed_at)}


def adjustment(a) -> dict:
    return {"adjustment_id": a.adjustment_id, "invoice_id": a.invoice_id, "amount_cents": a.amount_cents,
            "balance_cents": a.balance_cents, "reason": a.reason, "at": _t(a.at), "by": a.by,
            "patient_balance_cents": a.patient_balance_cents, "follow_up_status": a.follow_up_status}


def voided(v) -> dict:
    return {**invoice(v.invoice), "voided_cents": v.amount_cents, "patient_balance_cents": v.patient_balance_cents,
            "follow_up_status": v.follow_up_status}


def reversal(r) -> dict:
    rev = r.reversal
    return {"reversal_id": rev.reversal_id, "payment_id": rev.payment_id, "patient_id": rev.patient_id,
            "amount_cents": rev.amount_cents, "reason": rev.reason, "note": rev.note, "at": _t(rev.at),
            "by": rev.by, "balance_cents": r.balance_cents, "follow_up_status": r.follow_up_status}


def ledger_line(e: LedgerLine) -> dict:
    return {"entry_id": e.entry_id, "at": _t(e.at), "type": e.type, "amount_cents": e.amount_cents,
            "balance_after_cents": e.balance_after_cents, "ref": e.ref}


def plan(p: Plan) -> dict:
    return {
        "plan_id": p.plan_id, "patient_id": p.patient_id, "status": p.status, "total_cents": p.total_cents,
        "installment_cents": p.installment_cents, "frequency": p.frequency, "start_date": _d(p.start_date),
        "installments": [{"number": i.number, "due_date": _d(i.due_date), "amount_cents": i.amount_cents,
                          "status": i.status, "invoice_id": i.invoice_id, "prepaid_cents": i.prepaid_cents}
                         for i in p.installments],
        "next_due_date": _d(p.next_due_date), "created_at": _t(p.created_at), "created_by": p.created_by,
        "remainder_invoice_id": p.remainder_invoice_id,
    }


def promise(p: Promise) -> dict:
    return {"promise_id": p.promise_id, "attempt_id": p.attempt_id, "amount_cents": p.amount_cents,
            "promised_date": _d(p.promised_date), "paid_cents": p.paid_cents, "made_at": _t(p.made_at),
            "made_by": p.made_by, "status": p.status}


def attempt(a: Attempt) -> dict:
    return {"attempt_id": a.attempt_id, "patient_id": a.patient_id, "at": _t(a.at), "by": a.by,
            "channel": a.channel, "outcome": a.outcome, "notes": a.notes,
            "promised_amount_cents": a.promised_amount_cents, "promised_date": _d(a.promised_date),
            "promise_id": a.promise_id, "rule_flags": list(a.rule_flags)}


def last_attempt(a: LastAttempt | None) -> dict | None:
    return None if a is None else {"at": _t(a.at), "channel": a.channel, "outcome": a.outcome, "by": a.by}


def callback(c: Callback) -> dict:
    return {"callback_id": c.callback_id, "patient_id": c.patient_id, "due_at": _t(c.due_at),
            "assignee_sub": c.assignee_sub, "status": c.status, "notes": c.notes, "created_at": _t(c.created_at),
            "created_by": c.created_by, "done_at": _t(c.done_at), "override_reason": c.override_reason,
            "override_by": c.override_by}


def next_action(a) -> dict | None:
    if a is None:
        return None
    return {"type": a.type, "due": _t(a.due) if isinstance(a.due, datetime) else _d(a.due)}


def contact(s, zone: str) -> dict:
    """A patient's contact state (domain/contact_rules.ContactState) and the zone it was judged in
    (beyond the contract's three members: the console says the patient's own time with it)."""
    return {"call_now": s.call_now, "blocked_by": list(s.blocked_by), "next_call_at": _t(s.next_call_at),
            "timezone": zone}


def follow_up_row(r) -> dict:
    p = r.patient
    return {"patient_id": p.patient_id, "patient_name": p.name, "status": p.status,
            "balance_cents": p.balance_cents, "oldest_invoice_date": _d(p.oldest_open_invoice_date),
            "days_overdue": r.days_overdue, "bucket": r.bucket, "last_attempt": last_attempt(p.last_attempt),
            "next_action": next_action(r.next_action), "hold": hold(p.hold),
            "contact": contact(r.contact, r.zone)}


def worklist(page) -> dict:
    return {"as_of": _d(page.as_of), "items": [follow_up_row(r) for r in page.rows], "next_cursor": page.next_cursor}


def follow_up(d) -> dict:
    row, p = d.row, d.row.patient
    return {
        "as_of": _d(d.as_of),
        "patient": patient(p),
        "status": p.status,
        "balance_cents": p.balance_cents,
        "oldest_invoice_date": _d(p.oldest_open_invoice_date),
        "days_overdue": row.days_overdue,
        "bucket": row.bucket,
        "invoices": [invoice(i) for i in d.invoices.items],
        "invoices_next_cursor": d.invoices.next_cursor,
        "payments": [payment(x) for x in d.payments],
        "attempts": [attempt(a) for a in d.attempts.items],
        "attempts_next_cursor": d.attempts.next_cursor,
        "callbacks": [callback(c) for c in d.callbacks.items],
        "callbacks_next_cursor": d.callbacks.next_cursor,
        "plan": plan(d.plan) if d.plan is not None else None,
        "promises": {"made": p.promises_made, "kept": p.promises_kept, "broken": p.promises_broken},
        "pending_promise": promise(p.pending_promise) if p.pending_promise else None,
        "last_attempt": last_attempt(p.last_attempt),
        "next_action": next_action(row.next_action),
        "hold": hold(p.hold),
        "contact": contact(row.contact, row.zone),
    }


def page(p, render) -> dict:
    return {"items": [render(x) for x in p.items], "next_cursor": p.next_cursor}


def task(t) -> dict:
    return {**callback(t.callback), "patient_name": t.patient_name, "overdue": t.overdue}


def audit_entry(e: AuditEntry) -> dict:
    return {"audit_id": e.audit_id, "at": _t(e.at), "actor": e.actor, "action": e.action,
            "patient_id": e.patient_id, "details": e.details}


def integration(i, key: str | None = None) -> dict:
    """A key as listed (`key_hint`, `last_used_at`); the key itself only in the answer that made it."""
    out = {"integration_id": i.integration_id, "name": i.name, "scopes": list(i.scopes), "key_hint": i.key_hint,
           "created_at": _t(i.created_at), "created_by": i.created_by, "last_used_at": _t(i.last_used_at)}
    if key is not None:
        out["key"] = key
    return out


def import_summary(s) -> dict:
    return {"rows": s.rows, "patients_created": s.patients_created, "patients_updated": s.patients_updated,
            "invoices_created": s.invoices_created, "invoices_unchanged": s.invoices_unchanged, "errors": s.errors}


def webhook(w, secret: str | None = None) -> dict:
    """A webhook as listed; `secret` only in the answer that made it."""
    out = {"webhook_id": w.webhook_id, "url": w.url, "events": list(w.events), "description": w.description,
           "created_at": _t(w.created_at)}
    if secret is not None:
        out["secret"] = secret
    return out


def delivery(d) -> dict:
    """One row of a webhook's delivery log (`last_status`: an HTTP status, or `timeout`, `refused_address`, ...)."""
    return {"event_id": d.event_id, "type": d.type, "attempts": d.attempts, "status": d.status,
            "last_status": d.last_status, "delivered_at": _t(d.delivered_at), "next_attempt_at": _t(d.next_attempt_at)}
