"""The store in memory: the repositories of `chalicelib/store/` with the same methods, on dicts.

`MemoryStore` is the "database": one dict per stored kind, keyed the way DynamoDB keys the item
(always the clinic first), holding domain dataclasses. `MemoryUnitOfWork(store)` is what a
service gets instead of `store.uow.UnitOfWork()`: reads see what is committed, writes are staged
and `commit()` applies them all or none, after every condition holds, with the conditions the
DynamoDB repositories put on their writes:

- a create fails if the item exists; a save of a versioned item (Clinic, Patient) fails if the
  stored version is not the one read (None: must not exist yet), and bumps it;
- `require_role` / `require_member` / `require_unrevoked`, `save_revoked`'s "not revoked yet",
  the idempotency put's "absent or expired";
- a failed condition raises `StaleWrite` with the labels the DynamoDB repositories use and applies
  nothing; more than 100 staged items is a `Conflict`; two actions on one item is an error (a
  ValidationException in DynamoDB).

Everything is copied on the way in and out (instants in UTC, as DynamoDB gives them back), so a
service never changes stored state without committing. Index reads compute from the stored
dataclasses the same sort keys `store/keys.py` builds, so orders and half-open ranges are the
same. Not modelled: eventual consistency, DynamoDB's paging and read budgets (a filtered worklist
page here is always full), TTL deletion, and the cost of a call (the moto tier measures those).

tests/fast/test_memory_parity.py checks that each class here has the public methods and
signatures of its DynamoDB twin; tests/contract/ runs the same scenarios against both.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from chalicelib.domain import account as acc
from chalicelib.domain import integrations as terms
from chalicelib.domain import reports
from chalicelib.domain.audit import AuditEntry, StoredResponse
from chalicelib.domain.clinic import Clinic
from chalicelib.domain.clock import as_utc, iso_z
from chalicelib.domain.contact import DONE, Attempt, CalendarFeed, Callback
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.integrations import Integration
from chalicelib.domain.team import ACTIVE, PENDING, Delegation, Enrolment, StaffMember
from chalicelib.domain.webhooks import Delivery, Event, Webhook
from chalicelib.store import keys
from chalicelib.store.accounts import LoadedAccount, Settling
from chalicelib.store.uow import MAX_ITEMS, StaleWrite, UnitOfWorkBase

T = TypeVar("T")
Condition = Callable[[Any], bool]  # given the stored item, or None when there is none


class TwoActionsOnOneItem(Exception):
    """One transaction wrote or checked the same item twice (DynamoDB refuses it: a bug)."""


def read_back(value):
    """A copy of `value` as DynamoDB would give it back: every instant in UTC (a naive datetime
    raises, as `iso_z` does), nothing shared with the original."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, list):
        return [read_back(v) for v in value]
    if isinstance(value, dict):
        return {k: read_back(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: read_back(getattr(value, f.name))
                                            for f in dataclasses.fields(value) if f.init})
    return copy.deepcopy(value)


@dataclass
class MemoryStore:
    """The shared in-memory "database" (one per test module, like moto's tables)."""

    clinics: dict[str, Clinic] = field(default_factory=dict)
    staff: dict[tuple[str, str], StaffMember] = field(default_factory=dict)  # (clinic, sub)
    enrolments: dict[tuple[str, str], Enrolment] = field(default_factory=dict)  # (clinic, email)
    delegations: dict[tuple[str, str], Delegation] = field(default_factory=dict)  # (clinic, delegation)
    feeds: dict[tuple[str, str], CalendarFeed] = field(default_factory=dict)  # (clinic, sub)
    patients: dict[tuple[str, str], acc.Patient] = field(default_factory=dict)  # (clinic, patient)
    # A patient's items: (clinic, patient, own id); the ledger by (clinic, patient, seq).
    invoices: dict[tuple[str, str, str], acc.Invoice] = field(default_factory=dict)
    plans: dict[tuple[str, str, str], acc.Plan] = field(default_factory=dict)
    promises: dict[tuple[str, str, str], acc.Promise] = field(default_factory=dict)
    payments: dict[tuple[str, str, str], acc.Payment] = field(default_factory=dict)
    reversals: dict[tuple[str, str, str], acc.Reversal] = field(default_factory=dict)  # (clinic, patient, payment)
    attempts: dict[tuple[str, str, str], Attempt] = field(default_factory=dict)
    callbacks: dict[tuple[str, str, str], Callback] = field(default_factory=dict)
    ledger: dict[tuple[str, str, int], acc.LedgerLine] = field(default_factory=dict)
    audit: dict[tuple[str, str], AuditEntry] = field(default_factory=dict)  # (clinic, <at>#<audit id>)
    idempotency: dict[tuple[str, str, str], StoredResponse] = field(default_factory=dict)  # (clinic, scope, key)
    # Webhooks (issue 18): events by (clinic, <created_at>#<event id>), subscriptions by (clinic,
    # webhook), the delivery log by (clinic, webhook, <event created_at>#<event id>).
    events: dict[tuple[str, str], Event] = field(default_factory=dict)
    webhooks: dict[tuple[str, str], Webhook] = field(default_factory=dict)
    deliveries: dict[tuple[str, str, str], Delivery] = field(default_factory=dict)
    # Integrations (issue 17): keys by (clinic, id) and their lookup by hash; request counters by
    # (clinic, integration, minute); external ids by (clinic, PAT|INV, external id); search items
    # by (search pk, search sk) as store/keys.py builds them.
    integrations: dict[tuple[str, str], Integration] = field(default_factory=dict)
    key_lookups: dict[str, Integration] = field(default_factory=dict)
    rates: dict[tuple[str, str, str], int] = field(default_factory=dict)
    external_ids: dict[tuple[str, str, str], tuple[str, str | None]] = field(default_factory=dict)
    search: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def of_patient(self, kind: str, clinic_id: str, patient_id: str) -> list:
        """Copies of one patient's items of a kind, in key order (as a Query returns them)."""
        table = getattr(self, kind)
        return [read_back(table[k]) for k in sorted(table) if k[:2] == (clinic_id, patient_id)]

    def of_clinic(self, kind: str, clinic_id: str) -> list:
        table = getattr(self, kind)
        return [read_back(table[k]) for k in sorted(table) if k[0] == clinic_id]


