"""What DynamoDB decides for integrations: the key found by its hash, the per-minute counter's
conditional update, `last_used_at` written once a minute, external ids under concurrent senders,
and a search page's cost (one Query reading at most limit + 1 items, one BatchGetItem).

The behaviour (scopes, statuses, what each route answers) is tests/fast/test_integration_keys.py,
test_external_ids.py, test_patient_search.py and test_patient_edits.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import ExternalIdInUse
from chalicelib.domain.roles import Caller
from chalicelib.services import invoices, patients
from chalicelib.store import keys
from chalicelib.store.models import IntegrationRecord, Record
from chalicelib.store.uow import UnitOfWork
from tests.integrations_support import PMS_SCOPES, forget_keys, issue_key
from tests.support import dynamodb_calls


def owner_of(world) -> Caller:
    return Caller(world.sub("owner"), world.clinic_id, frozenset({"Owner"}))


def test_a_keyed_request_costs_one_getitem_for_the_key_and_one_update_for_the_counter(http, clinic):
    reader, made = issue_key(clinic, ["patients:read"])
    forget_keys()
    reader.get("/patients?q=warmup")  # reads the key, counts, writes last_used_at
    with dynamodb_calls() as calls:
        assert reader.get("/patients?q=nobody").status == 200
    # cached key: no GetItem for it; the counter; the search Query (no patient found: no BatchGet)
    assert calls.ops() == ["UpdateItem", "Query"]
    stored = IntegrationRecord.get(keys.clinic_pk(clinic.clinic_id), keys.integration_sk(made["integration_id"]))
    assert stored.last_used_at is not None


def test_last_used_at_is_written_at_most_once_a_minute_even_by_many_processes(http, clinic):
    _, made = issue_key(clinic, ["patients:read"])
    uow = UnitOfWork()
    now = datetime.now(UTC)
    minute = timedelta(seconds=60)
    assert uow.integrations.touch(clinic.clinic_id, made["integration_id"], now, minute)
    assert not uow.integrations.touch(clinic.clinic_id, made["integration_id"], now + minute / 2, minute)
    assert uow.integrations.touch(clinic.clinic_id, made["integration_id"], now + minute * 2, minute)


def test_the_counter_refuses_the_request_past_the_limit_and_a_new_minute_starts_afresh(http, clinic):
    uow = UnitOfWork()
    minute = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    counted = [uow.integrations.count_request(clinic.clinic_id, "int_x", minute, 2) for _ in range(3)]
    assert counted == [True, True, False]
    assert uow.integrations.count_request(clinic.clinic_id, "int_x", minute.replace(minute=16), 2)


def test_a_revoked_key_gets_401_from_the_store_once_the_cache_is_gone(http, clinic):
    reader, made = issue_key(clinic, ["patients:read"])
    assert reader.get("/patients?q=ok").status == 200
    assert clinic.owner.delete(f"/integrations/{made['integration_id']}").status == 204
    forget_keys()
    assert reader.get("/patients?q=ok").status == 401


def test_a_key_of_another_clinic_finds_nothing_of_this_clinic(http, clinic, other_clinic):
    pid = clinic.patient("Tenant Patient", external_id="mrn-tenant")
    theirs, _ = issue_key(other_clinic, ["patients:read", "followups:read"])
    assert theirs.get(f"/patients/{pid}").status == 404
    assert theirs.get(f"/follow-ups/{pid}").status == 404
    assert theirs.get("/patients/by-external-id/mrn-tenant").status == 404
    assert theirs.get("/patients?q=tenant").body["items"] == []


def race(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work()
        except Exception as e:  # noqa: BLE001 - the outcome is what is compared
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_senders_putting_the_same_invoice_at_once_make_exactly_one_invoice(http, clinic):
    pid = clinic.patient("Raced Invoice")
    owner = owner_of(clinic)
    day = clinic.today()

    def put():
        return invoices.put_by_external_id(UnitOfWork(), owner, datetime.now(UTC), "race-inv-1", patient_id=pid,
                                           patient_external_id=None, amount_cents=4_200, invoice_date=day)

    results = race(2, put)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False, True]
    assert len({invoice.invoice_id for invoice, _ in results}) == 1
    assert len(clinic.billing.get(f"/follow-ups/{pid}").body["invoices"]) == 1


def test_two_senders_creating_patients_with_one_external_id_leave_one_patient(http, clinic):
    owner = owner_of(clinic)

    def create():
        return patients.create(UnitOfWork(), owner, datetime.now(UTC), name="Raced Patient", external_id="race-mrn")

    results = race(2, create)
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1 and isinstance(next(r for r in results if isinstance(r, Exception)), ExternalIdInUse)
    assert clinic.billing.get("/patients/by-external-id/race-mrn").body["patient_id"] == made[0].patient_id
    assert [p["patient_id"] for p in clinic.billing.get("/patients?q=raced").body["items"]] == [made[0].patient_id]


def test_two_senders_putting_one_patient_make_one_patient(http, clinic):
    owner = owner_of(clinic)

    def put():
        return patients.put_by_external_id(UnitOfWork(), owner, datetime.now(UTC), "race-put-mrn", name="Put Race")

    results = race(3, put)
    assert all(isinstance(r, tuple) for r in results), results
    assert len({p.patient_id for p, _ in results}) == 1 and sum(created for _, created in results) == 1


@pytest.fixture(scope="module")
def namesakes(aws, http):
    from tests.support import make_clinic

    world = make_clinic(http)
    owner = owner_of(world)
    uow = UnitOfWork()
    now = datetime.now(UTC)
    for n in range(40):
        patients.create(uow, owner, now, name=f"Namesake Person{n:02d}", phone=f"+1 555 01{n:02d}")
    return world


def test_a_search_page_is_one_query_reading_at_most_limit_plus_one_items_and_one_batch_get(namesakes):
    first = namesakes.billing.get("/patients?q=namesake&limit=10").body
    with dynamodb_calls() as calls:
        page = namesakes.billing.get(f"/patients?q=namesake&limit=10&cursor={first['next_cursor']}").body
    # the caller's staff record (with the clinic), the page's Query, the page's patients
    assert calls.ops() == ["BatchGetItem", "Query", "BatchGetItem"]
    assert calls.scanned() == 11
    assert [p["name"] for p in page["items"]] == [f"Namesake Person{n:02d}" for n in range(10, 20)]


def test_renaming_a_long_named_patient_moves_its_search_items_in_one_transaction(http, clinic):
    pid = clinic.patient("Maximiliana Bartholomea Constantinopla Wolfeschlegelstein", phone="+1 555 0142",
                         email="long@example.test", external_id="mrn-long")
    with dynamodb_calls() as calls:
        r = clinic.billing.patch(f"/patients/{pid}", {"name": "Evangelista Ferdinanda Guadalupina Hohenzollern",
                                                      "external_id": "mrn-longer"})
    assert r.status == 200, r
    assert calls.ops().count("TransactWriteItems") == 1
    assert clinic.billing.get("/patients?q=hohenz").body["items"][0]["patient_id"] == pid
    assert clinic.billing.get("/patients?q=wolfes").body["items"] == []
    old_terms = list(Record.query(keys.search_pk(clinic.clinic_id, "n", "maximilian")))
    assert old_terms == []


def test_a_pms_key_onboards_and_syncs_through_dynamodb(http, clinic):
    pms, _ = issue_key(clinic, PMS_SCOPES)
    p = pms.put("/patients/by-external-id/pms-1", {"name": "Synced Patient"})
    assert p.status == 201
    i = pms.put("/invoices/by-external-id/pms-inv-1", {"patient_external_id": "pms-1", "amount_cents": 1_000,
                                                      "invoice_date": clinic.days_ago(30)})
    assert i.status == 201 and pms.put("/invoices/by-external-id/pms-inv-1", {
        "patient_external_id": "pms-1", "amount_cents": 1_000, "invoice_date": clinic.days_ago(30)}).status == 200
    assert pms.get("/follow-ups").status == 403
