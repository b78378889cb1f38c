"""The team's whole life in the console of the local stack: an Owner invites a member, who reads the
invitation in the outbox, sets a password on the first sign-in, turns on two-step sign-in and signs
in with a TOTP code, works the worklist; the Owner promotes them and later deactivates them, their
open console ends within a minute and their callbacks sit with the colleague chosen. And a
forgotten password reset with the code from the outbox.

The browser stack checks sessions every 2 s (FOLLOWUPS_CONSOLE_CHECK_SECONDS, conftest.py) so the
test need not wait the 25 s a real console waits; that the defaults add up to under a minute is
tests/fast/test_team.py.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, DEMO_PASSWORD, OWNER, ROOT, StackApi, new_console

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Chosen-Password-2026"


def outbox_message(stack: dict, to: str, kind: str, timeout: float = 10) -> dict:
    """The newest message of `kind` the stack's outbox holds for `to` (waiting for it a little)."""
    deadline = time.monotonic() + timeout
    path = Path(stack["outbox_file"])
    while time.monotonic() < deadline:
        if path.exists():
            found = [m for m in map(json.loads, path.read_text().splitlines())
                     if m["to"] == to and m["kind"] == kind]
            if found:
                return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} for {to} in {path}")


def sign_in_steps(c, email: str, password: str) -> None:
    c.open()
    c.page.get_by_label("Email").fill(email)
    c.page.get_by_label("Password", exact=True).fill(password)
    c.page.get_by_role("button", name="Sign in").click()


