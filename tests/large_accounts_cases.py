"""A patient with a long history is served like any other: the cases, run by both tiers.

A change that touches more invoices than one transaction holds (write-off, plan conversion, a
payment spread over hundreds of invoices) commits the account at once and writes the rest of its
invoices in follow-on batches; every read sees those invoices as decided in the meantime. Long
lists (attempts, callbacks, invoices, the ledger) come a page at a time. The data is seeded
through the store's repositories (hundreds of API calls would take minutes); every check goes
through the API.

tests/fast/test_large_accounts.py runs these with 500 open invoices on the in-memory store;
tests/api/test_large_accounts.py with 200 on moto, where DynamoDB's transaction cap, paging and
consistency are real (moto spends ~4 ms serializing each item a Query returns, so 500 there would
cost minutes of suite time for the same code path). Each module provides the fixtures `new_uow`
(a unit of work on the tier's store), `stored_statuses` (what the invoice items themselves say,
without the deferred states), `open_invoices` and `attempt_count` (the scale).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.account import INVOICE_WRITES_PER_TRANSACTION, Invoice
from chalicelib.domain.contact import Attempt, Callback
from chalicelib.domain.ids import new_child_id
from chalicelib.store import accounts as account_store

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def seed_invoices(new_uow, clinic, patient_id: str, count: int, cents: int = 1_000) -> list[str]:
    """`count` open invoices, oldest first, one transaction's worth at a time (each with its ledger line)."""
    now = datetime.now(UTC)
    today = clinic.today()
    made: list[str] = []
    while len(made) < count:
        uow = new_uow()
        loaded = uow.accounts.load(clinic.clinic_id, patient_id)
        for _ in range(min(INVOICE_WRITES_PER_TRANSACTION // 2, count - len(made))):
            n = len(made)
            invoice = Invoice(new_child_id("inv", patient_id), patient_id, cents, cents,
                              today - timedelta(days=count - n), created_at=now)
            loaded.account.add_invoice(invoice)
            made.append(invoice.invoice_id)
        uow.accounts.stage(loaded, now)
        uow.commit()
    return made


def everything_agrees(clinic, patient_id: str, status: str, balance_cents: int) -> None:
    """Balance, worklist, ledger, aging and each invoice tell one story, as a client reads them."""
    api = clinic.billing
    detail = api.get(f"/follow-ups/{patient_id}").body
    assert (detail["status"], detail["balance_cents"]) == (status, balance_cents)
    ledger = api.get(f"/patients/{patient_id}/ledger").body["items"]
    assert ledger[-1]["balance_after_cents"] == balance_cents == sum(e["amount_cents"] for e in ledger)
    listed = {r["patient_id"] for r in api.get("/follow-ups?limit=100").body["items"]}
    assert (patient_id in listed) == (detail["oldest_invoice_date"] is not None)
    aging = api.get("/reports/aging").body
    invoices = page_through(api, f"/patients/{patient_id}/invoices")
    open_cents = sum(i["balance_cents"] for i in invoices if i["status"] == "open")
    assert aging["total_cents"] == open_cents
    assert open_cents + (aging["plan_remainder_cents"]) == balance_cents


def page_through(api, path: str, limit: int = 100) -> list[dict]:
    items, cursor = [], None
    while True:
        r = api.get(f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if cursor is None:
            return items


def test_writing_off_hundreds_of_open_invoices_zeroes_every_one(clinic, new_uow, stored_statuses, open_invoices):
    pid = clinic.patient("Many Invoices")
    seed_invoices(new_uow, clinic, pid, open_invoices)
    r = clinic.owner.post(f"/follow-ups/{pid}/write-off", {"reason": "uncollectable after years"})
    assert r.status == 200, r
    assert r.body["written_off_cents"] == open_invoices * 1_000
    assert len(r.body["written_off_invoice_ids"]) == open_invoices
    everything_agrees(clinic, pid, "written_off", 0)
    invoices = page_through(clinic.billing, f"/patients/{pid}/invoices")
    assert len(invoices) == open_invoices and {i["status"] for i in invoices} == {"written_off"}
    assert set(stored_statuses(clinic.clinic_id, pid).values()) == {"written_off"}  # the batches ran
    audit = clinic.owner.get(f"/audit?patient_id={pid}&action=writeoff.recorded").body["items"]
    assert len(audit) == 1


def test_converting_hundreds_of_open_invoices_into_a_plan_moves_them_all(clinic, new_uow, open_invoices):
    pid = clinic.patient("Many Invoices Plan")
    seed_invoices(new_uow, clinic, pid, open_invoices)
    r = clinic.billing.post(f"/follow-ups/{pid}/payment-plan", {
        "installment_cents": 10_000, "frequency": "monthly", "start_date": clinic.today().isoformat()})
    assert r.status == 201, r
    assert r.body["total_cents"] == open_invoices * 1_000 and len(r.body["installments"]) == open_invoices // 10
    everything_agrees(clinic, pid, "payment_plan", open_invoices * 1_000)
    statuses = {i["status"] for i in page_through(clinic.billing, f"/patients/{pid}/invoices")}
    assert statuses == {"in_plan"}


def test_cancelling_a_plan_made_of_hundreds_of_invoices_leaves_one_remainder_aged_from_the_oldest(
        clinic, new_uow, open_invoices):
    pid = clinic.patient("Many Invoices Cancelled")
    made = seed_invoices(new_uow, clinic, pid, open_invoices)
    oldest = clinic.billing.get(f"/invoices/{made[0]}").body["invoice_date"]
    plan = clinic.billing.post(f"/follow-ups/{pid}/payment-plan", {
        "installment_cents": 10_000, "frequency": "monthly", "start_date": clinic.today().isoformat()}).body
    assert clinic.pay(pid, 2_500).status == 201  # prepays the plan's last installment
    r = clinic.owner.post(f"/payment-plans/{plan['plan_id']}/cancel", {"reason": "cannot keep it"})
    assert r.status == 200, r
    remainder = clinic.billing.get(f"/invoices/{r.body['remainder_invoice_id']}").body
    owed = open_invoices * 1_000 - 2_500
    assert (remainder["amount_cents"], remainder["invoice_date"], remainder["source"]) == (
        owed, oldest, "plan_remainder")
    everything_agrees(clinic, pid, "open", owed)
    row = next(i for i in clinic.billing.get("/follow-ups?limit=100").body["items"] if i["patient_id"] == pid)
    assert row["oldest_invoice_date"] == oldest and row["days_overdue"] == open_invoices


def test_one_payment_settles_hundreds_of_invoices_oldest_first(clinic, new_uow, open_invoices):
    pid = clinic.patient("Pays Everything")
    made = seed_invoices(new_uow, clinic, pid, open_invoices)
    r = clinic.pay(pid, open_invoices * 1_000 - 500)
    assert r.status == 201, r
    assert len(r.body["allocations"]) == open_invoices
    assert r.body["allocations"][0]["invoice_id"] == made[0]
    everything_agrees(clinic, pid, "open", 500)
    newest = clinic.billing.get(f"/invoices/{made[-1]}").body
    assert (newest["status"], newest["balance_cents"]) == ("open", 500)
    oldest = clinic.billing.get(f"/invoices/{made[0]}").body
    assert (oldest["status"], oldest["balance_cents"]) == ("paid", 0)


def test_when_the_follow_on_batches_fail_every_read_still_shows_the_change_and_the_next_change_finishes_it(
        clinic, monkeypatch, new_uow, stored_statuses):
    pid = clinic.patient("Interrupted")
    made = seed_invoices(new_uow, clinic, pid, 200)
    monkeypatch.setattr(account_store.Settling, "settle",
                        lambda self, *a, **k: (_ for _ in ()).throw(ConnectionError("lost")))
    r = clinic.pay(pid, 200 * 1_000 - 1_000)
    assert r.status == 201, r  # the payment committed; writing the rest of its invoices failed
    stored = stored_statuses(clinic.clinic_id, pid)
    # only the first batch: the transaction's invoice budget less the payment's ledger line
    assert list(stored.values()).count("paid") == INVOICE_WRITES_PER_TRANSACTION - 1
    everything_agrees(clinic, pid, "open", 1_000)
    assert clinic.billing.get(f"/invoices/{made[150]}").body["status"] == "paid"  # deferred, read as decided
    monkeypatch.undo()
    assert clinic.pay(pid, 500).status == 201  # the patient's next change writes what was left
    assert list(stored_statuses(clinic.clinic_id, pid).values()).count("paid") == 199
    everything_agrees(clinic, pid, "open", 500)


def seed_attempts(new_uow, clinic, patient_id: str, count: int, notes: str) -> list[str]:
    """`count` attempts a minute apart, written straight to the store, 99 per transaction."""
    start = datetime.now(UTC) - timedelta(minutes=count)
    made = []
    uow = new_uow()
    for n in range(count):
        at = start + timedelta(minutes=n)
        attempt = Attempt(new_child_id("att", patient_id, at), patient_id, at, clinic.sub("billing"), "phone",
                          "no_answer", notes)
        uow.contacts.add_attempt(clinic.clinic_id, attempt)
        made.append(attempt.attempt_id)
        if uow.staged == 99:
            uow.commit()
    uow.commit()
    return made


def test_a_patient_with_thousands_of_long_attempts_still_opens_and_pages_newest_first(clinic, new_uow,
                                                                                      attempt_count):
    count = attempt_count
    pid = clinic.patient("Called Often")
    seed_invoices(new_uow, clinic, pid, 1)
    made = seed_attempts(new_uow, clinic, pid, count, notes="x" * 2_000)
    r = clinic.billing.get(f"/follow-ups/{pid}")
    assert r.status == 200 and len(r.text.encode()) < LAMBDA_RESPONSE_LIMIT / 20
    assert [a["attempt_id"] for a in r.body["attempts"]] == list(reversed(made))[:50]
    assert r.body["attempts_next_cursor"] is not None
    rest = page_through(clinic.billing, f"/patients/{pid}/attempts")
    assert [a["attempt_id"] for a in rest] == list(reversed(made))
    first = clinic.billing.get(f"/patients/{pid}/attempts?limit=50").body
    second = clinic.billing.get(f"/patients/{pid}/attempts?limit=50&cursor={r.body['attempts_next_cursor']}").body
    assert second["items"][0]["attempt_id"] == made[-51]  # the detail's cursor continues the route's list
    assert first["items"] == r.body["attempts"]


def test_callbacks_page_newest_first_and_the_detail_shows_fifty(clinic, new_uow):
    pid = clinic.patient("Called Back Often")
    seed_invoices(new_uow, clinic, pid, 1)
    uow, made = new_uow(), []
    now = datetime.now(UTC)
    for n in range(60):
        at = now + timedelta(seconds=n)
        callback = Callback(new_child_id("cb", pid, at), pid, now + timedelta(days=1, minutes=n),
                            clinic.sub("billing"), "scheduled", at, clinic.sub("billing"))
        uow.contacts.add_callback(clinic.clinic_id, callback)
        made.append(callback.callback_id)
    uow.commit()
    detail = clinic.billing.get(f"/follow-ups/{pid}").body
    assert [c["callback_id"] for c in detail["callbacks"]] == list(reversed(made))[:50]
    rest = clinic.billing.get(f"/patients/{pid}/callbacks?limit=25&cursor={detail['callbacks_next_cursor']}").body
    assert [c["callback_id"] for c in rest["items"]] == list(reversed(made))[50:]
    assert rest["next_cursor"] is None


def test_the_detail_lists_the_fifty_newest_invoices_and_the_route_goes_on(clinic, new_uow):
    pid = clinic.patient("Invoiced Often")
    made = seed_invoices(new_uow, clinic, pid, 120)
    detail = clinic.billing.get(f"/follow-ups/{pid}").body
    assert [i["invoice_id"] for i in detail["invoices"]] == list(reversed(made))[:50]
    assert [i["invoice_id"] for i in page_through(clinic.billing, f"/patients/{pid}/invoices")] == list(
        reversed(made))
    after = clinic.billing.get(f"/patients/{pid}/invoices?limit=50&cursor={detail['invoices_next_cursor']}").body
    assert [i["invoice_id"] for i in after["items"]] == list(reversed(made))[50:100]


def test_the_ledger_comes_in_pages_oldest_first_up_to_a_thousand(clinic, new_uow):
    pid = clinic.patient("Long Ledger")
    seed_invoices(new_uow, clinic, pid, 120)
    everything = clinic.billing.get(f"/patients/{pid}/ledger").body
    assert len(everything["items"]) == 120 and everything["next_cursor"] is None
    first = clinic.billing.get(f"/patients/{pid}/ledger?limit=100").body
    second = clinic.billing.get(f"/patients/{pid}/ledger?limit=100&cursor={first['next_cursor']}").body
    assert first["items"] + second["items"] == everything["items"] and second["next_cursor"] is None
    assert clinic.billing.get(f"/patients/{pid}/ledger?limit=1001").status == 400
    assert clinic.billing.get(f"/patients/{pid}/ledger?limit=0").status == 400


@pytest.mark.parametrize("path", ["ledger", "invoices", "attempts", "callbacks"])
def test_a_cursor_of_another_patient_or_list_is_refused(clinic, path, new_uow):
    a, b = clinic.patient("A"), clinic.patient("B")
    seed_invoices(new_uow, clinic, a, 3)
    seed_invoices(new_uow, clinic, b, 3)
    seed_attempts(new_uow, clinic, b, 3, notes="n")
    cursor = clinic.billing.get(f"/patients/{b}/{path}?limit=1").body["next_cursor"]
    if path == "callbacks":
        cursor = clinic.billing.get(f"/patients/{b}/attempts?limit=1").body["next_cursor"]  # another list's
    r = clinic.billing.get(f"/patients/{a}/{path}?limit=1&cursor={cursor}")
    assert r.status == 400 and r.body["error"]["code"] == "validation_error"
    assert clinic.billing.get(f"/patients/{a}/{path}?cursor={secrets.token_hex(8)}").status == 400


def test_another_clinics_patient_has_no_pages(clinic, other_clinic):
    pid = clinic.patient("Mine")
    for path in ("ledger", "invoices", "attempts", "callbacks"):
        assert other_clinic.billing.get(f"/patients/{pid}/{path}").status == 404
