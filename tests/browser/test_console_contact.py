"""Contact rules in the console (issue 19), in a real browser: each worklist row says whether the
patient may be called now, "Callable now" keeps only those, and a callback at 22:00 is refused
until the clerk gives a reason."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BILLING

pytestmark = pytest.mark.browser


def test_badges_the_callable_now_filter_and_a_blocked_callbacks_override(console, billing_api):
    name = f"Night Owl {uuid.uuid4().hex[:6]}"
    pid = billing_api.owing_patient(name, (20, 3_000))
    console.sign_in(BILLING)
    page = console.page
    badges = page.get_by_test_id("contact-badge")
    expect(badges.first).to_be_visible()
    for text in badges.all_inner_texts():
        assert text == "Call now" or re.match(r"Blocked: .+, (next .+|no call until they change it)$", text), text

    with page.expect_response(lambda r: "contactable=true" in r.url and "limit=25" in r.url):
        page.get_by_test_id("callable-now").check()
    expect(page).to_have_url(re.compile(r"contactable=true"))
    expect(page.locator("section.results")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("table.worklist, .empty").first).to_be_visible()
    for text in page.get_by_test_id("contact-badge").all_inner_texts():
        assert text == "Call now"

    console.go(f"#/patients/{pid}")
    page.get_by_role("button", name="Schedule callback").click()
    dialog = console.dialog()
    day = billing_api.today() + timedelta(days=2)
    dialog.get_by_label("Due").fill(f"{day.isoformat()}T22:00")  # after 21:00 in the clinic's (and patient's) zone
    dialog.get_by_role("button", name="Schedule callback").click()
    expect(dialog.get_by_role("alert").first).to_be_visible()
    expect(dialog).to_contain_text("The first allowed time is")
    reason = dialog.get_by_test_id("override-reason")
    expect(reason).to_be_visible()
    reason.fill("Works nights; asked for a late call")
    with page.expect_request(lambda r: r.url.endswith("/callbacks") and r.method == "POST") as sent:
        dialog.get_by_role("button", name="Schedule callback").click()
    assert sent.value.post_data_json == {"due_at": f"{day.isoformat()}T22:00",
                                         "override_reason": "Works nights; asked for a late call"}
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("region", name="Callbacks")).to_contain_text("10:00 PM")


def test_the_badge_says_the_patients_own_time_and_the_next_allowed_call_in_words(console):
    console.open()
    said = console.page.evaluate("""async () => {
        const { contactText, attemptWarning } = await import('./contact.js');
        const now = new Date('2026-06-10T12:40:00Z');  // 21:40 in Tokyo, 08:40 in New York
        const night = { call_now: false, blocked_by: ['outside_call_hours'], next_call_at: '2026-06-10T23:00:00Z',
                        timezone: 'Asia/Tokyo' };
        return {
          now: contactText({ call_now: true, blocked_by: [], next_call_at: now.toISOString(),
                             timezone: 'Asia/Tokyo' }, now),
          night: contactText(night, now),
          cap: contactText({ call_now: false, blocked_by: ['call_cap'], next_call_at: '2026-06-15T12:00:00Z',
                             timezone: 'America/New_York' }, now),
          refused: contactText({ call_now: false, blocked_by: ['do_not_contact'], next_call_at: null,
                                 timezone: 'America/New_York' }, now),
          phone: attemptWarning(night, 'phone'),
          sms: attemptWarning(night, 'sms'),
        };
    }""")
    assert said["now"] == "Call now"
    assert said["night"] == "Blocked: 21:40 for the patient, next 08:00"
    assert said["cap"] == "Blocked: call limit for the week reached, next Mon 15 Jun 08:00"
    assert said["refused"] == "Blocked: asked not to be called, no call until they change it"
    assert said["phone"].startswith("This call breaks a contact rule (outside call hours)")
    assert said["sms"] == ""
