"""Every route's body and query fields, walked with bad values derived from their pydantic models.

For each registered API route (`wiring.api_routes()`), each field of its body and query model is
described from its type and constraints (an integer's bounds, a string's lengths and pattern, a
Literal's choices, a date, an instant, a wall time), and sent, one field at a time, with values
that break them: just outside each bound, the calendar's extremes (years 1 and 9999), wrong JSON
types, empty, huge, unicode look-alikes, nesting, null, missing. The other fields hold valid values
built the same way (a few fields that depend on each other are named below), so each request is
refused because of the one field, and each route's valid base request is then sent and must be
accepted, which proves it. Every bad request must be a 4xx with the contract's error shape, never
a 5xx, and must leave everything stored (each route is walked in a store of its own: items, audit
trail, idempotency keys) and the clinic's users in the pool exactly as they were. Routes added
later are walked too; a field of a type the walk does not know gets the values every type refuses.

A second walk sends values inside each type's bounds but at its edges (the first and last dates,
the largest amounts, the longest strings in 4-byte characters, control and bidi characters): any
status but a 5xx, and a refusal writes nothing.

    .venv/bin/python -m pytest tests/fast/test_bad_input.py -q -s   # prints what was tried
"""

from __future__ import annotations

import json
import secrets
import types
import typing
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Union

import annotated_types
from pydantic import BeforeValidator, StringConstraints
from pydantic.fields import FieldInfo

from chalicelib.api import routing, wiring
from chalicelib.api.types import Query
from chalicelib.domain.roles import Caller
from chalicelib.services import (
    attempts,
    callbacks,
    clinics,
    delegations,
    invoices,
    patients,
    payments,
    plans,
    webhooks,
)
from tests.fast.support import make_clinic
from tests.memory import MemoryStore, MemoryUnitOfWork
from tests.webhooks_support import FakeSecretBox

MISSING = object()


class Raw(str):
    """A JSON fragment sent as written (what json.dumps cannot produce: NaN, 1e999, a lone surrogate)."""


# ----- describing a field from its model ---------------------------------------------------------
@dataclass
class Field:
    model: str
    name: str  # as sent (the alias when there is one)
    kind: str  # int, query_int, date, instant, instant_or_wall, str, choice, other
    required: bool
    in_query: bool
    ge: int | None = None
    le: int | None = None
    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple = ()


def describe(model, name: str, info: FieldInfo) -> Field:
    annotation, metadata = info.annotation, list(info.metadata)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    while typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    in_query = issubclass(model, Query)
    d = Field(model.__name__, info.alias or name, "other", info.is_required(), in_query)
    validators = {m.func.__name__ for m in metadata if isinstance(m, BeforeValidator)}
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            d.ge = m.ge
        elif isinstance(m, annotated_types.Le):
            d.le = m.le
        elif isinstance(m, StringConstraints):
            d.min_length, d.max_length, d.pattern = m.min_length or 0, m.max_length, m.pattern
    if typing.get_origin(annotation) is Literal:
        d.kind, d.choices = "choice", typing.get_args(annotation)
    elif annotation is datetime:
        d.kind = "instant_or_wall" if "_to_instant_or_wall" in validators else "instant"
    elif annotation is date:
        d.kind = "date"
    elif annotation is int:
        d.kind = "query_int" if in_query else "int"
    elif annotation is str:
        d.kind = "str"
    return d


def model_fields(model) -> list[Field]:
    return [describe(model, name, info) for name, info in model.model_fields.items()]


# ----- the world each route is walked in ---------------------------------------------------------
@dataclass
class World:
    clinic: Any
    store: MemoryStore
    now: datetime
    ids: dict[str, str] = field(default_factory=dict)  # path parameters and body references

    @property
    def today(self) -> date:
        return self.clinic.today()


