"""Delegating write_off: an Owner grants it to staff until a time, and takes it back at once (on the
memory store; where a grant is stored is tests/api/test_delegations.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import clock
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.roles import WRITE_OFF
from chalicelib.services import delegations
from tests.delegations_support import at, grant
from tests.fast.support import audit_entries, make_clinic
from tests.ledger_ops import caller


@pytest.fixture
def world(http):
    return make_clinic(http, extra_staff=(("delegate", "BillingStaff"),))




def owed_patient(world, cents: int = 3_000) -> str:
    pid = world.patient()
    world.invoice(pid, cents, clock.local_date(datetime.now(UTC), world.timezone).isoformat())
    return pid


def latest_audit(world, action: str) -> AuditEntry:
    return audit_entries(world.clinic_id, action=action)[0]


def test_an_owner_grants_write_off_and_the_delegate_can_write_off(world):
    expires = at(timedelta(days=30))
    r = world.owner.post("/delegations", {"grantee_sub": world.sub("delegate"), "permission": "write_off",
                                          "expires_at": expires})
    assert r.status == 201, r
    assert r.body == {**r.body, "grantee_sub": world.sub("delegate"), "permission": "write_off",
                      "expires_at": expires, "created_by": world.sub("owner")}
    assert r.body["delegation_id"].startswith("dlg_")
    assert world.as_("delegate").get("/me").body["permissions"] == ["write_off"]
    pid = owed_patient(world)
    w = world.as_("delegate").post(f"/follow-ups/{pid}/write-off", {"reason": "Delegated write-off"})
    assert w.status == 200, w
    assert latest_audit(world, "writeoff.recorded").actor == world.sub("delegate")


def test_a_revoked_grant_stops_working_on_the_next_request_with_the_same_token(world):
    d = grant(world).body
    delegate = world.as_("delegate")  # the same token before and after
    assert delegate.get("/me").body["permissions"] == ["write_off"]
    r = world.owner.delete(f"/delegations/{d['delegation_id']}")
    assert r.status == 204 and r.text == ""
    assert delegate.get("/me").body["permissions"] == []
    pid = owed_patient(world)
    assert delegate.post(f"/follow-ups/{pid}/write-off", {"reason": "too late"}).status == 403
    assert d["delegation_id"] not in {x["delegation_id"] for x in world.owner.get("/delegations").body["items"]}
    audit = latest_audit(world, "delegation.revoked")
    assert audit.details == {"delegation_id": d["delegation_id"], "grantee_sub": world.sub("delegate"),
                                       "permission": "write_off", "was_expired": False}
    record = routing.unit_of_work().delegations.get(world.clinic_id, d["delegation_id"])
    assert record.revoked_by == world.sub("owner")  # kept, not deleted: the history stays


def test_revoking_twice_or_an_unknown_delegation_is_404(world):
    d = grant(world).body
    assert world.owner.delete(f"/delegations/{d['delegation_id']}").status == 204
    again = world.owner.delete(f"/delegations/{d['delegation_id']}")
    assert again.status == 404 and again.body["error"]["code"] == "not_found"
    for bad in ("dlg_0000000000000000", "nonsense", "dlg_" + "x" * 100):
        assert world.owner.delete(f"/delegations/{bad}").status == 404, bad


def test_a_grant_expires_by_itself_and_can_still_be_revoked_for_the_record(world):
    now = datetime.now(UTC)
    owner, delegate = caller(world, "owner"), caller(world, "delegate")
    d = delegations.grant(routing.unit_of_work(), owner, now, grantee_sub=world.sub("delegate"),
                          permission="write_off", expires_at=now + timedelta(minutes=5))
    later = now + timedelta(minutes=6)
    uow = routing.unit_of_work()
    assert uow.delegations.active(world.clinic_id, later) == []
    assert delegations.list_active(uow, owner, later) == []
    assert delegations.permissions_of(uow, world.clinic_id, world.sub("delegate"), later) == frozenset()
    with pytest.raises(Forbidden):  # no stored fact gives the delegate the permission any more
        delegations.require_authority(uow, delegate, WRITE_OFF, later)
    assert uow.staged == 0
    delegations.revoke(uow, owner, later, d.delegation_id)
    assert latest_audit(world, "delegation.revoked").details["was_expired"] is True


def test_an_expired_grant_gives_nothing_even_with_a_fresh_token(world):
    now = datetime.now(UTC)
    delegations.grant(routing.unit_of_work(), caller(world, "owner"), now - timedelta(days=3),
                      grantee_sub=world.sub("delegate"), permission="write_off", expires_at=now - timedelta(seconds=1))
    assert world.as_("delegate").get("/me").body["permissions"] == []
    assert world.owner.get("/delegations").body["items"] == []
    pid = owed_patient(world)
    assert world.as_("delegate").post(f"/follow-ups/{pid}/write-off", {"reason": "expired"}).status == 403


def test_the_list_shows_active_grants_soonest_ending_first(world):
    late = grant(world, "delegate", timedelta(days=60)).body
    soon = grant(world, "billing", timedelta(days=2)).body
    gone = grant(world, "billing2", timedelta(days=5)).body
    world.owner.delete(f"/delegations/{gone['delegation_id']}")
    items = world.admin.get("/delegations").body["items"]
    assert [i["delegation_id"] for i in items] == [soon["delegation_id"], late["delegation_id"]]


def test_a_demoted_owner_loses_write_off_and_granting_whatever_the_token_says(world, store):
    owner = world.owner
    pid = owed_patient(world)
    member = store.staff[(world.clinic_id, world.sub("owner"))]
    # what a group change does to the staff store
    store.staff[(world.clinic_id, member.sub)] = replace(member, role="Admin")
    assert owner.get("/me").body["permissions"] == []
    assert owner.post(f"/follow-ups/{pid}/write-off", {"reason": "still owner?"}).status == 403
    assert grant(world).status == 403
    assert owner.get("/delegations").status == 200  # the token still says Owner; listing is harmless


def test_a_delegate_removed_from_the_clinic_loses_the_permission(world, store):
    grant(world)
    del store.staff[(world.clinic_id, world.sub("delegate"))]
    assert world.as_("delegate").get("/me").status == 403  # no staff record: the token holds nothing at all
    pid = owed_patient(world)
    assert world.as_("delegate").post(f"/follow-ups/{pid}/write-off", {"reason": "gone"}).status == 403


@pytest.mark.parametrize("body, field", [
    ({"grantee_sub": "no-such-sub", "permission": "write_off", "expires_at": "+1d"}, "grantee_sub"),
    ({"grantee_sub": "@delegate", "permission": "refund", "expires_at": "+1d"}, "permission"),
    ({"grantee_sub": "@delegate", "permission": "write_off", "expires_at": "-1m"}, "expires_at"),
    ({"grantee_sub": "@delegate", "permission": "write_off", "expires_at": "+91d"}, "expires_at"),
    ({"grantee_sub": "@delegate", "permission": "write_off", "expires_at": "2030-01-01"}, "expires_at"),
    ({"grantee_sub": "@delegate", "permission": "write_off", "expires_at": "2030-01-01T10:00:00"}, "expires_at"),
    ({"grantee_sub": "@delegate", "permission": "write_off"}, "expires_at"),
    ({"permission": "write_off", "expires_at": "+1d"}, "grantee_sub"),
    ({"grantee_sub": "@delegate", "permission": "write_off", "expires_at": "+1d", "note": "x"}, "note"),
    ({"grantee_sub": 42, "permission": "write_off", "expires_at": "+1d"}, "grantee_sub"),
])
def test_a_bad_grant_is_400_and_stores_nothing(world, body, field):
    deltas = {"+1d": timedelta(days=1), "-1m": timedelta(minutes=-1), "+91d": timedelta(days=91)}
    body = dict(body)
    if body.get("expires_at") in deltas:
        body["expires_at"] = at(deltas[body["expires_at"]])
    if body.get("grantee_sub") == "@delegate":
        body["grantee_sub"] = world.sub("delegate")
    audit_before = len(audit_entries(world.clinic_id))
    r = world.owner.post("/delegations", body)
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
    assert field in r.body["error"]["fields"], r
    assert world.owner.get("/delegations").body["items"] == []
    assert len(audit_entries(world.clinic_id)) == audit_before


def test_staff_of_another_clinic_cannot_be_a_grantee(world, other_clinic):
    r = world.owner.post("/delegations", {"grantee_sub": other_clinic.sub("billing"), "permission": "write_off",
                                          "expires_at": at(timedelta(days=1))})
    assert r.status == 400 and "grantee_sub" in r.body["error"]["fields"]


def test_a_grant_may_last_up_to_ninety_days(world):
    assert grant(world, delta=timedelta(days=89, hours=23)).status == 201
    assert grant(world, delta=timedelta(days=90, minutes=1)).status == 400


def test_a_grant_with_an_offset_is_stored_in_utc(world):
    expires = (datetime.now(UTC) + timedelta(days=1)).astimezone(clock.zone("Asia/Kathmandu"))
    r = world.owner.post("/delegations", {"grantee_sub": world.sub("delegate"), "permission": "write_off",
                                          "expires_at": expires.isoformat(timespec="seconds")})
    assert r.status == 201, r
    assert r.body["expires_at"] == clock.short_z(expires)
