"""Calendar feeds (`C#<clinic>` / `FEED#<sub>`): one per member, only the secret's SHA-256 kept."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from ..domain.clock import iso_z
from ..domain.contact import CalendarFeed
from . import keys
from .mapping import t
from .models import CalendarFeedRecord
from .uow import Transaction


class CalendarFeedRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def get(self, clinic_id: str, sub: str) -> CalendarFeed | None:
        try:
            r = CalendarFeedRecord.get(keys.clinic_pk(clinic_id), keys.feed_sk(sub), consistent_read=True)
        except DoesNotExist:
            return None
        return CalendarFeed(r.sub, r.secret_sha256, t(r.created_at))

    def save(self, clinic_id: str, feed: CalendarFeed) -> None:
        """Stage the member's feed, replacing the one before (whose URL then stops working)."""
        self._tx.save(CalendarFeedRecord(keys.clinic_pk(clinic_id), keys.feed_sk(feed.sub), sub=feed.sub,
                                         secret_sha256=feed.secret_sha256, created_at=iso_z(feed.created_at)),
                      label="feed")