def test_an_invited_member_signs_in_from_the_outbox_enrols_mfa_works_and_is_promoted_then_deactivated(
        browser, stack, owner_api):
    email = f"nora-{secrets.token_hex(3)}@demo.clinic"
    owner, owner_context = new_console(browser, stack)
    member, member_context = new_console(browser, stack)
    try:
        # The Owner invites Nora from the team page.
        owner.sign_in(OWNER, hash_="#/team")
        owner.page.get_by_role("button", name="Add staff member").click()
        dialog = owner.dialog()
        dialog.get_by_label("Name").fill("Nora Newcomer")
        dialog.get_by_label("Email").fill(email)
        dialog.get_by_label("Role").select_option("BillingStaff")
        dialog.get_by_role("button", name="Add staff member").click()
        staff = owner.page.get_by_role("region", name="Staff")
        expect(staff).to_contain_text("Nora Newcomer")

        # Nora reads the invitation: it names the console and carries a temporary password.
        invitation = outbox_message(stack, email, "invitation")
        assert stack["console_url"] in invitation["body"] and invitation["channel"] == "email"
        temporary = re.search(r"temporary password (\S+?);", invitation["body"]).group(1)
        sign_in_steps(member, email, temporary)
        page = member.page
        expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
        expect(page.get_by_role("list", name="Password rules")).to_contain_text("At least 12 characters")
        page.get_by_label("New password", exact=True).fill("short")
        page.get_by_label("Confirm new password").fill("short")
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("alert")).to_contain_text("The password needs")  # refused before Cognito
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()

        # Two-step sign-in: the secret as text and as a QR code, then a code from the app.
        page.get_by_role("button", name="Two-step sign-in").click()
        mfa = member.dialog()
        expect(mfa.get_by_role("img", name="QR code of the secret")).to_be_visible()
        secret = mfa.locator("code.secret").get_attribute("data-secret")
        totp = pyotp.TOTP(secret)
        mfa.get_by_label("Code from the app").fill(totp.now())
        mfa.get_by_role("button", name="Turn on").click()
        expect(mfa).to_have_count(0)
        page.get_by_role("button", name="Sign out").click()
        sign_in_steps(member, email, NEW_PASSWORD)
        expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
        page.get_by_label("Authentication code").fill(totp.now())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Team")).to_have_count(0)

        # She works the worklist: the most overdue patient, a callback booked for the day after tomorrow.
        patient_name = f"Nora's Patient {secrets.token_hex(2)}"
        pid = owner_api.owing_patient(patient_name, (3_000, 4_000))  # the most overdue: first on the list
        page.reload()
        page.get_by_role("link", name=patient_name, exact=True).click()
        page.get_by_role("button", name="Schedule callback").click()
        day = owner_api.today() + timedelta(days=2)
        member.dialog().get_by_label("Due").fill(f"{day.isoformat()}T10:30")
        member.dialog().get_by_role("button", name="Schedule callback").click()
        expect(page.get_by_role("region", name="Callbacks")).to_contain_text("10:30 AM")
        nora = next(m for m in owner_api.get("/staff")["items"] if m["email"] == email)
        [callback] = owner_api.get(f"/follow-ups/{pid}")["callbacks"]
        assert callback["assignee_sub"] == nora["sub"]

        # The Owner promotes her to Admin.
        staff.get_by_role("button", name="Change Nora Newcomer's role").click()
        owner.dialog().get_by_label("Role").select_option("Admin")
        owner.dialog().get_by_role("button", name="Change role").click()
        expect(staff.locator(f"li[data-sub='{nora['sub']}']")).to_contain_text("Admin")
        page.reload()
        expect(page.get_by_role("link", name="Team")).to_be_visible()  # her token said BillingStaff

        # The Owner deactivates her, giving her callbacks to the Admin; her open console ends.
        admin = next(m for m in owner_api.get("/staff")["items"] if m["email"] == ADMIN)
        staff.get_by_role("button", name="Deactivate Nora Newcomer").click()
        owner.dialog().get_by_label("Who takes their callbacks").select_option(admin["sub"])
        started = time.monotonic()
        owner.dialog().get_by_role("button", name="Deactivate").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
        ended = time.monotonic() - started
        print(f"\nthe deactivated member's open console was back at the sign-in {ended:.1f} s after the deactivation")
        assert ended < 60
        expect(staff.locator(f"li[data-sub='{nora['sub']}']")).to_contain_text("Inactive")
        moved = owner_api.get(f"/follow-ups/{pid}")["callbacks"]
        assert [(c["callback_id"], c["assignee_sub"]) for c in moved] == [(callback["callback_id"], admin["sub"])]
        audit = owner.page.get_by_role("region", name="Audit trail")
        expect(audit).to_contain_text("staff.deactivated")
        expect(audit).to_contain_text("staff.updated")
        sign_in_steps(member, email, NEW_PASSWORD)
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_have_count(0)

        # Brought back, she signs in again (with her app's code).
        staff.get_by_role("button", name="Reactivate Nora Newcomer").click()
        expect(staff.locator(f"li[data-sub='{nora['sub']}']")).not_to_contain_text("Inactive")
        expect(audit).to_contain_text("staff.reactivated")
        sign_in_steps(member, email, NEW_PASSWORD)
        page.get_by_label("Authentication code").fill(totp.now())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
    finally:
        owner_context.close()
        member_context.close()


def test_a_forgotten_password_is_reset_with_the_code_from_the_outbox(console, stack, local_stack_process, owner_api):
    email = f"forgetful-{secrets.token_hex(3)}@demo.clinic"
    clinic_id = owner_api.get("/clinic")["clinic_id"]
    subprocess.run([sys.executable, "-m", "devtools.cli", "user", "create", "--clinic", clinic_id, "--email", email,
                    "--password", DEMO_PASSWORD, "--role", "BillingStaff"],
                   env=local_stack_process.env, cwd=ROOT, capture_output=True, check=True)
    console.open()
    page = console.page
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    code = re.search(r"code is (\d{6})", outbox_message(stack, email, "password_reset")["body"]).group(1)
    page.get_by_label("Code", exact=True).fill("000000" if code != "000000" else "111111")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("alert")).to_contain_text("Your password is changed")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
    assert StackApi(stack, email, NEW_PASSWORD).get("/me")["email"] == email
