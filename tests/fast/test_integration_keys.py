"""Integration keys: made by an Owner and shown once, scoped per route, acting as
`integration:<id>`, confined to their clinic, revoked within a minute, and rate limited."""

from __future__ import annotations

import pytest

from chalicelib.api import integration_auth
from chalicelib.domain import integrations as keys
from tests.fast.support import audit_entries, make_clinic
from tests.integrations_support import ALL_SCOPES, PMS_SCOPES, forget_keys, issue_key
from tests.support import Api


def test_an_owner_makes_a_key_that_is_shown_once_and_listed_by_its_hint(http, clinic):
    _, made = issue_key(clinic, ["patients:read", "followups:read"])
    assert made["key"].startswith("fu_live_") and len(made["key"]) >= len("fu_live_") + 43
    assert made["created_by"] == clinic.sub("owner") and made["scopes"] == ["patients:read", "followups:read"]
    listed = clinic.admin.get("/integrations").body["items"]
    mine = next(i for i in listed if i["integration_id"] == made["integration_id"])
    assert "key" not in mine and mine["key_hint"] == made["key"][-4:] and mine["last_used_at"] is None
    assert made["key"] not in str(listed)


def test_only_an_owner_makes_or_revokes_keys_and_billing_staff_cannot_list_them(http, clinic):
    body = {"name": "x", "scopes": ["patients:read"]}
    assert clinic.admin.post("/integrations", body).status == 403
    assert clinic.billing.get("/integrations").status == 403
    _, made = issue_key(clinic, ["patients:read"])
    assert clinic.admin.delete(f"/integrations/{made['integration_id']}").status == 403


def test_a_key_needs_at_least_one_known_scope(http, clinic):
    assert clinic.owner.post("/integrations", {"name": "x", "scopes": []}).status == 400
    assert clinic.owner.post("/integrations", {"name": "x", "scopes": ["worklist:read"]}).status == 400


def test_the_store_keeps_only_the_hash_of_a_key(http, clinic, store):
    _, made = issue_key(clinic, ["patients:read"])
    stored = store.integrations[(clinic.clinic_id, made["integration_id"])]
    assert stored.key_sha256 == keys.key_sha256(made["key"]) and made["key"] not in repr(stored)


def test_a_practice_system_key_writes_patients_invoices_and_payments_but_cannot_read_the_worklist(http, clinic):
    pms, made = issue_key(clinic, PMS_SCOPES)
    r = pms.post("/patients", {"name": "Keyed Patient"})
    assert r.status == 201, r
    pid = r.body["patient_id"]
    assert pms.post("/invoices", {"patient_id": pid, "amount_cents": 5_000,
                                  "invoice_date": clinic.days_ago(3)}).status == 201
    paid = pms.post("/payments", {"patient_id": pid, "amount_cents": 1_000, "method": "card"},
                    headers={"Idempotency-Key": "sync-1"})
    assert paid.status == 201, paid
    for path in ("/follow-ups", f"/follow-ups/{pid}", f"/patients/{pid}", "/reports/aging", "/audit", "/me",
                 "/clinic", "/tasks", "/staff", "/integrations"):
        r = pms.get(path)
        assert r.status == 403 and r.body["error"]["code"] == "forbidden", (path, r)
    assert pms.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer"}).status == 403
    assert pms.post(f"/follow-ups/{pid}/write-off", {"reason": "not for keys"}).status == 403


def test_a_key_acts_as_integration_id_in_the_audit_trail_and_in_created_by(http, clinic):
    pms, made = issue_key(clinic, PMS_SCOPES)
    actor = f"integration:{made['integration_id']}"
    pid = pms.post("/patients", {"name": "Audited Patient"}).body["patient_id"]
    pms.post("/invoices", {"patient_id": pid, "amount_cents": 900, "invoice_date": clinic.days_ago(1)})
    paid = pms.post("/payments", {"patient_id": pid, "amount_cents": 900, "method": "cash"},
                    headers={"Idempotency-Key": "k-audit"})
    assert paid.status == 201
    actions = {e.action: e.actor for e in audit_entries(clinic.clinic_id, patient_id=pid)}
    assert actions == {"patient.created": actor, "invoice.created": actor, "payment.recorded": actor}


@pytest.mark.parametrize("header", ["fu_live_short", "fu_live_" + "A" * 43, "Bearer fu_live_" + "b" * 60])
def test_a_malformed_or_unknown_key_is_401(http, clinic, header):
    r = Api(http, None).get("/patients?q=ann", headers={"Authorization": header})
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"


