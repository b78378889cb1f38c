"""The audit trail in DynamoDB: a filter by patient and action reads on through DynamoDB's pages
until a page is full, an audit item cannot be written over, and the code only ever creates and
queries audit items.

In the moto tier because DynamoDB's own paging (the store's `FILTERED_PAGE`), the create
condition on the stored item and the PynamoDB model's use are the point; reading, filtering and
paging the trail through the route is tests/fast/test_audit.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib.domain import clock
from chalicelib.domain.audit import AuditEntry
from chalicelib.store import audit as audit_store
from chalicelib.store import keys
from chalicelib.store.models import AuditRecord
from chalicelib.store.uow import StaleWrite, UnitOfWork
from tests.audit_support import busy_trail
from tests.support import make_clinic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def busy(http):
    """A clinic with two patients and a trail of invoices, payments and a write-off."""
    return busy_trail(make_clinic(http))


def test_patient_and_action_together_read_on_until_the_page_is_full(busy, monkeypatch):
    """With a tiny DynamoDB page, most pages hold no match: the service keeps reading."""
    monkeypatch.setattr(audit_store, "FILTERED_PAGE", 1)
    r = busy.owner.get(f"/audit?patient_id={busy.ann}&action=invoice.created&limit=2")
    assert [i["action"] for i in r.body["items"]] == ["invoice.created"] * 2
    assert r.body["next_cursor"] is not None
    rest = busy.owner.get(f"/audit?patient_id={busy.ann}&action=invoice.created&limit=2"
                          f"&cursor={r.body['next_cursor']}").body
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


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
