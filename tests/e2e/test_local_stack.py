"""The README's path, over HTTP against the running local stack, as a client would."""

import json
import subprocess
import sys
import uuid

import boto3
import pytest
import requests

from tests.e2e.conftest import ROOT, LocalStack

pytestmark = pytest.mark.e2e
DEMO_PASSWORD = "Demo-Password-2026"


def sign_in(info: dict, email: str, password: str = DEMO_PASSWORD) -> str:
    cognito = boto3.client("cognito-idp", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                           aws_access_key_id="x", aws_secret_access_key="x")
    result = cognito.initiate_auth(ClientId=info["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": password})
    return result["AuthenticationResult"]["IdToken"]


def test_the_stack_file_says_where_everything_is(local_stack):
    stack, info = local_stack
    assert set(info) >= {"api_url", "aws_endpoint_url", "region", "user_pool_id", "user_pool_client_id"}
    assert stack.ready_seconds < 30
    assert requests.get(f"{info['api_url']}/health", timeout=5).json() == {"status": "ok"}


def test_the_demo_owner_creates_a_patient_an_invoice_and_a_payment_and_reads_the_ledger(local_stack):
    _, info = local_stack
    api = info["api_url"]
    h = {"Authorization": f"Bearer {sign_in(info, 'owner@demo.clinic')}"}
    me = requests.get(f"{api}/me", headers=h, timeout=5).json()
    assert me["roles"] == ["Owner"] and me["permissions"] == ["write_off"]
    today = requests.get(f"{api}/clinic", headers=h, timeout=5).json()
    assert today["name"] == "Demo Family Clinic"
    patient = requests.post(f"{api}/patients", json={"name": "Curl Patient"}, headers=h, timeout=5).json()
    invoice = requests.post(f"{api}/invoices", json={"patient_id": patient["patient_id"], "amount_cents": 12_000,
                                                     "invoice_date": "2026-01-15"}, headers=h, timeout=5)
    assert invoice.status_code == 201, invoice.text
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"patient_id": patient["patient_id"], "amount_cents": 2_000, "method": "cash"}
    paid = requests.post(f"{api}/payments", json=body, headers={**h, **key}, timeout=5)
    again = requests.post(f"{api}/payments", json=body, headers={**h, **key}, timeout=5)
    assert paid.status_code == 201 and again.json() == paid.json()
    ledger = requests.get(f"{api}/patients/{patient['patient_id']}/ledger", headers=h, timeout=5).json()
    assert [e["balance_after_cents"] for e in ledger["items"]] == [12_000, 10_000]


def test_garbage_and_missing_tokens_get_a_json_401_not_a_dropped_connection(local_stack):
    _, info = local_stack
    for headers in ({}, {"Authorization": "garbage"}, {"Authorization": "Bearer x.y.z"}):
        r = requests.get(f"{info['api_url']}/me", headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_the_cli_creates_a_clinic_and_a_user_who_can_sign_in_at_once(local_stack):
    stack, info = local_stack
    cli = [sys.executable, "-m", "devtools.cli"]
    env = {**stack.env}
    out = subprocess.run([*cli, "clinic", "create", "--name", "CLI Clinic", "--timezone", "Asia/Kathmandu"],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    clinic_id = json.loads(out.stdout)["clinic_id"]
    out = subprocess.run([*cli, "user", "create", "--clinic", clinic_id, "--email", "cli-owner@example.test",
                          "--password", "Cli-Password-2026", "--role", "Owner"],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["email"] == "cli-owner@example.test"
    token = sign_in(info, "cli-owner@example.test", "Cli-Password-2026")
    clinic = requests.get(f"{info['api_url']}/clinic", headers={"Authorization": token}, timeout=5).json()
    assert clinic == {"clinic_id": clinic_id, "name": "CLI Clinic", "timezone": "Asia/Kathmandu", "currency": "USD",
                      "calendar_show_names": False,
                      "contact_policy": {"call_hours": {"start": "08:00", "end": "21:00"}, "max_calls_per_7_days": 7,
                                         "quiet_days_after_conversation": 7}}
    bad = subprocess.run([*cli, "clinic", "create", "--name", "X", "--timezone", "Nowhere/City"],
                         env=env, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "validation_error" in bad.stderr


def test_ctrl_c_stops_everything_and_leaves_no_process_behind(tmp_path):
    stack = LocalStack(tmp_path)
    info = stack.start()
    api_port = info["api_url"].rsplit(":", 1)[1]
    assert stack.stop() == 0
    assert not stack.stack_file.exists()
    leftovers = subprocess.run(["pgrep", "-f", f"chalice local .*--port {api_port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
    with pytest.raises(requests.ConnectionError):
        requests.get(info["api_url"] + "/health", timeout=2)
