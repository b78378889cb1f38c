import os

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import config
from chalicelib.api.auth import JWKS
from chalicelib.store import bootstrap
from tests.support import make_clinic


@pytest.fixture(scope="session")
def aws():
    """One in-process moto for the session; tests isolate themselves by clinic."""
    with mock_aws():
        bootstrap.create_tables()
        pool_id, client_id = bootstrap.create_user_pool()
        os.environ["FOLLOWUPS_USER_POOL_ID"] = pool_id
        os.environ["FOLLOWUPS_USER_POOL_CLIENT_ID"] = client_id
        config.settings.cache_clear()
        JWKS.clear()
        yield {"pool_id": pool_id, "client_id": client_id}


@pytest.fixture(scope="session")
def http(aws):
    from app import app

    with Client(app, stage_name="local") as client:
        yield client.http


@pytest.fixture
def clinic(http):
    return make_clinic(http)


@pytest.fixture
def other_clinic(http):
    return make_clinic(http, timezone="Europe/Athens", name="Other Clinic")