def test_a_revoked_key_is_refused_once_the_process_cache_has_aged(http, clinic, monkeypatch):
    reader, made = issue_key(clinic, ["patients:read"])
    assert reader.get("/patients?q=anyone").status == 200
    assert clinic.owner.delete(f"/integrations/{made['integration_id']}").status == 204
    later = integration_auth.clock() + integration_auth.CACHE_SECONDS + 1
    monkeypatch.setattr(integration_auth, "clock", lambda: later)
    r = reader.get("/patients?q=anyone")
    assert r.status == 401, r
    assert made["integration_id"] not in str(clinic.owner.get("/integrations").body)
    assert clinic.owner.delete(f"/integrations/{made['integration_id']}").status == 404


def test_the_cache_never_keeps_a_revoked_key_working_for_a_minute():
    assert integration_auth.CACHE_SECONDS <= 60


def test_a_key_of_another_clinic_never_reaches_this_clinics_patients(http, clinic, other_clinic):
    pid = clinic.patient("Private Patient", external_id="mrn-private")
    theirs, _ = issue_key(other_clinic, ALL_SCOPES)
    assert theirs.get(f"/patients/{pid}").status == 404
    assert theirs.get("/patients/by-external-id/mrn-private").status == 404
    assert theirs.get("/patients?q=private").body["items"] == []
    assert theirs.post("/invoices", {"patient_id": pid, "amount_cents": 100,
                                     "invoice_date": clinic.days_ago(0)}).status == 404


def test_last_used_at_is_set_on_use_and_not_rewritten_on_every_request(http, clinic, store):
    reader, made = issue_key(clinic, ["patients:read"])
    forget_keys()
    reader.get("/patients?q=first")
    first = store.integrations[(clinic.clinic_id, made["integration_id"])].last_used_at
    assert first is not None
    for _ in range(3):
        reader.get("/patients?q=again")
    assert store.integrations[(clinic.clinic_id, made["integration_id"])].last_used_at == first
    listed = next(i for i in clinic.owner.get("/integrations").body["items"]
                  if i["integration_id"] == made["integration_id"])
    assert listed["last_used_at"] is not None


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_other_keys_go_on(http, clinic, monkeypatch):
    monkeypatch.setenv("FOLLOWUPS_KEY_RATE_PER_MINUTE", "3")
    noisy, _ = issue_key(clinic, ["patients:read"])
    quiet, _ = issue_key(clinic, ["patients:read"])
    statuses = [noisy.get("/patients?q=busy").status for _ in range(4)]
    refused = noisy.get("/patients?q=busy")
    if statuses[:3] != [200, 200, 200]:  # the minute turned during the first three: a new window
        statuses = [noisy.get("/patients?q=busy").status for _ in range(4)]
        refused = noisy.get("/patients?q=busy")
    assert 429 in statuses
    assert refused.status == 429 and refused.body["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert quiet.get("/patients?q=busy").status == 200


def test_staff_tokens_are_never_rate_limited_by_the_key_limit(http, clinic, monkeypatch):
    monkeypatch.setenv("FOLLOWUPS_KEY_RATE_PER_MINUTE", "1")
    assert {clinic.billing.get("/patients?q=staff").status for _ in range(3)} == {200}


def test_revoking_every_key_a_member_made_joins_one_transaction(http, uow):
    from datetime import UTC, datetime

    from chalicelib.domain.roles import Caller
    from chalicelib.services import integrations

    world = make_clinic(http)
    _, a = issue_key(world, ["patients:read"])
    _, b = issue_key(world, ["reports:read"])
    owner = Caller(world.sub("owner"), world.clinic_id, frozenset({"Owner"}))
    revoked = integrations.stage_revoke_keys_of_member(uow, owner, datetime.now(UTC), world.sub("owner"))
    assert sorted(revoked) == sorted([a["integration_id"], b["integration_id"]])
    assert uow.staged == 6  # two items and an audit record per key, nothing sent yet
    uow.commit()
    assert world.owner.get("/integrations").body["items"] == []


def test_the_openapi_document_states_each_routes_scopes_and_the_rate_limit(http):
    doc = Api(http, None).get("/openapi.json").body
    search = doc["paths"]["/patients"]["get"]
    assert search["x-integration-scopes"] == ["patients:read"]
    assert "Retry-After" in search["responses"]["429"]["headers"]
    assert "per clock minute" in doc["components"]["securitySchemes"]["integrationKey"]["description"]
    assert "x-integration-scopes" not in doc["paths"]["/audit"]["get"]
