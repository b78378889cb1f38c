"""Staff members of a clinic (`C#<clinic>` / `STAFF#<sub>`), mirrored from the Cognito users."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from ..domain.team import StaffMember
from . import keys
from .models import Record, StaffRecord
from .uow import Transaction


def _member(r: StaffRecord) -> StaffMember:
    return StaffMember(r.sub, r.email, r.name, r.role, r.created_at)


def _record(clinic_id: str, m: StaffMember) -> StaffRecord:
    return StaffRecord(keys.clinic_pk(clinic_id), keys.staff_sk(m.sub), sub=m.sub, email=m.email, name=m.name,
                       role=m.role, created_at=m.created_at or "")


class StaffRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def get(self, clinic_id: str, sub: str, *, consistent: bool = False) -> StaffMember | None:
        try:
            return _member(StaffRecord.get(keys.clinic_pk(clinic_id), keys.staff_sk(sub), consistent_read=consistent))
        except DoesNotExist:
            return None

    def list(self, clinic_id: str) -> list[StaffMember]:
        return [_member(r) for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith(keys.STAFF))
                if isinstance(r, StaffRecord)]

    def add(self, clinic_id: str, member: StaffMember) -> None:
        self._tx.create(_record(clinic_id, member), label="staff")

    def require_role(self, clinic_id: str, member: StaffMember, role: str, label: str = "permission") -> None:
        """At commit, `member` must still hold `role` (a demotion that lands first refuses it)."""
        self._tx.check(_record(clinic_id, member), StaffRecord.role == role, label=label)

    def require_member(self, clinic_id: str, member: StaffMember, label: str = "permission") -> None:
        """At commit, `member` must still be staff of the clinic."""
        self._tx.check(_record(clinic_id, member), StaffRecord.sk.exists(), label=label)
