"""Creating a staff member is safe whatever fails: a crash at any step leaves nobody who can act,
and the same request sent again converges on one Cognito user and one staff record (not a 409).

A `Crash` is a BaseException: the Lambda dies there (a timeout, an out-of-memory kill), so no
`except Exception` clean-up of the code under test runs. The Cognito calls are the real ones
(moto), made to crash right after the named call has done its work.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import boto3
import pytest

from chalicelib import config
from chalicelib.services import staff
from chalicelib.store import cognito
from chalicelib.store.uow import UnitOfWork
from tests.api.conftest import Crash
from tests.support import PASSWORD, Api, dynamodb_calls, id_token


def pool():
    return boto3.client("cognito-idp", region_name=config.region())


def users_with_email(email: str) -> list[dict]:
    found = pool().list_users(UserPoolId=config.settings().user_pool_id, Filter=f'email = "{email}"')["Users"]
    return found


def groups_of(email: str) -> list[str]:
    return sorted(g["GroupName"] for g in pool().admin_list_groups_for_user(
        UserPoolId=config.settings().user_pool_id, Username=email)["Groups"])


def audit_actions(clinic_id: str) -> list[str]:
    found, _ = UnitOfWork().audit.search(clinic_id, patient_id=None, action=None, limit=1_000, before=None)
    return [e.action for e in found]


def created_audits(clinic_id: str, sub: str) -> int:
    found, _ = UnitOfWork().audit.search(clinic_id, patient_id=None, action="staff.created", limit=1_000, before=None)
    return sum(1 for e in found if e.details.get("sub") == sub)


def new_email() -> str:
    return f"new-{secrets.token_hex(4)}@example.test"


@pytest.fixture
def crash_cognito_after(monkeypatch):
    """`crash_cognito_after("admin_create_user")`: that Cognito call does its work, then the process dies."""

    def arm(operation: str) -> None:
        client = cognito.client()
        real = getattr(client, operation)

        def crashing(**kwargs):
            real(**kwargs)
            monkeypatch.setattr(client, operation, real)  # once: the retry runs normally
            raise Crash(operation)

        monkeypatch.setattr(client, operation, crashing)

    return arm


def create_body(email: str, role: str = "BillingStaff") -> dict:
    return {"email": email, "name": "New Person", "role": role}


def assert_one_member(clinic, email: str, role: str = "BillingStaff") -> dict:
    listed = [m for m in clinic.admin.get("/staff").body["items"] if m["email"] == email]
    assert len(listed) == 1, listed
    users = users_with_email(email)
    assert len(users) == 1, users
    sub = next(a["Value"] for a in users[0]["Attributes"] if a["Name"] == "sub")
    assert listed[0]["sub"] == sub and listed[0]["role"] == role
    assert groups_of(email) == [role]
    assert created_audits(clinic.clinic_id, sub) == 1
    return listed[0]


def sign_in_as_new_user(clinic, email: str) -> Api:
    """The invited user signs in (the test sets a password where the invitation would give one)."""
    pool().admin_set_user_password(UserPoolId=config.settings().user_pool_id, Username=email, Password=PASSWORD,
                                   Permanent=True)
    return Api(clinic.http, id_token(email))


# ----- a crash at each step, then the same request again -------------------------------------------
@pytest.mark.parametrize("step", ["admin_create_user", "admin_add_user_to_group"])
def test_a_crash_after_a_cognito_step_leaves_a_user_who_can_do_nothing_and_a_retry_converges(
        clinic, crash_cognito_after, step):
    email = new_email()
    crash_cognito_after(step)
    with pytest.raises(Crash):
        clinic.admin.post("/staff", create_body(email))
    assert len(users_with_email(email)) == 1  # the user pool has them ...
    orphan = sign_in_as_new_user(clinic, email)
    for path in ("/follow-ups", "/me", "/clinic", "/tasks"):  # ... but the API gives them nothing
        r = orphan.get(path)
        assert r.status == 403 and r.body["error"]["code"] == "forbidden", (path, r)
    assert email not in [m["email"] for m in clinic.admin.get("/staff").body["items"]]

    again = clinic.admin.post("/staff", create_body(email))
    assert again.status == 201, again
    member = assert_one_member(clinic, email)
    assert again.body["sub"] == member["sub"]
    assert Api(clinic.http, id_token(email)).get("/follow-ups").status == 200  # a fresh token works now


def test_a_crash_before_the_staff_record_is_written_leaves_a_user_in_a_group_who_is_refused(
        clinic, crash_commit_of):
    email = new_email()
    crash_commit_of("staff")
    with pytest.raises(Crash):
        clinic.admin.post("/staff", create_body(email))
    assert groups_of(email) == ["BillingStaff"]  # the token will carry the group ...
    orphan = sign_in_as_new_user(clinic, email)
    r = orphan.get("/follow-ups")
    assert r.status == 403, r  # ... and still gets nothing without an active staff record
    assert orphan.post("/patients", {"name": "Sneaky"}).status == 403

    again = clinic.admin.post("/staff", create_body(email))
    assert again.status == 201, again
    assert_one_member(clinic, email)


def test_a_crash_before_the_pending_record_is_written_changes_nothing(clinic, crash_commit_of):
    email = new_email()
    crash_commit_of("staff_enrolment")
    with pytest.raises(Crash):
        clinic.admin.post("/staff", create_body(email))
    assert users_with_email(email) == []
    assert clinic.admin.post("/staff", create_body(email)).status == 201
    assert_one_member(clinic, email)


def test_a_failed_cognito_call_answers_500_and_the_retry_converges(clinic, monkeypatch):
    email = new_email()
    client = cognito.client()
    real = client.admin_add_user_to_group

    def unavailable(**kwargs):
        from botocore.exceptions import ClientError

        monkeypatch.setattr(client, "admin_add_user_to_group", real)
        raise ClientError({"Error": {"Code": "InternalErrorException", "Message": "try later"}},
                          "AdminAddUserToGroup")

    monkeypatch.setattr(client, "admin_add_user_to_group", unavailable)
    first = clinic.admin.post("/staff", create_body(email))
    assert first.status == 500 and first.body["error"]["code"] == "internal_error"
    assert clinic.admin.post("/staff", create_body(email)).status == 201
    assert_one_member(clinic, email)


def test_a_retry_with_another_role_converges_on_the_new_role(clinic, crash_cognito_after):
    email = new_email()
    crash_cognito_after("admin_add_user_to_group")
    with pytest.raises(Crash):
        clinic.owner.post("/staff", create_body(email, role="BillingStaff"))
    assert groups_of(email) == ["BillingStaff"]
    assert clinic.owner.post("/staff", create_body(email, role="Admin")).status == 201
    assert_one_member(clinic, email, role="Admin")


def test_a_member_created_once_is_a_409_the_second_time(clinic):
    email = new_email()
    assert clinic.admin.post("/staff", create_body(email)).status == 201
    r = clinic.admin.post("/staff", create_body(email))
    assert r.status == 409 and r.body["error"]["code"] == "conflict"
    assert_one_member(clinic, email)


def test_the_email_of_another_clinics_user_is_a_409_that_writes_nothing(clinic, other_clinic):
    email = other_clinic.users["billing"]["email"]
    before = audit_actions(clinic.clinic_id)
    r = clinic.admin.post("/staff", create_body(email))
    assert r.status == 409, r
    assert audit_actions(clinic.clinic_id) == before
    assert UnitOfWork().staff.enrolment(clinic.clinic_id, email) is None
    assert groups_of(email) == ["BillingStaff"]  # their user is untouched


def test_a_user_of_the_clinic_with_a_group_but_no_staff_record_is_refused_everywhere(clinic):
    """What a crash of the old code left behind: a Cognito user with the clinic and a group."""
    email = new_email()
    pool_id = config.settings().user_pool_id
    pool().admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": email}, {"Name": "custom:clinic_id", "Value": clinic.clinic_id}])
    pool().admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="Owner")
    orphan = sign_in_as_new_user(clinic, email)
    for method, path, body in (("GET", "/follow-ups", None), ("GET", "/staff", None), ("GET", "/audit", None),
                               ("PATCH", "/clinic", {"name": "Taken over"}), ("POST", "/patients", {"name": "X"})):
        r = orphan.request(method, path, body)
        assert r.status == 403, (path, r)
    assert clinic.owner.get("/clinic").body["name"] != "Taken over"


def test_the_cli_path_with_a_password_converges_and_the_password_signs_in(clinic, crash_cognito_after):
    email = new_email()
    crash_cognito_after("admin_set_user_password")
    with pytest.raises(Crash):
        staff.create(UnitOfWork(), clinic.clinic_id, datetime.now(UTC), email=email, name="Cli User",
                     role="Admin", actor="cli", password=PASSWORD)
    member = staff.create(UnitOfWork(), clinic.clinic_id, datetime.now(UTC), email=email, name="Cli User",
                          role="Admin", actor="cli", password=PASSWORD)
    assert assert_one_member(clinic, email, role="Admin")["sub"] == member.sub
    assert Api(clinic.http, id_token(email)).get("/me").body["roles"] == ["Admin"]


# ----- what the check costs ------------------------------------------------------------------------
def test_the_staff_record_is_read_with_the_clinic_in_one_call(clinic):
    with dynamodb_calls() as calls:
        assert clinic.billing.get("/follow-ups").status == 200
    assert calls.ops() == ["BatchGetItem", "Query"]  # the clinic and the caller's record, then one page


def test_creating_the_orphan_of_an_old_crash_adopts_its_user_instead_of_409(clinic):
    email = new_email()
    pool_id = config.settings().user_pool_id
    made = pool().admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": email}, {"Name": "custom:clinic_id", "Value": clinic.clinic_id}])["User"]
    pool().admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="Owner")
    r = clinic.owner.post("/staff", create_body(email, role="BillingStaff"))
    assert r.status == 201, r
    assert r.body["sub"] == next(a["Value"] for a in made["Attributes"] if a["Name"] == "sub")
    assert_one_member(clinic, email)  # one user, now only in the group the staff record says