@dataclass
class _Staged:
    label: str
    kind: str  # the MemoryStore dict
    key: tuple | str
    item: Any  # None: a condition check, nothing written
    condition: Condition | None
    versioned: bool
    delete: bool = False


def _exists(stored) -> bool:
    return stored is not None


def _version_holds(item) -> Condition:
    """PynamoDB's VersionAttribute: the stored version is the one read (None: no item yet)."""
    if item.version is None:
        return lambda stored: stored is None
    return lambda stored: stored is not None and stored.version == item.version


class MemoryTransaction:
    """The staged writes of one unit of work, applied together by `send`."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self._items: list[_Staged] = []

    def create(self, kind: str, key, item, label: str, versioned: bool = False) -> None:
        self._items.append(_Staged(label, kind, key, read_back(item), lambda stored: stored is None, versioned))

    def save(self, kind: str, key, item, label: str, condition: Condition | None = None,
             versioned: bool = False) -> None:
        self._items.append(_Staged(label, kind, key, read_back(item), condition, versioned))

    def check(self, kind: str, key, condition: Condition, label: str) -> None:
        self._items.append(_Staged(label, kind, key, None, condition, False))

    def delete(self, kind: str, key, label: str, condition: Condition | None = None) -> None:
        self._items.append(_Staged(label, kind, key, None, condition, False, delete=True))

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items = []

    def send(self) -> None:
        if not self._items:
            return
        try:
            self._apply()
        finally:
            self.clear()  # sent or failed, what was staged is gone (as store/uow.py does)

    def _apply(self) -> None:
        if len(self._items) > MAX_ITEMS:
            raise Conflict(f"this change touches {len(self._items)} items, more than one transaction holds "
                           f"({MAX_ITEMS})")
        seen = set()
        for staged in self._items:
            if (staged.kind, staged.key) in seen:
                raise TwoActionsOnOneItem(f"{staged.kind} {staged.key} twice in one transaction")
            seen.add((staged.kind, staged.key))
        failed = [s.label for s in self._items if not self._holds(s)]
        if failed:
            raise StaleWrite(failed)
        for staged in self._items:
            if staged.delete:
                getattr(self.store, staged.kind).pop(staged.key, None)
                continue
            if staged.item is None:
                continue
            if staged.versioned:
                staged.item.version = (staged.item.version or 0) + 1
            getattr(self.store, staged.kind)[staged.key] = staged.item

    def _holds(self, staged: _Staged) -> bool:
        stored = getattr(self.store, staged.kind).get(staged.key)
        if staged.condition is not None and not staged.condition(stored):
            return False
        return not staged.versioned or _version_holds(staged.item)(stored)


class _Repository:
    def __init__(self, store: MemoryStore, tx: MemoryTransaction):
        self._store, self._tx = store, tx


# ----- clinics ------------------------------------------------------------------------------
class ClinicRepository(_Repository):
    def get(self, clinic_id: str, *, consistent: bool = False) -> Clinic:
        clinic = self._store.clinics.get(clinic_id)
        if clinic is None:
            raise NotFound("no such clinic")
        return read_back(clinic)

    def get_with_member(self, clinic_id: str, sub: str) -> tuple[Clinic | None, StaffMember | None]:
        """The clinic and one of its staff members (DynamoDB: one BatchGetItem)."""
        clinic, member = self._store.clinics.get(clinic_id), self._store.staff.get((clinic_id, sub))
        return (read_back(clinic) if clinic is not None else None), (read_back(member) if member is not None else None)

    def add(self, clinic: Clinic) -> None:
        self._tx.create("clinics", clinic.clinic_id, clinic, label="clinic", versioned=True)

    def save(self, clinic: Clinic) -> None:
        """Stage the clinic; refused at commit if another writer changed it since it was read."""
        self._tx.save("clinics", clinic.clinic_id, clinic, label="clinic", versioned=True)

    def save_now(self, clinic: Clinic) -> None:
        """Put the clinic alone, outside the unit's transaction (version-conditioned): StaleWrite."""
        alone = MemoryTransaction(self._store)
        alone.save("clinics", clinic.clinic_id, clinic, label="clinic", versioned=True)
        alone.send()
        clinic.version = self._store.clinics[clinic.clinic_id].version

    def due_for_run(self, now: datetime) -> Iterator[Clinic]:
        """Clinics whose next 03:00 run instant is at or before `now`, soonest first (a Query)."""
        until = keys.runs_until(iso_z(now))
        due = sorted((keys.run_sk(iso_z(c.next_run_at()), c.clinic_id), c.clinic_id)
                     for c in self._store.clinics.values() if c.next_run_date is not None)
        for sort_key, clinic_id in due:
            if sort_key <= until:
                yield read_back(self._store.clinics[clinic_id])