class Worlds:
    """Makes each world in a store of its own (the routes' unit of work pointed at it), so that
    "nothing was written" compares a few dozen items, not everything the module has stored."""

    def __init__(self, http, monkeypatch):
        self.http, self.monkeypatch = http, monkeypatch

    def __call__(self) -> World:
        store = MemoryStore()
        self.monkeypatch.setattr(routing, "unit_of_work", lambda: MemoryUnitOfWork(store))
        uow = MemoryUnitOfWork(store)
        clinic = make_clinic(self.http)
        now = datetime.now(UTC)
        owner = Caller(clinic.sub("owner"), clinic.clinic_id, frozenset({"Owner"}))
        pid = patients.create(uow, owner, now, name="Walked Patient").patient_id
        # The payment below settles this older invoice, so the world's invoice can be voided.
        invoices.create(uow, owner, now, patient_id=pid, amount_cents=100,
                        invoice_date=clinic.today() - timedelta(days=50))
        invoice = invoices.create(uow, owner, now, patient_id=pid, amount_cents=10_000,
                                  invoice_date=clinic.today() - timedelta(days=40))
        cb = callbacks.schedule(uow, owner, now, pid, due_at=now + timedelta(days=1))
        paid = payments.record(uow, owner, now, idempotency_key=secrets.token_hex(8),
                               body={"patient_id": pid, "amount_cents": 100, "method": "cash"})[1]
        attempts.log(uow, owner, now, pid, channel="phone", outcome="no_answer")
        grant = delegations.grant(uow, owner, now, grantee_sub=clinic.sub("billing"), permission="write_off",
                                  expires_at=now + timedelta(days=5))
        planned = patients.create(uow, owner, now, name="Planned Patient").patient_id
        invoices.create(uow, owner, now, patient_id=planned, amount_cents=5_000, invoice_date=clinic.today())
        plan = plans.create(uow, owner, now, patient_id=planned, installment_cents=1_000, frequency="monthly",
                            start_date=clinic.today())
        elsewhere = clinics.create(uow, now, name="Someone Else's Clinic", timezone="UTC", currency="USD")
        theirs = patients.create(uow, Caller("someone", elsewhere.clinic_id, frozenset({"Owner"})), now,
                                 name="Not Yours").patient_id
        hook = webhooks.create(uow, owner, now, url="http://127.0.0.1:9/hooks", events_list=["*"],
                               secret_box=FakeSecretBox(), url_policy="local").webhook
        return World(clinic, store, now, {
            "webhook_id": hook.webhook_id, "patient_id": pid, "invoice_id": invoice.invoice_id,
            "callback_id": cb.callback_id,
            "payment_id": paid.payment_id, "delegation_id": grant.delegation_id, "plan_id": plan.plan_id,
            "sub": clinic.sub("billing"), "theirs": theirs, "heir": clinic.sub("billing2")})


