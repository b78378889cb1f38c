"""The in-memory store has exactly the interface of the DynamoDB one: a service cannot tell them apart."""

from __future__ import annotations

import inspect

import pytest

from chalicelib.store import (
    accounts,
    audit,
    clinics,
    contacts,
    delegations,
    directory,
    feeds,
    idempotency,
    integrations,
    staff,
    uow,
    webhooks,
)
from tests import memory

TWINS = [
    (clinics.ClinicRepository, memory.ClinicRepository),
    (staff.StaffRepository, memory.StaffRepository),
    (delegations.DelegationRepository, memory.DelegationRepository),
    (accounts.AccountRepository, memory.AccountRepository),
    (contacts.ContactRepository, memory.ContactRepository),
    (feeds.CalendarFeedRepository, memory.CalendarFeedRepository),
    (audit.AuditRepository, memory.AuditRepository),
    (idempotency.IdempotencyRepository, memory.IdempotencyRepository),
    (webhooks.EventRepository, memory.EventRepository),
    (webhooks.WebhookRepository, memory.WebhookRepository),
    (webhooks.DeliveryRepository, memory.DeliveryRepository),
    (integrations.IntegrationRepository, memory.IntegrationRepository),
    (directory.DirectoryRepository, memory.DirectoryRepository),
    (uow.UnitOfWork, memory.MemoryUnitOfWork),
]


def public_methods(cls) -> dict[str, inspect.Signature | str]:
    found = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = "property"
        elif callable(member):
            found[name] = inspect.signature(member)
    return found


@pytest.mark.parametrize(("dynamodb", "in_memory"), TWINS, ids=[d.__name__ for d, _ in TWINS])
def test_the_memory_repository_has_the_methods_and_signatures_of_the_dynamodb_one(dynamodb, in_memory):
    assert public_methods(in_memory) == public_methods(dynamodb)


def test_the_memory_unit_of_work_offers_the_same_repositories():
    real, fake = uow.UnitOfWork(), memory.MemoryUnitOfWork(memory.MemoryStore())
    repositories = {name for name, value in vars(real).items() if name != "transaction"}
    assert repositories <= set(vars(fake))
    for name in repositories:
        assert type(getattr(fake, name)).__name__ == type(getattr(real, name)).__name__, name


def test_every_dynamodb_repository_has_a_memory_twin():
    real = {type(value) for name, value in vars(uow.UnitOfWork()).items() if name != "transaction"}
    assert real == {dynamodb for dynamodb, _ in TWINS[:-1]}
