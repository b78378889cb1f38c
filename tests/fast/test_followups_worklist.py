"""The worklist: who is on it, in what order, their age and bucket, filters, cursors, closing (on the
memory store; what the pages cost in DynamoDB is tests/api/test_followups_worklist.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import aging
from chalicelib.services.followups import Filters
from tests.followups_support import (
    add_invoice,
    all_pages,
    at,
    boundary_ages,
    crowd_of_45,
    days_before,
    mixed_debts,
    new_clinic,
    owing,
    pay,
    real_today,
    worklist,
)

NOW = at("2026-03-15T15:00:00Z")  # 11:00 in New York, a Sunday after the DST change
TODAY = NOW.date()


def ids(page: dict) -> list[str]:
    return [row["patient_id"] for row in page["items"]]


# ----- aging -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def boundaries(store):
    return boundary_ages(NOW)


def test_days_overdue_and_bucket_follow_the_boundaries_0_30_31_60_61_90_91(boundaries):
    clinic_id, by_age = boundaries
    page = worklist(clinic_id, NOW)
    got = {row["patient_id"]: (row["days_overdue"], row["bucket"]) for row in page["items"]}
    assert got == {by_age[0]: (0, "0-30"), by_age[30]: (30, "0-30"), by_age[31]: (31, "31-60"),
                   by_age[60]: (60, "31-60"), by_age[61]: (61, "61-90"), by_age[90]: (90, "61-90"),
                   by_age[91]: (91, "90+")}
    assert page["as_of"] == "2026-03-15"


@pytest.mark.parametrize("bucket, ages", [("0-30", [30, 0]), ("31-60", [60, 31]), ("61-90", [90, 61]),
                                          ("90+", [91])])
def test_a_bucket_filter_returns_exactly_the_patients_of_that_age(boundaries, bucket, ages):
    clinic_id, by_age = boundaries
    page = worklist(clinic_id, NOW, Filters(bucket=bucket))
    assert ids(page) == [by_age[a] for a in ages]  # most overdue first


def test_days_overdue_grow_at_read_time_without_any_write(boundaries):
    clinic_id, by_age = boundaries
    tomorrow = worklist(clinic_id, NOW + timedelta(days=1))
    got = {row["patient_id"]: (row["days_overdue"], row["bucket"]) for row in tomorrow["items"]}
    assert got[by_age[30]] == (31, "31-60")
    assert got[by_age[90]] == (91, "90+")
    assert tomorrow["as_of"] == "2026-03-16"


def test_aging_counts_from_the_invoice_date_never_the_service_date(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 5), service_date=days_before(TODAY, 200))
    [row] = worklist(clinic_id, NOW)["items"]
    assert (row["patient_id"], row["oldest_invoice_date"], row["days_overdue"], row["bucket"]) == (
        pid, "2026-03-10", 5, "0-30")
    assert worklist(clinic_id, NOW, Filters(bucket="90+"))["items"] == []


def test_aging_follows_the_oldest_open_invoice_once_older_ones_are_paid(store):
    clinic_id = new_clinic(NOW)
    pid = owing(clinic_id, NOW, days_before(TODAY, 100), cents=5_000)
    add_invoice(clinic_id, "x", NOW, patient_id=pid, amount_cents=7_000, invoice_date=days_before(TODAY, 40))
    assert worklist(clinic_id, NOW)["items"][0]["bucket"] == "90+"
    pay(clinic_id, NOW, pid, 5_000)  # settles the oldest invoice first
    [row] = worklist(clinic_id, NOW)["items"]
    assert (row["days_overdue"], row["bucket"], row["balance_cents"]) == (40, "31-60", 7_000)
    assert worklist(clinic_id, NOW, Filters(bucket="90+"))["items"] == []


@pytest.mark.parametrize("tz, now, local_today", [
    ("Pacific/Kiritimati", "2026-03-15T20:00:00Z", "2026-03-16"),  # UTC+14: already tomorrow
    ("Pacific/Pago_Pago", "2026-03-15T05:00:00Z", "2026-03-14"),  # UTC-11: still yesterday
])
def test_aging_uses_the_clinics_own_calendar_not_utcs(store, tz, now, local_today):
    instant = at(now)
    clinic_id = new_clinic(instant, tz)
    local = datetime.fromisoformat(local_today).date()
    fresh = owing(clinic_id, instant, local)  # dated the clinic's today
    edge = owing(clinic_id, instant, local - timedelta(days=30))
    page = worklist(clinic_id, instant)
    assert page["as_of"] == local_today
    got = {row["patient_id"]: (row["days_overdue"], row["bucket"]) for row in page["items"]}
    assert got == {fresh: (0, "0-30"), edge: (30, "0-30")}
    # The bucket's date range is the clinic's too: by UTC's date `edge` would be 29 or 31 days old.
    assert ids(worklist(clinic_id, instant, Filters(bucket="0-30"))) == [edge, fresh]


def test_the_route_ages_by_the_clinics_today_where_it_differs_from_utcs(http):
    from tests.fast.support import make_clinic
    now = datetime.now(UTC)
    # A zone whose date differs from UTC's right now (one of the two always does).
    tz = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    world = make_clinic(http, timezone=tz)
    today = real_today(world.clinic_id)
    assert today != now.date()
    pid = world.patient("Kiri")
    world.invoice(pid, 2_500, today.isoformat())
    world.invoice(world.patient("Older"), 2_500, (today - timedelta(days=61)).isoformat())
    page = world.billing.get("/follow-ups").body
    assert page["as_of"] == today.isoformat()
    rows = {r["patient_id"]: r for r in page["items"]}
    assert (rows[pid]["days_overdue"], rows[pid]["bucket"]) == (0, "0-30")
    assert [r["bucket"] for r in page["items"]] == ["61-90", "0-30"]


# ----- rows and order --------------------------------------------------------------------------
def test_rows_come_most_overdue_first_then_by_patient_id(clinic):
    today = real_today(clinic.clinic_id)
    a, b, c = (clinic.patient(n) for n in ("A", "B", "C"))
    clinic.invoice(a, 1_000, (today - timedelta(days=3)).isoformat())
    clinic.invoice(b, 1_000, (today - timedelta(days=50)).isoformat())
    clinic.invoice(c, 1_000, (today - timedelta(days=3)).isoformat())
    page = clinic.billing.get("/follow-ups").body
    assert ids(page) == [b, *sorted([a, c])]
    row = page["items"][0]
    assert row == {"patient_id": b, "patient_name": "B", "status": "open", "balance_cents": 1_000,
                   "oldest_invoice_date": (today - timedelta(days=50)).isoformat(), "days_overdue": 50,
                   "bucket": "31-60", "last_attempt": None, "next_action": None, "hold": None,
                   "contact": {"call_now": True, "blocked_by": [], "next_call_at": row["contact"]["next_call_at"],
                               "timezone": "America/New_York"}}


def test_a_patient_without_an_open_invoice_is_not_on_the_list(clinic):
    clinic.patient("Never billed")
    assert clinic.billing.get("/follow-ups").body["items"] == []


def test_every_staff_role_sees_the_worklist(clinic):
    pid = clinic.patient()
    clinic.invoice(pid, 1_000, real_today(clinic.clinic_id).isoformat())
    for who in ("owner", "admin", "billing", "billing2"):
        r = clinic.as_(who).get("/follow-ups")
        assert r.status == 200 and ids(r.body) == [pid], (who, r)


# ----- filters ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed(store):
    return mixed_debts(NOW)


def names(page, p):
    by_id = {v: k for k, v in p.items()}
    return [by_id[i] for i in ids(page)]


@pytest.mark.parametrize("filters, expected", [
    (Filters(min_balance_cents=50_000), ["old_promised", "mid_big", "young_big"]),
    (Filters(max_balance_cents=3_000), ["old_small", "mid_small", "young_small"]),
    (Filters(min_balance_cents=3_000, max_balance_cents=50_000), ["old_promised", "mid_small"]),
    (Filters(status="promised"), ["old_promised"]),
    (Filters(status="open", bucket="90+"), ["old_small"]),
    (Filters(bucket="31-60", min_balance_cents=10_000), ["mid_big"]),
    (Filters(invoice_date_from=days_before(TODAY, 50), invoice_date_to=days_before(TODAY, 20)),
     ["mid_big", "mid_small", "young_big"]),
    (Filters(invoice_date_from=days_before(TODAY, 50), invoice_date_to=days_before(TODAY, 20), bucket="0-30"),
     ["young_big"]),
    (Filters(invoice_date_to=days_before(TODAY, 100), bucket="0-30"), []),
    (Filters(bucket="31-60", max_balance_cents=50_000, min_balance_cents=1, status="open",
             invoice_date_from=days_before(TODAY, 46)), ["mid_small"]),
    (Filters(status="payment_plan"), []),
    (Filters(status="closed"), []),
])
def test_filters_combine_with_and(mixed, filters, expected):
    clinic_id, p = mixed
    assert names(worklist(clinic_id, NOW, filters), p) == expected


def test_the_route_combines_filters_from_the_query_string(clinic):
    today = real_today(clinic.clinic_id)
    keep = clinic.patient("Keep")
    clinic.invoice(keep, 40_000, (today - timedelta(days=100)).isoformat())
    small = clinic.patient("Small")
    clinic.invoice(small, 100, (today - timedelta(days=100)).isoformat())
    young = clinic.patient("Young")
    clinic.invoice(young, 40_000, (today - timedelta(days=1)).isoformat())
    r = clinic.billing.get("/follow-ups?bucket=90%2B&min_balance_cents=1000&max_balance_cents=50000&status=open"
                           f"&invoice_date_from={(today - timedelta(days=365)).isoformat()}"
                           f"&invoice_date_to={today.isoformat()}")
    assert r.status == 200 and ids(r.body) == [keep]
    # An unencoded plus arrives as a space: still the 90+ bucket.
    assert ids(clinic.billing.get("/follow-ups?bucket=90+").body) == sorted([keep, small])


@pytest.mark.parametrize("query", [
    "bucket=45", "bucket=", "bucket=0-31", "min_balance_cents=-1", "min_balance_cents=1.0",
    "min_balance_cents=1e3", "min_balance_cents=abc", "max_balance_cents=%2B5",
    "min_balance_cents=10&max_balance_cents=5", "invoice_date_from=2026-02-30", "invoice_date_to=2026-3-01",
    "invoice_date_from=2026-03-02&invoice_date_to=2026-03-01", "status=late", "status=OPEN", "limit=0",
    "limit=101", "limit=ten", "limit=2.0", "cursor=not-a-cursor", "cursor=d2wxfDIwMjYtMDEtMDE", "sort=name",
])
def test_a_bad_filter_value_is_a_400(clinic, query):
    r = clinic.billing.get(f"/follow-ups?{query}")
    assert r.status == 400, (query, r)
    assert r.body["error"]["code"] == "validation_error"


# ----- pagination ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crowd(store):
    return crowd_of_45(NOW)


def test_pages_walk_the_whole_list_once_in_order(crowd):
    clinic_id, pids = crowd
    rows, pages = all_pages(clinic_id, NOW, limit=7)
    got = [r["patient_id"] for r in rows]
    assert len(got) == len(set(got)) == 45
    assert got == [r["patient_id"] for r in worklist(clinic_id, NOW, limit=100)["items"]]
    assert [(r["oldest_invoice_date"], r["patient_id"]) for r in rows] == sorted(
        (r["oldest_invoice_date"], r["patient_id"]) for r in rows)
    assert pages == 7  # 6 full pages of 7 and a last one of 3


def test_a_list_that_fills_the_last_page_exactly_ends_with_a_null_cursor(crowd):
    clinic_id, _ = crowd
    rows, pages = all_pages(clinic_id, NOW, limit=15)
    assert (len(rows), pages) == (45, 3)


def test_pages_never_skip_or_repeat_unchanged_rows_when_others_change_between_pages(store):
    clinic_id = new_clinic(NOW)
    pids = [owing(clinic_id, NOW, days_before(TODAY, 60 - 2 * i), cents=5_000) for i in range(20)]
    first = worklist(clinic_id, NOW, limit=8)
    seen = ids(first)
    assert seen == pids[:8]
    # Between pages: a seen row is paid off, an unseen row is paid off, a new patient lands
    # before the cursor and another after it, and a seen row's oldest invoice moves later.
    pay(clinic_id, NOW, pids[2], 5_000)
    pay(clinic_id, NOW, pids[12], 5_000)
    before = owing(clinic_id, NOW, days_before(TODAY, 59), cents=100)
    after = owing(clinic_id, NOW, days_before(TODAY, 1), cents=100)
    add_invoice(clinic_id, "x", NOW, patient_id=pids[0], amount_cents=100, invoice_date=days_before(TODAY, 3))
    pay(clinic_id, NOW, pids[0], 5_000)  # its oldest open invoice is now 3 days old
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = worklist(clinic_id, NOW, limit=8, cursor=cursor)
        rest.extend(ids(page))
        cursor = page["next_cursor"]
    unchanged_unseen = [p for p in pids[8:] if p != pids[12]]
    assert [p for p in rest if p in pids and p != pids[0]] == unchanged_unseen
    assert before not in rest and after in rest
    assert rest.count(pids[0]) == 1  # the changed row shows once, at its new place
    assert not set(rest) & (set(seen) - {pids[0]})


def test_a_cursor_from_a_page_continues_in_another_request_through_the_route(clinic):
    today = real_today(clinic.clinic_id)
    pids = []
    for i in range(5):
        pid = clinic.patient(f"P{i}")
        clinic.invoice(pid, 1_000, (today - timedelta(days=10 - i)).isoformat())
        pids.append(pid)
    first = clinic.billing.get("/follow-ups?limit=2").body
    second = clinic.admin.get(f"/follow-ups?limit=2&cursor={first['next_cursor']}").body
    third = clinic.owner.get(f"/follow-ups?limit=2&cursor={second['next_cursor']}").body
    assert ids(first) + ids(second) + ids(third) == pids
    assert third["next_cursor"] is None


# ----- closing ---------------------------------------------------------------------------------
def test_a_payment_that_brings_the_balance_to_zero_takes_the_patient_off_the_list_at_once(clinic):
    today = real_today(clinic.clinic_id)
    pid = clinic.patient("Payer")
    clinic.invoice(pid, 6_000, (today - timedelta(days=35)).isoformat())
    clinic.invoice(pid, 4_000, (today - timedelta(days=5)).isoformat())
    assert pid in ids(clinic.billing.get("/follow-ups").body)
    partial = clinic.pay(pid, 6_000)
    assert partial.body["follow_up_status"] == "open"
    [row] = [r for r in clinic.billing.get("/follow-ups").body["items"] if r["patient_id"] == pid]
    assert (row["balance_cents"], row["days_overdue"]) == (4_000, 5)
    final = clinic.pay(pid, 4_000)
    assert final.status == 201 and final.body["follow_up_status"] == "closed"
    assert pid not in ids(clinic.billing.get("/follow-ups").body)
    detail = clinic.billing.get(f"/follow-ups/{pid}").body
    assert (detail["status"], detail["balance_cents"], detail["days_overdue"]) == ("closed", 0, None)


def test_a_new_invoice_puts_a_closed_patient_back_on_the_list(clinic):
    today = real_today(clinic.clinic_id)
    pid = clinic.patient("Returning")
    clinic.invoice(pid, 1_000, (today - timedelta(days=70)).isoformat())
    clinic.pay(pid, 1_000)
    assert pid not in ids(clinic.billing.get("/follow-ups").body)
    clinic.invoice(pid, 2_000, (today - timedelta(days=2)).isoformat())
    [row] = clinic.billing.get("/follow-ups").body["items"]
    assert (row["patient_id"], row["status"], row["days_overdue"]) == (pid, "open", 2)


def test_buckets_partition_every_age():
    for days in range(0, 400):
        low, high = aging.invoice_date_range(aging.bucket_for(days), TODAY)
        assert (low is None or low <= TODAY - timedelta(days=days)) and TODAY - timedelta(days=days) <= high