# ----- valid values ------------------------------------------------------------------------------
def valid_value(d: Field, w: World) -> Any:
    """A value the field's type accepts and the services too, for the world's patient."""
    soon = w.now + timedelta(minutes=3)
    by_name = {"patient_id": w.ids["patient_id"], "invoice_id": w.ids["invoice_id"], "grantee_sub": w.ids["sub"],
               "assignee_sub": w.ids["sub"], "reassign_to": w.ids["heir"], "timezone": "Europe/Athens",
               "action": "payment.recorded",
               "received_at": (w.now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "email": f"walked-{secrets.token_hex(4)}@example.test",
               "external_id": f"ext-{secrets.token_hex(4)}", "reason": "walked reason", "cursor": MISSING,
               "url": "http://127.0.0.1:9/hooks"}  # the local stage takes a loopback receiver
    by_name["until"] = (w.today + timedelta(days=30)).isoformat()  # a hold's end: after today
    if d.name in by_name and not (d.kind == "choice" and by_name[d.name] not in d.choices):
        return by_name[d.name]
    if d.kind == "choice":
        return d.choices[0]
    if d.kind == "date":
        return w.today.isoformat()
    if d.kind in ("instant", "instant_or_wall"):
        return soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    if d.kind == "int":
        return 100
    if d.kind == "query_int":
        return "5"
    if d.kind == "str":
        return "walked text"[: d.max_length or None].ljust(d.min_length, "x")
    return MISSING


# Fields that only make sense together: an attempt that records a promise; a callback change is a
# status or a new time, not both.
BASE_CHOICES = {"AttemptIn": {"outcome": "promised_payment"},
                "IntegrationIn": {"scopes": ["patients:read"]}, "ImportIn": {"rows": []},
                "InvoicePut": {"patient_external_id": MISSING}, "WebhookIn": {"events": ["payment.recorded"]}}
BASE_GROUPS = {"CallbackPatch": [("status",), ("due_at",)]}


def bases(model, w: World) -> list[dict]:
    described = model_fields(model)
    values = {d.name: valid_value(d, w) for d in described}
    values.update(BASE_CHOICES.get(model.__name__, {}))
    groups = BASE_GROUPS.get(model.__name__, [tuple(values)])
    return [{k: values[k] for k in group if values[k] is not MISSING} for group in groups]


# ----- bad values --------------------------------------------------------------------------------
def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


WRONG_TYPES = [("true", True), ("false", False), ("empty list", []), ("empty object", {}),
               ("object", {"value": 1}), ("nested 40 deep", nested(40)), ("NaN", Raw("NaN")),
               ("1e999", Raw("1e999")), ("a 5,000-digit number", Raw("9" * 5_000)),
               ("a lone surrogate", Raw('"\\ud800"'))]
UNIVERSAL = ("nested 40 deep", "NaN", "1e999", "a lone surrogate")
NOT_A_STRING = [("number", 100), ("float", 1.5), ("negative", -1)]
NOT_A_NUMBER = [("digits in a string", "100"), ("empty string", ""), ("fullwidth digits", "１００"),
                ("huge string", "9" * 10_000)]

BAD_DATES = ["1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31", "0000-01-01", "2026-02-30", "2026-02-29",
             "2026-13-01", "2026-00-10", "2026-01-00", "2026-1-1", "20260101", "2026/01/01", "01-02-2026",
             "2026-01-01T00:00:00Z", "2026-01-01 ", " 2026-01-01", "2026-01-01\n", "２０２６-０１-０１",
             "+2026-01-01", "-2026-01-01", "12026-01-01", "today", ""]
BAD_INSTANTS = ["9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00",
                "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "2026-01-01",
                "2026-01-01T10:00:00", "2026-01-32T10:00:00Z", "2026-02-29T10:00:00Z", "2026-01-01T24:00:00Z",
                "2026-01-01T10:60:00Z", "2026-01-01T10:00:61Z", "2026-01-01T10:00:00+24:00",
                "2026-01-01T10:00:00+99:99", "2026-01-01T10:00:00.1234567Z", "2026-01-01T10:00:00z",
                "2026-01-01t10:00:00Z", "2026-01-01T10:00:00Z\n", "２０２６-０１-０１T10:00:00Z", "now", ""]
BAD_WALL_TIMES = ["9999-12-31T23:59", "0001-01-01T00:00", "2200-01-01T00:00", "1899-12-31T23:59",
                  "2026-02-30T10:00", "2026-01-01T25:00", "2026-01-01T10:61", "2026-01-01T10",
                  "2026-01-01T10:00\n"]
BAD_QUERY_INTS = ["-1", "1.0", "1e3", "+1", " 5", "5 ", "abc", "", "9" * 30, "١٢", "10_000", "0x10", "５"]
BAD_CURSORS = ["not-a-cursor", "eyJ9", "AAAA", "x" * 20, "%00", "e30", "W10"]


def homoglyph(text: str) -> str:
    """The same word with a Cyrillic letter in place of a Latin one (`cаsh`)."""
    for latin, cyrillic in (("a", "а"), ("e", "е"), ("o", "о"), ("c", "с"), ("p", "р")):
        if latin in text:
            return text.replace(latin, cyrillic, 1)
    return text + "\u200b"


def bad_values(d: Field, w: World) -> list[tuple[str, Any]]:
    """(label, value) pairs the field must refuse, from its kind and constraints."""
    out: list[tuple[str, Any]] = []
    if d.in_query:  # a query has no null: a value is a string or absent
        return ([("missing", MISSING)] if d.required else []) + _bad_query_values(d)
    if d.required:
        out += [("missing", MISSING), ("null", None)]
    if d.kind == "other":  # a type the walk does not know (a list, a nested model): what every type refuses
        return out + [(label, v) for label, v in WRONG_TYPES if label in UNIVERSAL]
    out += WRONG_TYPES
    if d.kind in ("int",):
        out += NOT_A_NUMBER
        if d.ge is not None:
            out += [(f"below {d.ge}", d.ge - 1), ("far below", d.ge - 10**12)]
        if d.le is not None:
            out += [(f"above {d.le}", d.le + 1), ("10**30", 10**30)]
        out += [("100.0", 100.0), ("100.5", 100.5), ("1e2", Raw("1e2")), ("-0", Raw("-0")), ("1.0e0", Raw("1.0e0"))]
    elif d.kind in ("date", "instant", "instant_or_wall"):
        out += NOT_A_STRING + [("a number like a date", 20260101)]
        texts = {"date": BAD_DATES, "instant": BAD_INSTANTS + BAD_DATES[:5],
                 "instant_or_wall": BAD_INSTANTS + BAD_WALL_TIMES}[d.kind]
        out += [(repr(t), t) for t in texts]
    elif d.kind == "str":
        out += NOT_A_STRING
        out += _too_long_or_short(d)
        if d.pattern:
            out += [(repr(t), t) for t in ("not-an-email", "a@b", "@b.co", "a@b.co\n", "a b@c.de", "a@b .co")]
        if d.name == "timezone":
            out += [(repr(t), t) for t in ("Mars/Olympus", "utc ", "../../etc/passwd", "UTC\u0000", "Europe/Athens ")]
        if d.name in ("patient_id", "invoice_id", "grantee_sub", "assignee_sub", "reassign_to"):  # references
            out += [("another clinic's patient", w.ids["theirs"]), ("well-formed, no such object",
                    "pat_0000000000000000" if d.name == "patient_id" else f"{d.name[:3]}_00000000_000000"),
                    ("a name, not an id", "Walked Patient")]
    elif d.kind == "choice":
        out += NOT_A_STRING
        for c in d.choices:
            out += [(f"{c!r} upper-cased", c.upper()), (f"{c!r} padded", f" {c} "), (f"{c!r} look-alike", homoglyph(c)),
                    (f"{c!r} with a NUL", c + "\u0000"), (f"[{c!r}]", [c])]
        out += [("empty string", ""), ("huge string", "x" * 10_000)]
    return [(label, v) for label, v in out if not (d.kind == "choice" and v in d.choices)]


def _too_long_or_short(d: Field) -> list[tuple[str, Any]]:
    out = []
    if d.min_length >= 1:
        out.append(("empty string", ""))
    if d.min_length >= 2:
        out.append((f"{d.min_length - 1} characters", "x" * (d.min_length - 1)))
    if d.max_length is not None:
        n = d.max_length + 1
        out += [(f"{n} characters", "x" * n), (f"{n} accented characters", "é" * n), (f"{n} emoji", "😀" * n)]
    return out


def _bad_query_values(d: Field) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if d.kind == "query_int":
        if d.ge is not None:
            out.append((f"below {d.ge}", str(d.ge - 1)))
        if d.le is not None:
            out.append((f"above {d.le}", str(d.le + 1)))
        out += [(repr(t), t) for t in BAD_QUERY_INTS]
    elif d.kind == "date":
        out += [(repr(t), t) for t in BAD_DATES]
    elif d.kind == "choice":
        for c in d.choices:
            out += [(f"{c!r} upper-cased", c.upper()), (f"{c!r} padded", f" {c}  "),
                    (f"{c!r} look-alike", homoglyph(c))]
        out += [("empty string", ""), ("huge string", "x" * 5_000), ("invalid UTF-8", Raw("%FF"))]
        out = [(label, v) for label, v in out if v not in d.choices]
    elif d.kind == "str":
        out += _too_long_or_short(d)
        if d.name == "cursor":
            out += [(repr(t), t) for t in BAD_CURSORS]
    return out


# ----- sending -----------------------------------------------------------------------------------
def body_text(body: dict) -> str:
    parts = [f"{json.dumps(k)}: {v if isinstance(v, Raw) else json.dumps(v)}" for k, v in body.items()
             if v is not MISSING]
    return "{" + ", ".join(parts) + "}"


def query_text(query: dict) -> str:
    return "&".join(f"{urllib.parse.quote(k)}={v if isinstance(v, Raw) else urllib.parse.quote(v, safe='')}"
                    for k, v in query.items() if v is not MISSING)


def fill_path(path: str, w: World) -> tuple[str, bool]:
    """The path with the world's ids; False when it names a parameter the world has no id for."""
    known = True
    for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
        value = w.ids.get(name)
        known &= value is not None
        path = path.replace("{" + name + "}", value or "no_such_id")
    return path, known


def snapshot(w: World, cognito) -> dict:
    """Everything the world's store holds, as text (its items are dataclasses), and its clinic's users."""
    shot = {f.name: sorted(repr(item) for item in getattr(w.store, f.name).items()) for f in fields(w.store)}
    shot["users"] = sorted(repr(u) for u in cognito.users.values() if u.clinic_id == w.clinic.clinic_id)
    return shot


@dataclass
class Walk:
    cognito: Any
    tried: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)  # (category, "2xx"/"4xx"/...)
    fields_walked: set = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def send(self, w: World, spec, label: str, *, body: str | bytes | None = None, query: dict | None = None,
             headers: dict | None = None, category: str = "field") -> int:
        """`category`: "field" (one field's bad value) and "request" (a bad body, media type, header
        or parameter) must be refused; "base" and "edge" may be accepted, never a 5xx."""
        must_refuse = category in ("field", "request")
        path, _ = fill_path(spec.path, w)
        if query is not None:
            text = query_text(query)
            path = f"{path}?{text}" if text else path
        send_headers = {"Idempotency-Key": secrets.token_hex(8)} if "Idempotency-Key" in spec.headers else {}
        send_headers.update({"Host": "walk.test"}, **(headers or {}))
        send_headers = {k: v for k, v in send_headers.items() if v is not MISSING}
        before = snapshot(w, self.cognito)
        r = w.clinic.owner.request(spec.method, path, raw=body, headers=send_headers)
        self.tried[category] += 1
        self.answers[(category, f"{r.status // 100}xx")] += 1
        where = f"{spec.method} {spec.path} {label}"
        if r.status >= 500:
            self.failures.append(f"{where}: {r.status} {r.text[:200]}")
        elif must_refuse and not 400 <= r.status < 500:
            self.failures.append(f"{where}: accepted ({r.status}), should be refused: {r.text[:200]}")
        elif r.status >= 400:
            error = (r.body or {}).get("error") if isinstance(r.body, dict) else None
            if not (isinstance(error, dict) and set(r.body) == {"error"} and isinstance(error.get("code"), str)
                    and isinstance(error.get("message"), str)
                    and all(isinstance(k, str) and isinstance(v, str) for k, v in (error.get("fields") or {}).items())):
                self.failures.append(f"{where}: {r.status} without the error shape: {r.text[:200]}")
            if snapshot(w, self.cognito) != before:
                self.failures.append(f"{where}: refused ({r.status}) but something was written")
        return r.status


