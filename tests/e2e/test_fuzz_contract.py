"""Schemathesis against the running local stack's /openapi.json: generated requests, valid and not,
as the Owner of the demo clinic. No 5xx, responses match the documented schemas, every error has
the error shape. Bounded examples per operation so it fits CI."""

import json
import subprocess
import sys
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import ROOT
from tests.e2e.test_local_stack import sign_in

pytestmark = pytest.mark.e2e
EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="session")
def api_schema(local_stack):
    _, info = local_stack
    return schemathesis.openapi.from_url(f"{info['api_url']}/openapi.json")


@pytest.fixture(scope="session")
def owner_token(local_stack):
    """The Owner of a clinic of the fuzzer's own: generated PATCHes must not rename the demo clinic."""
    stack, info = local_stack
    cli = [sys.executable, "-m", "devtools.cli"]
    made = subprocess.run([*cli, "clinic", "create", "--name", "Fuzz Clinic", "--timezone", "Europe/Lisbon"],
                          env=stack.env, cwd=ROOT, capture_output=True, text=True, check=True)
    clinic_id = json.loads(made.stdout)["clinic_id"]
    subprocess.run([*cli, "user", "create", "--clinic", clinic_id, "--email", "fuzz-owner@example.test",
                    "--password", "Fuzz-Password-2026", "--role", "Owner"],
                   env=stack.env, cwd=ROOT, capture_output=True, text=True, check=True)
    return sign_in(info, "fuzz-owner@example.test", "Fuzz-Password-2026")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


def operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def test_generated_requests_never_break_the_contract(api_schema, owner_token):
    # Driven through schemathesis' Python API: its pytest plugin does not support pytest 9 yet.
    tried = []
    for operation in operations(api_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            headers = {"Authorization": f"Bearer {owner_token}", "Idempotency-Key": str(uuid.uuid4())}
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)

        run()
        tried.append(f"{operation.method.upper()} {operation.path}")
    assert len(tried) >= 10, tried
