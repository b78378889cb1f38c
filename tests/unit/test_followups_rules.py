"""The worklist's pure rules: filter windows, key ranges, cursors, next action, the feed URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api.urls import public_base_url
from chalicelib.domain import cursor as cursors
from chalicelib.domain.errors import ValidationError
from chalicelib.services import attempts
from chalicelib.services.callbacks import resolve_due_at
from chalicelib.services.followups import WORKLIST, NextAction, date_window, next_action
from chalicelib.store.keys import worklist_range

TODAY = date(2026, 3, 15)
PID = "pat_0123456789abcdef"


def test_a_bucket_window_meets_an_explicit_date_range():
    assert date_window(TODAY, "31-60", None, None) == (date(2026, 1, 14), date(2026, 2, 12))
    assert date_window(TODAY, "90+", None, None) == (None, date(2025, 12, 14))
    assert date_window(TODAY, "31-60", date(2026, 2, 1), date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 12))
    assert date_window(TODAY, None, date(2026, 2, 1), None) == (date(2026, 2, 1), None)


def test_a_bucket_and_a_date_range_that_do_not_overlap_give_no_window():
    assert date_window(TODAY, "0-30", None, date(2026, 1, 1)) is None


@pytest.mark.parametrize("position", [
    ["x"], ["2026-01-01"], ["2026-01-01", PID, "C#cln_x"], ["2026-13-01", PID], ["2026-01-01", "C#cln_x"],
    ["2026-01-01", 5], [20260101, PID],
])
def test_the_worklist_refuses_a_cursor_of_its_kind_that_names_no_row(position):
    """A cursor that decodes is still refused unless it names a row: (oldest invoice date, patient id)."""
    from chalicelib.services.followups import _after

    assert _after(cursors.encode(WORKLIST, [date(2026, 1, 1).isoformat(), PID])) == (date(2026, 1, 1), PID)
    with pytest.raises(ValidationError):
        _after(cursors.encode(WORKLIST, position))


def test_the_key_range_covers_whole_days_and_starts_strictly_after_the_cursor():
    lo, hi = worklist_range(date(2026, 2, 1), date(2026, 2, 12), None)
    assert lo < f"2026-02-01#{PID}" < hi and f"2026-02-12#{PID}" < hi
    assert not lo < f"2026-01-31#{PID}" and not f"2026-02-13#{PID}" < hi
    after = f"2026-02-05#{PID}"
    lo2, _ = worklist_range(date(2026, 2, 1), date(2026, 2, 12), (date(2026, 2, 5), PID))
    assert not lo2 <= after
    assert lo2 <= "2026-02-05#pat_0123456789abcdeg" and lo2 <= f"2026-02-06#{PID}"


def test_a_cursor_past_the_window_gives_an_empty_range():
    assert worklist_range(None, date(2026, 2, 12), (date(2026, 3, 1), PID)) is None


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
       st.text(alphabet="0123456789abcdefghjkmnpqrstvwxyz", min_size=16, max_size=16))
def test_a_cursor_round_trips_its_position(day, rand):
    position = [day.isoformat(), f"pat_{rand}"]
    assert cursors.decode(WORKLIST, cursors.encode(WORKLIST, position)) == position


@pytest.mark.parametrize("cursor", ["", "!!!", "d2wxfA", cursors.encode(WORKLIST, ["x"])[:-2] + "==", "a" * 300,
                                    "eHx8MjAyNi0wMS0wMSNwYXRfMDEyMzQ1Njc4OWFiY2RlZg",
                                    cursors.encode("audit::", ["2026-01-01T00:00:00.000000Z", "aud_0123456"])])
def test_anything_but_a_cursor_this_list_made_is_refused(cursor):
    with pytest.raises(ValidationError):
        cursors.decode(WORKLIST, cursor)


def test_next_action_is_the_earliest_and_dates_count_from_the_start_of_the_clinic_day():
    tz = "America/New_York"
    call = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)  # 23:00 on the 15th in New York
    assert next_action(tz, call, date(2026, 3, 16), date(2026, 4, 1)) == NextAction("callback", call)
    late_call = datetime(2026, 3, 16, 5, 0, tzinfo=UTC)  # 01:00 on the 16th: after the promise's day began
    assert next_action(tz, late_call, date(2026, 3, 16), None) == NextAction("promise", date(2026, 3, 16))
    assert next_action(tz, None, date(2026, 3, 20), date(2026, 3, 18)) == NextAction("installment",
                                                                                    date(2026, 3, 18))
    assert next_action(tz, None, date(2026, 3, 18), date(2026, 3, 18)).type == "promise"
    assert next_action(tz, None, None, None) is None


def test_a_promise_is_the_only_outcome_that_carries_an_amount_and_a_date():
    attempts.check("phone", "promised_payment", None, 100, TODAY)
    attempts.check("sms", "no_answer", "x" * 2000, None, None)
    for args in [("phone", "promised_payment", None, None, TODAY), ("phone", "refused", None, 100, None),
                 ("fax", "no_answer", None, None, None), ("phone", "no_answer", "x" * 2001, None, None)]:
        with pytest.raises(ValidationError):
            attempts.check(*args)


def test_a_wall_time_due_at_is_clinic_local_and_never_in_the_past():
    now = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST, an hour before the spring jump
    assert resolve_due_at(datetime(2026, 3, 8, 2, 30), "America/New_York", now) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        resolve_due_at(datetime(2026, 3, 8, 0, 59), "America/New_York", now)


@dataclass
class FakeRequest:
    headers: dict
    context: dict
    path: str = "/calendar/feed"


@dataclass
class FakeSettings:
    public_url: str | None = None
    extra: dict = field(default_factory=dict)


@pytest.mark.parametrize("headers, context_path, expected", [
    ({"host": "127.0.0.1:8123"}, "/calendar/feed", "http://127.0.0.1:8123"),  # chalice local
    ({"host": "abc.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"}, "/api/calendar/feed",
     "https://abc.execute-api.us-east-1.amazonaws.com/api"),  # API Gateway: the stage is in the path
    ({"host": "billing.clinic.test", "x-forwarded-proto": "https, http"}, "/v2/calendar/feed",
     "https://billing.clinic.test/v2"),  # a custom domain's base path
    ({"host": "h.test", "x-forwarded-proto": "gopher"}, "/calendar/feed", "http://h.test"),
])
def test_the_feed_url_is_built_from_where_the_request_came_in(monkeypatch, headers, context_path, expected):
    from chalicelib import config
    monkeypatch.setattr(config, "settings", lambda: FakeSettings())
    assert public_base_url(FakeRequest(headers, {"path": context_path}), "/calendar") == expected


def test_a_malformed_host_is_refused(monkeypatch):
    from chalicelib import config
    monkeypatch.setattr(config, "settings", lambda: FakeSettings())
    for host in ("", "evil.test/path", "a b", "x.test@y"):
        with pytest.raises(ValidationError):
            public_base_url(FakeRequest({"host": host}, {"path": "/calendar/feed"}), "/calendar")