# ----- staff, delegations, feeds --------------------------------------------------------------
def _email_key(email: str) -> str:
    return email.strip().lower()  # store/keys.py hashes the same normalised email


def _still(e: Enrolment) -> Condition:
    """The stored enrolment is pending and asks for what `e` asks for."""
    return lambda stored: (stored is not None and stored.status == PENDING
                           and (stored.name, stored.role) == (e.name, e.role))


def _unchanged(m: StaffMember) -> Condition:
    return lambda stored: (stored is not None and (stored.role, stored.name, stored.status or ACTIVE)
                           == (m.role, m.name, m.status))


class StaffRepository(_Repository):
    def get(self, clinic_id: str, sub: str, *, consistent: bool = False) -> StaffMember | None:
        member = self._store.staff.get((clinic_id, sub))
        return read_back(member) if member is not None else None

    def list(self, clinic_id: str) -> list[StaffMember]:
        return self._store.of_clinic("staff", clinic_id)

    def add(self, clinic_id: str, member: StaffMember) -> None:
        stored = dataclasses.replace(member, created_at=member.created_at or "")  # stored as a string
        self._tx.create("staff", (clinic_id, member.sub), stored, label="staff")

    def enrolment(self, clinic_id: str, email: str) -> Enrolment | None:
        found = self._store.enrolments.get((clinic_id, _email_key(email)))
        return read_back(found) if found is not None else None

    def begin_enrolment(self, clinic_id: str, enrolment: Enrolment, *, replaces: Enrolment | None = None) -> None:
        key = (clinic_id, _email_key(enrolment.email))
        if replaces is None:
            self._tx.create("enrolments", key, enrolment, label="staff_enrolment")
        else:
            self._tx.save("enrolments", key, enrolment, label="staff_enrolment", condition=_still(replaces))

    def activate(self, clinic_id: str, enrolment: Enrolment, member: StaffMember) -> None:
        pending = Enrolment(enrolment.email, enrolment.name, enrolment.role, PENDING, enrolment.created_at,
                            enrolment.created_by)
        self._tx.create("staff", (clinic_id, member.sub), member, label="staff")
        self._tx.save("enrolments", (clinic_id, _email_key(enrolment.email)), enrolment, label="staff_enrolment",
                      condition=_still(pending))

    def save(self, clinic_id: str, member: StaffMember, *, was: StaffMember) -> None:
        """Stage the changed record; refused at commit (`staff`) unless it still is what `was` read."""
        self._tx.save("staff", (clinic_id, member.sub), member, label="staff", condition=_unchanged(was))

    def require_unchanged(self, clinic_id: str, member: StaffMember, label: str = "actor") -> None:
        """At commit, `member`'s record must still have the role, name and status read."""
        self._tx.check("staff", (clinic_id, member.sub), _unchanged(member), label=label)

    def require_role(self, clinic_id: str, member: StaffMember, role: str, label: str = "permission") -> None:
        """At commit, `member` must still hold `role` (a demotion that lands first refuses it)."""
        self._tx.check("staff", (clinic_id, member.sub), lambda stored: stored is not None and stored.role == role,
                       label=label)

    def require_member(self, clinic_id: str, member: StaffMember, label: str = "permission") -> None:
        """At commit, `member` must still be staff of the clinic."""
        self._tx.check("staff", (clinic_id, member.sub), _exists, label=label)


def _not_revoked(stored) -> bool:
    """`attribute_not_exists(revoked_at)`: also true when there is no item at all."""
    return stored is None or stored.revoked_at is None


class DelegationRepository(_Repository):
    def active(self, clinic_id: str, now: datetime, grantee_sub: str | None = None) -> list[Delegation]:
        """Unrevoked, unexpired grants of the clinic (one strongly consistent Query on its partition)."""
        return [g for g in self._store.of_clinic("delegations", clinic_id)
                if g.is_active(now) and (grantee_sub is None or g.grantee_sub == grantee_sub)]

    def get(self, clinic_id: str, delegation_id: str) -> Delegation | None:
        grant = self._store.delegations.get((clinic_id, delegation_id))
        return read_back(grant) if grant is not None else None

    def add(self, clinic_id: str, grant: Delegation) -> None:
        self._tx.create("delegations", (clinic_id, grant.delegation_id), grant, label="delegation")

    def save_revoked(self, clinic_id: str, grant: Delegation) -> None:
        """Stage the revocation; of two revokers racing, one wins (the other's condition fails)."""
        self._tx.save("delegations", (clinic_id, grant.delegation_id), grant, label="delegation",
                      condition=_not_revoked)

    def require_unrevoked(self, clinic_id: str, grant: Delegation, label: str = "permission") -> None:
        self._tx.check("delegations", (clinic_id, grant.delegation_id), _not_revoked, label=label)


class CalendarFeedRepository(_Repository):
    def get(self, clinic_id: str, sub: str) -> CalendarFeed | None:
        feed = self._store.feeds.get((clinic_id, sub))
        return read_back(feed) if feed is not None else None

    def save(self, clinic_id: str, feed: CalendarFeed) -> None:
        """Stage the member's feed, replacing the one before (whose URL then stops working)."""
        self._tx.save("feeds", (clinic_id, feed.sub), feed, label="feed")


