"""The console's corrections and holds in a real browser, each test one whole flow: an Owner voids
a duplicate, gives a discount and reverses a bounced cheque; a plan is changed with the schedule
preview and then cancelled; a disputed account goes on hold, leaves the worklist, is found with the
`on_hold` filter and is released. Each step shows the new balance."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BILLING, OWNER

pytestmark = pytest.mark.browser


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def toast(page):
    return page.locator("#toasts")


def test_an_owner_voids_a_duplicate_gives_a_discount_and_reverses_a_bounced_cheque(console, billing_api):
    pid = billing_api.owing_patient(unique("Corrected"), (70, 12_000), (10, 4_000), (9, 4_000))
    billing_api.post("/payments", {"patient_id": pid, "amount_cents": 12_000, "method": "check"},
                     headers={"Idempotency-Key": uuid.uuid4().hex}, expect=201)
    console.sign_in(OWNER, hash_=f"#/patients/{pid}")
    page = console.page
    balance = page.get_by_test_id("balance")
    expect(balance).to_have_text("$80.00")
    invoices = page.get_by_role("region", name="Invoices")
    today = billing_api.today()
    newest = today - timedelta(days=9)
    invoices.get_by_role("button", name=f"Void the invoice of {newest:%b} {newest.day}, {newest.year} ($40.00)").click()
    dialog = console.dialog()
    dialog.get_by_label("Reason").fill("Entered twice")
    dialog.get_by_role("button", name="Void $40.00").click()
    expect(toast(page)).to_contain_text("Invoice voided. New balance: $40.00")
    expect(balance).to_have_text("$40.00")
    expect(invoices).to_contain_text("Void")
    older = today - timedelta(days=10)
    invoices.get_by_role("button", name=f"Adjust the invoice of {older:%b} {older.day}, {older.year} ($40.00)").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount off").fill("45")
    dialog.get_by_label("Reason").fill("Agreed discount")
    dialog.get_by_role("button", name="Adjust invoice").click()
    expect(dialog).to_contain_text("At most")  # more than the invoice's balance: refused in the form
    dialog.get_by_label("Amount off").fill("5")
    dialog.get_by_role("button", name="Adjust invoice").click()
    expect(toast(page)).to_contain_text("$5.00 taken off the invoice. New balance: $35.00")
    expect(balance).to_have_text("$35.00")
    payments = page.get_by_role("region", name="Recent payments")
    payments.get_by_role("button", name="Reverse the payment of $120.00", exact=False).click()
    dialog = console.dialog()
    dialog.get_by_label("Reason").select_option("returned")
    dialog.get_by_label("Note").fill("Cheque bounced")
    dialog.get_by_role("button", name="Reverse $120.00").click()
    expect(toast(page)).to_contain_text("Payment reversed. New balance: $155.00")
    expect(balance).to_have_text("$155.00")
    expect(payments).to_contain_text("Reversed")
    # the follow-up reopens with its old age
    expect(page.get_by_role("region", name="Summary")).to_contain_text("70 days overdue (61-90)")
    ledger = billing_api.get(f"/patients/{pid}/ledger")["items"]
    assert [e["type"] for e in ledger][-3:] == ["void", "adjustment", "payment_reversal"]
    assert ledger[-1]["balance_after_cents"] == 15_500
    assert not console.errors


def test_a_plan_is_changed_with_the_preview_then_cancelled_and_its_remainder_keeps_its_age(
        browser, stack, billing_api):
    from tests.browser.conftest import new_console

    pid = billing_api.owing_patient(unique("Replanned"), (95, 30_000))
    billing_api.post(f"/follow-ups/{pid}/payment-plan", {"installment_cents": 10_000, "frequency": "monthly",
                                                         "start_date": billing_api.today().isoformat()}, expect=201)
    for who in (BILLING, OWNER):
        console, context = new_console(browser, stack)
        try:
            console.sign_in(who, hash_=f"#/patients/{pid}")
            page = console.page
            plan = page.get_by_role("region", name="Payment plan")
            if who == BILLING:
                expect(plan.get_by_role("button", name="Cancel plan")).to_have_count(0)  # Owner/Admin only
                plan.get_by_role("button", name="Change plan").click()
                dialog = console.dialog()
                dialog.get_by_label("Installment amount").fill("75")
                dialog.get_by_label("Frequency").select_option("weekly")
                preview = dialog.get_by_role("region", name="Schedule preview")
                expect(preview).to_contain_text("4 installments from")
                expect(preview.locator("tbody tr")).to_have_count(4)
                dialog.get_by_role("button", name="Change plan").click()
                expect(toast(page)).to_contain_text("Payment plan changed: 4 installments to come.")
                expect(plan).to_contain_text("4 weekly installments of $75.00")
            else:
                plan.get_by_role("button", name="Cancel plan").click()
                dialog = console.dialog()
                dialog.get_by_label("Reason").fill("Lost her job")
                dialog.get_by_role("button", name="Cancel plan").click()
                expect(toast(page)).to_contain_text("Payment plan cancelled. Balance still owed: $300.00")
                expect(page.get_by_test_id("balance")).to_have_text("$300.00")
                summary = page.get_by_role("region", name="Summary")
                expect(summary).to_contain_text("95 days overdue (90+)")
                invoices = page.get_by_role("region", name="Invoices")
                expect(invoices).to_contain_text("Remainder of a cancelled payment plan")
            assert not console.errors
        finally:
            context.close()


def test_a_disputed_account_goes_on_hold_leaves_the_worklist_and_is_released(console, billing_api):
    name = unique("Disputing")
    pid = billing_api.owing_patient(name, (40, 9_900))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    invoices = page.get_by_role("region", name="Invoices")
    expect(invoices.get_by_role("button", name="Void", exact=False)).to_have_count(0)  # Owner/Admin only
    page.get_by_role("button", name="Put on hold").click()
    dialog = console.dialog()
    until = billing_api.today() + timedelta(days=30)
    dialog.get_by_label("Reason").select_option("dispute")
    dialog.get_by_label("On hold until").fill(until.isoformat())
    dialog.get_by_label("Note").fill("Says the x-ray was never taken")
    dialog.get_by_role("button", name="Put on hold").click()
    shown = f"Dispute · until {until:%b} {until.day}, {until.year} · Says the x-ray was never taken"
    expect(toast(page)).to_contain_text(f"On hold until {until:%b} {until.day}, {until.year}")
    expect(page.get_by_test_id("hold")).to_contain_text(shown)
    expect(page.get_by_role("region", name="Summary")).to_contain_text("On hold")
    console.go("#/follow-ups?bucket=31-60")
    expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
    expect(page.locator("table.worklist, .empty").first).to_be_visible()
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    page.locator("details.more-filters").evaluate("d => { d.open = true; }")  # folded on narrow screens
    page.get_by_label("Status").select_option("on_hold")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text(shown)
    page.get_by_role("link", name=name).click()
    page.get_by_role("button", name="Release hold").click()
    expect(toast(page)).to_contain_text("Hold released: the follow-up is open again.")
    expect(page.get_by_test_id("hold")).to_have_count(0)
    assert not console.errors