def walk_route(walk: Walk, spec, w: World) -> None:
    body_fields = model_fields(spec.body) if spec.body is not None else []
    query_fields = model_fields(spec.query) if spec.query is not None else []
    body_bases = bases(spec.body, w) if spec.body is not None else [None]
    query_base = bases(spec.query, w)[0] if spec.query is not None else None
    body = body_bases[0]

    for d in body_fields:
        walk.fields_walked.add((spec.method, spec.path, "body", d.name))
        base = next((b for b in body_bases if d.name in b), body)
        for label, value in bad_values(d, w):
            walk.send(w, spec, f"body.{d.name} = {label}", body=body_text({**base, d.name: value}), query=query_base)
    for d in query_fields:
        walk.fields_walked.add((spec.method, spec.path, "query", d.name))
        for label, value in bad_values(d, w):
            walk.send(w, spec, f"query.{d.name} = {label}", body=None if body is None else body_text(body),
                      query={**query_base, d.name: value})
    for header in spec.headers:
        walk.fields_walked.add((spec.method, spec.path, "header", header))
        for label, value in (("missing", MISSING), ("empty", ""), ("256 characters", "k" * 256)):
            walk.send(w, spec, f"header {header} {label}", body=None if body is None else body_text(body),
                      query=query_base, headers={header: value}, category="request")
    if spec.query is not None:
        walk.send(w, spec, "an unknown query parameter", query={**query_base, "surprise": "1"},
                  body=None if body is None else body_text(body), category="request")
    if spec.method in ("POST", "PUT", "PATCH"):
        valid = body_text(body) if body is not None else '{"note": "x"}'
        walk.send(w, spec, "the body as text/plain", body=valid, query=query_base,
                  headers={"Content-Type": "text/plain"}, category="request")
        walk.send(w, spec, "the body as a form", body="a=1&b=2", query=query_base,
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, category="request")
    if spec.body is not None:
        whole_bodies = [("empty", ""), ("null", "null"), ("a list", "[]"), ("a string", '"text"'), ("a number", "1"),
                        ("true", "true"), ("not JSON", "{"), ("cut short", body_text(body)[:-1]),
                        ("nested 33 deep", json.dumps({**body, "deep": nested(32)})),
                        ("nested 20,000 deep", "[" * 20_000 + "]" * 20_000),
                        ("over 64 KiB", json.dumps({**body, "pad": "x" * 70_000})),
                        ("a byte-order mark first", "\ufeff" + body_text(body)),
                        ("invalid UTF-8", b'{"x": "\xff\xfe"}'),
                        ("an unknown field", body_text({**body, "clinic_id": "cln_someone_else"}))]
        for label, raw in whole_bodies:
            walk.send(w, spec, f"a body that is {label}", body=raw, query=query_base, category="request")


