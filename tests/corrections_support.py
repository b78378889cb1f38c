"""Corrections and holds through the API, for both tiers: void, adjust, reverse, cancel, change, hold."""

from __future__ import annotations

from tests.plans_support import days


def invoices_of(clinic, pid: str) -> list[dict]:
    return clinic.owner.get(f"/follow-ups/{pid}").body["invoices"]


def void(clinic, invoice_id: str, who: str = "owner", reason: str = "Entered twice"):
    return clinic.as_(who).post(f"/invoices/{invoice_id}/void", {"reason": reason})


def adjust(clinic, invoice_id: str, cents: int, who: str = "owner", reason: str = "Agreed discount"):
    return clinic.as_(who).post(f"/invoices/{invoice_id}/adjustments", {"amount_cents": cents, "reason": reason})


def reverse(clinic, payment_id: str, who: str = "owner", reason: str = "returned", **extra):
    return clinic.as_(who).post(f"/payments/{payment_id}/reversal", {"reason": reason, **extra})


def cancel_plan(clinic, plan_id: str, who: str = "owner", reason: str = "Patient cannot keep it"):
    return clinic.as_(who).post(f"/payment-plans/{plan_id}/cancel", {"reason": reason})


def change_plan(clinic, plan_id: str, who: str = "billing", **body):
    return clinic.as_(who).patch(f"/payment-plans/{plan_id}", body)


def hold(clinic, pid: str, until_days: int = 14, who: str = "billing", reason: str = "dispute", **extra):
    return clinic.as_(who).post(f"/follow-ups/{pid}/hold", {"reason": reason, "until": days(clinic, until_days),
                                                            **extra})


def release(clinic, pid: str, who: str = "billing"):
    return clinic.as_(who).delete(f"/follow-ups/{pid}/hold")


def ledger(clinic, pid: str) -> list[tuple[str, int]]:
    return [(e["type"], e["amount_cents"]) for e in clinic.owner.get(f"/patients/{pid}/ledger").body["items"]]


def balance_agrees_with_ledger(clinic, pid: str) -> int:
    """The patient's balance, checked against the ledger's last running balance and its sum."""
    items = clinic.owner.get(f"/patients/{pid}/ledger").body["items"]
    balance = clinic.owner.get(f"/patients/{pid}").body["balance_cents"]
    assert sum(e["amount_cents"] for e in items) == balance
    assert (items[-1]["balance_after_cents"] if items else 0) == balance
    return balance