# ----- a patient's account ----------------------------------------------------------------------
def _between(items: Iterable[tuple[str, T]], start: datetime, end: datetime) -> list[T]:
    """The items whose timeline key (`<iso_z>#<id>`) is in BETWEEN iso_z(start) AND iso_z(end),
    in key order: half-open [start, end), as `store/accounts.timeline` reads it."""
    low, high = iso_z(start), iso_z(end)
    return [item for sort_key, item in sorted(items, key=lambda pair: pair[0]) if low <= sort_key <= high]


class AccountRepository(Settling, _Repository):
    # ----- patients ------------------------------------------------------------------------
    def get_patient(self, clinic_id: str, patient_id: str, *, consistent: bool = False) -> acc.Patient | None:
        patient = self._store.patients.get((clinic_id, patient_id))
        return read_back(patient) if patient is not None else None

    def add_patient(self, clinic_id: str, patient: acc.Patient) -> None:
        self._tx.create("patients", (clinic_id, patient.patient_id), patient, label="patient", versioned=True)

    def save_patient(self, clinic_id: str, patient: acc.Patient) -> None:
        """Stage the patient record; refused at commit if another writer changed it since it was read."""
        self._tx.save("patients", (clinic_id, patient.patient_id), patient, label="patient", versioned=True)

    def names(self, clinic_id: str, patient_ids: Iterable[str]) -> dict[str, str]:
        found = (self._store.patients.get((clinic_id, pid)) for pid in sorted(set(patient_ids)))
        return {p.patient_id: p.name for p in found if p is not None}

    # ----- the money operations ------------------------------------------------------------
    def load(self, clinic_id: str, patient_id: str) -> LoadedAccount | None:
        profile = self.get_patient(clinic_id, patient_id)
        if profile is None:
            return None
        invoices = {i.invoice_id: i for i in self._store.of_patient("invoices", clinic_id, patient_id)}
        active = self.plan(clinic_id, patient_id, profile.active_plan_id) if profile.active_plan_id else None
        return LoadedAccount(clinic_id, profile, profile.account(invoices, active))

    def load_with_plan(self, clinic_id: str, patient_id: str, plan_id: str) -> tuple[acc.Patient, acc.Plan] | None:
        patient, plan = self.get_patient(clinic_id, patient_id), self.plan(clinic_id, patient_id, plan_id)
        return (patient, plan) if patient is not None and plan is not None else None

    def stage(self, loaded: LoadedAccount, at: datetime) -> list[acc.LedgerLine]:
        """Stage a change of the account (the same items, labels and checks as the DynamoDB
        repository: `Patient.post` decides which invoices go now and which are deferred)."""
        clinic_id, patient, account = loaded.clinic_id, loaded.patient, loaded.account
        pid = account.patient_id
        changes = account.changes
        posting = patient.post(account, at)
        for invoice in posting.invoices:
            key, label = (clinic_id, invoice.patient_id, invoice.invoice_id), f"invoice:{invoice.invoice_id}"
            if invoice.invoice_id in posting.new_invoice_ids:
                self._tx.create("invoices", key, invoice, label=label)
            else:
                self._tx.save("invoices", key, invoice, label=label)
        if changes.plan is not None:
            key = (clinic_id, changes.plan.patient_id, changes.plan.plan_id)
            if changes.new_plan:
                self._tx.create("plans", key, changes.plan, label="plan")
            else:
                self._tx.save("plans", key, changes.plan, label="plan")
        latest = {promise.promise_id: promise for promise in changes.promises}  # the last state of each wins
        for promise in latest.values():
            self._tx.save("promises", (clinic_id, pid, promise.promise_id), promise,
                          label=f"promise:{promise.promise_id}")
        for line in posting.ledger:
            self._tx.create("ledger", (clinic_id, pid, line.seq), line, label="ledger")
        self.save_patient(clinic_id, patient)
        self._note_deferred(clinic_id, patient, at)
        return posting.ledger

    # ----- single items --------------------------------------------------------------------
    def invoice(self, clinic_id: str, patient_id: str, invoice_id: str) -> acc.Invoice | None:
        found = self._store.invoices.get((clinic_id, patient_id, invoice_id))
        if found is None:
            return None
        patient = self.get_patient(clinic_id, patient_id)
        return patient.with_deferred(read_back(found)) if patient is not None else read_back(found)

    def plan(self, clinic_id: str, patient_id: str, plan_id: str) -> acc.Plan | None:
        found = self._store.plans.get((clinic_id, patient_id, plan_id))
        return read_back(found) if found is not None else None

    def payment(self, clinic_id: str, patient_id: str, payment_id: str, *,
                consistent: bool = False) -> acc.Payment | None:
        found = self._store.payments.get((clinic_id, patient_id, payment_id))
        return read_back(found) if found is not None else None

    def add_payment(self, clinic_id: str, payment: acc.Payment) -> None:
        self._tx.create("payments", (clinic_id, payment.patient_id, payment.payment_id), payment, label="payment")

    def add_reversal(self, clinic_id: str, payment: acc.Payment, reversal: acc.Reversal) -> None:
        """A reversal is created once per payment (the key is the payment's); the payment is saved reversed."""
        self._tx.create("reversals", (clinic_id, reversal.patient_id, reversal.payment_id), reversal,
                        label="reversal")
        self._tx.save("payments", (clinic_id, payment.patient_id, payment.payment_id), payment, label="payment")

    def payments_of(self, clinic_id: str, patient_id: str, limit: int) -> list[acc.Payment]:
        return self._store.of_patient("payments", clinic_id, patient_id)[::-1][:limit]

    def ledger_page(self, clinic_id: str, patient_id: str, limit: int,
                    after_seq: int | None) -> tuple[list[acc.LedgerLine], bool]:
        found = [e for e in self._store.of_patient("ledger", clinic_id, patient_id) if e.seq > (after_seq or 0)]
        return found[:limit], len(found) > limit

    # ----- the worklist --------------------------------------------------------------------
    def worklist_page(self, clinic_id: str, *, low: date | None, high: date | None,
                      after: tuple[date, str] | None, limit: int, min_balance_cents: int | None = None,
                      max_balance_cents: int | None = None, status: str | None = None,
                      keep: Callable[[acc.Patient], bool] | None = None
                      ) -> tuple[list[acc.Patient], tuple[date, str] | None]:
        """Up to `limit` patients with an open invoice, by (oldest open invoice date, patient id),
        strictly after `after`, that `keep` keeps; and the row the next page continues after
        (None at the end). No read budget here: a page is always full when rows remain."""
        held = status == acc.ON_HOLD  # a key range of its own in DynamoDB (keys.HELD)

        def listed(p: acc.Patient) -> bool:
            day = p.oldest_open_invoice_date
            return (day is not None and (p.hold is not None) == held
                    and (low is None or day >= low) and (high is None or day <= high)
                    and (after is None or (day, p.patient_id) > after)
                    and (min_balance_cents is None or p.balance_cents >= min_balance_cents)
                    and (max_balance_cents is None or p.balance_cents <= max_balance_cents)
                    and (status is None or p.status == status))

        ordered = sorted((p for (c, _), p in self._store.patients.items() if c == clinic_id and listed(p)),
                         key=lambda p: (p.oldest_open_invoice_date, p.patient_id))
        rows = []
        for p in ordered:
            if keep is None or keep(read_back(p)):
                rows.append(p)
                if len(rows) > limit:
                    break
        if len(rows) > limit:
            last = rows[limit - 1]
            return [read_back(p) for p in rows[:limit]], (last.oldest_open_invoice_date, last.patient_id)
        return [read_back(p) for p in rows], None

    # ----- what the nightly run and the reports read ----------------------------------------
    def due_work(self, clinic_id: str, run_date: date) -> list[tuple[str, str, str | None]]:
        """(kind, patient_id, plan_id) for every plan with an installment due on or before the run
        date and every pending promise dated before it, in the `due` index's order."""
        entries = []
        for (c, pid, plan_id), plan in self._store.plans.items():
            if c == clinic_id and plan.next_due_date is not None and plan.next_due_date <= run_date:
                entries.append((keys.due_sk(plan.next_due_date, keys.DUE_PLAN, plan_id), ("plan", pid, plan_id)))
        for (c, pid), patient in self._store.patients.items():
            promise = patient.pending_promise
            if c != clinic_id:
                continue
            if patient.hold is not None:  # while on hold only the hold is due (store/accounts.py)
                if patient.hold.until < run_date:
                    entries.append((keys.due_sk(patient.hold.until, keys.DUE_HOLD, pid), ("hold", pid, None)))
            elif promise is not None and promise.promised_date < run_date:
                entries.append((keys.due_sk(promise.promised_date, keys.DUE_PROMISE, pid), ("promise", pid, None)))
        return [work for _, work in sorted(entries)]

    def owed(self, clinic_id: str) -> tuple[list[reports.OpenInvoice], list[int], set[str]]:
        """Open invoices (by date, then id), active plans' uninvoiced parts (by plan id), patients on hold."""
        open_invoices = sorted((i for (c, _, _), i in self._store.invoices.items() if c == clinic_id and i.is_open),
                               key=lambda i: (i.invoice_date, i.invoice_id))
        plans = sorted((p for (c, _, _), p in self._store.plans.items() if c == clinic_id and p.uninvoiced_cents > 0),
                       key=lambda p: p.plan_id)
        invoices = [reports.OpenInvoice(i.patient_id, i.invoice_date, i.balance_cents, i.invoice_id)
                    for i in open_invoices]
        remainders = [p.uninvoiced_cents for p in plans]
        deferred = {p.patient_id: p.deferred_invoices for (c, _), p in sorted(self._store.patients.items())
                    if c == clinic_id and p.deferred_invoices}
        held = {p.patient_id for (c, _), p in self._store.patients.items() if c == clinic_id and p.hold is not None}
        return reports.with_deferred(invoices, deferred), remainders, held

    def payments_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.PaymentEvent]:
        found = ((keys.timeline_sk(iso_z(p.received_at), p.payment_id), p)
                 for (c, _, _), p in self._store.payments.items() if c == clinic_id)
        reversals = ((keys.timeline_sk(iso_z(r.at), r.reversal_id), r)
                     for (c, _, _), r in self._store.reversals.items() if c == clinic_id)
        events = [(p.received_at, p.payment_id, reports.PaymentEvent(p.recovered_by, p.amount_cents, p.received_at))
                  for p in _between(found, start, end)]
        events += [(r.at, r.reversal_id, reports.PaymentEvent(r.recovered_by, -r.amount_cents, r.at))
                   for r in _between(reversals, start, end)]
        for _, _, event in sorted(events, key=lambda e: (iso_z(e[0]), e[1])):
            yield event

    def promises_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.PromiseEvent]:
        found = ((keys.timeline_sk(iso_z(p.resolved_at or p.made_at), p.promise_id), p)
                 for (c, _, _), p in self._store.promises.items() if c == clinic_id)
        for p in _between(found, start, end):
            yield reports.PromiseEvent(p.made_by, p.status, p.resolved_at)


