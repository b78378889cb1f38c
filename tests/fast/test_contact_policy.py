"""The clinic's contact policy: Regulation F's figures until the Owner changes them on
`PATCH /clinic`, a merge of what is sent, strictly validated, audited as `clinic.updated`."""

from __future__ import annotations

import pytest

from chalicelib.domain.contact_rules import DEFAULT_POLICY
from tests.fast.support import audit_entries, make_clinic


@pytest.fixture
def clinic(http):
    """A clinic that never chose a policy (the other test clinics choose one without hours)."""
    return make_clinic(http, contact_policy=DEFAULT_POLICY)

DEFAULTS = {"call_hours": {"start": "08:00", "end": "21:00"}, "max_calls_per_7_days": 7,
            "quiet_days_after_conversation": 7}


def test_a_clinic_that_never_chose_a_policy_shows_regulation_fs_figures(clinic):
    for who in ("owner", "admin", "billing"):
        r = clinic.as_(who).get("/clinic")
        assert r.status == 200 and r.body["contact_policy"] == DEFAULTS, r


def test_the_owner_sets_the_whole_policy_and_everyone_sees_it(clinic):
    policy = {"call_hours": {"start": "09:00", "end": "17:30"}, "max_calls_per_7_days": 3,
              "quiet_days_after_conversation": 10}
    r = clinic.owner.patch("/clinic", {"contact_policy": policy})
    assert r.status == 200 and r.body["contact_policy"] == policy, r
    assert clinic.billing.get("/clinic").body["contact_policy"] == policy


def test_a_partial_policy_changes_only_what_it_names(clinic):
    assert clinic.owner.patch("/clinic", {"contact_policy": {"max_calls_per_7_days": 4}}).status == 200
    r = clinic.owner.patch("/clinic", {"contact_policy": {"call_hours": {"start": "10:00", "end": "18:00"}}})
    assert r.body["contact_policy"] == {"call_hours": {"start": "10:00", "end": "18:00"}, "max_calls_per_7_days": 4,
                                        "quiet_days_after_conversation": 7}


def test_changing_the_name_keeps_the_policy(clinic):
    clinic.owner.patch("/clinic", {"contact_policy": {"quiet_days_after_conversation": 0}})
    r = clinic.owner.patch("/clinic", {"name": "Renamed Clinic"})
    assert r.body["contact_policy"]["quiet_days_after_conversation"] == 0


def test_a_policy_change_is_audited_with_before_and_after(clinic):
    clinic.owner.patch("/clinic", {"contact_policy": {"max_calls_per_7_days": 5}})
    (entry, *_) = audit_entries(clinic.clinic_id, action="clinic.updated")
    assert entry.actor == clinic.sub("owner")
    assert entry.details == {"changed": {"contact_policy": {
        "from": DEFAULTS, "to": {**DEFAULTS, "max_calls_per_7_days": 5}}}}


@pytest.mark.parametrize("who", ["admin", "billing"])
def test_only_the_owner_sets_the_policy(clinic, who):
    r = clinic.as_(who).patch("/clinic", {"contact_policy": {"max_calls_per_7_days": 2}})
    assert r.status == 403
    assert clinic.owner.get("/clinic").body["contact_policy"] == DEFAULTS


@pytest.mark.parametrize("policy, field", [
    ({"call_hours": {"start": "8:00", "end": "21:00"}}, "contact_policy.call_hours.start"),
    ({"call_hours": {"start": "08:00", "end": "24:00"}}, "contact_policy.call_hours.end"),
    ({"call_hours": {"start": "08:00", "end": "21:00:00"}}, "contact_policy.call_hours.end"),
    ({"call_hours": {"start": 800, "end": "21:00"}}, "contact_policy.call_hours.start"),
    ({"call_hours": {"start": "21:00", "end": "08:00"}}, "contact_policy.call_hours.end"),
    ({"call_hours": {"start": "09:00", "end": "09:00"}}, "contact_policy.call_hours.end"),
    ({"call_hours": {"start": "09:00"}}, "contact_policy.call_hours.end"),
    ({"call_hours": None}, "contact_policy.call_hours"),
    ({"max_calls_per_7_days": 0}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": -1}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": 51}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": True}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": 7.0}, "contact_policy.max_calls_per_7_days"),
    ({"max_calls_per_7_days": "7"}, "contact_policy.max_calls_per_7_days"),
    ({"quiet_days_after_conversation": -1}, "contact_policy.quiet_days_after_conversation"),
    ({"quiet_days_after_conversation": 31}, "contact_policy.quiet_days_after_conversation"),
    ({"quiet_days_after_conversation": False}, "contact_policy.quiet_days_after_conversation"),
    ({"quiet_days_after_conversation": None}, "contact_policy.quiet_days_after_conversation"),
    ({"max_calls": 7}, "contact_policy.max_calls"),
])
def test_a_bad_policy_is_a_400_naming_the_field_and_changes_nothing(clinic, policy, field):
    before = len(audit_entries(clinic.clinic_id))
    r = clinic.owner.patch("/clinic", {"contact_policy": policy})
    assert r.status == 400 and r.body["error"]["code"] == "validation_error", r
    assert field in r.body["error"]["fields"], r.body
    assert clinic.owner.get("/clinic").body["contact_policy"] == DEFAULTS
    assert len(audit_entries(clinic.clinic_id)) == before


@pytest.mark.parametrize("value", [None, [], "08:00-21:00", 7])
def test_a_policy_that_is_not_an_object_is_a_400(clinic, value):
    r = clinic.owner.patch("/clinic", {"contact_policy": value})
    assert r.status == 400 and "contact_policy" in r.body["error"]["fields"], r


def test_a_bad_policy_sent_with_a_good_name_changes_neither(clinic):
    r = clinic.owner.patch("/clinic", {"name": "Should Not Stick", "contact_policy": {
        "call_hours": {"start": "18:00", "end": "09:00"}}})
    assert r.status == 400
    assert clinic.owner.get("/clinic").body["name"] != "Should Not Stick"


def test_the_openapi_document_describes_the_policy(http):
    from tests.support import Api

    doc = Api(http, None).get("/openapi.json").body
    text = str(doc)
    assert "contact_policy" in text and "max_calls_per_7_days" in text
