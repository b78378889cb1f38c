"""The console's integration tools in a real browser: an Owner makes a key (shown once, copied),
sees it listed and revokes it; imports a CSV (previewed, then the result with its row errors),
finds an imported patient from the top bar's search and corrects their details."""

from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import OWNER

pytestmark = pytest.mark.browser


def test_an_owner_makes_a_key_that_is_shown_once_works_and_is_revoked(console, stack):
    page = console.page
    console.sign_in(OWNER, hash_="#/integrations")
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()
    name = f"Practice system {uuid.uuid4().hex[:6]}"
    page.get_by_label("Key name").fill(name)
    page.get_by_label("Read patients and search (patients:read)").check()
    page.get_by_label("Create invoices (invoices:write)").check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("fu_live_")
    expect(page.get_by_role("button", name="Copy key")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(f"…{key[-4:]}")
    expect(row).to_contain_text("patients:read, invoices:write")
    used = requests.get(f"{stack['api_url']}/patients", params={"q": "anyone"},
                        headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert used.status_code == 200
    page.reload()
    expect(page.get_by_role("row").filter(has_text=name)).not_to_contain_text("Never")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Revoke {name}").click()
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)


def test_an_owner_imports_a_csv_finds_a_patient_from_the_top_bar_and_corrects_their_phone(console, stack, tmp_path):
    page = console.page
    tag = uuid.uuid4().hex[:6]
    source = tmp_path / "balances.csv"
    source.write_text(
        "patient_external_id,patient_name,phone,email,invoice_external_id,invoice_date,amount_cents,service_date,"
        "description\n"
        f"b-{tag}-1,Quintessa Imported{tag},+1 555 0101,,b-inv-{tag}-1,2026-09-01,15000,,Crown\n"
        f"b-{tag}-2,Broken Row{tag},,,b-inv-{tag}-2,2026-02-30,100,,\n")
    console.sign_in(OWNER, hash_="#/import")
    page.get_by_label("CSV file").set_input_files(str(source))
    expect(page.get_by_role("heading", name="Preview: 2 rows")).to_be_visible()
    expect(page.get_by_role("cell", name=f"Quintessa Imported{tag}")).to_be_visible()
    page.get_by_role("button", name="Import").click()
    result = page.get_by_role("region", name="Import result")
    expect(result).to_contain_text("Invoices created")
    expect(result.get_by_role("row").filter(has_text="invoice_date")).to_contain_text("2")

    search = page.get_by_role("searchbox", name="Find a patient")
    search.fill("quintes")
    page.get_by_role("link", name=f"Quintessa Imported{tag}").click()
    expect(page.get_by_role("heading", name=f"Quintessa Imported{tag}")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("$150.00")
    page.get_by_role("button", name="Edit details").click()
    dialog = console.dialog()
    dialog.get_by_role("textbox", name="Phone").fill("+1 555 0199")
    dialog.get_by_role("checkbox", name="sms").check()
    dialog.get_by_role("textbox", name="Time zone").fill("Asia/Tokyo")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("main")).to_contain_text("+1 555 0199")
    expect(page.get_by_test_id("preferences")).to_have_text(
        "Contact preferencesTime zone Asia/Tokyo · Do not contact by sms")
