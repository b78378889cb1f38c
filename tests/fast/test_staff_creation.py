"""Creating a staff member is safe whatever fails (the fake user pool; tests/api/test_staff_creation.py
crashes the real Cognito calls): a crash at any step leaves nobody who can act, and the same
request sent again converges on one user and one staff record."""

from __future__ import annotations

import secrets

import pytest

from chalicelib.domain.team import ACTIVE, PENDING
from tests.fast.support import audit_entries
from tests.memory import MemoryTransaction
from tests.support import Api


class Crash(BaseException):
    """The process dies here: no `except Exception` clean-up runs."""


def new_email() -> str:
    return f"new-{secrets.token_hex(4)}@example.test"


def body(email: str, role: str = "BillingStaff", name: str = "New Person") -> dict:
    return {"email": email, "name": name, "role": role}


@pytest.fixture
def crash_commit_of(monkeypatch):
    def arm(label: str) -> None:
        real = MemoryTransaction.send

        def crashing(self):
            if any(staged.label == label for staged in self._items):
                monkeypatch.setattr(MemoryTransaction, "send", real)
                self.clear()
                raise Crash(label)
            return real(self)

        monkeypatch.setattr(MemoryTransaction, "send", crashing)

    return arm


def members_with(clinic, email: str) -> list[dict]:
    return [m for m in clinic.admin.get("/staff").body["items"] if m["email"] == email]


def assert_converged(clinic, cognito, email: str, role: str = "BillingStaff") -> None:
    user = cognito.users[email]
    listed = members_with(clinic, email)
    assert [(m["sub"], m["role"], m["status"]) for m in listed] == [(user.sub, role, ACTIVE)]
    assert user.groups == {role}
    created = [e for e in audit_entries(clinic.clinic_id, action="staff.created") if e.details["sub"] == user.sub]
    assert len(created) == 1


@pytest.mark.parametrize("step", ["create", "group"])
def test_a_crash_inside_the_user_pool_step_leaves_nobody_who_can_act_and_a_retry_converges(clinic, cognito, step):
    email = new_email()
    cognito.fail_after(step, Crash(step))
    with pytest.raises(Crash):
        clinic.admin.post("/staff", body(email))
    orphan = Api(clinic.http, cognito.sign_in(email))
    assert orphan.get("/follow-ups").status == 403
    assert members_with(clinic, email) == []
    r = clinic.admin.post("/staff", body(email))
    assert r.status == 201, r
    assert_converged(clinic, cognito, email)
    assert Api(clinic.http, cognito.sign_in(email)).get("/follow-ups").status == 200


def test_a_crash_before_activation_leaves_a_pending_enrolment_and_a_retry_finishes_it(
        clinic, cognito, uow, crash_commit_of):
    email = new_email()
    crash_commit_of("staff")
    with pytest.raises(Crash):
        clinic.admin.post("/staff", body(email))
    assert uow.staff.enrolment(clinic.clinic_id, email).status == PENDING
    assert cognito.users[email].groups == {"BillingStaff"}
    orphan = Api(clinic.http, cognito.sign_in(email))  # the token says BillingStaff ...
    assert orphan.get("/tasks").status == 403  # ... the staff store says nobody
    assert orphan.post("/patients", {"name": "Sneaky"}).status == 403
    assert clinic.admin.post("/staff", body(email)).status == 201
    assert_converged(clinic, cognito, email)
    enrolment = uow.staff.enrolment(clinic.clinic_id, email)
    assert (enrolment.status, enrolment.sub) == (ACTIVE, cognito.users[email].sub)


def test_a_crash_before_the_pending_enrolment_changes_nothing(clinic, cognito, crash_commit_of):
    email = new_email()
    crash_commit_of("staff_enrolment")
    with pytest.raises(Crash):
        clinic.admin.post("/staff", body(email))
    assert email not in cognito.users
    assert clinic.admin.post("/staff", body(email)).status == 201
    assert_converged(clinic, cognito, email)


def test_the_pending_step_is_audited_without_the_name_or_the_email(clinic, crash_commit_of):
    email = new_email()
    crash_commit_of("staff")
    with pytest.raises(Crash):
        clinic.admin.post("/staff", body(email, name="Quentin Private"))
    pending = audit_entries(clinic.clinic_id, action="staff.pending")[0]  # newest first: this request's
    assert (pending.actor, pending.details) == (clinic.sub("admin"), {"role": "BillingStaff"})
    assert "Quentin" not in str(pending) and email not in str(pending)


def test_a_retry_that_asks_for_another_role_converges_on_it(clinic, cognito):
    email = new_email()
    cognito.fail_after("group", Crash("group"))
    with pytest.raises(Crash):
        clinic.owner.post("/staff", body(email))
    assert clinic.owner.post("/staff", body(email, role="Admin", name="Renamed")).status == 201
    assert_converged(clinic, cognito, email, role="Admin")
    assert cognito.users[email].name == members_with(clinic, email)[0]["name"] == "Renamed"


def test_an_admin_cannot_finish_a_pending_owner_by_retrying(clinic, cognito):
    email = new_email()
    cognito.fail_after("group", Crash("group"))
    with pytest.raises(Crash):
        clinic.owner.post("/staff", body(email, role="Owner"))
    r = clinic.admin.post("/staff", body(email, role="Owner"))
    assert r.status == 403
    assert members_with(clinic, email) == []


def test_an_email_already_a_member_is_a_409_and_writes_nothing(clinic):
    email = clinic.users["billing"]["email"]
    before = len(audit_entries(clinic.clinic_id))
    r = clinic.admin.post("/staff", body(email))
    assert r.status == 409 and r.body["error"]["code"] == "conflict"
    assert len(audit_entries(clinic.clinic_id)) == before


def test_the_email_of_another_clinics_user_is_a_409_and_writes_nothing(clinic, other_clinic, uow):
    email = other_clinic.users["admin"]["email"]
    before = len(audit_entries(clinic.clinic_id))
    assert clinic.admin.post("/staff", body(email)).status == 409
    assert len(audit_entries(clinic.clinic_id)) == before
    assert uow.staff.enrolment(clinic.clinic_id, email) is None


def test_a_user_of_the_clinic_with_no_staff_record_is_refused_on_every_kind_of_route(clinic, cognito):
    email = new_email()
    cognito.users[email] = type(cognito.users[clinic.users["owner"]["email"]])(
        "orphan-sub", clinic.clinic_id, email, "Orphan", {"Owner"})
    orphan = Api(clinic.http, cognito.sign_in(email))
    for method, path, payload in (("GET", "/me", None), ("GET", "/clinic", None), ("GET", "/staff", None),
                                  ("PATCH", "/clinic", {"name": "Mine"}), ("POST", "/patients", {"name": "X"}),
                                  ("GET", "/calendar.ics", None), ("POST", "/calendar/feed", None)):
        r = orphan.request(method, path, payload)
        assert r.status == 403 and r.body["error"]["code"] == "forbidden", (path, r)
