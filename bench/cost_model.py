"""Cost model: DynamoDB request units, Lambda time and dollars per million calls, route by route.

Usage: .venv/bin/python -m bench.cost_model [--runs 15] [--json] [--markdown]

Each scenario runs the real app (chalice.test.Client, in-process moto, real Cognito tokens) on a
fresh, typical state, and records every AWS call the request makes:
  * DynamoDB read/write request units. Every DynamoDB call is sent with
    ReturnConsumedCapacity=INDEXES and what moto reports is kept ("moto CU"), but moto reports a
    flat 0.5/1.0 for GetItem/Query and nothing for TransactWriteItems. So the units used for
    cost are computed from the items actually read and written, by DynamoDB's published rules:
    reads 1 RRU per 4 KB (strongly consistent; half for eventually consistent), a Query sums
    its items before rounding; writes 1 WRU per KB of the larger of old and new item, doubled
    in a transaction; every GSI an item enters, moves in or leaves costs its own write
    (1 WRU per KB); a ConditionCheck in a transaction is counted like a transactional write of
    the checked item (2 WRU per KB, an assumption: AWS does not document it separately).
  * Lambda time. Measured locally per request (an estimate, not a Lambda measurement): the
    app's own CPU time (process time minus moto's) scaled to the vCPU share of the function's
    memory (1,769 MB = 1 vCPU), plus a typical in-region latency per AWS call (LATENCY_MS).
  * The IAM actions each call needs (a test checks them against the template's roles).

Adding a route later is one line in SCENARIOS: `Scenario("GET /x", lambda s, i: s.billing.get(...))`
with an optional `setup` that builds the state the request needs (not measured).
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import offline  # noqa: E402

offline.isolate()

# us-east-1 on-demand list prices in USD as known in 2024-11 (DynamoDB's on-demand throughput price
# was halved on 2024-11-01). Not checked live: re-check on the AWS pricing pages before relying on them.
PRICES = {
    "date": "2024-11 (us-east-1 list prices; re-check before use)",
    "api_gateway_rest_per_million": 3.50,     # REST API, first 333 million requests a month
    "lambda_requests_per_million": 0.20,
    "lambda_gb_second_x86": 0.0000166667,
    "dynamodb_wru_per_million": 0.625,        # on-demand write request units, Standard table class
    "dynamodb_rru_per_million": 0.125,        # on-demand read request units
    "logs_ingest_per_gb": 0.50,               # CloudWatch Logs, standard ingestion
}
MEMORY_MB = {"api_handler": 1024, "auto_invoicing": 512}  # .chalice/config.json
FULL_VCPU_MB = 1769
PLATFORM_LOG_BYTES = 300  # Lambda's own START/END/REPORT lines per invocation (approximate)
# Typical same-region latency of one call from Lambda, warm connection (assumptions, milliseconds).
LATENCY_MS = {"GetItem": 4, "Query": 6, "BatchGetItem": 6, "PutItem": 6, "TransactWriteItems": 12,
              "AdminGetUser": 40, "AdminCreateUser": 120, "AdminAddUserToGroup": 60, "AdminSetUserPassword": 60,
              "AdminListGroupsForUser": 40, "AdminRemoveUserFromGroup": 60, "AdminUpdateUserAttributes": 60,
              "AdminDisableUser": 60, "AdminEnableUser": 60, "AdminUserGlobalSignOut": 60}
DEFAULT_LATENCY_MS = 10

READS = {"GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
TRANSACT_ACTION = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                   "ConditionCheck": "dynamodb:ConditionCheckItem"}


# ----- DynamoDB item sizes and request units -------------------------------------------------------
def value_size(value: dict) -> int:
    """Bytes of one attribute value in DynamoDB's accounting (names are counted by the caller)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in v.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: e}) for e in v)
    raise ValueError(kind)


def item_size(item: dict | None) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


