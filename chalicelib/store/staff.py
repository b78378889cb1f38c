"""Staff members of a clinic (`C#<clinic>` / `STAFF#<sub>`), mirrored from the Cognito users, and
each staff email's enrolment (`C#<clinic>` / `EMAIL#<sha256>`: one member per email and clinic)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from ..domain.team import ACTIVE, PENDING, Enrolment, StaffMember
from . import keys
from .models import Record, StaffEnrolmentRecord, StaffRecord
from .uow import Transaction


def as_member(r: StaffRecord) -> StaffMember:
    return StaffMember(r.sub, r.email, r.name, r.role, r.created_at, r.status or ACTIVE)


def _record(clinic_id: str, m: StaffMember) -> StaffRecord:
    return StaffRecord(keys.clinic_pk(clinic_id), keys.staff_sk(m.sub), sub=m.sub, email=m.email, name=m.name,
                       role=m.role, created_at=m.created_at or "", status=m.status)


def _enrolment(r: StaffEnrolmentRecord) -> Enrolment:
    return Enrolment(r.email, r.name, r.role, r.status, r.created_at, r.created_by, r.sub)


def _enrolment_record(clinic_id: str, e: Enrolment) -> StaffEnrolmentRecord:
    return StaffEnrolmentRecord(keys.clinic_pk(clinic_id), keys.staff_email_sk(e.email), email=e.email, name=e.name,
                                role=e.role, status=e.status, created_at=e.created_at, created_by=e.created_by,
                                sub=e.sub)


def _still(e: Enrolment):
    """The stored enrolment is pending and asks for what `e` asks for."""
    r = StaffEnrolmentRecord
    return (r.status == PENDING) & (r.name == e.name) & (r.role == e.role)


def _unchanged(m: StaffMember):
    """The stored record still has `m`'s role, name and status (no status: active, as written
    before there was one)."""
    r = StaffRecord
    status = (r.status == m.status) | r.status.does_not_exist() if m.status == ACTIVE else r.status == m.status
    return (r.role == m.role) & (r.name == m.name) & status


class StaffRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    def get(self, clinic_id: str, sub: str, *, consistent: bool = False) -> StaffMember | None:
        try:
            return as_member(StaffRecord.get(keys.clinic_pk(clinic_id), keys.staff_sk(sub), consistent_read=consistent))
        except DoesNotExist:
            return None

    def list(self, clinic_id: str) -> list[StaffMember]:
        return [as_member(r) for r in Record.query(keys.clinic_pk(clinic_id), Record.sk.startswith(keys.STAFF))
                if isinstance(r, StaffRecord)]

    def add(self, clinic_id: str, member: StaffMember) -> None:
        self._tx.create(_record(clinic_id, member), label="staff")

    # ----- enrolments: creating a member safely ---------------------------------------------------
    def enrolment(self, clinic_id: str, email: str) -> Enrolment | None:
        """The email's enrolment in the clinic (strongly consistent: a retry must see the last step)."""
        try:
            return _enrolment(StaffEnrolmentRecord.get(keys.clinic_pk(clinic_id), keys.staff_email_sk(email),
                                                       consistent_read=True))
        except DoesNotExist:
            return None

    def begin_enrolment(self, clinic_id: str, enrolment: Enrolment, *, replaces: Enrolment | None = None) -> None:
        """Stage a pending enrolment: a new one must not exist yet; one that replaces a pending one
        (a retry asking for another name or role) must find it still pending as it was read. A
        concurrent request loses with the label `staff_enrolment`."""
        record = _enrolment_record(clinic_id, enrolment)
        if replaces is None:
            self._tx.create(record, label="staff_enrolment")
        else:
            self._tx.save(record, label="staff_enrolment", condition=_still(replaces))

    def activate(self, clinic_id: str, enrolment: Enrolment, member: StaffMember) -> None:
        """Stage the member's record (must not exist) and their enrolment made active (must still be
        pending with the same name and role): the two become true together or not at all."""
        pending = Enrolment(enrolment.email, enrolment.name, enrolment.role, PENDING, enrolment.created_at,
                            enrolment.created_by)
        self._tx.create(_record(clinic_id, member), label="staff")
        self._tx.save(_enrolment_record(clinic_id, enrolment), label="staff_enrolment", condition=_still(pending))

    def save(self, clinic_id: str, member: StaffMember, *, was: StaffMember) -> None:
        """Stage the member's changed record (role, name, status); refused at commit (`staff`) if
        the record no longer is what `was` read."""
        self._tx.save(_record(clinic_id, member), label="staff", condition=_unchanged(was))

    def require_unchanged(self, clinic_id: str, member: StaffMember, label: str = "actor") -> None:
        """At commit, `member`'s record must still have the role, name and status read."""
        self._tx.check(_record(clinic_id, member), _unchanged(member), label=label)

    # ----- conditions on what a change relies on ----------------------------------------------------
    def require_role(self, clinic_id: str, member: StaffMember, role: str, label: str = "permission") -> None:
        """At commit, `member` must still hold `role` (a demotion that lands first refuses it)."""
        self._tx.check(_record(clinic_id, member), StaffRecord.role == role, label=label)

    def require_member(self, clinic_id: str, member: StaffMember, label: str = "permission") -> None:
        """At commit, `member` must still be staff of the clinic."""
        self._tx.check(_record(clinic_id, member), StaffRecord.sk.exists(), label=label)
