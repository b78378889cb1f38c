"""Delegated permissions (`C#<clinic>` / `DELEG#<delegation>`)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ..domain.clock import iso_z
from ..domain.team import Delegation
from . import keys
from .mapping import t, t_out
from .models import DelegationRecord, Record
from .uow import Transaction


def _delegation(r: DelegationRecord) -> Delegation:
    return Delegation(r.delegation_id, r.grantee_sub, r.permission, t(r.expires_at_iso), r.created_by,
                      t(r.created_at), t(r.revoked_at), r.revoked_by)


def _record(clinic_id: str, g: Delegation) -> DelegationRecord:
    return DelegationRecord(
        keys.clinic_pk(clinic_id), keys.delegation_sk(g.delegation_id), delegation_id=g.delegation_id,
        grantee_sub=g.grantee_sub, permission=g.permission, expires_at_iso=iso_z(g.expires_at),
        created_by=g.created_by, created_at=iso_z(g.created_at), revoked_at=t_out(g.revoked_at),
        revoked_by=g.revoked_by)


class DelegationRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def active(self, clinic_id: str, now: datetime, grantee_sub: str | None = None) -> list[Delegation]:
        """Unrevoked, unexpired grants of the clinic (one strongly consistent Query on its partition)."""
        found = []
        for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith(keys.DELEGATION), consistent_read=True):
            if not isinstance(r, DelegationRecord):
                continue
            grant = _delegation(r)
            if grant.is_active(now) and (grantee_sub is None or grant.grantee_sub == grantee_sub):
                found.append(grant)
        return found

    def get(self, clinic_id: str, delegation_id: str) -> Delegation | None:
        try:
            return _delegation(DelegationRecord.get(keys.clinic_pk(clinic_id), keys.delegation_sk(delegation_id),
                                                    consistent_read=True))
        except DoesNotExist:
            return None

    def add(self, clinic_id: str, grant: Delegation) -> None:
        self._tx.create(_record(clinic_id, grant), label="delegation")

    def save_revoked(self, clinic_id: str, grant: Delegation) -> None:
        """Stage the revocation; of two revokers racing, one wins (the other's condition fails)."""
        self._tx.save(_record(clinic_id, grant), label="delegation",
                      condition=DelegationRecord.revoked_at.does_not_exist())

    def require_unrevoked(self, clinic_id: str, grant: Delegation, label: str = "permission") -> None:
        self._tx.check(_record(clinic_id, grant), DelegationRecord.revoked_at.does_not_exist(), label=label)