def read_units(total_bytes: int, consistent: bool) -> float:
    return max(1, math.ceil(total_bytes / 4096)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass
class Call:
    service: str
    operation: str
    params: dict
    response: dict
    old_items: dict  # position -> item before the write (for writes)
    seconds: float
    cpu_seconds: float

    def table(self, params: dict | None = None) -> str:
        return (params or self.params).get("TableName", "")


@dataclass
class Usage:
    rru: float = 0.0
    wru: float = 0.0
    moto_cu: float = 0.0
    ops: list[str] = field(default_factory=list)
    iam: set[tuple[str, str]] = field(default_factory=set)  # (action, resource: table[/index/x] or pool)


class Recorder:
    """Wraps botocore's one entry point for every API call of every client (PynamoDB's and boto3's)."""

    def __init__(self, indexes: dict[str, dict[str, tuple[str, str]]]):
        self.indexes = indexes  # table name -> index name -> (hash attr, range attr)
        self.calls: list[Call] = []
        self.active = False
        self.overhead = [0.0, 0.0]  # wall, cpu seconds the recorder itself spent (reading old items)
        self._original = None

    def install(self) -> None:
        import botocore.client

        original = self._original = botocore.client.BaseClient._make_api_call
        recorder = self

        def make_api_call(client, operation, params):
            service = client.meta.service_model.service_name
            if not recorder.active:
                return original(client, operation, params)
            if service == "dynamodb" and (operation in READS or operation in WRITES):
                params = {**params, "ReturnConsumedCapacity": "INDEXES"}
            wall, cpu = time.perf_counter(), time.process_time()
            old = recorder._old_items(client, original, operation, params) if service == "dynamodb" else {}
            recorder.overhead[0] += time.perf_counter() - wall
            recorder.overhead[1] += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            response = original(client, operation, params)
            recorder.calls.append(Call(service, operation, params, response, old, time.perf_counter() - wall,
                                       time.process_time() - cpu))
            return response

        botocore.client.BaseClient._make_api_call = make_api_call

    @staticmethod
    def _old_items(client, original, operation, params) -> dict:
        """The items a write replaces (not recorded): their size decides the write units."""
        targets = []
        if operation == "PutItem":
            targets.append((0, params["TableName"], {k: params["Item"][k] for k in ("pk", "sk")}))
        elif operation in ("UpdateItem", "DeleteItem"):
            targets.append((0, params["TableName"], params["Key"]))
        elif operation == "TransactWriteItems":
            for i, entry in enumerate(params["TransactItems"]):
                (kind, body), = entry.items()
                key = {k: body["Item"][k] for k in ("pk", "sk")} if kind == "Put" else body["Key"]
                targets.append((i, body["TableName"], key))
        old = {}
        for i, table, key in targets:
            found = original(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
            old[i] = found.get("Item")
        return old

    def usage(self, calls: list[Call]) -> Usage:
        u = Usage()
        for c in calls:
            u.ops.append(c.operation)
            if c.service != "dynamodb":
                u.iam.add((f"{c.service}:{c.operation}", "WebhookSecretKey" if c.service == "kms" else "UserPool"))
                continue
            reported = c.response.get("ConsumedCapacity")
            for cc in reported if isinstance(reported, list) else [reported] if reported else []:
                u.moto_cu += float(cc.get("CapacityUnits", 0))
            if c.operation == "GetItem":
                u.rru += read_units(item_size(c.response.get("Item")), bool(c.params.get("ConsistentRead")))
                u.iam.add(("dynamodb:GetItem", c.table()))
            elif c.operation == "Query":
                total = sum(item_size(i) for i in c.response.get("Items", []))
                u.rru += read_units(total, bool(c.params.get("ConsistentRead")))
                index = c.params.get("IndexName")
                u.iam.add(("dynamodb:Query", f"{c.table()}/index/{index}" if index else c.table()))
            elif c.operation == "BatchGetItem":
                for table, items in c.response.get("Responses", {}).items():
                    consistent = bool(c.params["RequestItems"][table].get("ConsistentRead"))
                    u.rru += sum(read_units(item_size(i), consistent) for i in items)
                    u.iam.add(("dynamodb:BatchGetItem", table))
            elif c.operation == "PutItem":
                u.wru += self._write(c.table(), c.params["Item"], c.old_items.get(0), transactional=False)
                u.iam.add(("dynamodb:PutItem", c.table()))
            elif c.operation == "TransactWriteItems":
                for i, entry in enumerate(c.params["TransactItems"]):
                    (kind, body), = entry.items()
                    old = c.old_items.get(i)
                    new = body.get("Item") if kind == "Put" else (None if kind == "Delete" else old)
                    u.wru += self._write(body["TableName"], new, old, transactional=True,
                                         index_changes=kind in ("Put", "Delete", "Update"))
                    u.iam.add((TRANSACT_ACTION[kind], body["TableName"]))
            elif c.operation == "UpdateItem":
                # A key's request counter and last_used_at (no index keys): 1 WRU per KB of the
                # larger item, also when the condition fails (a refused request costs its write).
                u.wru += write_units(max(item_size(c.old_items.get(0)), 100))
                u.iam.add(("dynamodb:UpdateItem", c.table()))
            elif c.operation == "TransactGetItems":
                # A transactional read costs two read units per 4 KB item; IAM checks GetItem per item.
                for entry, got in zip(c.params["TransactItems"], c.response.get("Responses", []), strict=False):
                    u.rru += 2 * math.ceil(max(item_size(got.get("Item")), 1) / 4096)
                    u.iam.add(("dynamodb:GetItem", entry["Get"]["TableName"]))
            else:
                raise NotImplementedError(f"add the capacity rule for {c.operation}")
        return u

    def _write(self, table: str, new: dict | None, old: dict | None, *, transactional: bool,
               index_changes: bool = True) -> float:
        units = write_units(max(item_size(new), item_size(old))) * (2 if transactional else 1)
        if not index_changes:
            return units
        for hash_attr, range_attr in self.indexes.get(table, {}).values():
            new_key = (new or {}).get(hash_attr), (new or {}).get(range_attr)
            old_key = (old or {}).get(hash_attr), (old or {}).get(range_attr)
            if all(new_key):
                units += write_units(item_size(new))  # the index entry is written (or rewritten)
            if all(old_key) and old_key != new_key:
                units += write_units(item_size(old))  # the old entry is deleted from the index
        return units


# ----- scenarios ---------------------------------------------------------------------------------------
@dataclass
class State:
    """What a scenario's request sees: the clinic world, the HTTP client and its own prepared data."""

    world: object
    http: object
    app: object
    data: dict = field(default_factory=dict)

    @property
    def billing(self):
        return self.world.billing

    @property
    def owner(self):
        return self.world.owner

    @property
    def admin(self):
        return self.world.admin

    @property
    def anonymous(self):
        from tests.support import Api

        return Api(self.http, None)


@dataclass
class Scenario:
    name: str
    call: Callable[[State, int], object]  # (state, run number) -> the response
    setup: Callable[[State, int], dict] | None = None  # prepares state.data for one run; not measured
    function: str = "api_handler"
    state: str = ""  # the data the request meets, for the report


def _today(state: State) -> str:
    from chalicelib.domain.clock import local_date

    return local_date(datetime.now(UTC), state.world.timezone).isoformat()


def _patient_with_history(s: State, i: int) -> dict:
    """A patient with two invoices and a part payment: what a typical account looks like."""
    pid = s.world.patient()
    first = s.world.invoice(pid, 12_000, _today(s))
    s.world.invoice(pid, 8_000, _today(s))
    payment = s.world.pay(pid, 5_000).body
    return {"pid": pid, "invoice_id": first["invoice_id"], "payment_id": payment["payment_id"]}


def _payment_body(s: State) -> dict:
    return {"patient_id": s.data["pid"], "amount_cents": 2_500, "method": "card"}


def _replayed_payment(s: State, i: int) -> dict:
    data = _patient_with_history(s, i)
    key = f"replay-{secrets.token_hex(6)}"
    s.data.update(data)
    first = s.billing.post("/payments", _payment_body(s), headers={"Idempotency-Key": key})
    assert first.status == 201, first
    return {**data, "key": key}


def _soon(hours: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_callback(s: State, i: int) -> dict:
    data = _patient_with_history(s, i)
    r = s.billing.post(f"/follow-ups/{data['pid']}/callbacks", {"due_at": _soon()})
    return {**data, "callback_id": r.body["callback_id"]}


FEED_HOST = {"Host": "api.followups.test"}


def _with_feed(s: State, i: int) -> dict:
    url = s.billing.post("/calendar/feed", headers=FEED_HOST).body["url"]
    return {"feed_path": "/calendar/feed/" + url.rsplit("/", 1)[1]}


def _with_grant(s: State, i: int) -> dict:
    r = s.owner.post("/delegations", {"grantee_sub": s.world.sub("billing"), "permission": "write_off",
                                      "expires_at": _soon(24 * 7)})
    return {"delegation_id": r.body["delegation_id"]}


def _plan_body(s: State) -> dict:
    return {"installment_cents": 5_000, "frequency": "monthly", "start_date": _today(s)}


def _with_plan(s: State, i: int) -> dict:
    data = _patient_with_history(s, i)
    plan = s.billing.post(f"/follow-ups/{data['pid']}/payment-plan", _plan_body(s))
    assert plan.status == 201, plan
    return {**data, "plan_id": plan.body["plan_id"]}


def _with_hold(s: State, i: int) -> dict:
    data = _patient_with_history(s, i)
    r = s.billing.post(f"/follow-ups/{data['pid']}/hold", _hold_body(s))
    assert r.status == 201, r
    return data


def _new_member(s: State, i: int) -> dict:
    r = s.owner.post("/staff", {"email": f"member-{secrets.token_hex(5)}@example.test", "name": "New Member",
                                "role": "BillingStaff"})
    assert r.status == 201, r
    return {"member": r.body["sub"]}


def _leaver_with_callback(s: State, i: int) -> dict:
    """A member with one scheduled callback (moved to the Admin when they leave)."""
    data = {**_with_callback(s, i), **_new_member(s, i)}
    r = s.billing.post(f"/follow-ups/{data['pid']}/callbacks", {"due_at": _soon(), "assignee_sub": data["member"]})
    assert r.status == 201, r
    return data


def _hold_body(s: State) -> dict:
    from chalicelib.domain.clock import local_date

    until = local_date(datetime.now(UTC), s.world.timezone) + timedelta(days=30)
    return {"reason": "dispute", "until": until.isoformat()}


def _with_unpaid_invoice(s: State, i: int) -> dict:
    data = _patient_with_history(s, i)
    second = s.world.invoice(data["pid"], 3_000, _today(s))  # the payment went to the first, older one
    return {**data, "unpaid_invoice_id": second["invoice_id"]}

def _inactive_member(s: State, i: int) -> dict:
    data = _new_member(s, i)
    assert s.owner.post(f"/staff/{data['member']}/deactivate", {}).status == 200
    return data


HISTORY = "patient with 2 invoices and 1 payment"


def _with_key(s: State, i: int) -> dict:
    from tests.integrations_support import issue_key

    api, made = issue_key(s.world, ["patients:read", "patients:write", "invoices:write"])
    api.get("/patients?q=warm")  # the process has read the key: what a steady sync pays
    return {"integration_id": made["integration_id"], "key_api": api}


def _external_patient(s: State, i: int) -> dict:
    ext = f"mrn-{secrets.token_hex(5)}"
    pid = s.world.patient("Pat Example", phone="555-0100", external_id=ext)
    return {"pid": pid, "ext": ext, **_with_key(s, i)}


WEBHOOK_URL = "http://127.0.0.1:9/hooks"  # the local stage's policy; an IP literal needs no DNS


def _no_webhooks(s: State, i: int) -> dict:
    """The clinic's webhooks deleted (a clinic has at most 16): each run subscribes afresh."""
    for w in s.owner.get("/webhooks").body["items"]:
        assert s.owner.delete(f"/webhooks/{w['webhook_id']}").status == 204
    return {}


def _with_webhook(s: State, i: int) -> dict:
    _no_webhooks(s, i)
    r = s.owner.post("/webhooks", {"url": WEBHOOK_URL, "events": ["*"]})
    assert r.status == 201, r
    return {"webhook_id": r.body["webhook_id"]}


def _import_body(s: State) -> dict:
    tag = secrets.token_hex(4)
    return {"rows": [{"patient_external_id": f"imp-{tag}-{n}", "patient_name": f"Imported Patient {n}",
                      "invoice_external_id": f"imp-inv-{tag}-{n}", "invoice_date": _today(s), "amount_cents": 4_000}
                     for n in range(10)]}
SCENARIOS: list[Scenario] = [
    Scenario("GET /health", lambda s, i: s.anonymous.get("/health"), state="-"),
    Scenario("GET /openapi.json", lambda s, i: s.anonymous.get("/openapi.json"), state="-"),
    Scenario("GET /me", lambda s, i: s.billing.get("/me"), state="BillingStaff, no delegation"),
    Scenario("GET /clinic", lambda s, i: s.billing.get("/clinic"), state="-"),
    Scenario("PATCH /clinic", lambda s, i: s.owner.patch("/clinic", {"name": f"Clinic {i}"}), state="rename"),
    Scenario("GET /staff", lambda s, i: s.admin.get("/staff"), state="4 staff"),
    Scenario("POST /staff", lambda s, i: s.owner.post("/staff", {"email": f"new-{secrets.token_hex(5)}@example.test",
                                                                 "name": "New Person", "role": "BillingStaff"}),
             state="invite by email"),
    Scenario("POST /patients", lambda s, i: s.billing.post("/patients", {"name": "Pat Example", "phone": "555-0100"}),
             state="-"),
    Scenario("GET /patients/{patient_id}", lambda s, i: s.billing.get(f"/patients/{s.data['pid']}"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("GET /patients/{patient_id}/ledger", lambda s, i: s.billing.get(f"/patients/{s.data['pid']}/ledger"),
             setup=_patient_with_history, state=HISTORY + " (3 entries)"),
    Scenario("GET /patients/{patient_id}/invoices",
             lambda s, i: s.billing.get(f"/patients/{s.data['pid']}/invoices"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("GET /patients/{patient_id}/attempts",
             lambda s, i: s.billing.get(f"/patients/{s.data['pid']}/attempts"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("GET /patients/{patient_id}/callbacks",
             lambda s, i: s.billing.get(f"/patients/{s.data['pid']}/callbacks"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /invoices", lambda s, i: s.billing.post("/invoices", {
        "patient_id": s.data["pid"], "amount_cents": 4_200, "invoice_date": _today(s)}),
             setup=_patient_with_history, state=HISTORY),
    Scenario("GET /invoices/{invoice_id}", lambda s, i: s.billing.get(f"/invoices/{s.data['invoice_id']}"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /payments", lambda s, i: s.billing.post("/payments", _payment_body(s), headers={
        "Idempotency-Key": secrets.token_hex(8)}), setup=_patient_with_history, state=HISTORY),
    Scenario("POST /payments (replayed key)", lambda s, i: s.billing.post("/payments", _payment_body(s), headers={
        "Idempotency-Key": s.data["key"]}), setup=_replayed_payment, state="the same key and body again"),
    Scenario("GET /payments/{payment_id}", lambda s, i: s.billing.get(f"/payments/{s.data['payment_id']}"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("GET /follow-ups", lambda s, i: s.billing.get("/follow-ups"), setup=_patient_with_history,
             state="first page, 1 patient owing"),
    Scenario("GET /follow-ups/{patient_id}", lambda s, i: s.billing.get(f"/follow-ups/{s.data['pid']}"),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /follow-ups/{patient_id}/attempts", lambda s, i: s.billing.post(
        f"/follow-ups/{s.data['pid']}/attempts", {"channel": "phone", "outcome": "no_answer"}),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /follow-ups/{patient_id}/callbacks", lambda s, i: s.billing.post(
        f"/follow-ups/{s.data['pid']}/callbacks", {"due_at": _soon()}), setup=_patient_with_history, state=HISTORY),
    Scenario("PATCH /callbacks/{callback_id}", lambda s, i: s.billing.patch(
        f"/callbacks/{s.data['callback_id']}", {"status": "done"}), setup=_with_callback, state="1 callback"),
    Scenario("GET /tasks", lambda s, i: s.billing.get("/tasks"), setup=_with_callback, state="1 callback"),
    Scenario("GET /calendar.ics", lambda s, i: s.billing.get("/calendar.ics"), setup=_with_callback,
             state="1 callback"),
    Scenario("POST /calendar/feed", lambda s, i: s.billing.post("/calendar/feed", headers=FEED_HOST), state="-"),
    Scenario("DELETE /calendar/feed", lambda s, i: s.billing.delete("/calendar/feed"), setup=_with_feed,
             state="a feed"),
    Scenario("GET /calendar/feed/{token}", lambda s, i: s.anonymous.get(s.data["feed_path"]), setup=_with_feed,
             state="a feed, no callbacks"),
    Scenario("POST /follow-ups/{patient_id}/write-off", lambda s, i: s.owner.post(
        f"/follow-ups/{s.data['pid']}/write-off", {"reason": "Uncollectable after review"}),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /delegations", lambda s, i: s.owner.post("/delegations", {
        "grantee_sub": s.world.sub("billing"), "permission": "write_off",
        "expires_at": _soon(24 * 7)}), state="-"),
    Scenario("GET /delegations", lambda s, i: s.admin.get("/delegations"), setup=_with_grant, state="1 grant"),
    Scenario("DELETE /delegations/{delegation_id}", lambda s, i: s.owner.delete(
        f"/delegations/{s.data['delegation_id']}"), setup=_with_grant, state="1 grant"),
    Scenario("GET /audit", lambda s, i: s.admin.get("/audit"), setup=_patient_with_history,
             state="first page of the clinic's trail"),
    Scenario("POST /follow-ups/{patient_id}/payment-plan", lambda s, i: s.billing.post(
        f"/follow-ups/{s.data['pid']}/payment-plan", _plan_body(s)), setup=_patient_with_history,
             state=HISTORY + ", 3 monthly installments"),
    Scenario("GET /reports/aging", lambda s, i: s.billing.get("/reports/aging"), setup=_patient_with_history,
             state="1 patient, 2 open invoices"),
    Scenario("GET /reports/staff-performance", lambda s, i: s.admin.get(
        f"/reports/staff-performance?from={_today(s)}&to={_today(s)}"), setup=_patient_with_history,
             state="one day, 4 staff"),
    Scenario("GET /reports/contact-compliance", lambda s, i: s.admin.get(
        f"/reports/contact-compliance?from={_today(s)}&to={_today(s)}"), setup=_patient_with_history,
             state="one day, 4 staff"),
    Scenario("GET /payment-plans/{plan_id}", lambda s, i: s.billing.get(f"/payment-plans/{s.data['plan_id']}"),
             setup=_with_plan, state="plan of 3 installments"),
    Scenario("POST /payment-plans/{plan_id}/run", lambda s, i: s.billing.post(
        f"/payment-plans/{s.data['plan_id']}/run"), setup=_with_plan,
             state="plan whose first installment is due today"),
    Scenario("POST /invoices/{invoice_id}/void", lambda s, i: s.admin.post(
        f"/invoices/{s.data['unpaid_invoice_id']}/void", {"reason": "entered twice"}), setup=_with_unpaid_invoice,
             state=HISTORY + ", a third invoice unpaid"),
    Scenario("POST /invoices/{invoice_id}/adjustments", lambda s, i: s.admin.post(
        f"/invoices/{s.data['invoice_id']}/adjustments", {"amount_cents": 1_000, "reason": "agreed discount"}),
             setup=_patient_with_history, state=HISTORY),
    Scenario("POST /payments/{payment_id}/reversal", lambda s, i: s.admin.post(
        f"/payments/{s.data['payment_id']}/reversal", {"reason": "returned"}), setup=_patient_with_history,
             state=HISTORY),
    Scenario("POST /payment-plans/{plan_id}/cancel", lambda s, i: s.admin.post(
        f"/payment-plans/{s.data['plan_id']}/cancel", {"reason": "cannot keep it"}), setup=_with_plan,
             state="plan of 3 installments, none invoiced"),
    Scenario("PATCH /payment-plans/{plan_id}", lambda s, i: s.billing.patch(
        f"/payment-plans/{s.data['plan_id']}", {"installment_cents": 4_000}), setup=_with_plan,
             state="plan of 3 installments rescheduled into 4"),
    Scenario("POST /follow-ups/{patient_id}/hold", lambda s, i: s.billing.post(
        f"/follow-ups/{s.data['pid']}/hold", _hold_body(s)), setup=_patient_with_history, state=HISTORY),
    Scenario("DELETE /follow-ups/{patient_id}/hold", lambda s, i: s.billing.delete(
        f"/follow-ups/{s.data['pid']}/hold"), setup=_with_hold, state=HISTORY + ", on hold"),

    Scenario("PATCH /staff/{sub}", lambda s, i: s.owner.patch(f"/staff/{s.data['member']}", {"role": "Admin"}),
             setup=_new_member, state="BillingStaff made Admin"),
    Scenario("POST /staff/{sub}/deactivate", lambda s, i: s.admin.post(
        f"/staff/{s.data['member']}/deactivate", {}), setup=_leaver_with_callback,
             state="BillingStaff with 1 scheduled callback"),
    Scenario("POST /staff/{sub}/reactivate", lambda s, i: s.owner.post(f"/staff/{s.data['member']}/reactivate"),
             setup=_inactive_member, state="a deactivated member"),

    Scenario("POST /integrations", lambda s, i: s.owner.post("/integrations", {
        "name": "Practice system", "scopes": ["patients:write", "invoices:write"]}), state="-"),
    Scenario("GET /integrations", lambda s, i: s.admin.get("/integrations"), setup=_with_key, state="1 key"),
    Scenario("DELETE /integrations/{integration_id}", lambda s, i: s.owner.delete(
        f"/integrations/{s.data['integration_id']}"), setup=_with_key, state="1 key"),
    Scenario("GET /patients", lambda s, i: s.billing.get("/patients?q=pat"), setup=_external_patient,
             state="q=pat, first page"),
    Scenario("GET /patients (integration key)", lambda s, i: s.data["key_api"].get("/patients?q=pat"),
             setup=_external_patient, state="q=pat, key already cached by the process"),
    Scenario("PATCH /patients/{patient_id}", lambda s, i: s.billing.patch(
        f"/patients/{s.data['pid']}", {"phone": f"555-01{i:02d}"}), setup=_external_patient, state="new phone"),
    Scenario("PUT /patients/by-external-id/{external_id}", lambda s, i: s.data["key_api"].put(
        f"/patients/by-external-id/{s.data['ext']}", {"name": "Pat Example"}), setup=_external_patient,
             state="the same body again (nothing written)"),
    Scenario("GET /patients/by-external-id/{external_id}", lambda s, i: s.data["key_api"].get(
        f"/patients/by-external-id/{s.data['ext']}"), setup=_external_patient, state="-"),
    Scenario("PUT /invoices/by-external-id/{external_id}", lambda s, i: s.data["key_api"].put(
        f"/invoices/by-external-id/inv-{secrets.token_hex(5)}", {"patient_id": s.data["pid"], "amount_cents": 4_000,
                                                                 "invoice_date": _today(s)}),
             setup=_external_patient, state="a new invoice"),
    Scenario("POST /imports", lambda s, i: s.owner.post("/imports", _import_body(s)), state="10 new rows (JSON)"),

    Scenario("POST /webhooks", lambda s, i: s.owner.post("/webhooks", {
        "url": WEBHOOK_URL, "events": ["payment.recorded", "invoice.created"]}), setup=_no_webhooks,
             state="no webhook yet (KMS Encrypt of the secret)"),
    Scenario("GET /webhooks", lambda s, i: s.admin.get("/webhooks"), setup=_with_webhook, state="1 webhook"),
    Scenario("DELETE /webhooks/{webhook_id}", lambda s, i: s.owner.delete(f"/webhooks/{s.data['webhook_id']}"),
             setup=_with_webhook, state="1 webhook"),
    Scenario("POST /webhooks/{webhook_id}/test", lambda s, i: s.owner.post(
        f"/webhooks/{s.data['webhook_id']}/test"), setup=_with_webhook, state="1 webhook (the ping's event item)"),
    Scenario("GET /webhooks/{webhook_id}/deliveries", lambda s, i: s.admin.get(
        f"/webhooks/{s.data['webhook_id']}/deliveries"), setup=_with_webhook, state="1 webhook, empty log"),
]


def scheduled_scenarios() -> list[Scenario]:
    """The 15-minute tick of the scheduled `auto_invoicing` function. Each run starts from an empty
    stack (so the tick meets only the clinic it is about), which is why these go last."""
    return [Scenario("scheduled run: tick, nothing due", lambda s, i: _tick(s, s.data["at"]),
                     setup=_stack_with_clinic_up_to_date, function="auto_invoicing",
                     state="1 clinic, already run today"),
            Scenario("scheduled run: 1 clinic due, 1 installment", lambda s, i: _tick(s, s.data["at"]),
                     setup=_stack_with_installment_due, function="auto_invoicing",
                     state="1 clinic at 03:00, 1 plan installment due")]


def _tick(s: State, at: datetime):
    """Invoke the function exactly as EventBridge would, with `time` = at."""
    from chalice.test import Client

    with Client(s.app, stage_name="local") as client:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[], region="us-east-1")
        event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return client.lambda_.invoke("auto_invoicing", event)


def _fresh_stack(s: State) -> None:
    import requests

    from tests.support import make_clinic, provision_embedded_aws

    requests.post("http://motoapi.amazonaws.com/moto-api/reset", timeout=10)  # moto's own reset, in-process
    provision_embedded_aws()
    s.world = make_clinic(s.http)


def _stack_with_clinic_up_to_date(s: State, i: int) -> dict:
    _fresh_stack(s)
    now = datetime.now(UTC).replace(microsecond=0)
    _tick(s, now)
    return {"at": now + timedelta(minutes=1)}


def _stack_with_installment_due(s: State, i: int) -> dict:
    """A plan whose first installment falls due tomorrow; the tick comes just after 03:00 tomorrow."""
    from chalicelib.domain.clock import local_date, run_instant

    _fresh_stack(s)
    now = datetime.now(UTC).replace(microsecond=0)
    pid = s.world.patient()
    today = local_date(now, s.world.timezone)
    s.world.invoice(pid, 30_000, today.isoformat())
    tomorrow = today + timedelta(days=1)
    plan = s.billing.post(f"/follow-ups/{pid}/payment-plan", {
        "installment_cents": 10_000, "frequency": "monthly", "start_date": tomorrow.isoformat()})
    assert plan.status == 201, plan
    _tick(s, now)  # today's run, if 03:00 has passed: the measured tick then runs tomorrow only
    return {"at": run_instant(tomorrow, s.world.timezone) + timedelta(minutes=1), "pid": pid}


# ----- running -----------------------------------------------------------------------------------------
@dataclass
class Result:
    scenario: Scenario
    usage: Usage
    local_ms: float
    app_cpu_ms: float
    aws_calls_ms: float
    log_bytes: int

    @property
    def lambda_ms(self) -> float:
        """Estimated Lambda duration: CPU scaled to the memory's vCPU share, plus AWS call latency."""
        share = min(1.0, MEMORY_MB[self.scenario.function] / FULL_VCPU_MB)
        return self.app_cpu_ms / share + self.aws_calls_ms

    def cost_per_million(self) -> dict[str, float]:
        gb = MEMORY_MB[self.scenario.function] / 1024
        billed_s = math.ceil(self.lambda_ms) / 1000
        parts = {
            "api_gateway": PRICES["api_gateway_rest_per_million"] if self.scenario.function == "api_handler" else 0.0,
            "lambda": PRICES["lambda_requests_per_million"] + gb * billed_s * PRICES["lambda_gb_second_x86"] * 1e6,
            "dynamodb": (self.usage.rru * PRICES["dynamodb_rru_per_million"]
                         + self.usage.wru * PRICES["dynamodb_wru_per_million"]),
            "logs": (self.log_bytes + PLATFORM_LOG_BYTES) * 1e6 / 1e9 * PRICES["logs_ingest_per_gb"],
        }
        parts["total"] = sum(parts.values())
        return parts


def _table_indexes() -> dict[str, dict[str, tuple[str, str]]]:
    from chalicelib.store.models import ALL_TABLES

    out = {}
    for model in ALL_TABLES:
        out[model.Meta.table_name] = {
            i["index_name"]: tuple(k["AttributeName"] for k in i["key_schema"])
            for i in model._get_schema()["global_secondary_indexes"]}
    return out


class _LogCounter:
    """Counts the bytes the app logs during a call (what CloudWatch Logs would ingest)."""

    def __init__(self):
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)

    def flush(self) -> None:
        pass


def run(runs: int = 15, only: str | None = None) -> list[Result]:
    """Measure every scenario."""
    from moto import mock_aws

    from devtools import moto_patch

    # moto as the tests and the local stack run it: a transaction copies only what it touches and
    # a Query reads its partition. What a request reads and writes, and so its units, is the
    # same either way; without it moto's time grows with the table: tests/deploy/test_permissions.py,
    # which runs every scenario once, took 248 s of setup instead of 25 s.
    moto_patch.install()
    with mock_aws():
        from chalice.test import Client

        from tests.support import make_clinic, provision_embedded_aws

        provision_embedded_aws()
        from app import app

        recorder = Recorder(_table_indexes())
        recorder.install()
        results = []
        scenarios = SCENARIOS + scheduled_scenarios()
        with Client(app, stage_name="local") as client:
            for scenario in scenarios:
                if only and only not in scenario.name:
                    continue
                state = State(make_clinic(client.http), client.http, app)
                results.append(_measure(scenario, state, recorder, runs))
        return results


def _measure(scenario: Scenario, state: State, recorder: Recorder, runs: int) -> Result:
    import logging

    from chalicelib.logs import logger

    local, cpu, aws, usages, logs = [], [], [], [], []
    for i in range(-1, runs):  # run -1 warms caches (JWKS, pydantic schemas) and is not counted
        state.data = scenario.setup(state, i) if scenario.setup else {}
        counter = _LogCounter()
        handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        saved = [(h, h.stream) for h in handlers]
        for h in handlers:
            h.setStream(counter)
        recorder.calls = []
        recorder.overhead = [0.0, 0.0]
        recorder.active = True
        wall, process = time.perf_counter(), time.process_time()
        try:
            response = scenario.call(state, i)
        finally:
            recorder.active = False
            for h, stream in saved:
                h.setStream(stream)
        elapsed = time.perf_counter() - wall - recorder.overhead[0]
        elapsed_cpu = time.process_time() - process - recorder.overhead[1]
        status = getattr(response, "status", None) or getattr(response, "status_code", 200)
        assert 200 <= int(status) < 300 or getattr(response, "payload", None) is not None, (scenario.name, response)
        if i < 0:
            continue
        calls = recorder.calls
        moto_cpu = sum(c.cpu_seconds for c in calls)
        local.append(elapsed * 1000)
        cpu.append(max(0.0, elapsed_cpu - moto_cpu) * 1000)
        aws.append(sum(LATENCY_MS.get(c.operation, DEFAULT_LATENCY_MS) for c in calls))
        usages.append(recorder.usage(calls))
        logs.append(counter.bytes)
    usage = usages[len(usages) // 2]  # the state is rebuilt each run: every run has the same units
    return Result(scenario, usage, statistics.median(local), statistics.median(cpu), statistics.median(aws),
                  int(statistics.median(logs)))


# ----- report ------------------------------------------------------------------------------------------
def _ops(usage: Usage) -> str:
    counts: dict[str, int] = {}
    for op in usage.ops:
        counts[op] = counts.get(op, 0) + 1
    short = {"TransactWriteItems": "TxWrite", "GetItem": "Get", "Query": "Query", "PutItem": "Put"}
    return ", ".join(f"{n}x {short.get(op, op)}" for op, n in counts.items()) or "-"


def markdown(results: list[Result]) -> str:
    lines = [
        "| Call | State | AWS calls | RRU | WRU | moto CU | Local ms (moto) | App CPU ms | Est. Lambda ms | "
        "$ DynamoDB /1M | $ Lambda /1M | $ total /1M |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        c = r.cost_per_million()
        lines.append(
            f"| {r.scenario.name} | {r.scenario.state} | {_ops(r.usage)} | {r.usage.rru:g} | {r.usage.wru:g} | "
            f"{r.usage.moto_cu:g} | {r.local_ms:.1f} | {r.app_cpu_ms:.1f} | {r.lambda_ms:.0f} | "
            f"{c['dynamodb']:.2f} | {c['lambda']:.2f} | {c['total']:.2f} |")
    return "\n".join(lines)


def as_json(results: list[Result]) -> list[dict]:
    return [{"name": r.scenario.name, "function": r.scenario.function, "state": r.scenario.state,
             "ops": r.usage.ops, "rru": r.usage.rru, "wru": r.usage.wru, "moto_cu": r.usage.moto_cu,
             "iam": sorted(r.usage.iam), "local_ms": round(r.local_ms, 2), "app_cpu_ms": round(r.app_cpu_ms, 2),
             "lambda_ms_estimate": round(r.lambda_ms, 1), "log_bytes": r.log_bytes,
             "cost_per_million": {k: round(v, 4) for k, v in r.cost_per_million().items()}} for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.runs, args.only)
    if args.json:
        print(json.dumps({"prices": PRICES, "memory_mb": MEMORY_MB, "latency_ms": LATENCY_MS,
                          "results": as_json(results)}, indent=2))
    else:
        print(markdown(results))
        print(f"\nprices: {PRICES['date']}; Lambda memory {MEMORY_MB}; runs per call: {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
