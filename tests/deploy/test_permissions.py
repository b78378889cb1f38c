"""The roles grant everything the code really calls: every scenario of the cost model (every route,
and the scheduled tick) runs against moto with each AWS call recorded, and each call's IAM action
on its resource must be allowed by the role of the function that made it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.deploy.conftest import ROOT

# The cost model's tables (bench/cost_model.py) and what they are in the template.
RESOURCES = {"followups-bench": "BillingTable", "followups-audit-bench": "AuditTable"}
ROLES = {"api_handler": "ApiHandlerRole", "auto_invoicing": "AutoInvoicingRole"}

DRIVER = '''
import json, sys
from bench import cost_model

results = cost_model.run(runs=1)
print(json.dumps(cost_model.as_json(results)))
'''


@pytest.fixture(scope="module")
def recorded() -> list[dict]:
    result = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def arn_expression(resource: str) -> str:
    if resource in ("UserPool", "WebhookSecretKey"):
        return json.dumps({"Fn::GetAtt": [resource, "Arn"]}, sort_keys=True)
    table, _, index = resource.partition("/index/")
    logical_id = RESOURCES[table]
    if index:
        return json.dumps({"Fn::Sub": f"${{{logical_id}.Arn}}/index/{index}"}, sort_keys=True)
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def granted(template: dict, role: str) -> set[tuple[str, str]]:
    pairs = set()
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for s in policy["PolicyDocument"]["Statement"]:
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            pairs |= {(a, json.dumps(r, sort_keys=True)) for a in s["Action"] for r in resources}
    return pairs


def test_every_route_and_the_tick_were_exercised(recorded):
    from app import app
    from chalicelib.api.wiring import api_routes

    names = {r["name"].split(" (")[0] for r in recorded}
    missing = [f"{spec.method} {spec.path}" for spec in api_routes() if f"{spec.method} {spec.path}" not in names]
    assert not missing, f"add a line to bench/cost_model.py SCENARIOS for {missing}"
    ticks = [r for r in recorded if r["function"] == "auto_invoicing"]
    assert ticks and all(r["ops"] for r in ticks), "the tick ran and read the run schedule"
    assert app.routes  # every route is registered (from the route table) by importing the app


def test_each_function_may_make_every_call_it_makes(recorded, template):
    for result in recorded:
        allowed = granted(template, ROLES[result["function"]])
        needed = {(action, arn_expression(resource)) for action, resource in result["iam"]}
        assert needed <= allowed, f"{result['name']} needs {sorted(needed - allowed)}"


def test_reads_and_writes_go_where_the_model_says(recorded):
    by_name = {r["name"]: r for r in recorded}
    assert by_name["GET /health"]["ops"] == [], "liveness must not touch AWS"
    payment = by_name["POST /payments"]
    assert payment["ops"].count("TransactWriteItems") == 1, "one payment, one transaction"
    assert payment["wru"] > 0 and payment["rru"] > 0
    assert by_name["POST /payments (replayed key)"]["wru"] == 0, "a replay writes nothing"


def test_the_scheduled_function_may_send_its_failed_invocations_to_its_queue_and_nothing_else_may(template):
    """Lambda delivers a failed asynchronous invocation to the on-failure destination with the
    function's own role: no code makes that call, so the recorder cannot see it."""
    queue = json.dumps({"Fn::GetAtt": ["AutoInvoicingFailedInvocations", "Arn"]}, sort_keys=True)
    destination = template["Resources"]["AutoInvoicing"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]
    assert json.dumps(destination["OnFailure"]["Destination"], sort_keys=True) == queue
    sqs = {role: {(a, r) for a, r in granted(template, role) if a.startswith("sqs:")} for role in ROLES.values()}
    assert sqs == {"AutoInvoicingRole": {("sqs:SendMessage", queue)}, "ApiHandlerRole": set()}
