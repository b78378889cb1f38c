"""tests/support.py's factories for the fast tier: the same `ClinicWorld` and `Api`, on the
in-memory store and the fake user pool instead of DynamoDB and Cognito."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from chalicelib.api import routing
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.contact_rules import ContactPolicy
from chalicelib.services import clinics, staff
from tests.fast import fakes
from tests.support import ANYTIME, PASSWORD, Api, ClinicWorld


def make_clinic(http, timezone: str = "America/New_York", name: str = "Test Clinic",
                now: datetime | None = None, extra_staff: tuple[tuple[str, str], ...] = (),
                contact_policy: ContactPolicy = ANYTIME) -> ClinicWorld:
    """tests.support.make_clinic, through the unit of work the routes use (the module's store)."""
    now = now or datetime.now(UTC)
    uow = routing.unit_of_work()
    clinic = clinics.create(uow, now, name=name, timezone=timezone, currency="USD", contact_policy=contact_policy)
    world = ClinicWorld(clinic.clinic_id, timezone, http=http)
    tag = secrets.token_hex(4)
    people = [("owner", "Owner"), ("admin", "Admin"), ("billing", "BillingStaff"), ("billing2", "BillingStaff"),
              *extra_staff]
    for who, role in people:
        email = f"{who}-{tag}@example.test"
        member = staff.create(uow, clinic.clinic_id, now, email=email, name=who.title(), role=role,
                              password=PASSWORD)
        world.users[who] = {"sub": member.sub, "email": email, "token": id_token(email), "role": role}
    return world


def id_token(email: str, password: str = PASSWORD) -> str:
    """A token for the user as they are now (tests.support.id_token signs in to Cognito)."""
    return fakes.cognito().sign_in(email)


def roleless_api(http, clinic_id: str) -> Api:
    """A signed-in user of the clinic who is in no role group."""
    pool = fakes.cognito()
    return Api(http, pool.sign_in(pool.add_roleless_user(clinic_id)))


def audit_entries(clinic_id: str, *, action: str | None = None, patient_id: str | None = None) -> list[AuditEntry]:
    """The clinic's audit trail, newest first, read through the repositories the routes use (so it
    reads moto's table in the moto tier and the memory store here)."""
    found, more = routing.unit_of_work().audit.search(clinic_id, patient_id=patient_id, action=action, limit=1_000,
                                                      before=None)
    assert not more, "more than 1,000 audit entries: page with `before`"
    return found
