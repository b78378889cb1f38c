"""What DynamoDB and Cognito themselves decide about the team (the rules are tests/fast/test_team.py):
real ID tokens whose groups disagree with the staff record, the real user pool disabled, signed out
and regrouped, injected failures on either side of the record commit converging on a retry, the
cache's call budget, and the staff record's conditions under a race."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import config
from chalicelib.api import auth
from chalicelib.store import cognito
from chalicelib.store.uow import Transaction, UnitOfWork
from tests.api.conftest import Crash
from tests.support import PASSWORD, Api, dynamodb_calls, id_token


def pool():
    return boto3.client("cognito-idp", region_name=config.region())


def pool_user(email: str) -> dict:
    return pool().admin_get_user(UserPoolId=config.settings().user_pool_id, Username=email)


def groups_of(email: str) -> list[str]:
    return sorted(g["GroupName"] for g in pool().admin_list_groups_for_user(
        UserPoolId=config.settings().user_pool_id, Username=email)["Groups"])


def sign_in_fails(email: str) -> bool:
    try:
        id_token(email)
    except ClientError as e:
        return e.response["Error"]["Code"] == "NotAuthorizedException"
    return False


def audits(clinic_id: str, action: str) -> int:
    found, _ = UnitOfWork().audit.search(clinic_id, patient_id=None, action=action, limit=1_000, before=None)
    return len(found)


@pytest.fixture
def fail_cognito(monkeypatch):
    """`fail_cognito("admin_disable_user")`: that Cognito call fails once (before doing anything)."""

    def arm(operation: str) -> None:
        client = cognito.client()
        real = getattr(client, operation)

        def failing(**kwargs):
            monkeypatch.setattr(client, operation, real)
            raise ClientError({"Error": {"Code": "InternalErrorException", "Message": "injected"}}, operation)

        monkeypatch.setattr(client, operation, failing)

    return arm


# ----- real tokens against the record ------------------------------------------------------------------
def test_a_real_token_issued_before_a_promotion_acts_with_the_new_role(clinic):
    old_token = clinic.billing  # its cognito:groups say BillingStaff
    assert old_token.get("/staff").status == 403
    assert clinic.owner.patch(f"/staff/{clinic.sub('billing')}", {"role": "Admin"}).status == 200
    assert old_token.get("/staff").status == 200
    assert old_token.get("/me").body["roles"] == ["Admin"]
    assert groups_of(clinic.users["billing"]["email"]) == ["Admin"]
    fresh = Api(clinic.http, id_token(clinic.users["billing"]["email"]))
    assert fresh.get("/me").body["roles"] == ["Admin"]


def test_a_real_token_with_a_group_added_by_hand_in_cognito_gets_only_the_records_role(clinic):
    email = clinic.users["billing2"]["email"]
    pool().admin_add_user_to_group(UserPoolId=config.settings().user_pool_id, Username=email, GroupName="Owner")
    token = Api(clinic.http, id_token(email))  # lists BillingStaff and Owner
    assert token.get("/me").body["roles"] == ["BillingStaff"]
    assert token.patch("/clinic", {"name": "Hijacked"}).status == 403


def test_a_deactivated_member_is_disabled_and_signed_out_in_cognito_and_their_token_refused(clinic):
    email = clinic.users["billing"]["email"]
    token = clinic.billing
    refresh = pool().initiate_auth(ClientId=config.settings().user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
                                   )["AuthenticationResult"]["RefreshToken"]
    r = clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {})
    assert r.status == 200, r
    assert token.get("/follow-ups").status == 401
    assert pool_user(email)["Enabled"] is False
    assert sign_in_fails(email)
    with pytest.raises(ClientError):
        pool().initiate_auth(ClientId=config.settings().user_pool_client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": refresh})
    assert clinic.owner.post(f"/staff/{clinic.sub('billing')}/reactivate").status == 200
    assert pool_user(email)["Enabled"] is True
    assert Api(clinic.http, id_token(email)).get("/follow-ups").status == 200


# ----- injected failures: the pool and the record converge ---------------------------------------------
@pytest.mark.parametrize("operation", ["admin_user_global_sign_out", "admin_disable_user"])
def test_a_cognito_failure_after_the_deactivation_commits_is_503_and_the_same_request_finishes_it(
        clinic, fail_cognito, operation):
    email = clinic.users["billing"]["email"]
    fail_cognito(operation)
    r = clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {})
    assert r.status == 503 and r.body["error"]["code"] == "unavailable", r
    assert clinic.billing.get("/follow-ups").status == 401  # the record already refuses
    assert pool_user(email)["Enabled"] is True
    r = clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {})
    assert r.status == 200, r
    assert pool_user(email)["Enabled"] is False and sign_in_fails(email)
    assert audits(clinic.clinic_id, "staff.deactivated") == 1


def test_a_crash_before_the_record_commits_leaves_cognito_and_the_record_untouched_and_a_retry_converges(
        clinic, crash_commit_of):
    email = clinic.users["billing"]["email"]
    crash_commit_of("staff")
    with pytest.raises(Crash):
        clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {})
    assert clinic.billing.get("/follow-ups").status == 200
    assert pool_user(email)["Enabled"] is True and audits(clinic.clinic_id, "staff.deactivated") == 0
    assert clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {}).status == 200
    assert pool_user(email)["Enabled"] is False


@pytest.mark.parametrize("operation", ["admin_add_user_to_group", "admin_remove_user_from_group"])
def test_a_cognito_failure_after_a_role_change_is_finished_by_the_same_request(clinic, fail_cognito, operation):
    email = clinic.users["billing2"]["email"]
    fail_cognito(operation)
    assert clinic.owner.patch(f"/staff/{clinic.sub('billing2')}", {"role": "Admin"}).status == 503
    assert clinic.as_("billing2").get("/me").body["roles"] == ["Admin"]
    assert clinic.owner.patch(f"/staff/{clinic.sub('billing2')}", {"role": "Admin"}).status == 200
    assert groups_of(email) == ["Admin"]
    assert audits(clinic.clinic_id, "staff.updated") == 1


def test_a_cognito_failure_after_a_reactivation_is_finished_by_the_same_request(clinic, fail_cognito):
    email = clinic.users["billing2"]["email"]
    clinic.owner.post(f"/staff/{clinic.sub('billing2')}/deactivate", {})
    fail_cognito("admin_enable_user")
    assert clinic.owner.post(f"/staff/{clinic.sub('billing2')}/reactivate").status == 503
    assert pool_user(email)["Enabled"] is False
    assert clinic.owner.post(f"/staff/{clinic.sub('billing2')}/reactivate").status == 200
    assert pool_user(email)["Enabled"] is True


# ----- conditions and races -------------------------------------------------------------------------------
def test_two_owners_deactivating_each_other_at_once_leave_one_owner(clinic, monkeypatch):
    """Both requests read both Owners active; the first commit makes the second one's check of its
    own record fail, so it reloads, finds its caller inactive and is refused."""
    r = clinic.owner.post("/staff", {"email": f"second-{clinic.clinic_id[-6:]}@example.test", "name": "Second",
                                     "role": "Owner"})
    assert r.status == 201, r
    second_sub = r.body["sub"]
    pool().admin_set_user_password(UserPoolId=config.settings().user_pool_id, Username=r.body["email"],
                                   Password=PASSWORD, Permanent=True)
    second = Api(clinic.http, id_token(r.body["email"]))
    real = Transaction.send
    fired = []

    def interleaved(self):
        # Just before the first deactivation commits, the other Owner's deactivation runs whole.
        if not fired and any(item[0] == "staff" for item in self._items):
            monkeypatch.setattr(Transaction, "send", real)
            fired.append(second.post(f"/staff/{clinic.sub('owner')}/deactivate", {}))
        return real(self)

    monkeypatch.setattr(Transaction, "send", interleaved)
    first = clinic.owner.post(f"/staff/{second_sub}/deactivate", {})
    monkeypatch.setattr(Transaction, "send", real)
    assert fired[0].status == 200 and first.status == 403, (first, fired[0])
    active_owners = [m for m in clinic.admin.get("/staff").body["items"] if m["role"] == "Owner"]
    assert [m["sub"] for m in active_owners] == [second_sub]


# ----- what it costs ----------------------------------------------------------------------------------------
def test_the_worklist_page_reads_the_record_with_the_clinic_or_from_the_cache(clinic, monkeypatch):
    with dynamodb_calls() as calls:
        assert clinic.billing.get("/follow-ups").status == 200
    assert calls.ops() == ["BatchGetItem", "Query"]
    monkeypatch.setenv("FOLLOWUPS_STAFF_CACHE_SECONDS", "60")
    config.settings.cache_clear()
    auth.STAFF.clear()
    try:
        clinic.billing.get("/follow-ups")
        with dynamodb_calls() as calls:
            assert clinic.billing.get("/follow-ups").status == 200
        assert calls.ops() == ["GetItem", "Query"]  # the record from the cache, the clinic on its own
    finally:
        auth.STAFF.clear()
        monkeypatch.setenv("FOLLOWUPS_STAFF_CACHE_SECONDS", "0")
        config.settings.cache_clear()


def test_a_leaver_with_50_callbacks_costs_one_transaction_for_the_record_and_two_for_the_callbacks(clinic):
    from datetime import UTC, datetime, timedelta

    from chalicelib.domain.roles import Caller
    from chalicelib.services import callbacks

    billing = Caller(clinic.sub("billing"), clinic.clinic_id, frozenset({"BillingStaff"}))
    now = datetime.now(UTC)
    for p in range(5):
        pid = clinic.patient(f"Many Callbacks {p}")
        for i in range(10):
            callbacks.schedule(UnitOfWork(), billing, now, pid, due_at=now + timedelta(hours=1, minutes=i))
    with dynamodb_calls() as calls:
        r = clinic.owner.post(f"/staff/{clinic.sub('billing')}/deactivate", {"reassign_to": clinic.sub("admin")})
    assert r.status == 200 and r.body["callbacks_reassigned"] == 50, r
    assert calls.ops().count("TransactWriteItems") == 1 + 2  # batches of 49 callbacks with their audit entries
    assert len(UnitOfWork().contacts.scheduled_for(clinic.clinic_id, clinic.sub("admin"))) == 50
    assert UnitOfWork().contacts.scheduled_for(clinic.clinic_id, clinic.sub("billing")) == []