def edge_values(d: Field, w: World) -> list[tuple[str, Any]]:
    """Values inside the field's type but at its edges."""
    if d.kind == "int":
        return [(f"{v}", v) for v in {d.ge, d.le, (d.le or 2) - 1} if v is not None]
    if d.kind == "query_int":
        return [(f"{v}", str(v)) for v in {d.ge, d.le} if v is not None] + [("leading zeros", "0005")]
    if d.kind == "date":
        t = w.today
        days = [date(1900, 1, 1), date(2199, 12, 31), t - timedelta(days=1), t + timedelta(days=1),
                t + timedelta(days=366), t + timedelta(days=367), date(2028, 2, 29)]
        return [(day.isoformat(), day.isoformat()) for day in days]
    if d.kind in ("instant", "instant_or_wall"):
        texts = ["1900-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2199-12-31T23:59:59-12:00",
                 "1900-01-01T00:00:00+14:00", (w.now + timedelta(days=700)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 (w.now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+05:45")]
        if d.kind == "instant_or_wall":
            texts += ["2199-12-31T23:59", "1900-01-01T00:00", (w.now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")]
        return [(t, t) for t in texts]
    if d.kind == "str":
        n = d.max_length or 300
        out = [(f"{n} characters", "x" * n), (f"{n} emoji", "😀" * n), ("a NUL", "a\u0000b"),
               ("bidi override", "\u202eabc"), ("zero-width", "\u200b" * max(d.min_length, 1)),
               ("spaces only", " " * max(d.min_length, 1)), ("combining marks", "e" + "\u0301" * (n - 1)),
               ("markup", "<script>alert(1)</script>"[:n]), ("a formula", "=HYPERLINK(\"x\")"[:n])]
        if d.pattern:
            out = [(label, f"{v[: max(n - 12, 1)]}@example.test") for label, v in out]
        return [(label, v) for label, v in out if len(v) >= d.min_length]
    if d.kind == "choice":
        return [(repr(c), c) for c in d.choices]
    return []


def routes_with_input():
    return [s for s in wiring.api_routes() if s.body is not None or s.query is not None or s.headers
            or s.method in ("POST", "PUT", "PATCH")]


def test_every_field_of_every_route_refuses_bad_values_with_a_4xx_and_writes_nothing(http, cognito, monkeypatch):
    new_world = Worlds(http, monkeypatch)
    walk = Walk(cognito)
    accepted = []
    for spec in routes_with_input():
        w = new_world()
        walk_route(walk, spec, w)
        if not fill_path(spec.path, w)[1]:
            continue  # a path parameter the world has no object for: every request is a 404
        # The valid base requests the bad values were made from are accepted (each in a world of
        # its own): each refusal above was the one bad field's doing.
        for i in range(len(bases(spec.body, w)) if spec.body is not None else 1):
            fresh = new_world()
            body = bases(spec.body, fresh)[i] if spec.body is not None else None
            query = bases(spec.query, fresh)[0] if spec.query is not None else None
            status = walk.send(fresh, spec, "the valid base request", category="base", query=query,
                               body=None if body is None else body_text(body))
            accepted.append(status)
            if not 200 <= status < 300:
                walk.failures.append(f"{spec.method} {spec.path}: the valid base request {body} got {status}")
    print(f"\nbad-input walk: {len(routes_with_input())} routes, {len(walk.fields_walked)} fields "
          f"({sum(1 for f in walk.fields_walked if f[2] == 'body')} body, "
          f"{sum(1 for f in walk.fields_walked if f[2] == 'query')} query, "
          f"{sum(1 for f in walk.fields_walked if f[2] == 'header')} header); "
          f"{walk.tried['field']} bad field values and {walk.tried['request']} bad requests (bodies, media types, "
          f"headers, parameters), each a 4xx with the error shape and nothing written; "
          f"{walk.tried['base']} valid base requests accepted; failures: {len(walk.failures)}")
    assert not walk.failures, "\n".join(walk.failures[:60])
    assert len(walk.fields_walked) >= 50 and walk.tried["field"] >= 1_200  # the walk did walk


def test_values_at_the_edges_of_each_type_never_give_a_5xx(http, cognito, monkeypatch):
    """In-range values may be accepted; then the next value gets a new world (a refused one
    writes nothing, which `send` checks, so the world is kept)."""
    new_world = Worlds(http, monkeypatch)
    walk = Walk(cognito)
    w = new_world()
    for spec in routes_with_input():
        for model, kind in ((spec.body, "body"), (spec.query, "query")):
            for d in model_fields(model) if model is not None else []:
                walk.fields_walked.add((spec.method, spec.path, kind, d.name))
                for label, value in edge_values(d, w):
                    body_bases = bases(spec.body, w) if spec.body is not None else [None]
                    body = next((b for b in body_bases if b is not None and d.name in b), body_bases[0])
                    query = bases(spec.query, w)[0] if spec.query is not None else None
                    if kind == "body":
                        body = {**body, d.name: value}
                    else:
                        query = {**query, d.name: value}
                    status = walk.send(w, spec, f"{kind}.{d.name} = {label}", category="edge", query=query,
                                       body=None if body is None else body_text(body))
                    if status < 400:
                        w = new_world()
    print(f"\nedge walk: {len(walk.fields_walked)} fields, {walk.tried['edge']} requests "
          f"({walk.answers[('edge', '2xx')]} accepted, {walk.answers[('edge', '4xx')]} refused, "
          f"{walk.answers[('edge', '5xx')]} 5xx); failures: {len(walk.failures)}")
    assert not walk.failures, "\n".join(walk.failures[:60])
