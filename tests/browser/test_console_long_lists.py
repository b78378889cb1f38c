"""The patient panel's long lists in a real browser: the detail shows the 50 newest invoices, contact
attempts and callbacks, and "Show more" under each brings the rest from the paginated routes, in
place, with a failure shown where the rows would have come.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BILLING

pytestmark = pytest.mark.browser

MANY = 60  # more than the detail's 50


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def often_called(billing_api) -> str:
    """A patient with 60 contact attempts, noted "Call 1" (the oldest) to "Call 60"."""
    pid = billing_api.owing_patient(unique("Often Called"), (30, 5_000))
    for n in range(1, MANY + 1):
        billing_api.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer",
                                                        "notes": f"Call {n}"}, expect=201)
    return pid


@pytest.fixture(scope="module")
def often_invoiced(billing_api) -> str:
    """A patient with 60 invoices, one a day: the newest yesterday ($1.01), the oldest 60 days ago ($1.60)."""
    return billing_api.owing_patient(unique("Often Invoiced"), *[(n, 100 + n) for n in range(1, MANY + 1)])


@pytest.fixture(scope="module")
def often_called_back(billing_api) -> str:
    """A patient with 60 callbacks scheduled one after another, noted "Callback 1" to "Callback 60"."""
    pid = billing_api.owing_patient(unique("Often Called Back"), (30, 5_000))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    for n in range(1, MANY + 1):
        due = start - timedelta(minutes=n)  # due soonest for the newest: the table's order is not the due order
        billing_api.post(f"/follow-ups/{pid}/callbacks", {"due_at": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                          "notes": f"Callback {n}",
                                                          # two days on, at the hour CI runs: maybe after hours
                                                          "override_reason": "Asked for this time"}, expect=201)
    return pid


def body_rows(region):
    return region.locator("tbody tr")


def test_a_patient_with_sixty_attempts_shows_fifty_and_show_more_brings_the_other_ten(console, often_called):
    console.sign_in(BILLING, hash_=f"#/patients/{often_called}")
    page = console.page
    history = page.get_by_role("region", name="Contact history")
    rows = body_rows(history)
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Call 60")
    expect(rows.last).to_contain_text("Call 11")
    with page.expect_request(lambda r: "/attempts?" in r.url) as sent:
        history.get_by_role("button", name="Show more").click()
    query = parse_qs(urlsplit(sent.value.url).query)
    assert query["limit"] == ["50"] and query["cursor"]
    expect(rows).to_have_count(MANY)
    expect(rows.nth(50)).to_contain_text("Call 10")
    expect(rows.last).to_contain_text("Call 1")
    # Nothing more: the button goes, and focus goes to the first row it brought.
    expect(history.get_by_role("button", name="Show more")).to_have_count(0)
    expect(rows.nth(50)).to_be_focused()


def test_a_patient_with_sixty_invoices_shows_the_fifty_newest_and_show_more_brings_the_oldest(
        console, billing_api, often_invoiced):
    console.sign_in(BILLING, hash_=f"#/patients/{often_invoiced}")
    page = console.page
    invoices = page.get_by_role("region", name="Invoices")
    rows = body_rows(invoices)
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("$1.01")
    invoices.get_by_role("button", name="Show more invoices").click()
    expect(rows).to_have_count(MANY)
    oldest = billing_api.today() - timedelta(days=MANY)
    expect(rows.last).to_contain_text(f"{oldest:%b} {oldest.day}, {oldest.year}")
    expect(rows.last).to_contain_text("$1.60")
    expect(invoices.get_by_role("button", name="Show more")).to_have_count(0)
    # The invoices brought in are the panel's too: a payment can be applied to the oldest.
    page.get_by_role("button", name="Record payment").click()
    apply_to = console.dialog().get_by_label("Apply to")
    expect(apply_to).to_contain_text(f"Invoice of {oldest:%b} {oldest.day}, {oldest.year}")


def test_callbacks_read_newest_first_with_when_each_was_scheduled_and_show_more_brings_the_rest(
        console, often_called_back):
    console.sign_in(BILLING, hash_=f"#/patients/{often_called_back}")
    page = console.page
    callbacks = page.get_by_role("region", name="Callbacks")
    expect(callbacks.get_by_role("heading", level=2)).to_have_text("Callbacks · newest first")
    expect(callbacks.get_by_role("columnheader").first).to_have_text("Scheduled")
    rows = body_rows(callbacks)
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Callback 60")
    callbacks.get_by_role("button", name="Show more callbacks").click()
    expect(rows).to_have_count(MANY)
    expect(rows.last).to_contain_text("Callback 1")
    # The rows brought in keep their actions.
    expect(rows.last.get_by_role("button", name="Done")).to_be_visible()


def test_a_page_that_fails_to_load_says_so_in_place_and_show_more_can_be_pressed_again(console, often_called):
    console.sign_in(BILLING, hash_=f"#/patients/{often_called}")
    page = console.page
    history = page.get_by_role("region", name="Contact history")
    rows = body_rows(history)
    expect(rows).to_have_count(50)
    page.route("**/patients/*/attempts?*", lambda route: route.fulfill(
        status=500, content_type="application/json", headers={"Access-Control-Allow-Origin": "*"},
        body='{"error": {"code": "internal", "message": "The server had a problem."}}'))
    history.get_by_role("button", name="Show more").click()
    expect(history.get_by_role("alert")).to_contain_text("The server had a problem.")
    expect(rows).to_have_count(50)
    page.unroute("**/patients/*/attempts?*")
    history.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(MANY)
    expect(history.get_by_role("alert")).to_have_count(0)


def test_on_a_server_without_the_detail_the_account_history_pages_with_show_more(console, billing_api):
    pid = billing_api.owing_patient(unique("Ledger Reader"), (4, 104), (3, 103), (2, 102), (1, 101))
    page = console.page

    def without_the_detail(route):  # the console then builds the panel from the patient and the ledger
        response = route.fetch()
        doc = response.json()
        doc["paths"]["/follow-ups/{patient_id}"].pop("get")
        route.fulfill(response=response, json=doc)

    def a_short_first_page(route):  # the first page of two of the four entries, as the server pages it
        url = route.request.url
        route.continue_(url=url if "cursor=" in url else f"{url}{'&' if '?' in url else '?'}limit=2")

    page.route("**/openapi.json", without_the_detail)
    page.route("**/patients/*/ledger*", a_short_first_page)
    console.sign_in(BILLING, hash_=f"#/patients/{pid}")
    history = page.get_by_role("region", name="Account history")
    rows = body_rows(history)
    expect(rows).to_have_count(2)
    with page.expect_request(lambda r: "/ledger?" in r.url and "cursor=" in r.url) as sent:
        history.get_by_role("button", name="Show more ledger entries").click()
    assert parse_qs(urlsplit(sent.value.url).query)["limit"] == ["50"]
    expect(rows).to_have_count(4)
    expect(rows.last).to_contain_text("$4.10")  # the balance after the last of the four, oldest first
    expect(history.get_by_role("button", name="Show more")).to_have_count(0)
