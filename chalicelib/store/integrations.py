"""Integration keys (`C#<clinic>` / `INTEG#<id>` and the lookup `KEY#<sha256>`) and their
per-minute request counters (`C#<clinic>#RATE#<id>` / `<minute>`).

A key's two items are written together (one transaction); the request path reads the lookup
item alone (one GetItem, cached by the caller) and counts with one conditional UpdateItem.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from ..domain.clock import iso_z
from ..domain.integrations import Integration
from . import keys
from .mapping import t, t_out
from .models import IntegrationRecord, KeyLookupRecord, RateRecord, Record
from .uow import Transaction

RATE_TTL = timedelta(minutes=10)


def _integration(r: IntegrationRecord) -> Integration:
    return Integration(r.integration_id, r.clinic_id, r.name, tuple(r.scopes), r.key_sha256, r.key_hint,
                       t(r.created_at), r.created_by, t(r.revoked_at), r.revoked_by, t(r.last_used_at))


def _records(i: Integration) -> tuple[IntegrationRecord, KeyLookupRecord]:
    listed = IntegrationRecord(
        keys.clinic_pk(i.clinic_id), keys.integration_sk(i.integration_id), integration_id=i.integration_id,
        clinic_id=i.clinic_id, name=i.name, scopes=list(i.scopes), key_sha256=i.key_sha256, key_hint=i.key_hint,
        created_at=iso_z(i.created_at), created_by=i.created_by, revoked_at=t_out(i.revoked_at),
        revoked_by=i.revoked_by, last_used_at=t_out(i.last_used_at))
    lookup = KeyLookupRecord(
        keys.key_lookup_pk(i.key_sha256), keys.KEY_LOOKUP_SK, integration_id=i.integration_id,
        clinic_id=i.clinic_id, scopes=list(i.scopes), created_by=i.created_by, revoked_at=t_out(i.revoked_at))
    return listed, lookup


class IntegrationRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def list(self, clinic_id: str) -> list[Integration]:
        """The clinic's keys, revoked ones too (one Query on its partition)."""
        return [_integration(r) for r in Record.query(
            keys.clinic_pk(clinic_id), Record.sk.startswith(keys.INTEGRATION), consistent_read=True)
            if isinstance(r, IntegrationRecord)]

    def get(self, clinic_id: str, integration_id: str) -> Integration | None:
        try:
            return _integration(IntegrationRecord.get(keys.clinic_pk(clinic_id), keys.integration_sk(integration_id),
                                                      consistent_read=True))
        except DoesNotExist:
            return None

    def add(self, integration: Integration) -> None:
        listed, lookup = _records(integration)
        self._tx.create(listed, label="integration")
        self._tx.create(lookup, label="key")

    def save_revoked(self, integration: Integration) -> None:
        """Stage the revocation of both items; of two revokers racing, one wins."""
        listed, lookup = _records(integration)
        self._tx.save(listed, label="integration", condition=IntegrationRecord.revoked_at.does_not_exist())
        self._tx.save(lookup, label="key")

    def by_key_hash(self, key_sha256: str) -> Integration | None:
        """The key a request carries, by its hash (one GetItem): names its clinic, id and scopes."""
        try:
            r = KeyLookupRecord.get(keys.key_lookup_pk(key_sha256), keys.KEY_LOOKUP_SK)
        except DoesNotExist:
            return None
        return Integration(r.integration_id, r.clinic_id, "", tuple(r.scopes), key_sha256, "", None, r.created_by,
                           t(r.revoked_at))

    def touch(self, clinic_id: str, integration_id: str, now: datetime, every: timedelta) -> bool:
        """Set `last_used_at` unless it was set less than `every` ago (a conditional UpdateItem,
        outside any transaction, so several processes write about once per `every` in all)."""
        record = IntegrationRecord(keys.clinic_pk(clinic_id), keys.integration_sk(integration_id))
        try:
            record.update(actions=[IntegrationRecord.last_used_at.set(iso_z(now))],
                          condition=IntegrationRecord.pk.exists() & IntegrationRecord.revoked_at.does_not_exist()
                          & (IntegrationRecord.last_used_at.does_not_exist()
                             | (IntegrationRecord.last_used_at < iso_z(now - every))))
        except UpdateError:
            return False
        return True

    def count_request(self, clinic_id: str, integration_id: str, window: datetime, limit: int) -> bool:
        """Count one request in the key's minute `window`; False (nothing counted) when `limit`
        requests were already counted there. One conditional UpdateItem, whatever the traffic."""
        record = RateRecord(keys.rate_pk(clinic_id, integration_id), iso_z(window))
        try:
            record.update(actions=[RateRecord.requests.add(1), RateRecord.kind.set(RateRecord),
                                   RateRecord.expires_at.set(window + RATE_TTL)],
                          condition=RateRecord.requests.does_not_exist() | (RateRecord.requests < limit))
        except UpdateError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def created_by(self, clinic_id: str, sub: str) -> list[Integration]:
        """The clinic's unrevoked keys made by one member (for their deactivation)."""
        return [i for i in self.list(clinic_id) if i.created_by == sub and i.active]
