"""Reading the audit trail: newest first, filtered by patient and action, paged (on the memory store;
DynamoDB's own pages under a filter, and the audit item that cannot be written over, are
tests/api/test_audit.py)."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.api.wiring import api_routes
from tests.audit_support import busy_trail
from tests.fast.support import make_clinic


@pytest.fixture(scope="module")
def busy(http):
    """A clinic with two patients and a trail of invoices, payments and a write-off."""
    return busy_trail(make_clinic(http))


def walk(api, query: str, limit: int) -> tuple[list[dict], int]:
    """Every item of a list, page by page; and how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        sep = "&" if query else ""
        url = f"/audit?{query}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(url)
        assert r.status == 200, r
        assert len(r.body["items"]) <= limit
        items += r.body["items"]
        pages += 1
        cursor = r.body["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(r.body["items"]) == limit  # only a full page has a next one


def test_the_trail_is_newest_first_and_every_page_follows_the_last(busy):
    everything = busy.owner.get("/audit?limit=100").body
    assert everything["next_cursor"] is None
    items = everything["items"]
    # clinic.created, 4 x (staff.pending, staff.created), 2 patients, 6 invoices, 3 payments, 1 write-off
    assert len(items) == 21
    at = [i["at"] for i in items]
    assert at == sorted(at, reverse=True)
    assert items[0]["action"] == "writeoff.recorded"
    # make_clinic creates the clinic and its staff at one instant: equal times order by audit id.
    assert sorted(i["action"] for i in items[-9:]) == ["clinic.created"] + ["staff.created"] * 4 + [
        "staff.pending"] * 4
    paged, pages = walk(busy.owner, "", 4)
    assert paged == items and pages == 6
    assert busy.admin.get("/audit").body["items"] == items[:25]  # default limit 25


def test_an_item_says_who_did_what_when_to_which_patient(busy):
    item = busy.owner.get(f"/audit?action=writeoff.recorded&patient_id={busy.bob}").body["items"][0]
    assert set(item) == {"audit_id", "at", "actor", "action", "patient_id", "details"}
    assert (item["actor"], item["patient_id"]) == (busy.sub("owner"), busy.bob)
    assert item["details"]["amount_cents"] == 2_000 + 2_001 + 2_002
    assert item["at"].endswith("Z") and len(item["at"]) == 20


def test_filters_by_patient_by_action_and_both(busy):
    ann, _ = walk(busy.owner, f"patient_id={busy.ann}", 2)
    assert {i["patient_id"] for i in ann} == {busy.ann}
    assert [i["action"] for i in ann] == ["payment.recorded", "invoice.created"] * 3 + ["patient.created"]
    invoices, _ = walk(busy.owner, "action=invoice.created", 4)
    assert len(invoices) == 6 and {i["action"] for i in invoices} == {"invoice.created"}
    both, _ = walk(busy.owner, f"patient_id={busy.ann}&action=payment.recorded", 2)
    assert [i["audit_id"] for i in both] == [i["audit_id"] for i in ann if i["action"] == "payment.recorded"]


def test_an_unknown_patient_or_action_is_an_empty_list(busy):
    for query in ("patient_id=pat_0000000000000000", "action=nothing.happened"):
        r = busy.owner.get(f"/audit?{query}")
        assert r.status == 200 and r.body == {"items": [], "next_cursor": None}, query


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=abc", "limit=1.5", "patient_id=Ann", "patient_id=inv_abc_def",
    "action=DROP%20TABLE", "action=writeoff", "cursor=garbage", "cursor=" + "A" * 401, "colour=red",
])
def test_a_bad_query_is_400(busy, query):
    r = busy.owner.get(f"/audit?{query}")
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", (query, r)


def test_a_cursor_only_works_for_the_list_it_came_from(busy):
    cursor = busy.owner.get("/audit?limit=2").body["next_cursor"]
    r = busy.owner.get(f"/audit?limit=2&action=invoice.created&cursor={cursor}")
    assert r.status == 400 and "cursor" in r.body["error"]["fields"]
    doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    at, audit_id = doc["p"]
    for tampered in ({**doc, "p": ["C#cln_x", audit_id]}, {**doc, "p": [at, "C#cln_x"]}, {**doc, "k": "audit:v2"},
                     {**doc, "p": 5}, {**doc, "p": [at, 5]}, {**doc, "p": [at, audit_id, "C#cln_x"]}, [doc]):
        forged = base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip("=")
        assert busy.owner.get(f"/audit?limit=2&cursor={forged}").status == 400, tampered


def test_another_clinics_cursor_shows_nothing_of_ours(http):
    other = make_clinic(http, name="Nosy Clinic")
    mine = make_clinic(http, name="Careful Clinic")  # newer than everything of the other clinic
    mine.patient("Cara")
    cursor = mine.owner.get("/audit?limit=1").body["next_cursor"]
    theirs = other.owner.get(f"/audit?limit=100&cursor={cursor}").body["items"]
    ours = {i["audit_id"] for i in mine.owner.get("/audit?limit=100").body["items"]}
    assert theirs and not {i["audit_id"] for i in theirs} & ours


def test_no_route_changes_or_deletes_audit_records(busy):
    audit_routes = [(spec.method, spec.path) for spec in api_routes() if "audit" in spec.path]
    assert audit_routes == [("GET", "/audit")]
    before = busy.owner.get("/audit?limit=100").body["items"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/audit", f"/audit/{before[0]['audit_id']}"):
            r = busy.owner.request(method, path, {})
            assert r.status >= 400, (method, path, r)
    assert busy.owner.get("/audit?limit=100").body["items"] == before


