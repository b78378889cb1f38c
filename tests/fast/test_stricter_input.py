"""The contract's "Stricter input": media types, the calendar range, the horizon, nesting, buckets.

Each case here ended in a 500, or was accepted, before: an instant in year 9999 or year 1
(OverflowError converting it to UTC), deeply nested JSON (RecursionError in json.loads), a plan
starting in year 9999 (the schedule overflowed), a callback at `9999-12-31T23:59` local, a body
sent as text/plain (parsed and written), `bucket=90` (200 with an empty list).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.fast.support import audit_entries


def assert_refused(r, status=400, code="validation_error", field=None):
    assert r.status == status, r
    assert set(r.body) == {"error"} and r.body["error"]["code"] == code and r.body["error"]["message"], r
    if field is not None:
        assert field in r.body["error"].get("fields", {}), r


@pytest.fixture
def debtor(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 10_000, clinic.days_ago(40))
    return pid


def later(clinic, days: int) -> str:
    return (clinic.today() + timedelta(days=days)).isoformat()


# ----- media types ---------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/csv",
                                          "application/xml", "multipart/form-data; boundary=x", "application/jsonx"])
def test_a_body_sent_as_anything_but_json_is_415_in_the_contracts_shape_and_writes_nothing(clinic, content_type):
    before = len(audit_entries(clinic.clinic_id))
    r = clinic.billing.request("POST", "/patients", raw=json.dumps({"name": "Plain Text"}),
                               headers={"Content-Type": content_type})
    assert_refused(r, 415, "unsupported_media_type")
    assert len(audit_entries(clinic.clinic_id)) == before


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8"])
def test_json_with_or_without_a_charset_is_accepted(clinic, content_type):
    r = clinic.billing.request("POST", "/patients", raw=json.dumps({"name": "Json Person"}),
                               headers={"Content-Type": content_type})
    assert r.status == 201, r


def test_a_body_on_a_route_without_a_body_schema_is_still_checked_for_its_type(clinic):
    r = clinic.billing.request("POST", "/calendar/feed", raw="hello", headers={"Content-Type": "text/plain"})
    assert_refused(r, 415, "unsupported_media_type")


def test_a_request_without_a_body_may_name_any_content_type(clinic):
    r = clinic.billing.request("GET", "/clinic", headers={"Content-Type": "text/plain"})
    assert r.status == 200, r
    r = clinic.billing.request("POST", "/calendar/feed", headers={"Content-Type": "text/plain", "Host": "h.test"})
    assert r.status == 201, r


def test_a_route_can_name_another_media_type_it_takes(http, clinic):
    """As `POST /imports` will with text/csv: the route says so in its `@route`, gets the raw body,
    and still refuses what it does not name."""
    from chalicelib.api import routing
    from chalicelib.domain.roles import ALL_STAFF

    seen = []

    def take_csv(ctx):
        seen.append((ctx.media_type, ctx.body, ctx.request.raw_body))
        return {"ok": True}

    routes, handlers = list(routing.ROUTES), dict(routing.HANDLERS)
    try:
        routing.route("/test-only/csv", "POST", roles=ALL_STAFF, body=None,
                      accepts=("application/json", "text/csv"))(take_csv)
        view = routing.HANDLERS[("POST", "/test-only/csv")].view

        class Request:
            def __init__(self, content_type, raw):
                self.headers = {"authorization": f"Bearer {clinic.users['billing']['token']}",
                                "content-type": content_type}
                self.raw_body, self.query_params, self.context = raw, None, {"requestId": "r-1"}
                self.method, self.path = "POST", "/test-only/csv"

        assert view(Request("text/csv; charset=utf-8", b"a,b\n1,2\n")).status_code == 200
        assert seen == [("text/csv", None, b"a,b\n1,2\n")]
        refused = view(Request("text/plain", b"a,b"))
        assert refused.status_code == 415
        assert json.loads(refused.body)["error"]["code"] == "unsupported_media_type"
    finally:
        routing.ROUTES[:] = routes
        routing.HANDLERS.clear()
        routing.HANDLERS.update(handlers)


# ----- the calendar range: 1900-01-01 to 2199-12-31 -----------------------------------------------
@pytest.mark.parametrize("day", ["1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31", "0000-01-01"])
def test_dates_outside_1900_to_2199_are_refused(clinic, debtor, day):
    r = clinic.billing.post("/invoices", {"patient_id": debtor, "amount_cents": 100, "invoice_date": clinic.today()
                                          .isoformat(), "service_date": day})
    assert_refused(r, field="service_date")


def test_the_first_and_last_dates_of_the_range_are_accepted(clinic, debtor):
    for day in ("1900-01-01", "2199-12-31"):
        r = clinic.billing.post("/invoices", {"patient_id": debtor, "amount_cents": 100,
                                              "invoice_date": clinic.today().isoformat(), "service_date": day})
        assert r.status == 201, r


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00",
                                     "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"])
def test_instants_outside_the_range_are_refused_not_a_500(clinic, debtor, instant):
    assert_refused(clinic.pay(debtor, 100, received_at=instant), field="received_at")
    r = clinic.owner.post("/delegations", {"grantee_sub": clinic.sub("billing"), "permission": "write_off",
                                           "expires_at": instant})
    assert_refused(r, field="expires_at")


@pytest.mark.parametrize("due_at", ["9999-12-31T23:59", "0001-01-01T00:00", "2200-01-01T00:00",
                                    "9999-12-31T23:59:59-05:00"])
def test_a_callback_at_a_wall_time_or_instant_outside_the_range_is_refused(clinic, debtor, due_at):
    assert_refused(clinic.billing.post(f"/follow-ups/{debtor}/callbacks", {"due_at": due_at}), field="due_at")


def test_a_reschedule_outside_the_range_is_refused(clinic, debtor):
    soon = (clinic.today() + timedelta(days=1)).isoformat() + "T10:00"
    callback = clinic.billing.post(f"/follow-ups/{debtor}/callbacks", {"due_at": soon}).body
    r = clinic.billing.patch(f"/callbacks/{callback['callback_id']}", {"due_at": "9999-12-31T23:59"})
    assert_refused(r, field="due_at")


@pytest.mark.parametrize("query", ["invoice_date_from=0001-01-01", "invoice_date_to=9999-12-31"])
def test_query_dates_are_bounded_too(clinic, query):
    assert_refused(clinic.billing.get(f"/follow-ups?{query}"))


# ----- the horizon: at most 366 days after the clinic's today ----------------------------------------
def test_a_plan_may_start_366_days_ahead_but_not_367(clinic):
    first, second = clinic.patient(), clinic.patient()
    for pid in (first, second):
        clinic.invoice(pid, 5_000, clinic.days_ago(10))
    r = clinic.billing.post(f"/follow-ups/{first}/payment-plan", {"installment_cents": 1_000, "frequency": "monthly",
                                                                  "start_date": later(clinic, 367)})
    assert_refused(r, field="start_date")
    assert clinic.billing.get(f"/patients/{first}").body["follow_up_status"] == "open"
    r = clinic.billing.post(f"/follow-ups/{second}/payment-plan", {"installment_cents": 1_000, "frequency": "monthly",
                                                                   "start_date": later(clinic, 366)})
    assert r.status == 201, r


@pytest.mark.parametrize("start", ["2199-12-01", "2199-12-31"])
def test_a_plan_starting_at_the_end_of_the_calendar_is_a_400_not_a_500(clinic, debtor, start):
    r = clinic.billing.post(f"/follow-ups/{debtor}/payment-plan", {"installment_cents": 100, "frequency": "monthly",
                                                                   "start_date": start})
    assert_refused(r, field="start_date")


def test_a_promise_may_be_dated_366_days_ahead_but_not_367(clinic, debtor):
    def promise(days):
        return clinic.billing.post(f"/follow-ups/{debtor}/attempts", {
            "channel": "phone", "outcome": "promised_payment", "promised_amount_cents": 1_000,
            "promised_date": later(clinic, days)})

    assert_refused(promise(367), field="promised_date")
    assert clinic.billing.get(f"/follow-ups/{debtor}").body["attempts"] == []
    assert promise(366).status == 201


def test_the_horizon_is_one_named_rule_with_the_limit_as_a_parameter():
    from datetime import date

    from chalicelib.domain import bounds
    from chalicelib.domain.errors import ValidationError

    today = date(2026, 12, 1)
    bounds.check_within_horizon("until", date(2027, 12, 2), today)  # 366 days
    with pytest.raises(ValidationError) as refused:
        bounds.check_within_horizon("until", date(2027, 12, 3), today)
    assert refused.value.fields == {"until": "at most 366 days after today (2027-12-02)"}
    with pytest.raises(ValidationError):
        bounds.check_within_horizon("until", date(2027, 5, 31), today, days=180)


# ----- nesting -------------------------------------------------------------------------------
def nested(levels: int) -> str:
    """A patient body whose `name` holds `levels - 1` nested lists (the body itself is level 1)."""
    return '{"name": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize("levels", [33, 1_000, 20_000])
def test_a_body_nested_deeper_than_32_levels_is_refused_before_parsing(clinic, levels):
    r = clinic.billing.request("POST", "/patients", raw=nested(levels))
    assert_refused(r)
    assert "nested" in r.body["error"]["message"]


def test_32_levels_are_parsed_and_brackets_inside_strings_do_not_count(clinic):
    r = clinic.billing.request("POST", "/patients", raw=nested(32))
    assert_refused(r, field="name")  # a list is not a name: refused by the schema, not the depth
    r = clinic.billing.post("/patients", {"name": "[" * 40 + "{" * 40})
    assert r.status == 201, r


# ----- buckets -------------------------------------------------------------------------------
@pytest.mark.parametrize("bucket", ["90", "90%2B%2B", "%2090%2B", "91%2B", "90%20%20", "0-30%20", "0-31", "all", ""])
def test_a_bucket_outside_the_four_names_is_refused(clinic, bucket):
    assert_refused(clinic.billing.get(f"/follow-ups?bucket={bucket}"), field="bucket")


@pytest.mark.parametrize("bucket", ["0-30", "31-60", "61-90", "90%2B", "90+"])
def test_the_four_bucket_names_are_accepted_and_an_unencoded_plus_is_read_as_one(clinic, debtor, bucket):
    r = clinic.billing.get(f"/follow-ups?bucket={bucket}")
    assert r.status == 200, r


# ----- time zone names (found by tests/fast/test_bad_input.py) --------------------------------------
@pytest.mark.parametrize("name", ["😀" * 64, "x" * 64, "../../etc/passwd", "Europe/Athens\u0000", "２０/x"])
def test_a_time_zone_that_is_not_a_zone_name_is_a_400_before_any_file_is_opened(clinic, name):
    r = clinic.owner.patch("/clinic", {"timezone": name})
    assert_refused(r, field="timezone")


@pytest.mark.parametrize("day", ["２０２６-０１-０１", "2026-01-01\n"])
def test_dates_are_written_with_ascii_digits_and_nothing_after(clinic, debtor, day):
    r = clinic.billing.post("/invoices", {"patient_id": debtor, "amount_cents": 100, "invoice_date": day})
    assert_refused(r, field="invoice_date")
    assert r.body["error"]["fields"]["invoice_date"] == "must be a date YYYY-MM-DD"
