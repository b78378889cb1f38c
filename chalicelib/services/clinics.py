"""Clinics: the tenant, its time zone and currency, and where auto-invoicing stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..domain import clock
from ..domain.errors import NotFound, ValidationError
from ..domain.ids import new_clinic_id
from ..store import keys
from ..store.models import ClinicRecord
from ..store.tx import Unit, retrying

CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD", "NZD", "INR", "NPR", "CHF", "SEK", "NOK", "DKK",
              "JPY", "ZAR", "MXN", "BRL", "SGD", "AED"}


@dataclass(frozen=True)
class Clinic:
    clinic_id: str
    name: str
    timezone: str
    currency: str
    next_run_date: date | None = None

    def today(self, now: datetime) -> date:
        return clock.local_date(now, self.timezone)

    def view(self) -> dict:
        return {"clinic_id": self.clinic_id, "name": self.name, "timezone": self.timezone,
                "currency": self.currency}


def _clinic(record: ClinicRecord) -> Clinic:
    return Clinic(record.clinic_id, record.name, record.timezone, record.currency,
                  date.fromisoformat(record.next_run_date) if record.next_run_date else None)


def _record(clinic_id: str) -> ClinicRecord:
    try:
        return ClinicRecord.get(keys.clinic_pk(clinic_id), "CLINIC")
    except ClinicRecord.DoesNotExist as e:
        raise NotFound("no such clinic") from e


def get(clinic_id: str) -> Clinic:
    return _clinic(_record(clinic_id))


def set_run_schedule(record: ClinicRecord, next_run_date: date) -> None:
    """Index the clinic under the instant its next 03:00 run falls due (the `due` index)."""
    record.next_run_date = next_run_date.isoformat()
    record.due_pk = keys.RUNS
    record.due_sk = f"{clock.iso_z(clock.run_instant(next_run_date, record.timezone))}#{record.clinic_id}"


def create(name: str, timezone: str, currency: str, now: datetime, actor: str = "system") -> Clinic:
    if not clock.is_valid_timezone(timezone):
        raise ValidationError(f"unknown time zone {timezone!r}", fields={"timezone": "not an IANA time zone"})
    if currency not in CURRENCIES:
        raise ValidationError(f"unsupported currency {currency!r}", fields={"currency": "unsupported"})
    if not name.strip():
        raise ValidationError("name is empty", fields={"name": "required"})
    clinic_id = new_clinic_id()
    record = ClinicRecord(keys.clinic_pk(clinic_id), "CLINIC", clinic_id=clinic_id, name=name.strip(),
                          timezone=timezone, currency=currency, created_at=clock.iso_z(now))
    # The first run date is the local date the clinic was created.
    set_run_schedule(record, clock.local_date(now, timezone))
    unit = Unit(now)
    unit.create(record, label="clinic")
    unit.audit(clinic_id, actor, "clinic.created", details={"timezone": timezone, "currency": currency})
    unit.commit()
    return _clinic(record)


def update(clinic_id: str, actor: str, now: datetime, *, name: str | None = None,
           timezone: str | None = None) -> Clinic:
    return retrying(lambda: _update(clinic_id, actor, now, name, timezone))


def _update(clinic_id: str, actor: str, now: datetime, name: str | None, timezone: str | None) -> Clinic:
    record = _record(clinic_id)
    changed = {}
    if name is not None:
        record.name = name
        changed["name"] = True
    if timezone is not None:
        if not clock.is_valid_timezone(timezone):
            raise ValidationError(f"unknown time zone {timezone!r}", fields={"timezone": "not an IANA time zone"})
        changed["timezone"] = {"from": record.timezone, "to": timezone}
        record.timezone = timezone
        if record.next_run_date:
            set_run_schedule(record, date.fromisoformat(record.next_run_date))
    unit = Unit(now)
    unit.save(record, label="clinic")  # the version attribute refuses a concurrent edit
    unit.audit(clinic_id, actor, "clinic.updated", details={"changed": changed})
    unit.commit()
    return _clinic(record)
