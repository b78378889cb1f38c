"""The store contract runs each scenario on moto's tables and on the memory store."""

import pytest

from chalicelib.domain.ids import new_clinic_id
from chalicelib.store.uow import UnitOfWork
from tests.memory import MemoryStore, MemoryUnitOfWork


@pytest.fixture(params=["dynamodb", "memory"])
def new_uow(request):
    """Makes units of work on one store: moto's tables, or a MemoryStore."""
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    request.getfixturevalue("aws")
    return UnitOfWork


@pytest.fixture
def clinic_id() -> str:
    return new_clinic_id()
