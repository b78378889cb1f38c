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
