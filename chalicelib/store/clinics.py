"""Clinics: the clinic record (`C#<clinic>` / `CLINIC`) and the `RUNS` schedule on the `due` index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError

from ..domain.clinic import Clinic
from ..domain.clock import iso_z
from ..domain.contact_rules import DEFAULT_POLICY, ContactPolicy, parse_hhmm
from ..domain.errors import NotFound
from ..domain.team import StaffMember
from . import keys
from .mapping import d, d_out, t
from .models import ClinicRecord, ContactPolicyMap, Record, StaffRecord
from .staff import as_member
from .uow import StaleWrite, Transaction


def _clinic(r: ClinicRecord) -> Clinic:
    return Clinic(r.clinic_id, r.name, r.timezone, r.currency, t(r.created_at), d(r.next_run_date), r.version,
                  bool(r.calendar_show_names), _policy(r.contact_policy))


def _policy(m: ContactPolicyMap | None) -> ContactPolicy:
    if m is None:
        return DEFAULT_POLICY
    return ContactPolicy(parse_hhmm(m.call_start), parse_hhmm(m.call_end, end=True), int(m.max_calls_per_7_days),
                         int(m.quiet_days_after_conversation))


def _policy_map(p: ContactPolicy) -> ContactPolicyMap | None:
    """Stored only when it differs from the defaults (absent: Regulation F's figures)."""
    if p == DEFAULT_POLICY:
        return None
    hours = p.as_dict()["call_hours"]
    return ContactPolicyMap(call_start=hours["start"], call_end=hours["end"],
                            max_calls_per_7_days=p.max_calls_per_7_days,
                            quiet_days_after_conversation=p.quiet_days_after_conversation)


def _record(c: Clinic) -> ClinicRecord:
    record = ClinicRecord(keys.clinic_pk(c.clinic_id), keys.CLINIC, clinic_id=c.clinic_id, name=c.name,
                          timezone=c.timezone, currency=c.currency, created_at=iso_z(c.created_at),
                          next_run_date=d_out(c.next_run_date), calendar_show_names=c.calendar_show_names,
                          contact_policy=_policy_map(c.contact_policy))
    if c.version is not None:
        record.version = c.version
    if c.next_run_date is not None:  # the clinic is found by the instant its next 03:00 run falls due
        record.due_pk = keys.RUNS
        record.due_sk = keys.run_sk(iso_z(c.next_run_at()), c.clinic_id)
    return record


class ClinicRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx
        self._read_with_member: Clinic | None = None  # what `get_with_member` read, for the next `get`

    def get(self, clinic_id: str, *, consistent: bool = False) -> Clinic:
        primed, self._read_with_member = self._read_with_member, None
        if primed is not None and primed.clinic_id == clinic_id and not consistent:
            return primed
        try:
            return _clinic(ClinicRecord.get(keys.clinic_pk(clinic_id), keys.CLINIC, consistent_read=consistent))
        except DoesNotExist as e:
            raise NotFound("no such clinic") from e

    def get_with_member(self, clinic_id: str, sub: str) -> tuple[Clinic | None, StaffMember | None]:
        """The clinic and one of its staff members in one BatchGetItem (eventually consistent, as
        `get`): what a request checks about its caller. The clinic is kept for this unit of work's
        next `get`, once (a retried operation reads again), so a route that reads the clinic
        anyway makes no extra call for the check."""
        clinic = member = None
        for record in Record.batch_get([(keys.clinic_pk(clinic_id), keys.CLINIC),
                                        (keys.clinic_pk(clinic_id), keys.staff_sk(sub))]):
            if isinstance(record, ClinicRecord):
                clinic = _clinic(record)
            elif isinstance(record, StaffRecord):
                member = as_member(record)
        self._read_with_member = clinic
        return clinic, member

    def add(self, clinic: Clinic) -> None:
        self._tx.create(_record(clinic), label="clinic")

    def save(self, clinic: Clinic) -> None:
        """Stage the clinic; refused at commit if another writer changed it since it was read."""
        self._tx.save(_record(clinic), label="clinic")

    def save_now(self, clinic: Clinic) -> None:
        """Put the clinic alone, outside the unit's transaction (version-conditioned): StaleWrite."""
        record = _record(clinic)
        try:
            record.save()
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                raise StaleWrite(["clinic"]) from e
            raise
        clinic.version = record.version

    def due_for_run(self, now: datetime) -> Iterator[Clinic]:
        """Clinics whose next 03:00 run instant is at or before `now`, soonest first (a Query)."""
        for record in Record.due.query(keys.RUNS, Record.due_sk <= keys.runs_until(iso_z(now))):
            if isinstance(record, ClinicRecord):
                yield _clinic(record)
