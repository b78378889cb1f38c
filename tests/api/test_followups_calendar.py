"""A calendar feed's secret is stored only as its SHA-256: the stored item itself is read back.

In the moto tier because what DynamoDB holds is the point (the feed record's attributes); the
calendar and its feed URL are tests/fast/test_followups_calendar.py.
"""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.domain import cursor as tokens
from chalicelib.services import calendar
from chalicelib.store import keys
from chalicelib.store.models import CalendarFeedRecord
from tests.followups_support import booked_callbacks


@pytest.fixture
def booked(clinic):
    return booked_callbacks(clinic)


def test_the_feed_secret_is_stored_only_as_its_sha256(clinic, booked):
    url = clinic.billing.post("/calendar/feed", headers={"Host": "h.test"}).body["url"]
    token = url.rsplit("/", 1)[1]
    secret = tokens.decode(calendar.FEED_TOKEN, token)[2]
    record = CalendarFeedRecord.get(keys.clinic_pk(clinic.clinic_id), keys.feed_sk(clinic.sub("billing")))
    assert record.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(record.attribute_values)
