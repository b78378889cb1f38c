"""Finding a patient: a word prefix of the name (case and accents ignored), phone digits or an
email; by name, a page at a time; current as soon as the patient changes."""

from __future__ import annotations

from tests.integrations_support import issue_key


def names(r) -> list[str]:
    assert r.status == 200, r
    return [p["name"] for p in r.body["items"]]


def test_jose_and_nun_both_find_jose_nunez(http, clinic):
    clinic.patient("José Núñez")
    clinic.patient("Joanna Smith")
    for q in ("jose", "JOSÉ", "nun", "Núñ", "jose nun"):
        assert "José Núñez" in names(clinic.billing.get(f"/patients?q={q}")), q
    assert names(clinic.billing.get("/patients?q=smith")) == ["Joanna Smith"]
    assert "José Núñez" not in names(clinic.billing.get("/patients?q=ose"))


def test_results_come_by_name_a_page_at_a_time(http, clinic):
    for name in ("Page Zed", "Page Adams", "Page Mills", "Page Brown", "Page Carter"):
        clinic.patient(name)
    first = clinic.billing.get("/patients?q=page&limit=2").body
    second = clinic.billing.get(f"/patients?q=page&limit=2&cursor={first['next_cursor']}").body
    third = clinic.billing.get(f"/patients?q=page&limit=2&cursor={second['next_cursor']}").body
    got = [p["name"] for page in (first, second, third) for p in page["items"]]
    assert got == ["Page Adams", "Page Brown", "Page Carter", "Page Mills", "Page Zed"]
    assert third["next_cursor"] is None


def test_a_patient_is_found_by_phone_digits_and_by_email(http, clinic):
    pid = clinic.patient("Phoned Patient", phone="+1 (415) 555-0142", email="Phoned@Example.test")
    for q in ("14155550142", "415-555-0142", "5550142", "phoned@example.test"):
        assert [p["patient_id"] for p in clinic.billing.get(f"/patients?q={q}").body["items"]] == [pid], q


def test_a_renamed_patient_is_found_by_the_new_name_only(http, clinic):
    pid = clinic.patient("Oldname Person")
    clinic.billing.patch(f"/patients/{pid}", {"name": "Newname Person"})
    assert names(clinic.billing.get("/patients?q=oldname")) == []
    assert names(clinic.billing.get("/patients?q=newn")) == ["Newname Person"]


def test_a_query_of_less_than_two_characters_is_400_and_a_foreign_cursor_too(http, clinic):
    assert clinic.billing.get("/patients?q=a").status == 400
    assert clinic.billing.get("/patients").status == 400
    first = clinic.billing.get("/patients?q=page&limit=1").body
    if first["next_cursor"]:
        assert clinic.billing.get(f"/patients?q=other&cursor={first['next_cursor']}").status == 400


def test_search_never_shows_another_clinics_patients(http, clinic, other_clinic):
    other_clinic.patient("Elsewhere Patient")
    assert names(clinic.billing.get("/patients?q=elsewhere")) == []


def test_a_key_with_patients_read_searches_and_one_without_is_403(http, clinic):
    clinic.patient("Keyed Search")
    reader, _ = issue_key(clinic, ["patients:read"])
    writer, _ = issue_key(clinic, ["patients:write"])
    assert names(reader.get("/patients?q=keyed")) == ["Keyed Search"]
    assert writer.get("/patients?q=keyed").status == 403
