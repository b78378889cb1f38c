"""The console in a real browser, on the routes every stack has: signing in and out, token refresh,
the patient panel, recording a payment (once, whatever the network does), role-driven controls,
formatting in the clinic's currency and time zone, phone width, keyboard use, escaping."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from chalicelib.domain.plans import MAX_INSTALLMENTS, build_schedule
from tests.browser.conftest import ADMIN, BILLING, OWNER, YEN_OWNER, new_console, origins_of

pytestmark = pytest.mark.browser


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def toast(page):
    return page.locator("#toasts")


# ----- signing in and out -----------------------------------------------------------------------
def test_signing_in_shows_the_follow_ups_heading_and_who_is_signed_in(console, stack):
    console.sign_in(BILLING)
    page = console.page
    expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
    expect(page.get_by_text(BILLING)).to_be_visible()
    expect(page.get_by_text("Demo Family Clinic")).to_be_visible()
    # Everything the page loaded came from the API's origin or Cognito's (no CDN, no other host).
    assert origins_of(console.requested) <= origins_of([stack["api_url"], stack["aws_endpoint_url"]])


def test_a_wrong_password_is_refused_with_a_message_and_no_session(console):
    console.open()
    page = console.page
    page.get_by_label("Email").fill(BILLING)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.get_by_role("heading", name="Follow-ups")).to_have_count(0)


def test_signing_out_forgets_the_tokens_and_a_reload_asks_to_sign_in_again(console):
    console.sign_in(OWNER)
    page = console.page
    assert page.evaluate("sessionStorage.length") == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_reload_keeps_the_session_of_the_tab(console):
    console.sign_in(BILLING)
    console.page.reload()
    expect(console.page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()


def test_the_id_token_is_refreshed_with_the_refresh_token_before_it_expires(browser, stack):
    console, context = new_console(browser, stack)
    page = console.page
    try:
        page.clock.install()
        console.sign_in(OWNER)
        before = json.loads(page.evaluate("sessionStorage.getItem('followups.session.v1')"))
        with page.expect_request(lambda r: r.url.startswith(stack["aws_endpoint_url"])
                                 and "REFRESH_TOKEN_AUTH" in (r.post_data or "")) as refresh:
            page.clock.fast_forward("56:00")  # the ID token lives an hour; refresh 5 minutes ahead
        assert refresh.value.headers["x-amz-target"] == "AWSCognitoIdentityProviderService.InitiateAuth"
        page.wait_for_function("t => JSON.parse(sessionStorage.getItem('followups.session.v1')).idToken !== t",
                               arg=before["idToken"])
        after = json.loads(page.evaluate("sessionStorage.getItem('followups.session.v1')"))
        assert after["refreshToken"] == before["refreshToken"]
        # The new token works: the Team page lists the staff through the API.
        console.go("#/team")
        expect(page.get_by_role("region", name="Staff").get_by_text("Bea Billing")).to_be_visible()
    finally:
        context.close()


def test_a_session_cognito_no_longer_accepts_ends_at_the_sign_in_form_with_a_reason(console):
    console.sign_in(BILLING)
    page = console.page
    page.evaluate("""() => {
        const s = JSON.parse(sessionStorage.getItem('followups.session.v1'));
        s.idToken = 'eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.x'; s.refreshToken = 'revoked';
        sessionStorage.setItem('followups.session.v1', JSON.stringify(s));
    }""")
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator(".signin").get_by_role("alert")).to_contain_text("Sign in again")


# ----- the patient panel on the foundation routes ----------------------------------------------------
def test_the_patient_panel_shows_the_balance_and_invoices_in_the_clinics_currency(console, billing_api):
    name = unique("Panel Patient")
    pid = billing_api.owing_patient(name, (40, 12_000), (10, 3_050))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("$150.50")
    invoices = page.get_by_role("region", name="Invoices")
    oldest = billing_api.today() - timedelta(days=40)
    expect(invoices.get_by_role("row")).to_have_count(3)  # header + two invoices
    expect(invoices).to_contain_text(f"{oldest:%b} {oldest.day}, {oldest.year}")
    expect(invoices).to_contain_text("$120.00")
    expect(page.get_by_role("region", name="Summary")).to_contain_text("40 days overdue (31-60)")


def test_a_patient_of_no_one_is_not_found(console):
    console.sign_in(BILLING, hash_="#/patients/pat_0000000000000000")
    expect(console.page.get_by_role("heading", name="Patient not found")).to_be_visible()


def test_recording_a_payment_sends_an_idempotency_key_and_updates_the_balance(console, billing_api):
    name = unique("Payer")
    pid = billing_api.owing_patient(name, (20, 10_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    page.get_by_role("button", name="Record payment").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount").fill("25.50")
    dialog.get_by_label("Method").select_option("cash")
    with page.expect_request(lambda r: r.url.endswith("/payments") and r.method == "POST") as sent:
        dialog.get_by_role("button", name="Record payment").click()
    assert len(sent.value.headers["idempotency-key"]) >= 16
    assert json.loads(sent.value.post_data) == {"patient_id": pid, "amount_cents": 2_550, "method": "cash"}
    expect(toast(page)).to_contain_text("Payment of $25.50 recorded.")
    expect(page.get_by_test_id("balance")).to_have_text("$74.50")
    expect(page.get_by_role("region", name="Recent payments")).to_contain_text("$25.50")


def test_a_payment_retried_after_a_lost_answer_reuses_its_key_and_is_recorded_once(console, billing_api):
    pid = billing_api.owing_patient(unique("Flaky Network"), (20, 10_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server records the payment...
            route.abort("connectionreset")  # ...but its answer never reaches the browser
        else:
            route.continue_()

    page.route("**/payments", lose_the_first_answer)
    page.get_by_role("button", name="Record payment").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount").fill("40")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Press Record payment again")
    dialog.get_by_role("button", name="Record payment").click()
    expect(toast(page)).to_contain_text("Payment of $40.00 recorded.")
    assert len(keys) == 2 and keys[0] == keys[1]
    ledger = billing_api.get(f"/patients/{pid}/ledger")["items"]
    assert [e["type"] for e in ledger] == ["invoice", "payment"]
    expect(page.get_by_test_id("balance")).to_have_text("$60.00")


def test_a_changed_payment_gets_a_new_key(console, billing_api):
    pid = billing_api.owing_patient(unique("Second Thoughts"), (20, 10_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    keys = []

    def fail_the_first(route):
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/payments", fail_the_first)
    page.get_by_role("button", name="Record payment").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount").fill("40")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Could not reach the server")
    dialog.get_by_label("Amount").fill("45")
    dialog.get_by_role("button", name="Record payment").click()
    expect(toast(page)).to_contain_text("Payment of $45.00 recorded.")
    assert len(keys) == 2 and keys[0] != keys[1]


def test_an_overpayment_is_refused_next_to_the_amount(console, billing_api):
    pid = billing_api.owing_patient(unique("Overpayer"), (5, 5_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    page.get_by_role("button", name="Record payment").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount").fill("50.01")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog.get_by_text("More than the $50.00 owed.")).to_be_visible()
    expect(dialog.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Amount").fill("12,345.00")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog.get_by_text("Enter an amount like 85.00.").first).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("balance")).to_have_text("$50.00")
    assert [e["type"] for e in billing_api.get(f"/patients/{pid}/ledger")["items"]] == ["invoice"]


def test_paying_everything_closes_the_follow_up_and_hides_the_payment_action(console, billing_api):
    pid = billing_api.owing_patient(unique("Settler"), (70, 9_900))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    page.get_by_role("button", name="Record payment").click()
    console.dialog().get_by_label("Amount").fill("99")
    console.dialog().get_by_role("button", name="Record payment").click()
    expect(toast(page)).to_contain_text("the follow-up is closed")
    expect(page.get_by_test_id("balance")).to_have_text("$0.00")
    expect(page.get_by_role("button", name="Record payment")).to_have_count(0)


def test_text_from_the_api_is_shown_as_text_never_as_markup(console, billing_api):
    name = '<img src=x onerror="window.__owned=1">Mallory'
    pid = billing_api.owing_patient(name, (3, 1_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = console.page
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.evaluate("window.__owned") is None
    assert page.locator("main img").count() == 0


# ----- role- and permission-driven controls --------------------------------------------------------
def test_only_owners_and_admins_get_the_team_page(browser, stack):
    for email, sees_team in ((BILLING, False), (ADMIN, True), (OWNER, True)):
        console, context = new_console(browser, stack)
        try:
            console.sign_in(email)
            nav = console.page.get_by_role("navigation", name="Main")
            expect(nav.get_by_role("link", name="Team")).to_have_count(1 if sees_team else 0)
            console.go("#/team")
            expected = "Team" if sees_team else "Not found"
            expect(console.page.get_by_role("heading", level=1)).to_have_text(expected)
        finally:
            context.close()


def test_an_admin_may_add_staff_but_not_owners(console, stack):
    console.sign_in(ADMIN, hash_="#/team")
    page = console.page
    page.get_by_role("button", name="Add staff member").click()
    dialog = console.dialog()
    options = dialog.get_by_label("Role").locator("option").all_inner_texts()
    assert options == ["Billing staff", "Admin"]
    email = f"new-{uuid.uuid4().hex[:6]}@demo.clinic"
    dialog.get_by_label("Name").fill("Nina New")
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_role("button", name="Add staff member").click()
    expect(page.get_by_role("region", name="Staff")).to_contain_text(email)


def test_the_write_off_control_follows_the_me_permissions(console, billing_api):
    """Billing staff have no write_off permission: whatever routes the server has, no button."""
    pid = billing_api.owing_patient(unique("No Write Off"), (100, 4_000))
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    expect(console.page.get_by_role("button", name="Record payment")).to_be_visible()
    expect(console.page.get_by_role("button", name="Write off")).to_have_count(0)


# ----- formatting and the plan preview, in the browser's own Intl ----------------------------------
def test_money_and_times_follow_the_clinics_currency_and_time_zone(console):
    console.open()
    result = console.page.evaluate("""async () => {
        const { Formatter } = await import('./format.js');
        const kathmandu = new Formatter({ currency: 'EUR', timezone: 'Asia/Kathmandu' }, 'en-US');
        const newYork = new Formatter({ currency: 'USD', timezone: 'America/New_York' }, 'en-US');
        const tokyo = new Formatter({ currency: 'JPY', timezone: 'Asia/Tokyo' }, 'en-US');
        const attempt = (f, text) => { try { return f.parseAmount(text); } catch (e) { return e.message; } };
        return {
            eur: kathmandu.money(123456), usd: newYork.money(5), jpy: tokyo.money(1500),
            ktm: kathmandu.instant('2026-03-08T07:30:00Z'), ny: newYork.instant('2026-03-08T07:30:00Z'),
            nyDate: newYork.localYmd(new Date('2026-03-08T03:30:00Z')), date: newYork.date('2026-02-28'),
            parsed: [attempt(newYork, '85'), attempt(newYork, '85.5'), attempt(newYork, '85,50'),
                     attempt(newYork, '$ 1200.07'), attempt(newYork, '85.555'), attempt(newYork, '0.00'),
                     attempt(newYork, '-5'), attempt(tokyo, '1500'), attempt(tokyo, '15.5')],
        };
    }""")
    assert result["eur"] == "€1,234.56" and result["usd"] == "$0.05" and result["jpy"] == "¥1,500"
    assert result["ktm"] == "Mar 8, 2026, 1:15 PM"  # +05:45
    assert result["ny"] == "Mar 8, 2026, 3:30 AM"  # DST began at 2 AM: already EDT
    assert result["nyDate"] == "2026-03-07" and result["date"] == "Feb 28, 2026"
    assert result["parsed"] == [8_500, 8_550, 8_550, 120_007, "Enter an amount like 85.00.",
                                "The amount must be more than zero.", "Enter an amount like 85.00.",
                                1_500, "Enter an amount like 85."]


def test_a_clinic_billing_in_yen_sees_and_types_whole_yen_not_hundredths(console, yen_owner_api):
    name = unique("Yen Patient")
    pid = yen_owner_api.owing_patient(name, (40, 12_345))
    console.sign_in(YEN_OWNER)
    page = console.page
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("¥12,345")
    console.go(f"#/patients/{pid}")
    expect(page.get_by_test_id("balance")).to_have_text("¥12,345")
    page.get_by_role("button", name="Record payment").click()
    dialog = console.dialog()
    dialog.get_by_label("Amount").fill("2345")
    with page.expect_request(lambda r: r.url.endswith("/payments") and r.method == "POST") as sent:
        dialog.get_by_role("button", name="Record payment").click()
    assert json.loads(sent.value.post_data)["amount_cents"] == 2_345
    expect(page.get_by_test_id("balance")).to_have_text("¥10,000")


def test_the_plan_preview_computes_the_same_schedule_as_the_server(console):
    rng = random.Random(9)
    starts = [date(2027, 1, 31), date(2028, 1, 31), date(2027, 8, 31), date(2027, 3, 30), date(2027, 12, 31),
              date(2028, 2, 29)] + [date(2027, 1, 1) + timedelta(days=rng.randrange(800)) for _ in range(20)]
    cases = []
    for _ in range(300):
        total = rng.choice([rng.randrange(1, 2_000), rng.randrange(1, 10_000_000)])
        installment = rng.randrange(max(1, -(-total // MAX_INSTALLMENTS)), total + 1)
        cases.append([total, installment, rng.choice(["weekly", "monthly"]), rng.choice(starts).isoformat()])
    cases += [[10_000, 3_333, "monthly", "2027-01-31"], [100, 1, "weekly", "2027-05-05"],
              [1, 1, "monthly", "2027-02-28"]]
    console.open()
    computed = console.page.evaluate("""async (cases) => {
        const { buildSchedule } = await import('./schedule.js');
        return cases.map(([t, i, f, s]) => buildSchedule(t, i, f, s));
    }""", cases)
    for (total, installment, frequency, start), got in zip(cases, computed, strict=True):
        want = [{"number": s.number, "due_date": s.due_date.isoformat(), "amount_cents": s.amount_cents}
                for s in build_schedule(total, installment, frequency, date.fromisoformat(start))]
        assert got == want, (total, installment, frequency, start)
    refused = console.page.evaluate("""async (total) => {
        const { buildSchedule } = await import('./schedule.js');
        try { buildSchedule(total, 100, 'monthly', '2027-01-01'); return 'built'; } catch (e) { return e.message; }
    }""", (MAX_INSTALLMENTS + 1) * 100)
    assert refused == f"That makes {MAX_INSTALLMENTS + 1} installments; a plan has at most {MAX_INSTALLMENTS}."


# ----- quality: phone width, keyboard, labels ---------------------------------------------------------
def test_the_patient_panel_fits_a_phone_screen(phone, billing_api):
    pid = billing_api.owing_patient(unique("Phone Patient"), (50, 20_000), (5, 1_500))
    phone.sign_in(BILLING, hash_=f"#/patients/{pid}")
    page = phone.page
    expect(page.get_by_test_id("balance")).to_have_text("$215.00")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Record payment").click()
    box = phone.dialog().bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


LABEL_CHECK = """() => {
    const unnamed = [];
    for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
        if (el.type === 'hidden' || el.closest('[hidden]')) continue;
        const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
            || el.getAttribute('aria-labelledby') || el.textContent.trim();
        if (!named) unnamed.push(el.outerHTML.slice(0, 80));
    }
    return unnamed;
}"""


def test_every_control_has_a_name_and_the_sign_in_works_from_the_keyboard(console, billing_api):
    pid = billing_api.owing_patient(unique("Keyboard Patient"), (15, 7_000))
    console.open(f"#/patients/{pid}")
    page = console.page
    assert page.evaluate(LABEL_CHECK) == []
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(BILLING)
    page.keyboard.press("Tab")
    page.keyboard.type("Demo-Password-2026")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("balance")).to_have_text("$70.00")
    assert page.evaluate(LABEL_CHECK) == []
    # Reach "Record payment" with Tab, open it with Enter, type, submit with Enter.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Record payment":
            break
    page.keyboard.press("Enter")
    expect(console.dialog().get_by_label("Amount")).to_be_focused()
    assert page.evaluate(LABEL_CHECK) == []
    page.keyboard.press("Escape")
    expect(console.dialog()).to_have_count(0)
    expect(page.get_by_role("button", name="Record payment")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type("20")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("balance")).to_have_text("$50.00")


def test_the_console_files_are_served_with_their_types_and_a_strict_policy(console, stack):
    response = console.page.request.get(stack["console_url"])
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and stack["aws_endpoint_url"] in policy
    assert re.search(r"default-src 'self'", policy)
    config = console.page.request.get(stack["console_url"] + "config.json").json()
    assert config == {"api_url": stack["api_url"], "cognito_endpoint": stack["aws_endpoint_url"] + "/",
                      "region": stack["region"], "user_pool_id": stack["user_pool_id"],
                      "user_pool_client_id": stack["user_pool_client_id"],
                      "password_policy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                          "RequireNumbers": True, "RequireSymbols": False},  # the local pool's
                      "session_check_seconds": 2.0}  # conftest.py: FOLLOWUPS_CONSOLE_CHECK_SECONDS
    preflight = console.page.request.fetch(stack["aws_endpoint_url"] + "/", method="OPTIONS", headers={
        "Origin": stack["api_url"], "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target"})
    assert preflight.headers["access-control-allow-origin"] in (stack["api_url"], "*")
    assert "x-amz-target" in preflight.headers["access-control-allow-headers"].lower()


def test_the_aging_chart_scales_its_bars_to_the_largest_bucket_and_csv_cells_are_safe(console):
    console.open()
    result = console.page.evaluate("""async () => {
        const { agingChart, toCsv } = await import('./reports.js');
        const { Formatter } = await import('./format.js');
        const fmt = new Formatter({ currency: 'USD', timezone: 'UTC' }, 'en-US');
        const chart = agingChart([
            { bucket: '0-30', invoices: 2, patients: 2, balance_cents: 10000 },
            { bucket: '31-60', invoices: 1, patients: 1, balance_cents: 5000 },
            { bucket: '61-90', invoices: 0, patients: 0, balance_cents: 0 },
            { bucket: '90+', invoices: 3, patients: 2, balance_cents: 20000 }], fmt);
        return {
            heights: [...chart.querySelectorAll('rect.bar')].map((r) => Number(r.getAttribute('height'))),
            values: [...chart.querySelectorAll('text.value')].map((t) => t.textContent),
            label: chart.getAttribute('aria-label'),
            csv: toCsv([['name', 'note'], ['=HYPERLINK("x")', 'a,b'], ['-5', 'say "hi"']]),
        };
    }""")
    assert result["heights"] == [104, 52, 0, 208]
    assert result["values"] == ["$100.00", "$50.00", "$0.00", "$200.00"]
    assert result["label"] == ("Balance by aging bucket. 0-30 days: $100.00; 31-60 days: $50.00; "
                               "61-90 days: $0.00; 90+ days: $200.00")
    assert result["csv"] == 'name,note\r\n"\'=HYPERLINK(""x"")","a,b"\r\n-5,"say ""hi"""\r\n'