# ----- contact history --------------------------------------------------------------------------
def _callback_timeline_at(c: Callback) -> datetime:
    """A done callback sits on the `CB` timeline at the instant it was done, any other at its due time."""
    return c.done_at if c.status == DONE and c.done_at else c.due_at


class ContactRepository(_Repository):
    # ----- attempts ------------------------------------------------------------------------
    def add_attempt(self, clinic_id: str, attempt: Attempt) -> None:
        self._tx.create("attempts", (clinic_id, attempt.patient_id, attempt.attempt_id), attempt, label="attempt")

    def attempt(self, clinic_id: str, patient_id: str, attempt_id: str) -> Attempt | None:
        found = self._store.attempts.get((clinic_id, patient_id, attempt_id))
        return read_back(found) if found is not None else None

    def attempts_page(self, clinic_id: str, patient_id: str, limit: int,
                      before_id: str | None) -> tuple[list[Attempt], bool]:
        return _newest_first(self._store.of_patient("attempts", clinic_id, patient_id), "attempt_id", limit,
                             before_id)

    def attempt_authors(self, clinic_id: str, patient_id: str) -> list[tuple[datetime, str]]:
        return [(a.at, a.by) for a in self._store.of_patient("attempts", clinic_id, patient_id)]

    def attempts_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.AttemptEvent]:
        found = ((keys.timeline_sk(iso_z(a.at), a.attempt_id), a)
                 for (c, _, _), a in self._store.attempts.items() if c == clinic_id)
        for a in _between(found, start, end):
            yield reports.AttemptEvent(a.by, a.at, a.channel, a.outcome, tuple(a.rule_flags))

    # ----- callbacks -----------------------------------------------------------------------
    def callbacks_of(self, clinic_id: str, patient_id: str) -> dict[str, Callback]:
        return {c.callback_id: c for c in self._store.of_patient("callbacks", clinic_id, patient_id)}

    def callbacks_page(self, clinic_id: str, patient_id: str, limit: int,
                       before_id: str | None) -> tuple[list[Callback], bool]:
        return _newest_first(self._store.of_patient("callbacks", clinic_id, patient_id), "callback_id", limit,
                             before_id)

    def add_callback(self, clinic_id: str, callback: Callback) -> None:
        self._tx.create("callbacks", (clinic_id, callback.patient_id, callback.callback_id), callback,
                        label="callback")

    def save_callback(self, clinic_id: str, callback: Callback) -> None:
        """Refused at commit if the callback was given to someone else since it was read."""
        self._tx.save("callbacks", (clinic_id, callback.patient_id, callback.callback_id), callback,
                      label="callback",
                      condition=lambda stored: stored is not None and stored.assignee_sub == callback.assignee_sub)

    def reassign_callback(self, clinic_id: str, callback: Callback, assignee_sub: str, at: datetime) -> None:
        """Stage `callback` given to another assignee; refused unless still scheduled, due when it
        was and with the assignee read."""
        moved = dataclasses.replace(callback, assignee_sub=assignee_sub, updated_at=at)
        self._tx.save("callbacks", (clinic_id, callback.patient_id, callback.callback_id), moved, label="callback",
                      condition=lambda stored: (stored is not None and stored.is_scheduled
                                                and stored.assignee_sub == callback.assignee_sub
                                                and stored.due_at == callback.due_at))

    def scheduled_for(self, clinic_id: str, sub: str, before: datetime | None = None) -> list[Callback]:
        """The assignee's scheduled callbacks, soonest first (only those due before `before`)."""
        until = iso_z(before) if before is not None else None
        found = sorted(((keys.assignee_sk(iso_z(c.due_at), c.callback_id), c)
                        for (clinic, _, _), c in self._store.callbacks.items()
                        if clinic == clinic_id and c.is_scheduled and c.assignee_sub == sub), key=lambda pair: pair[0])
        return [read_back(c) for sort_key, c in found if until is None or sort_key < until]

    def callbacks_between(self, clinic_id: str, start: datetime, end: datetime) -> Iterator[reports.CallbackEvent]:
        found = ((keys.timeline_sk(iso_z(_callback_timeline_at(c)), c.callback_id), c)
                 for (clinic, _, _), c in self._store.callbacks.items() if clinic == clinic_id)
        for c in _between(found, start, end):
            yield reports.CallbackEvent(c.assignee_sub, c.status, c.due_at, c.done_at, c.override_by)


