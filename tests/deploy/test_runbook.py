"""The runbook of docs/deploy.md, against an embedded AWS instead of a real account: read the stack's
outputs into the environment, then create the first clinic and its Owner with the CLI, and sign in."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import stack_env
from tests.deploy.conftest import ROOT

STACK = "followups-runbook"
BILLING, AUDIT = "followups-runbook-BillingTable-1A2B", "followups-runbook-AuditTable-3C4D"
PASSWORD = "Owner-Password-2026!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_aws():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom devtools.devstack import start_embedded_aws\n"
                               f"start_embedded_aws({port})\nprint('ready', flush=True)\ntime.sleep(900)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def aws_env(endpoint: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPS_", "AWS_"))}
    env.update({"AWS_ACCESS_KEY_ID": "runbook", "AWS_SECRET_ACCESS_KEY": "runbook", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": endpoint, "FOLLOWUPS_STACK_FILE": "/nonexistent/stack.json", **extra})
    return env


@pytest.fixture(scope="module")
def deployed_stack(embedded_aws, template):
    """What `make deploy` leaves behind: the tables, the pool and a stack with the template's outputs."""
    create = ("import json\nfrom devtools import bootstrap\nbootstrap.create_tables()\n"
              "pool, client = bootstrap.create_user_pool('followups-runbook-staff')\n"
              "print(json.dumps([pool, client]))")
    made = subprocess.run([sys.executable, "-c", create], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=aws_env(embedded_aws, FOLLOWUPS_TABLE=BILLING, FOLLOWUPS_AUDIT_TABLE=AUDIT))
    assert made.returncode == 0, made.stderr[-3000:]
    pool, client = json.loads(made.stdout.strip().splitlines()[-1])
    values = {"Region": "us-east-1", "BillingTableName": BILLING, "AuditTableName": AUDIT, "UserPoolId": pool,
              "UserPoolClientId": client, "EndpointURL": "https://abc123.execute-api.us-east-1.amazonaws.com/api/"}
    assert set(stack_env.VARIABLES) <= set(template["Outputs"]), "the template must output what the runbook reads"
    body = {"Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {k: {"Value": v} for k, v in values.items()}}
    register = (f"import boto3, json\nboto3.client('cloudformation').create_stack(StackName={STACK!r}, "
                f"TemplateBody=json.dumps({body!r}))")
    registered = subprocess.run([sys.executable, "-c", register], cwd=ROOT, capture_output=True, text=True,
                                timeout=60, env=aws_env(embedded_aws))
    assert registered.returncode == 0, registered.stderr[-3000:]
    return values


def test_a_devops_engineer_creates_the_first_clinic_and_owner_from_the_stack_outputs(embedded_aws, deployed_stack,
                                                                                     tmp_path):
    bin_dir = Path(sys.executable).parent
    script = f"""
set -euo pipefail
{sys.executable} -m deploy.stack_env --stack {STACK} > {tmp_path}/stack.env
source {tmp_path}/stack.env
clinic=$({bin_dir}/followups clinic create --name "Acme Dental" --timezone America/New_York --currency USD)
clinic_id=$(echo "$clinic" | {sys.executable} -c 'import json,sys; print(json.load(sys.stdin)["clinic_id"])')
{bin_dir}/followups user create --clinic "$clinic_id" --email owner@acme.example --password '{PASSWORD}' \\
    --role Owner --name "Olive Owner" > {tmp_path}/owner.json
{bin_dir}/followups token owner@acme.example --password '{PASSWORD}' > {tmp_path}/token
echo "$clinic_id" > {tmp_path}/clinic_id
env | grep -E '^(FOLLOWUPS_|AWS_REGION)' | sort > {tmp_path}/env
"""
    env = aws_env(embedded_aws)
    env.pop("FOLLOWUPS_STACK_FILE")
    env["FOLLOWUPS_STACK_FILE"] = str(tmp_path / "no-local-stack.json")
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    exported = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines())
    assert exported["FOLLOWUPS_TABLE"] == BILLING and exported["FOLLOWUPS_AUDIT_TABLE"] == AUDIT
    assert exported["FOLLOWUPS_USER_POOL_ID"] == deployed_stack["UserPoolId"]
    assert exported["FOLLOWUPS_USE_AWS"] == "1" and exported["AWS_REGION"] == "us-east-1"
    owner = json.loads((tmp_path / "owner.json").read_text())
    assert owner["email"] == "owner@acme.example" and owner["sub"]
    signed_in = json.loads((tmp_path / "token").read_text())  # one JSON document, like every command's output
    claims = json.loads(base64.urlsafe_b64decode(signed_in["id_token"].split(".")[1] + "=="))
    assert claims["custom:clinic_id"] == (tmp_path / "clinic_id").read_text().strip()
    assert claims["cognito:groups"] == ["Owner"]
    assert claims["aud"] == deployed_stack["UserPoolClientId"]
