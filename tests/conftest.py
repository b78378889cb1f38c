"""Test settings are fixed before the app is imported (PynamoDB's Meta reads them then)."""

import os

import pytest

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "FOLLOWUPS_TABLE": "followups-test", "FOLLOWUPS_AUDIT_TABLE": "followups-audit-test",
    "FOLLOWUPS_GATEWAY_AUTHORIZER": "off", "POWERTOOLS_LOG_LEVEL": "WARNING", "FOLLOWUPS_LOG_LEVEL": "WARNING",
    # Tests change staff records behind the API's back and expect the next request to see it;
    # the cache itself (and its 60 s default) is tested in tests/fast/test_team.py.
    "FOLLOWUPS_STAFF_CACHE_SECONDS": "0",
})
from devtools import moto_patch  # noqa: E402

moto_patch.install()

for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_COGNITO_IDP", "AWS_PROFILE"):
    os.environ.pop(name, None)


@pytest.fixture(scope="module")
def aws():
    """A fresh in-process moto for each test module; tests within a module isolate themselves by
    clinic. (One moto for the whole session made the suite 4-5x slower: moto's index queries and
    transactions walk every item of the table, and the table grew with every test.)"""
    from moto import mock_aws

    from tests.support import provision_embedded_aws

    with mock_aws():
        yield provision_embedded_aws()


@pytest.fixture(scope="module")
def chalice_client(aws):
    """chalice.test.Client: `.http` for routes, `.lambda_` and `.events` for the scheduled function."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        yield client


@pytest.fixture(scope="module")
def http(chalice_client):
    return chalice_client.http


# The longest units first: under `--no-loadscope-reorder` the workers take the units in this order.
FIRST = ("browser", "e2e")


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to under pytest-xdist: its file, or its whole tier for the
    browser files (one local stack, one Chromium) and the e2e files (the session's local stack)."""
    file = nodeid.split("::", 1)[0]
    tier = file.split("/")[1] if file.count("/") >= 2 else file
    return tier if tier in FIRST else file


def pytest_collection_modifyitems(config, items):
    """The two longest units first, one to each worker; the files fill in around them."""
    items.sort(key=lambda item: FIRST.index(unit_of(item.nodeid)) if unit_of(item.nodeid) in FIRST else len(FIRST))


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs two pytest-xdist workers, handing out `unit_of` units: each file's module
    fixtures (its moto, its world) are made once. (pytest-xdist's own `loadgroup` marks do nothing
    under pytest 9, which no longer reads the node id xdist rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)