# ----- audit and idempotency --------------------------------------------------------------------
class AuditRepository(_Repository):
    def add(self, clinic_id: str, entry: AuditEntry) -> None:
        self._tx.create("audit", (clinic_id, keys.audit_sk(iso_z(entry.at), entry.audit_id)),
                        dataclasses.replace(entry, details=entry.details or {}), label="audit")

    def search(self, clinic_id: str, *, patient_id: str | None, action: str | None, limit: int,
               before: AuditEntry | None) -> tuple[list[AuditEntry], bool]:
        """Newest first, strictly before `before`; (up to `limit` entries, whether there are more)."""
        bound = keys.audit_sk(iso_z(before.at), before.audit_id) if before is not None else None
        found = [entry for (c, sort_key), entry in sorted(self._store.audit.items(), reverse=True)
                 if c == clinic_id and (bound is None or sort_key < bound)
                 and (patient_id is None or entry.patient_id == patient_id)
                 and (action is None or entry.action == action)][:limit + 1]
        return [read_back(e) for e in found[:limit]], len(found) > limit


def _ttl(instant: datetime) -> datetime:
    """A TTL attribute keeps whole epoch seconds."""
    return as_utc(instant).replace(microsecond=0)


class IdempotencyRepository(_Repository):
    def get(self, clinic_id: str, scope: str, key: str, now: datetime) -> StoredResponse | None:
        stored = self._store.idempotency.get((clinic_id, scope, key))
        if stored is None or (stored.expires_at is not None and stored.expires_at <= now):
            return None  # an expired record counts as absent until TTL deletes it
        return read_back(stored)

    def add(self, clinic_id: str, scope: str, key: str, stored: StoredResponse, now: datetime) -> None:
        """Stage the answer; two requests racing with one key: the second's transaction fails."""
        kept = dataclasses.replace(stored, body=json.loads(json.dumps(stored.body)),
                                   expires_at=_ttl(stored.expires_at))
        self._tx.save("idempotency", (clinic_id, scope, key), kept, label="idempotency",
                      condition=lambda current: current is None or (current.expires_at is not None
                                                                     and current.expires_at <= _ttl(now)))


