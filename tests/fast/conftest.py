"""The fast tier: the routes and services on the in-memory store, no AWS and no sockets.

Each test module gets its own `MemoryStore` and fake user pool (as the moto tier gets its own
moto per module), `routing.unit_of_work` pointed at that store, `store/cognito.py` and
`api.auth.caller_from_header` replaced by the fake pool, and botocore and sockets made to fail
the test if anything still tries to reach AWS or the network.

The fixtures the moto tier's tests use (`http`, `chalice_client`, `clinic`, `other_clinic`) have
the same names and shapes here, so a behaviour test moves between the tiers unchanged.

Moving a module from tests/api (or tests/jobs) here:
1. `git mv tests/api/test_x.py tests/fast/test_x.py`;
2. `make_clinic`, `id_token`, `roleless_api` come from `tests.fast.support` (`Api`, `ClinicWorld`,
   `PASSWORD` still from `tests.support`);
3. a test that takes `aws` only to have a store takes `store` (or `uow`) instead; services called
   with `UnitOfWork()` get the `uow` fixture;
4. reads through PynamoDB models (`AuditRecord.query`, `Record.worklist.query`, `XRecord.get`)
   become repository reads on `routing.unit_of_work()` (`audit_entries(...)` for the audit), which
   work in both tiers; changes made behind the API's back (demoting an Owner, deleting a staff
   record) are edits of the `store` dicts, e.g. `store.staff[(clinic_id, sub)] = replace(m, role=...)`;
5. `make test-fast`: a `NoAws` failure names the line that still reaches AWS.
When a module is split (the DynamoDB-specific tests stay in tests/api under the same name, with a
docstring saying why), the scenario both halves need is a builder both import, going through
`routing.unit_of_work()`: tests/followups_support.py, reports_support.py, audit_support.py,
ledger_ops.py's money operations, tests/jobs/helpers.py.
What stays in the moto tier: DynamoDB and Cognito themselves (keys and indexes, call counts and
budgets, PynamoDB-level races and faults, real tokens and sign-in), the scheduled function through
`lambda_.invoke` (jobs/auto_invoicing builds its own `UnitOfWork()`), end-to-end and browser tests.
"""

from __future__ import annotations

import socket

import botocore.endpoint
import pytest

from chalicelib.adapters import kms
from chalicelib.api import auth, routing
from chalicelib.store import cognito as user_pool
from tests.fast import fakes
from tests.fast.support import make_clinic
from tests.memory import MemoryStore, MemoryUnitOfWork
from tests.webhooks_support import FakeSecretBox


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    """The module's "database"; tests isolate themselves by clinic, as in the moto tier."""
    return MemoryStore()


@pytest.fixture(scope="module")
def cognito() -> fakes.FakeCognito:
    return fakes.FakeCognito()


@pytest.fixture(scope="module")
def secret_box() -> FakeSecretBox:
    """What seals webhook secrets in this tier (KMS's contract: opens only for its webhook)."""
    return FakeSecretBox()


@pytest.fixture(scope="module", autouse=True)
def fast_tier(store, cognito, secret_box):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.endpoint.Endpoint, "make_request", fakes.refuse_aws_call)
        mp.setattr(socket.socket, "connect", fakes.refuse_socket)
        mp.setattr(socket.socket, "connect_ex", fakes.refuse_socket)
        mp.setattr(user_pool, "find_user", cognito.find_user)
        mp.setattr(user_pool, "ensure_user", cognito.ensure_user)
        mp.setattr(user_pool, "mirror", cognito.mirror)
        mp.setattr(auth, "caller_from_header", cognito.caller_from_header)
        mp.setattr(routing, "unit_of_work", lambda: MemoryUnitOfWork(store))
        mp.setattr(kms, "secret_box", lambda: secret_box)  # KMS's contract, in memory
        fakes.activate(cognito)
        try:
            yield
        finally:
            fakes.activate(None)


@pytest.fixture
def uow(store) -> MemoryUnitOfWork:
    """A unit of work on the module's store, for calling services and reading state directly."""
    return MemoryUnitOfWork(store)


@pytest.fixture(scope="module")
def chalice_client(fast_tier):
    """chalice.test.Client: in-process, no sockets (`.http` for routes)."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        yield client


@pytest.fixture(scope="module")
def http(chalice_client):
    return chalice_client.http


@pytest.fixture
def clinic(http):
    return make_clinic(http)


@pytest.fixture
def other_clinic(http):
    return make_clinic(http, timezone="Europe/Athens", name="Other Clinic")


@pytest.fixture(scope="module")
def aws():
    pytest.fail("the fast tier has no AWS: use the `store` or `uow` fixture, or keep this test in the moto tier")
