import pytest

from tests.support import make_clinic

# `aws`, `chalice_client` and `http` are per-module fixtures in tests/conftest.py.


@pytest.fixture
def clinic(http):
    return make_clinic(http)


@pytest.fixture
def other_clinic(http):
    return make_clinic(http, timezone="Europe/Athens", name="Other Clinic")