# ----- integrations, external ids, search (issue 17) ----------------------------------------------
class IntegrationRepository(_Repository):
    def list(self, clinic_id: str) -> list[Integration]:
        return self._store.of_clinic("integrations", clinic_id)

    def get(self, clinic_id: str, integration_id: str) -> Integration | None:
        found = self._store.integrations.get((clinic_id, integration_id))
        return read_back(found) if found is not None else None

    def add(self, integration: Integration) -> None:
        self._tx.create("integrations", (integration.clinic_id, integration.integration_id), integration,
                        label="integration")
        self._tx.create("key_lookups", integration.key_sha256, integration, label="key")

    def save_revoked(self, integration: Integration) -> None:
        self._tx.save("integrations", (integration.clinic_id, integration.integration_id), integration,
                      label="integration", condition=lambda stored: stored is None or stored.revoked_at is None)
        self._tx.save("key_lookups", integration.key_sha256, integration, label="key")

    def by_key_hash(self, key_sha256: str) -> Integration | None:
        found = self._store.key_lookups.get(key_sha256)
        if found is None:
            return None
        return Integration(found.integration_id, found.clinic_id, "", tuple(found.scopes), key_sha256, "", None,
                           found.created_by, found.revoked_at)

    def touch(self, clinic_id: str, integration_id: str, now: datetime, every: timedelta) -> bool:
        found = self._store.integrations.get((clinic_id, integration_id))
        if found is None or found.revoked_at is not None or (
                found.last_used_at is not None and found.last_used_at >= now - every):
            return False
        found.last_used_at = as_utc(now)
        return True

    def count_request(self, clinic_id: str, integration_id: str, window: datetime, limit: int) -> bool:
        key = (clinic_id, integration_id, iso_z(window))
        if self._store.rates.get(key, 0) >= limit:
            return False
        self._store.rates[key] = self._store.rates.get(key, 0) + 1
        return True

    def created_by(self, clinic_id: str, sub: str) -> list[Integration]:
        return [i for i in self.list(clinic_id) if i.created_by == sub and i.active]


def _search_items(clinic_id: str, p: acc.Patient) -> dict[tuple[str, str], tuple[str, str]]:
    name = terms.sort_name(p.name)
    words = " " + " ".join(terms.words(p.name))
    return {(keys.search_pk(clinic_id, kind, term), keys.search_sk(name, p.patient_id)): (p.patient_id, words)
            for kind, term in terms.terms_of(p.name, p.phone, p.email).keys()}


