"""Reading the audit trail: newest first, filtered by patient and action, paged by Query."""

from __future__ import annotations

import ast
import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.api.wiring import api_routes
from chalicelib.domain import clock
from chalicelib.domain.audit import AuditEntry
from chalicelib.store import audit as audit_store
from chalicelib.store import keys
from chalicelib.store.models import AuditRecord
from chalicelib.store.uow import StaleWrite, UnitOfWork
from tests.support import make_clinic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def busy(http):
    """A clinic with two patients and a trail of invoices, payments and a write-off."""
    world = make_clinic(http)
    today = clock.local_date(datetime.now(UTC), world.timezone).isoformat()
    world.ann, world.bob = world.patient("Ann"), world.patient("Bob")
    for n in range(3):
        world.invoice(world.ann, 1_000 + n, today)
        world.invoice(world.bob, 2_000 + n, today)
        assert world.pay(world.ann, 100).status == 201
    assert world.owner.post(f"/follow-ups/{world.bob}/write-off", {"reason": "audit test"}).status == 200
    return world


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


def test_patient_and_action_together_read_on_until_the_page_is_full(busy, monkeypatch):
    """With a tiny DynamoDB page, most pages hold no match: the service keeps reading."""
    monkeypatch.setattr(audit_store, "FILTERED_PAGE", 1)
    r = busy.owner.get(f"/audit?patient_id={busy.ann}&action=invoice.created&limit=2")
    assert [i["action"] for i in r.body["items"]] == ["invoice.created"] * 2
    assert r.body["next_cursor"] is not None
    rest = busy.owner.get(f"/audit?patient_id={busy.ann}&action=invoice.created&limit=2"
                          f"&cursor={r.body['next_cursor']}").body
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


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


def test_an_audit_record_cannot_be_written_over(busy):
    existing = next(iter(AuditRecord.query(keys.clinic_pk(busy.clinic_id), limit=1)))
    uow = UnitOfWork()
    # The one way the code writes an entry, with the id and instant of one that exists.
    uow.audit.add(busy.clinic_id, AuditEntry(existing.audit_id, clock.parse_iso_z(existing.at), "mallory",
                                             existing.action))
    with pytest.raises(StaleWrite):
        uow.commit()
    assert AuditRecord.get(existing.pk, existing.sk).actor == existing.actor


def test_the_code_only_ever_creates_and_queries_audit_records():
    """Audit records are built in store/audit.py (AuditRepository.add, created with
    attribute_not_exists) and read there with Query; no other module touches the model, and
    nothing calls save/update/delete/batch_write on it."""
    users = {}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "AuditRecord"}
        if names:
            users[path.relative_to(ROOT).as_posix()] = tree
    assert set(users) == {"chalicelib/store/models.py", "chalicelib/store/audit.py"}
    for path, tree in users.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"delete", "update", "batch_write", "delete_table",
                                                                  "update_item", "delete_item"}:
                raise AssertionError(f"{path} calls .{node.attr}")
    store_source = (ROOT / "chalicelib/store/audit.py").read_text()
    assert 'self._tx.create(record, label="audit")' in store_source
    assert ".save(" not in store_source
