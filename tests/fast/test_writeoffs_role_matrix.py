"""Who may write off, grant, list, revoke and read the audit: every role against every route.

Callers: Owner, Admin, BillingStaff, a delegate (BillingStaff with an active grant), an Admin
delegate, a revoked delegate, an expired delegate (granted through the service at an earlier
`now`, so the grant really lies in the past), and the Owner of another clinic. On the memory
store, with tokens from the fake user pool: what a role may do is decided from the `Caller` and
the stored staff and grants, after the token is verified (real Cognito ID tokens and their
verification are tests/api/test_auth.py and test_token_edges.py; every route against every role
with real tokens is tests/authz).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api import routing
from chalicelib.domain import clock
from chalicelib.services import delegations
from tests.fast.support import make_clinic
from tests.ledger_ops import caller

CALLERS = ("owner", "admin", "billing", "delegate", "admin_delegate", "revoked", "expired", "other_owner")


@pytest.fixture(scope="module")
def world(http):
    w = make_clinic(http, extra_staff=(("delegate", "BillingStaff"), ("admin_delegate", "Admin"),
                                       ("revoked", "BillingStaff"), ("expired", "BillingStaff")))
    other = make_clinic(http, name="Other Clinic", timezone="Europe/Athens")
    w.users["other_owner"] = other.users["owner"]
    now = datetime.now(UTC)
    for who in ("delegate", "admin_delegate", "revoked"):
        r = w.owner.post("/delegations", {"grantee_sub": w.sub(who), "permission": "write_off",
                                          "expires_at": clock.short_z(now + timedelta(days=30))})
        assert r.status == 201, r
        if who == "revoked":
            assert w.owner.delete(f"/delegations/{r.body['delegation_id']}").status == 204
    delegations.grant(routing.unit_of_work(), caller(w, "owner"), now - timedelta(days=10),
                      grantee_sub=w.sub("expired"), permission="write_off", expires_at=now - timedelta(days=1))
    w.other = other
    return w


def owed_patient(world) -> str:
    pid = world.patient()
    world.invoice(pid, 2_500, clock.local_date(datetime.now(UTC), world.timezone).isoformat())
    return pid


@pytest.mark.parametrize("who, permissions", [
    ("owner", ["write_off"]), ("admin", []), ("billing", []), ("delegate", ["write_off"]),
    ("admin_delegate", ["write_off"]), ("revoked", []), ("expired", []), ("other_owner", ["write_off"]),
])
def test_me_shows_write_off_only_for_owners_and_active_delegates(world, who, permissions):
    assert world.as_(who).get("/me").body["permissions"] == permissions


@pytest.mark.parametrize("who, status", [
    ("owner", 200), ("admin", 403), ("billing", 403), ("delegate", 200), ("admin_delegate", 200),
    ("revoked", 403), ("expired", 403), ("other_owner", 404),
])
def test_write_off_is_for_owners_and_active_delegates_and_other_clinics_see_no_patient(world, who, status):
    pid = owed_patient(world)
    r = world.as_(who).post(f"/follow-ups/{pid}/write-off", {"reason": "role matrix"})
    assert r.status == status, r
    expected_balance = 0 if status == 200 else 2_500
    assert world.owner.get(f"/patients/{pid}").body["balance_cents"] == expected_balance


@pytest.mark.parametrize("who", ["admin", "billing", "revoked", "expired"])
def test_a_caller_without_the_permission_gets_403_before_the_body_or_the_patient_is_looked_at(world, who):
    """Documented order: permission first, so 403 even for a bad body or a patient that does not exist."""
    api = world.as_(who)
    assert api.post("/follow-ups/pat_0000000000000000/write-off", {"reason": "whatever"}).status == 403
    assert api.post(f"/follow-ups/{owed_patient(world)}/write-off", {}).status == 403


def test_without_a_token_every_route_is_401(world):
    from tests.support import Api

    anonymous = Api(world.http, None)
    for method, path, body in [("POST", "/follow-ups/pat_0000000000000000/write-off", {"reason": "abc"}),
                               ("POST", "/delegations", {}), ("GET", "/delegations", None),
                               ("DELETE", "/delegations/dlg_0000000000000000", None), ("GET", "/audit", None)]:
        assert anonymous.request(method, path, body).status == 401, (method, path)


@pytest.mark.parametrize("who, status", [
    ("owner", 201), ("admin", 403), ("billing", 403), ("delegate", 403), ("admin_delegate", 403),
    ("revoked", 403), ("expired", 403), ("other_owner", 400),
])
def test_only_an_owner_grants_and_only_to_staff_of_their_own_clinic(world, who, status):
    r = world.as_(who).post("/delegations", {
        "grantee_sub": world.sub("billing2"), "permission": "write_off",
        "expires_at": clock.short_z(datetime.now(UTC) + timedelta(hours=1))})
    assert r.status == status, r
    if status == 201:
        assert world.owner.delete(f"/delegations/{r.body['delegation_id']}").status == 204


@pytest.mark.parametrize("who, status", [
    ("owner", 200), ("admin", 200), ("billing", 403), ("delegate", 403), ("admin_delegate", 200),
    ("revoked", 403), ("expired", 403), ("other_owner", 200),
])
def test_owners_and_admins_list_their_own_clinics_delegations(world, who, status):
    r = world.as_(who).get("/delegations")
    assert r.status == status, r
    if status == 200:
        grantees = {d["grantee_sub"] for d in r.body["items"]}
        expected = set() if who == "other_owner" else {world.sub("delegate"), world.sub("admin_delegate")}
        assert grantees == expected


@pytest.mark.parametrize("who, status", [
    ("owner", 204), ("admin", 403), ("billing", 403), ("delegate", 403), ("admin_delegate", 403),
    ("revoked", 403), ("expired", 403), ("other_owner", 404),
])
def test_only_an_owner_of_the_clinic_revokes(world, who, status):
    grant = world.owner.post("/delegations", {
        "grantee_sub": world.sub("billing2"), "permission": "write_off",
        "expires_at": clock.short_z(datetime.now(UTC) + timedelta(hours=1))}).body
    r = world.as_(who).delete(f"/delegations/{grant['delegation_id']}")
    assert r.status == status, r
    listed = {d["delegation_id"] for d in world.owner.get("/delegations").body["items"]}
    assert (grant["delegation_id"] in listed) == (status != 204)
    if status != 204:
        assert world.owner.delete(f"/delegations/{grant['delegation_id']}").status == 204


@pytest.mark.parametrize("who, status", [
    ("owner", 200), ("admin", 200), ("billing", 403), ("delegate", 403), ("admin_delegate", 200),
    ("revoked", 403), ("expired", 403), ("other_owner", 200),
])
def test_owners_and_admins_read_their_own_clinics_audit_only(world, who, status):
    pid = owed_patient(world)
    r = world.as_(who).get(f"/audit?patient_id={pid}")
    assert r.status == status, r
    if status == 200:
        actions = [i["action"] for i in r.body["items"]]
        assert actions == ([] if who == "other_owner" else ["invoice.created", "patient.created"])
    if who == "other_owner":
        mine = {i["audit_id"] for i in world.owner.get("/audit?limit=100").body["items"]}
        theirs = {i["audit_id"] for i in world.as_(who).get("/audit?limit=100").body["items"]}
        assert mine and theirs and not mine & theirs
