"""The team's life through the API, on the memory store and the fake user pool: the staff record
decides every caller's role and status (whatever the token's groups say), role changes with the
last-Owner guard, deactivation (tokens, feed, delegations, callbacks) and reactivation, and the
user pool converging with the record after any failure. Real tokens and real Cognito calls are
tests/api/test_team.py."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import config
from chalicelib.api import auth
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.team import StaffMember
from tests.fast.support import audit_entries, make_clinic
from tests.integrations_support import forget_keys, issue_key
from tests.support import Api


@pytest.fixture
def world(http):
    return make_clinic(http, extra_staff=(("owner2", "Owner"),))


def owing_patient(world, cents: int = 5_000) -> str:
    pid = world.patient(f"Team Patient {secrets.token_hex(2)}")
    world.invoice(pid, cents, world.days_ago(10))
    return pid


def with_groups(world, cognito, who: str, groups: set[str]) -> Api:
    return Api(world.http, cognito.token_with_groups(world.users[who]["email"], groups))


def in_two_days() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()


def statuses(world, status: str = "all") -> dict[str, str]:
    return {m["sub"]: m["status"] for m in world.owner.get(f"/staff?status={status}").body["items"]}


# ----- the staff record decides, whatever the token says -------------------------------------------
def test_a_token_listing_an_extra_group_acts_with_the_records_role(world, cognito):
    billing = with_groups(world, cognito, "billing", {"BillingStaff", "Owner"})
    assert billing.get("/me").body["roles"] == ["BillingStaff"]
    assert billing.patch("/clinic", {"name": "Taken Over"}).status == 403
    assert billing.get("/staff").status == 403
    assert billing.post(f"/follow-ups/{owing_patient(world)}/write-off", {"reason": "not mine to do"}).status == 403


def test_a_token_missing_its_group_acts_with_the_records_role(world, cognito):
    owner = with_groups(world, cognito, "owner", set())
    assert owner.get("/me").body["roles"] == ["Owner"]
    assert owner.patch("/clinic", {"name": "Still Mine"}).status == 200
    assert owner.post(f"/follow-ups/{owing_patient(world)}/write-off", {"reason": "owner's call"}).status == 200


def test_a_token_naming_a_different_group_acts_with_the_records_role(world, cognito):
    admin_as_owner = with_groups(world, cognito, "admin", {"Owner"})
    assert admin_as_owner.get("/me").body["roles"] == ["Admin"]
    assert admin_as_owner.patch("/clinic", {"name": "Not Allowed"}).status == 403
    owner_as_billing = with_groups(world, cognito, "owner", {"BillingStaff"})
    assert owner_as_billing.get("/staff").status == 200
    assert owner_as_billing.patch("/clinic", {"name": "Allowed"}).status == 200


def test_a_valid_token_of_a_deactivated_member_is_refused_with_401(world, store):
    member = store.staff[(world.clinic_id, world.sub("billing"))]
    store.staff[(world.clinic_id, member.sub)] = replace(member, status="inactive")  # as another process did
    r = world.billing.get("/follow-ups")
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"


def test_the_staff_cache_trusts_a_record_for_at_most_a_minute_by_default(monkeypatch):
    monkeypatch.delenv("FOLLOWUPS_STAFF_CACHE_SECONDS")
    monkeypatch.delenv("FOLLOWUPS_CONSOLE_CHECK_SECONDS", raising=False)
    assert config.staff_cache_seconds() == 30
    # a leaver's open console asks again within its check interval, and gets 401 within the cache's
    assert config.staff_cache_seconds() + config.console_check_seconds() < 60
    monkeypatch.setenv("FOLLOWUPS_STAFF_CACHE_SECONDS", "3600")
    assert config.staff_cache_seconds() == 60  # a ceiling, whatever the environment says
    monkeypatch.setenv("FOLLOWUPS_STAFF_CACHE_SECONDS", "5")
    assert config.staff_cache_seconds() == 5


def test_the_staff_cache_reads_again_once_its_time_is_up_and_at_once_after_a_forget(monkeypatch):
    monkeypatch.setenv("FOLLOWUPS_STAFF_CACHE_SECONDS", "60")
    config.settings.cache_clear()
    try:
        now = [1000.0]
        cache = auth.StaffCache(clock=lambda: now[0])
        reads = []

        def read():
            reads.append(now[0])
            return StaffMember("s", "e@x.test", "E", "Owner" if len(reads) == 1 else "Admin")

        assert cache.get("c", "s", read).role == "Owner"
        now[0] += 59
        assert cache.get("c", "s", read).role == "Owner" and len(reads) == 1
        now[0] += 1
        assert cache.get("c", "s", read).role == "Admin" and len(reads) == 2
        cache.forget("c", "s")
        cache.get("c", "s", read)
        assert len(reads) == 3
        assert cache.get("c", "nobody", lambda: None) is None
        assert cache.get("c", "nobody", lambda: reads.append(0)) is None and len(reads) == 4  # absence is not kept
    finally:
        config.settings.cache_clear()


# ----- role and name --------------------------------------------------------------------------------
def test_an_owner_promotes_a_member_whose_existing_token_gets_the_new_role_and_group(world, cognito):
    sub = world.sub("billing")
    assert world.billing.get("/staff").status == 403
    r = world.owner.patch(f"/staff/{sub}", {"role": "Admin"})
    assert r.status == 200 and (r.body["role"], r.body["status"]) == ("Admin", "active"), r
    assert world.billing.get("/staff").status == 200  # the token issued before still says BillingStaff
    assert cognito.users[world.users["billing"]["email"]].groups == {"Admin"}
    entry = audit_entries(world.clinic_id, action="staff.updated")[0]
    assert entry.actor == world.sub("owner")
    assert entry.details == {"sub": sub, "role": "Admin", "previous_role": "BillingStaff"}


def test_renaming_a_member_keeps_the_name_out_of_the_audit_details(world):
    r = world.owner.patch(f"/staff/{world.sub('admin')}", {"name": "Ada Lovelace"})
    assert r.status == 200 and r.body["name"] == "Ada Lovelace"
    entry = audit_entries(world.clinic_id, action="staff.updated")[0]
    assert entry.details == {"sub": world.sub("admin"), "name_changed": True}


def test_the_last_active_owner_cannot_be_demoted_but_one_of_two_can(http):
    world = make_clinic(http)
    r = world.owner.patch(f"/staff/{world.sub('owner')}", {"role": "Admin"})
    assert r.status == 409 and r.body["error"]["code"] == "last_owner"
    assert world.owner.patch(f"/staff/{world.sub('admin')}", {"role": "Owner"}).status == 200
    assert world.owner.patch(f"/staff/{world.sub('owner')}", {"role": "Admin"}).status == 200
    assert world.owner.get("/me").body["roles"] == ["Admin"]
    assert world.admin.patch(f"/staff/{world.sub('admin')}", {"role": "BillingStaff"}).status == 409


def test_only_an_owner_changes_staff_and_the_same_change_twice_writes_one_audit_entry(world):
    sub = world.sub("billing2")
    assert world.admin.patch(f"/staff/{sub}", {"role": "Admin"}).status == 403
    assert world.owner.patch(f"/staff/{sub}", {"role": "Admin"}).status == 200
    assert world.owner.patch(f"/staff/{sub}", {"role": "Admin"}).status == 200
    assert len(audit_entries(world.clinic_id, action="staff.updated")) == 1


@pytest.mark.parametrize("body, field", [({"role": "Boss"}, "role"), ({"role": None}, "role"),
                                         ({"name": ""}, "name"), ({"name": None}, "name"),
                                         ({"email": "x@y.z"}, "email")])
def test_a_bad_staff_change_is_400_and_changes_nothing(world, body, field):
    before = world.owner.get("/staff").body
    r = world.owner.patch(f"/staff/{world.sub('billing')}", body)
    assert r.status == 400 and field in r.body["error"]["fields"], r
    assert world.owner.get("/staff").body == before


def test_an_unknown_member_is_404(world, other_clinic):
    assert world.owner.patch("/staff/no-such-sub", {"role": "Admin"}).status == 404
    assert world.owner.patch(f"/staff/{other_clinic.sub('billing')}", {"role": "Admin"}).status == 404
    assert world.owner.post(f"/staff/{other_clinic.sub('billing')}/deactivate", {}).status == 404
    assert world.owner.post(f"/staff/{other_clinic.sub('billing')}/reactivate").status == 404


# ----- deactivation -----------------------------------------------------------------------------------
def test_a_deactivated_member_is_signed_out_refused_and_listed_only_with_status_all(world, cognito):
    sub, email = world.sub("billing"), world.users["billing"]["email"]
    r = world.owner.post(f"/staff/{sub}/deactivate", {})
    assert r.status == 200 and r.body == {"sub": sub, "status": "inactive", "callbacks_reassigned": 0}, r
    assert world.billing.get("/follow-ups").status == 401
    user = cognito.users[email]
    assert not user.enabled and user.signed_out_at == 1
    with pytest.raises(Exception, match="disabled"):
        cognito.sign_in(email)
    assert sub not in statuses(world, "active")
    assert statuses(world)[sub] == "inactive"
    assert world.owner.get("/staff?status=gone").status == 400
    entry = audit_entries(world.clinic_id, action="staff.deactivated")[0]
    assert entry.actor == world.sub("owner") and entry.details["sub"] == sub


def test_a_leavers_scheduled_callbacks_go_to_the_colleague_chosen_and_done_ones_stay(world):
    pid = owing_patient(world)
    due = [world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": in_two_days()}).body for _ in range(3)]
    world.billing.patch(f"/callbacks/{due[0]['callback_id']}", {"status": "done"})
    r = world.owner.post(f"/staff/{world.sub('billing')}/deactivate", {"reassign_to": world.sub("billing2")})
    assert r.status == 200 and r.body["callbacks_reassigned"] == 2, r
    callbacks = {c["callback_id"]: c for c in world.owner.get(f"/follow-ups/{pid}").body["callbacks"]}
    assert callbacks[due[0]["callback_id"]]["assignee_sub"] == world.sub("billing")
    assert {callbacks[c["callback_id"]]["assignee_sub"] for c in due[1:]} == {world.sub("billing2")}
    assert len(world.as_("billing2").get("/calendar.ics").text.split("BEGIN:VEVENT")) == 3
    moved = audit_entries(world.clinic_id, action="callback.updated", patient_id=pid)
    assert {e.details["previous_assignee_sub"] for e in moved if "assignee_sub" in e.details} == {world.sub("billing")}


def test_a_reschedule_that_read_the_callback_before_it_moved_keeps_the_new_assignee(world, monkeypatch):
    from chalicelib.services import callbacks

    pid = owing_patient(world)
    cb = world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": in_two_days()}).body
    real_load, moved = callbacks._load, []

    def load_then_deactivate(uow, clinic_id, patient_id):
        loaded = real_load(uow, clinic_id, patient_id)
        if not moved:  # the owner deactivates the assignee right after the reschedule read the callback
            moved.append(world.owner.post(f"/staff/{world.sub('billing')}/deactivate",
                                          {"reassign_to": world.sub("billing2")}))
        return loaded

    monkeypatch.setattr(callbacks, "_load", load_then_deactivate)
    later = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    r = world.owner.patch(f"/callbacks/{cb['callback_id']}", {"due_at": later})
    assert moved[0].status == 200 and moved[0].body["callbacks_reassigned"] == 1
    assert r.status == 200 and r.body["assignee_sub"] == world.sub("billing2"), r


def test_by_default_the_callbacks_go_to_whoever_deactivates(world):
    pid = owing_patient(world)
    world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": in_two_days()})
    assert world.admin.post(f"/staff/{world.sub('billing')}/deactivate", {}).body["callbacks_reassigned"] == 1
    assert [c["assignee_sub"] for c in world.owner.get(f"/follow-ups/{pid}").body["callbacks"]] == [world.sub("admin")]


def test_a_leaver_with_many_callbacks_has_them_all_moved_in_several_transactions(world):
    pid = owing_patient(world)
    for _ in range(120):
        assert world.billing.post(f"/follow-ups/{pid}/callbacks", {"due_at": in_two_days()}).status == 201
    r = world.owner.post(f"/staff/{world.sub('billing')}/deactivate", {"reassign_to": world.sub("admin")})
    assert r.status == 200 and r.body["callbacks_reassigned"] == 120
    assert len(world.admin.get("/calendar.ics").text.split("BEGIN:VEVENT")) == 121


def test_a_leavers_calendar_feed_and_delegations_stop(world):
    feed = world.billing.post("/calendar/feed", headers={"Host": "followups.example.test"}).body["url"]
    path = "/" + feed.split("/", 3)[3]
    assert Api(world.http, None).get(path).status == 200
    grant = world.owner.post("/delegations", {"grantee_sub": world.sub("billing"), "permission": "write_off",
                                              "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()})
    assert grant.status == 201
    world.owner.post(f"/staff/{world.sub('billing')}/deactivate", {})
    assert Api(world.http, None).get(path).status == 404
    assert world.owner.get("/delegations").body["items"] == []
    revoked = audit_entries(world.clinic_id, action="delegation.revoked")
    assert [e.details["delegation_id"] for e in revoked] == [grant.body["delegation_id"]]


def test_nobody_deactivates_themselves_and_an_admin_only_billing_staff(world):
    r = world.owner.post(f"/staff/{world.sub('owner')}/deactivate", {})
    assert r.status == 409 and r.body["error"]["code"] == "conflict"
    assert world.admin.post(f"/staff/{world.sub('owner')}/deactivate", {}).status == 403
    assert world.admin.post(f"/staff/{world.sub('owner2')}/deactivate", {}).status == 403
    assert world.billing.post(f"/staff/{world.sub('billing2')}/deactivate", {}).status == 403
    assert world.admin.post(f"/staff/{world.sub('billing2')}/deactivate", {}).status == 200
    assert world.admin.post(f"/staff/{world.sub('billing2')}/reactivate").status == 403


def test_an_owner_deactivates_another_owner_who_can_then_do_nothing(world):
    assert world.owner.post(f"/staff/{world.sub('owner2')}/deactivate", {}).status == 200
    assert world.as_("owner2").post(f"/staff/{world.sub('owner')}/deactivate", {}).status == 401
    assert world.owner.patch(f"/staff/{world.sub('owner')}", {"role": "Admin"}).body["error"]["code"] == "last_owner"


@pytest.mark.parametrize("heir, field", [("no-such-sub", "reassign_to"), ("@billing", "reassign_to"),
                                         ("@gone", "reassign_to")])
def test_callbacks_go_only_to_another_active_member(world, heir, field):
    world.owner.post(f"/staff/{world.sub('billing2')}/deactivate", {})
    names = {"@billing": world.sub("billing"), "@gone": world.sub("billing2")}
    before = statuses(world)
    r = world.owner.post(f"/staff/{world.sub('billing')}/deactivate", {"reassign_to": names.get(heir, heir)})
    assert r.status == 400 and field in r.body["error"]["fields"], r
    assert statuses(world) == before


def test_a_deactivated_member_takes_no_new_callback_or_delegation(world):
    world.owner.post(f"/staff/{world.sub('billing2')}/deactivate", {})
    pid = owing_patient(world)
    r = world.billing.post(f"/follow-ups/{pid}/callbacks",
                           {"due_at": in_two_days(), "assignee_sub": world.sub("billing2")})
    assert r.status == 400 and "assignee_sub" in r.body["error"]["fields"], r
    r = world.owner.post("/delegations", {"grantee_sub": world.sub("billing2"), "permission": "write_off",
                                          "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()})
    assert r.status == 400 and "grantee_sub" in r.body["error"]["fields"], r


def test_deactivating_again_is_harmless_and_moves_what_is_left(world):
    sub = world.sub("billing")
    assert world.owner.post(f"/staff/{sub}/deactivate", {}).status == 200
    r = world.owner.post(f"/staff/{sub}/deactivate", {})
    assert r.status == 200 and r.body["callbacks_reassigned"] == 0
    assert len(audit_entries(world.clinic_id, action="staff.deactivated")) == 1


def test_past_attempts_of_a_leaver_keep_their_name_in_the_staff_report(world):
    pid = owing_patient(world)
    world.billing.post(f"/follow-ups/{pid}/attempts", {"channel": "phone", "outcome": "no_answer"})
    world.owner.post(f"/staff/{world.sub('billing')}/deactivate", {})
    today = world.today().isoformat()
    items = world.owner.get(f"/reports/staff-performance?from={today}&to={today}").body["items"]
    row = next(i for i in items if i["sub"] == world.sub("billing"))
    assert row["name"] == "Billing" and row["attempts"] == 1


# ----- reactivation --------------------------------------------------------------------------------------
def test_a_reactivated_member_works_again_with_their_role(world, cognito):
    sub = world.sub("billing")
    world.owner.post(f"/staff/{sub}/deactivate", {})
    r = world.owner.post(f"/staff/{sub}/reactivate")
    assert r.status == 200 and (r.body["status"], r.body["role"]) == ("active", "BillingStaff"), r
    assert cognito.users[world.users["billing"]["email"]].enabled
    assert world.billing.get("/follow-ups").status == 200
    assert world.owner.post(f"/staff/{sub}/reactivate").status == 200  # again: nothing more happens
    assert len(audit_entries(world.clinic_id, action="staff.reactivated")) == 1


# ----- the user pool converges with the record --------------------------------------------------------------
def pool_down() -> Unavailable:
    """What store/cognito.mirror raises when the pool fails (tests/api/test_team.py fails the real calls)."""
    return Unavailable("the sign-in service did not take it yet")


def test_when_the_user_pool_fails_after_a_deactivation_the_record_already_refuses_and_a_retry_converges(
        world, cognito):
    sub, email = world.sub("billing"), world.users["billing"]["email"]
    cognito.fail_mirror(pool_down())
    r = world.owner.post(f"/staff/{sub}/deactivate", {})
    assert r.status == 503 and r.body["error"]["code"] == "unavailable", r
    assert world.billing.get("/follow-ups").status == 401  # the record decides at once
    assert cognito.users[email].enabled
    assert world.owner.post(f"/staff/{sub}/deactivate", {}).status == 200
    assert not cognito.users[email].enabled
    assert len(audit_entries(world.clinic_id, action="staff.deactivated")) == 1


def test_when_the_user_pool_fails_after_a_role_change_the_same_request_again_moves_the_group(world, cognito):
    sub, email = world.sub("billing2"), world.users["billing2"]["email"]
    cognito.fail_mirror(pool_down())
    assert world.owner.patch(f"/staff/{sub}", {"role": "Admin"}).status == 503
    assert world.as_("billing2").get("/staff").status == 200  # the record already says Admin
    assert cognito.users[email].groups == {"BillingStaff"}
    assert world.owner.patch(f"/staff/{sub}", {"role": "Admin"}).status == 200
    assert cognito.users[email].groups == {"Admin"}
    assert len(audit_entries(world.clinic_id, action="staff.updated")) == 1


def test_a_failed_reactivation_in_the_user_pool_is_finished_by_sending_it_again(world, cognito):
    sub, email = world.sub("billing2"), world.users["billing2"]["email"]
    world.owner.post(f"/staff/{sub}/deactivate", {})
    cognito.fail_mirror(pool_down())
    assert world.owner.post(f"/staff/{sub}/reactivate").status == 503
    assert not cognito.users[email].enabled
    assert world.owner.post(f"/staff/{sub}/reactivate").status == 200
    assert cognito.users[email].enabled


def test_the_integration_keys_a_leaving_owner_made_stop_with_them_and_a_colleagues_keep_working(world):
    """Deactivation revokes the keys the member created, in the record's own transaction."""
    theirs = Api(world.http, world.as_("owner2").post(
        "/integrations", {"name": "Their connector", "scopes": ["patients:read"]}).body["key"])
    ours, made = issue_key(world, ["patients:read"])
    assert theirs.get("/patients?q=anyone").status == 200
    assert world.owner.post(f"/staff/{world.sub('owner2')}/deactivate", {}).status == 200
    forget_keys()  # as the process cache's half minute would
    assert theirs.get("/patients?q=anyone").status == 401
    assert ours.get("/patients?q=anyone").status == 200
    [left] = audit_entries(world.clinic_id, action="staff.deactivated")
    assert len(left.details["integrations_revoked"]) == 1
    assert [i["integration_id"] for i in world.owner.get("/integrations").body["items"]] == [made["integration_id"]]