class DirectoryRepository(_Repository):
    def patient_for(self, clinic_id: str, external_id: str) -> str | None:
        found = self._store.external_ids.get((clinic_id, "PAT", external_id))
        return found[0] if found else None

    def invoice_for(self, clinic_id: str, external_id: str) -> tuple[str, str] | None:
        found = self._store.external_ids.get((clinic_id, "INV", external_id))
        return (found[0], found[1]) if found else None

    def holders(self, clinic_id: str, patient_external_id: str,
                invoice_external_id: str | None) -> tuple[str | None, tuple[str, str] | None]:
        return (self.patient_for(clinic_id, patient_external_id),
                self.invoice_for(clinic_id, invoice_external_id) if invoice_external_id is not None else None)

    def claim_patient_id(self, clinic_id: str, external_id: str, patient_id: str) -> None:
        self._tx.create("external_ids", (clinic_id, "PAT", external_id), (patient_id, None), label="external_id")

    def release_patient_id(self, clinic_id: str, external_id: str, patient_id: str) -> None:
        self._tx.delete("external_ids", (clinic_id, "PAT", external_id), label="external_id_released",
                        condition=lambda stored: stored is not None and stored[0] == patient_id)

    def claim_invoice_id(self, clinic_id: str, external_id: str, patient_id: str, invoice_id: str) -> None:
        self._tx.create("external_ids", (clinic_id, "INV", external_id), (patient_id, invoice_id),
                        label="external_id")

    def index_patient(self, clinic_id: str, before: acc.Patient | None, after: acc.Patient) -> int:
        old = _search_items(clinic_id, before) if before is not None else {}
        new = _search_items(clinic_id, after)
        for key in sorted(old.keys() - new.keys()):
            self._tx.delete("search", key, label="search")
        for key in sorted(new.keys() - old.keys()):
            self._tx.save("search", key, new[key], label="search")
        return len(old.keys() ^ new.keys())

    def search(self, clinic_id: str, query: terms.SearchQuery, limit: int,
               after: tuple[str, str] | None) -> tuple[list[acc.Patient], tuple[str, str] | None]:
        pk = keys.search_pk(clinic_id, query.kind, query.term)
        low = keys.search_sk(*after) if after else ""
        wanted = [" " + w for w in [*query.also, *([query.longer] if query.longer else [])]]
        found = [(sk, pid) for (p, sk), (pid, words) in sorted(self._store.search.items())
                 if p == pk and sk > low and all(w in words for w in wanted)][:limit + 1]
        page = found[:limit]
        patients = [read_back(self._store.patients[(clinic_id, pid)]) for _, pid in page
                    if (clinic_id, pid) in self._store.patients]
        if len(found) <= limit:
            return patients, None
        name, patient_id = page[-1][0].rsplit("#", 1)
        return patients, (name, patient_id)


# ----- the unit of work ---------------------------------------------------------------------------
class MemoryUnitOfWork(UnitOfWorkBase):
    """The in-memory twin of `store.uow.UnitOfWork`: one per request or job step, on a shared store."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.transaction = MemoryTransaction(store)
        tx = self.transaction
        self.clinics = ClinicRepository(store, tx)
        self.staff = StaffRepository(store, tx)
        self.delegations = DelegationRepository(store, tx)
        self.accounts = AccountRepository(store, tx)
        self.contacts = ContactRepository(store, tx)
        self.feeds = CalendarFeedRepository(store, tx)
        self.audit = AuditRepository(store, tx)
        self.idempotency = IdempotencyRepository(store, tx)
        self.events = EventRepository(store, tx)
        self.webhooks = WebhookRepository(store, tx)
        self.deliveries = DeliveryRepository(store, tx)
        self.integrations = IntegrationRepository(store, tx)
        self.directory = DirectoryRepository(store, tx)


def _newest_first(items: list, id_field: str, limit: int, before_id: str | None) -> tuple[list, bool]:
    """Items in key order (ids sort as they were made), read backwards from before `before_id`."""
    found = [i for i in reversed(items) if before_id is None or getattr(i, id_field) < before_id]
    return found[:limit], len(found) > limit


# ----- webhooks (issue 18) ------------------------------------------------------------------------
class EventRepository(_Repository):
    def add(self, event: Event) -> None:
        self._tx.create("events", (event.clinic_id, keys.event_sk(iso_z(event.created_at), event.event_id)), event,
                        label="event")


class WebhookRepository(_Repository):
    def get(self, clinic_id: str, webhook_id: str) -> Webhook | None:
        found = self._store.webhooks.get((clinic_id, webhook_id))
        return read_back(found) if found is not None else None

    def list(self, clinic_id: str) -> list[Webhook]:
        found = [w for w in self._store.of_clinic("webhooks", clinic_id) if w.active]
        return sorted(found, key=lambda w: (w.created_at, w.webhook_id))

    def add(self, webhook: Webhook) -> None:
        self._tx.create("webhooks", (webhook.clinic_id, webhook.webhook_id), webhook, label="webhook")

    def save_deleted(self, webhook: Webhook) -> None:
        self._tx.save("webhooks", (webhook.clinic_id, webhook.webhook_id), webhook, label="webhook",
                      condition=lambda stored: stored is not None and stored.deleted_at is None)


class DeliveryRepository(_Repository):
    def record(self, clinic_id: str, d: Delivery) -> bool:
        key = (clinic_id, d.webhook_id, keys.delivery_sk(iso_z(d.event_created_at), d.event_id))
        stored = self._store.deliveries.get(key)
        if stored is not None and stored.attempts >= d.attempts:
            return False
        self._store.deliveries[key] = read_back(d)
        return True

    def get(self, clinic_id: str, webhook_id: str, event_created_at: datetime, event_id: str) -> Delivery | None:
        found = self._store.deliveries.get((clinic_id, webhook_id, keys.delivery_sk(iso_z(event_created_at), event_id)))
        return read_back(found) if found is not None else None

    def page(self, clinic_id: str, webhook_id: str, limit: int,
             before: tuple[datetime, str] | None) -> tuple[list[Delivery], bool]:
        bound = keys.delivery_sk(iso_z(before[0]), before[1]) if before is not None else None
        found = [d for (c, w, sort_key), d in sorted(self._store.deliveries.items(), reverse=True)
                 if (c, w) == (clinic_id, webhook_id) and (bound is None or sort_key < bound)][:limit + 1]
        return [read_back(d) for d in found[:limit]], len(found) > limit
