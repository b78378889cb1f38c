"""PATCH /patients/{id}: a patient's details corrected, validated, audited by field name, with
the external id and the search items moved in the same change."""

from __future__ import annotations

from tests.fast.support import audit_entries


def test_a_clerk_corrects_a_phone_number_and_the_worklist_row_shows_it(http, clinic):
    pid = clinic.patient("Wrong Number", phone="+1 555 0000")
    clinic.invoice(pid, 2_000, clinic.days_ago(5))
    r = clinic.billing.patch(f"/patients/{pid}", {"phone": "+1 555 0199", "name": "Right Number"})
    assert r.status == 200 and (r.body["phone"], r.body["name"]) == ("+1 555 0199", "Right Number")
    rows = clinic.billing.get("/follow-ups").body["items"]
    assert next(i for i in rows if i["patient_id"] == pid)["patient_name"] == "Right Number"


def test_contact_preferences_are_stored_on_the_patient(http, clinic):
    pid = clinic.patient("Prefers Email")
    r = clinic.billing.patch(f"/patients/{pid}", {"timezone": "America/Chicago", "do_not_contact": ["sms", "phone"],
                                                  "preferred_channel": "email"})
    assert r.status == 200
    got = clinic.billing.get(f"/patients/{pid}").body
    assert (got["timezone"], got["do_not_contact"], got["preferred_channel"]) == (
        "America/Chicago", ["phone", "sms"], "email")
    cleared = clinic.billing.patch(f"/patients/{pid}", {"timezone": None, "do_not_contact": []}).body
    assert (cleared["timezone"], cleared["do_not_contact"]) == (None, [])


def test_an_unknown_time_zone_or_channel_is_400_and_changes_nothing(http, clinic):
    pid = clinic.patient("Validated")
    for body, field in (({"timezone": "Mars/Olympus"}, "timezone"), ({"do_not_contact": ["fax"]}, "do_not_contact"),
                        ({"preferred_channel": "pigeon"}, "preferred_channel"), ({"name": None}, "name"),
                        ({}, "body")):
        r = clinic.billing.patch(f"/patients/{pid}", body)
        assert r.status == 400 and field in str(r.body["error"].get("fields")), (body, r)
    assert clinic.billing.get(f"/patients/{pid}").body["name"] == "Validated"


def test_the_audit_names_the_changed_fields_but_not_their_values(http, clinic):
    pid = clinic.patient("Before Name")
    clinic.billing.patch(f"/patients/{pid}", {"name": "After Name", "email": "after@mail.test", "phone": None})
    [entry] = audit_entries(clinic.clinic_id, patient_id=pid, action="patient.updated")
    assert entry.details == {"fields": ["email", "name"]} and entry.actor == clinic.sub("billing")


def test_a_patch_that_changes_nothing_writes_nothing(http, clinic):
    pid = clinic.patient("Same As Before", phone="+1 555 0123")
    before = len(audit_entries(clinic.clinic_id, patient_id=pid))
    assert clinic.billing.patch(f"/patients/{pid}", {"phone": "+1 555 0123"}).status == 200
    assert len(audit_entries(clinic.clinic_id, patient_id=pid)) == before


def test_moving_an_external_id_frees_the_old_one_and_a_taken_one_is_409(http, clinic):
    pid = clinic.patient("Mover", external_id="mrn-old")
    other = clinic.patient("Holder", external_id="mrn-held")
    assert clinic.billing.patch(f"/patients/{pid}", {"external_id": "mrn-new"}).status == 200
    assert clinic.billing.get("/patients/by-external-id/mrn-new").body["patient_id"] == pid
    assert clinic.billing.get("/patients/by-external-id/mrn-old").status == 404
    assert clinic.billing.post("/patients", {"name": "Takes Old", "external_id": "mrn-old"}).status == 201
    r = clinic.billing.patch(f"/patients/{pid}", {"external_id": "mrn-held"})
    assert r.status == 409 and r.body["error"]["code"] == "external_id_in_use"
    assert clinic.billing.get("/patients/by-external-id/mrn-held").body["patient_id"] == other


def test_another_clinics_patient_is_404(http, clinic, other_clinic):
    pid = clinic.patient("Not Theirs")
    assert other_clinic.owner.patch(f"/patients/{pid}", {"name": "Stolen"}).status == 404
