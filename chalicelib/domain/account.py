"""A patient's account: invoices, the active plan, the pending promise and the balance.

Every operation that moves money is a method here. Methods change the account in memory and
record what changed (`changes`), so a service can write exactly those items in one
transaction. Invariant after every method:

    balance_cents == sum(open invoice balances) + active plan's uninvoiced remainder
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from . import aging
from .contact import LastAttempt
from .contact_rules import ContactFacts
from .errors import Conflict, InvariantViolation, NothingOwed, Overpayment, PlanActive, ValidationError
from .ids import installment_invoice_id, new_child_id
from .money import allocate_oldest_first
from .plans import MAX_INSTALLMENTS, build_schedule

OPEN, PROMISED, PAYMENT_PLAN, CLOSED, WRITTEN_OFF = "open", "promised", "payment_plan", "closed", "written_off"
ON_HOLD = "on_hold"
FOLLOW_UP_STATUSES = (OPEN, PROMISED, PAYMENT_PLAN, CLOSED, WRITTEN_OFF, ON_HOLD)
INVOICE_STATUSES = ("open", "paid", "in_plan", "written_off", "void")
INVOICE_SOURCES = ("manual", "plan", "plan_remainder")
PAYMENT_METHODS = ("cash", "card", "check", "bank_transfer", "other")
LEDGER_TYPES = ("invoice", "payment", "write_off", "void", "adjustment", "payment_reversal")
HOLD_REASONS = ("dispute", "insurance_pending", "hardship", "other")
REVERSAL_REASONS = ("returned", "chargeback", "entered_in_error")
HOLD_MAX_DAYS = 180
PLAN_STATUSES = ("active", "completed", "cancelled")
# One transaction holds at most 100 items (DynamoDB): a change writes at most this many invoices
# with it and defers the rest (see `Patient.post`), which leaves room for the patient, plan,
# promises, ledger, payment, idempotency, audit and permission items of the same change.
INVOICE_WRITES_PER_TRANSACTION = 80
# Invoicing a plan's installments writes each invoice with its own `plan.invoiced` event (two
# items per installment), beside the patient, plan, audit record and the clinic's next run date:
# 40 of them make 84 items, under the 100.
INSTALLMENT_INVOICES_PER_TRANSACTION = 40
INSTALLMENT_STATUSES = ("scheduled", "invoiced", "paid")


@dataclass
class Invoice:
    invoice_id: str
    patient_id: str
    amount_cents: int
    balance_cents: int
    invoice_date: date
    status: str = "open"  # open, paid, in_plan, written_off
    source: str = "manual"  # manual, plan
    service_date: date | None = None
    description: str | None = None
    external_id: str | None = None
    plan_id: str | None = None
    installment_number: int | None = None
    created_at: datetime | None = None
    paid_cents: int = 0  # allocated by payments not reversed (a void needs none)
    adjusted_cents: int = 0  # taken off by adjustments

    @property
    def is_open(self) -> bool:
        return self.status == "open" and self.balance_cents > 0


@dataclass
class Installment:
    number: int
    due_date: date
    amount_cents: int
    prepaid_cents: int = 0  # paid before it was invoiced (payments beyond the open invoices)
    status: str = "scheduled"  # scheduled, invoiced, paid
    invoice_id: str | None = None

    @property
    def uninvoiced_cents(self) -> int:
        return self.amount_cents - self.prepaid_cents if self.status == "scheduled" else 0


@dataclass
class Plan:
    plan_id: str
    patient_id: str
    total_cents: int
    installment_cents: int
    frequency: str
    start_date: date
    installments: list[Installment]
    status: str = "active"  # active, completed, cancelled
    created_at: datetime | None = None
    created_by: str | None = None
    # The oldest invoice_date among the invoices that went into the plan: a cancellation dates
    # the remainder's invoice by it, so aging does not restart. None for plans stored before it.
    oldest_invoice_date: date | None = None
    remainder_invoice_id: str | None = None  # the open invoice its cancellation left

    def installment(self, number: int) -> Installment:
        for installment in self.installments:
            if installment.number == number:
                return installment
        raise InvariantViolation("no_such_installment", plan_id=self.plan_id, number=number)

    @property
    def uninvoiced_cents(self) -> int:
        return sum(i.uninvoiced_cents for i in self.installments) if self.status == "active" else 0

    @property
    def next_due_date(self) -> date | None:
        """The earliest installment still to be invoiced (what auto-invoicing looks for)."""
        dates = [i.due_date for i in self.installments if i.status == "scheduled"]
        return min(dates) if dates and self.status == "active" else None


@dataclass
class Promise:
    promise_id: str
    attempt_id: str
    amount_cents: int
    promised_date: date
    made_at: datetime
    made_by: str
    paid_cents: int = 0
    status: str = "pending"  # pending, kept, broken
    resolved_at: datetime | None = None


@dataclass
class Allocation:
    invoice_id: str | None  # None: the plan's uninvoiced remainder
    amount_cents: int
    plan_id: str | None = None  # with invoice_id None: the plan whose remainder it reduced
    # with invoice_id None: (installment number, cents) prepaid, so a reversal gives each back
    installments: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Hold:
    """A follow-up put aside until a date (a dispute, insurance pending, hardship)."""

    hold_id: str
    reason: str
    until: date  # the last day on hold: the first scheduled run after it releases it
    created_by: str
    created_at: datetime
    note: str | None = None


@dataclass
class LedgerEntry:
    type: str  # invoice, payment, write_off
    amount_cents: int  # signed: + owed, - paid or written off
    ref: str


@dataclass
class Payment:
    payment_id: str
    patient_id: str
    amount_cents: int
    method: str
    received_at: datetime
    allocations: list[Allocation]
    balance_after_cents: int
    created_at: datetime
    created_by: str
    invoice_id: str | None = None
    note: str | None = None
    status_after: str | None = None  # the follow-up's status right after it, as POST answered
    # The staff member whose attempt on this patient was the latest before the payment, if at
    # most 30 days older: decided once, when the payment is recorded (staff-performance report).
    recovered_by: str | None = None
    reversal_id: str | None = None  # set once, when the payment is reversed
    reversed_at: datetime | None = None

    @property
    def reversed(self) -> bool:
        return self.reversal_id is not None


@dataclass(frozen=True)
class LedgerLine:
    """A ledger entry as stored: numbered, dated, with the running balance after it."""

    entry_id: str
    patient_id: str
    seq: int
    at: datetime
    type: str
    amount_cents: int
    balance_after_cents: int
    ref: str


@dataclass(frozen=True)
class InvoiceState:
    """What a deferred write will make of an invoice (its status and balance)."""

    status: str
    balance_cents: int
    invoice_date: date

    @property
    def is_open(self) -> bool:
        return self.status == "open" and self.balance_cents > 0


@dataclass(frozen=True)
class Posting:
    """What one change of an account writes: its ledger lines and the invoices to write now."""

    ledger: list[LedgerLine]
    invoices: list[Invoice]
    new_invoice_ids: frozenset[str]


@dataclass
class Patient:
    """The patient and the state of their follow-up (the worklist row)."""

    patient_id: str
    name: str
    created_at: datetime
    created_by: str
    phone: str | None = None
    email: str | None = None
    external_id: str | None = None
    balance_cents: int = 0
    status: str = CLOSED
    oldest_open_invoice_date: date | None = None
    ledger_seq: int = 0
    active_plan_id: str | None = None
    plan_next_due: date | None = None
    pending_promise: Promise | None = None
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    last_attempt: LastAttempt | None = None
    next_callback_at: datetime | None = None
    hold: Hold | None = None  # on the follow-up row: the worklist reads it without another read
    # What the contact rules need (recent calls, last conversation, zone, preferences, hold), kept
    # on the row so the worklist judges `contact` without another read (domain/contact_rules.py).
    contact: ContactFacts = field(default_factory=ContactFacts)
    # Invoices a change has already decided but not yet written (more than one transaction holds):
    # every read shows them as decided (`with_deferred`); follow-on batches write them.
    deferred_invoices: dict[str, InvoiceState] = field(default_factory=dict)
    version: int | None = None  # the store's optimistic lock; None until first stored
    # Contact preferences (PATCH /patients): None is the clinic's time zone
    timezone: str | None = None
    do_not_contact: tuple[str, ...] = ()
    preferred_channel: str | None = None

    def with_deferred(self, invoice: Invoice) -> Invoice:
        """Business rule: an invoice reads as its change decided it, written yet or not."""
        state = self.deferred_invoices.get(invoice.invoice_id)
        if state is None:
            return invoice
        return replace(invoice, status=state.status, balance_cents=state.balance_cents)

    def account(self, invoices: dict[str, Invoice], plan: Plan | None) -> Account:
        """The money side of this patient, for an operation to change (deferred invoices as decided)."""
        invoices = {i: self.with_deferred(invoice) for i, invoice in invoices.items()}
        return Account(patient_id=self.patient_id, balance_cents=self.balance_cents, status=self.status,
                       invoices=invoices, plan=plan, promise=self.pending_promise,
                       promises_made=self.promises_made, promises_kept=self.promises_kept,
                       promises_broken=self.promises_broken, hold=self.hold)

    def take_state_of(self, account: Account) -> None:
        """Business rule: the patient's follow-up row shows the account as it now stands."""
        self.balance_cents = account.balance_cents
        self.status = account.status
        self.oldest_open_invoice_date = account.oldest_open_invoice_date
        self.active_plan_id = account.plan.plan_id if account.plan else None
        self.plan_next_due = account.plan.next_due_date if account.plan else None
        self.pending_promise = account.promise
        self.promises_made = account.promises_made
        self.promises_kept = account.promises_kept
        self.promises_broken = account.promises_broken
        self.hold = account.hold

    def post(self, account: Account, at: datetime,
             budget: int = INVOICE_WRITES_PER_TRANSACTION) -> Posting:
        """Business rule: a change of the account is posted whole, at once: the ledger gets one
        numbered line per money movement (the running balance after the last equals the account's
        balance), the patient takes the account's state, and every invoice it changed is either
        written now or deferred with its decided state, which every read shows until it is written.

        New invoices and ledger lines are always written now (creating them is what makes them
        exactly-once); changed invoices fill the rest of `budget`, oldest first, then already
        deferred ones the change has loaded. A deferred invoice leaves the set when it is written."""
        changes = account.changes
        lines = []
        running, seq = self.balance_cents, self.ledger_seq
        for entry in changes.ledger:
            seq += 1
            running += entry.amount_cents
            lines.append(LedgerLine(new_child_id("ent", self.patient_id), self.patient_id, seq, at, entry.type,
                                    entry.amount_cents, running, entry.ref))
        if running != account.balance_cents:
            raise InvariantViolation("ledger_mismatch", patient_id=self.patient_id, ledger_cents=running,
                                     balance_cents=account.balance_cents)
        account.check_invariant()
        new = [i for i in changes.invoices.values() if i.invoice_id in changes.new_invoice_ids]
        if len(new) + len(lines) > budget:  # a caller makes at most one transaction's worth at a time
            raise InvariantViolation("change_too_large", patient_id=self.patient_id, new=len(new),
                                     ledger=len(lines))
        changed = sorted((i for i in changes.invoices.values() if i.invoice_id not in changes.new_invoice_ids),
                         key=lambda i: (i.invoice_date, i.invoice_id))
        earlier = sorted((account.invoices[i] for i in self.deferred_invoices
                          if i in account.invoices and i not in changes.invoices),
                         key=lambda i: (i.invoice_date, i.invoice_id))
        room = budget - len(new) - len(lines)
        now, later = changed[:room], changed[room:]
        now += earlier[:max(0, room - len(now))]
        deferred = dict(self.deferred_invoices)
        for invoice in now:
            deferred.pop(invoice.invoice_id, None)
        for invoice in later:
            deferred[invoice.invoice_id] = InvoiceState(invoice.status, invoice.balance_cents, invoice.invoice_date)
        self.take_state_of(account)
        self.ledger_seq = seq
        self.deferred_invoices = deferred
        return Posting(lines, new + now, frozenset(changes.new_invoice_ids))

    def contact_facts(self) -> ContactFacts:
        """What the contact rules judge this patient on: the calls the row remembers, with the
        patient's own zone and refusals and the row's hold (one truth for each, not a copy in the
        facts)."""
        return replace(self.contact, timezone=self.timezone, do_not_contact=frozenset(self.do_not_contact),
                       hold_until=self.hold.until if self.hold is not None else None)


@dataclass
class Changes:
    invoices: dict[str, Invoice] = field(default_factory=dict)  # new or changed
    new_invoice_ids: set[str] = field(default_factory=set)
    plan: Plan | None = None
    new_plan: bool = False
    promises: list[Promise] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    hold_ended: Hold | None = None  # a hold the change ended (nothing owed any more)


@dataclass
class Account:
    patient_id: str
    balance_cents: int = 0
    status: str = CLOSED
    invoices: dict[str, Invoice] = field(default_factory=dict)
    plan: Plan | None = None  # the active plan, if any
    promise: Promise | None = None  # the pending promise, if any
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    hold: Hold | None = None
    changes: Changes = field(default_factory=Changes)

    # ----- derived -------------------------------------------------------------------------
    def open_invoices(self) -> list[Invoice]:
        """Open invoices, oldest first: the order payments settle them and aging reads them."""
        return sorted((i for i in self.invoices.values() if i.is_open),
                      key=lambda i: (i.invoice_date, i.invoice_id))

    @property
    def oldest_open_invoice_date(self) -> date | None:
        opened = self.open_invoices()
        return opened[0].invoice_date if opened else None

    def computed_balance(self) -> int:
        return sum(i.balance_cents for i in self.open_invoices()) + (
            self.plan.uninvoiced_cents if self.plan else 0)

    def check_invariant(self) -> None:
        """Money invariant: the balance is what the open invoices and the plan's remainder say."""
        computed = self.computed_balance()
        if self.balance_cents != computed or self.balance_cents < 0:
            raise InvariantViolation("balance_mismatch", patient_id=self.patient_id,
                                     balance_cents=self.balance_cents, computed_cents=computed)

    def aging(self, today: date) -> tuple[int | None, str | None]:
        oldest = self.oldest_open_invoice_date
        if oldest is None:
            return None, None
        days = aging.days_overdue(oldest, today)
        return days, aging.bucket_for(days)

    def _settle_status(self) -> None:
        """Business rule: nothing owed is closed (or stays written off) and ends a hold; else
        on hold, plan, promise, open, in that order."""
        if self.balance_cents == 0:
            if self.status != WRITTEN_OFF:
                self.status = CLOSED
            if self.hold is not None:
                self.changes.hold_ended = self.hold
                self.hold = None
        elif self.hold is not None:
            self.status = ON_HOLD
        elif self.plan is not None:
            self.status = PAYMENT_PLAN
        elif self.promise is not None:
            self.status = PROMISED
        else:
            self.status = OPEN

    def _touch_invoice(self, invoice: Invoice) -> None:
        self.invoices[invoice.invoice_id] = invoice
        self.changes.invoices[invoice.invoice_id] = invoice

    def _touch_plan(self) -> None:
        self.changes.plan = self.plan

    # ----- operations ----------------------------------------------------------------------
    def add_invoice(self, invoice: Invoice) -> None:
        """Business rule: a new invoice adds its amount to what the patient owes."""
        if invoice.invoice_id in self.invoices:
            raise Conflict("invoice already exists")
        self._touch_invoice(invoice)
        self.changes.new_invoice_ids.add(invoice.invoice_id)
        self.balance_cents += invoice.balance_cents
        self.changes.ledger.append(LedgerEntry("invoice", invoice.amount_cents, invoice.invoice_id))
        self._settle_status()

    def apply_payment(self, amount_cents: int, payment_id: str, paid_on: date, *,
                      invoice_id: str | None = None, paid_at: datetime | None = None) -> list[Allocation]:
        """Business rule: the named invoice first, then open invoices oldest first, then the
        plan's uninvoiced remainder from its last installment backwards; never more than owed."""
        if amount_cents > self.balance_cents:
            raise Overpayment(
                f"payment of {amount_cents} cents is more than the {self.balance_cents} cents owed")
        targets = self.open_invoices()
        if invoice_id is not None:
            named = self.invoices.get(invoice_id)
            if named is None:
                raise ValidationError("invoice_id is not an invoice of this patient",
                                      fields={"invoice_id": "not an invoice of this patient"})
            if not named.is_open:
                raise Conflict(f"invoice {invoice_id} is {named.status}, not open")
            targets = [named] + [i for i in targets if i.invoice_id != invoice_id]
        parts = allocate_oldest_first(amount_cents, [i.balance_cents for i in targets])
        allocations = []
        for invoice, part in zip(targets, parts, strict=True):
            if part == 0:
                continue
            invoice.balance_cents -= part
            invoice.paid_cents += part
            if invoice.balance_cents == 0:
                invoice.status = "paid"
                self._mark_installment_paid(invoice)
            self._touch_invoice(invoice)
            allocations.append(Allocation(invoice.invoice_id, part))
        rest = amount_cents - sum(parts)
        if rest:
            if self.plan is None:  # the balance beyond the open invoices lives in the plan
                raise InvariantViolation("balance_without_plan", patient_id=self.patient_id, rest_cents=rest)
            prepaid = []
            for installment in reversed(self.plan.installments):
                take = min(rest, installment.uninvoiced_cents)
                if take:
                    installment.prepaid_cents += take
                    if installment.prepaid_cents == installment.amount_cents:
                        installment.status = "paid"
                    rest -= take
                    prepaid.append((installment.number, take))
            if rest:
                raise InvariantViolation("plan_remainder_short", patient_id=self.patient_id, rest_cents=rest)
            self._touch_plan()
            allocations.append(Allocation(None, amount_cents - sum(parts), self.plan.plan_id, prepaid))
        self.balance_cents -= amount_cents
        self.changes.ledger.append(LedgerEntry("payment", -amount_cents, payment_id))
        self._complete_plan_if_paid()
        self._keep_promise(amount_cents, paid_on, paid_at)
        self._settle_status()
        return allocations

    def _mark_installment_paid(self, invoice: Invoice) -> None:
        plan = self.plan
        if plan is None or invoice.plan_id != plan.plan_id:
            return
        for installment in plan.installments:
            if installment.number == invoice.installment_number:
                installment.status = "paid"
                self._touch_plan()

    def _complete_plan_if_paid(self) -> None:
        plan = self.plan
        if plan and all(i.status == "paid" for i in plan.installments):
            plan.status = "completed"
            self._touch_plan()
            self.plan = None

    def _keep_promise(self, amount_cents: int, paid_on: date, paid_at: datetime | None) -> None:
        promise = self.promise
        if promise is None or paid_on > promise.promised_date:
            return
        promise.paid_cents += amount_cents
        if promise.paid_cents >= promise.amount_cents or self.balance_cents == 0:
            promise.status = "kept"
            promise.resolved_at = paid_at
            self.promises_kept += 1
            self.promise = None
        self.changes.promises.append(promise)

    def record_promise(self, promise: Promise, today: date) -> None:
        """Business rule: a promise is at most what is owed and due today or later; a new
        promise replaces a pending one (which counts as broken)."""
        if promise.amount_cents > self.balance_cents:
            raise ValidationError("promised amount is more than the balance owed",
                                  fields={"promised_amount_cents": "more than the balance owed"})
        if promise.promised_date < today:
            raise ValidationError("promised date is in the past",
                                  fields={"promised_date": "must be today or later"})
        if self.promise is not None:
            self.break_promise(promise.made_at)
        self.promise = promise
        self.promises_made += 1
        self.changes.promises.append(promise)
        self._settle_status()

    def break_promise(self, at: datetime) -> Promise:
        promise = self.promise
        if promise is None:
            raise InvariantViolation("no_pending_promise", patient_id=self.patient_id)
        promise.status = "broken"
        promise.resolved_at = at
        self.promises_broken += 1
        self.promise = None
        self.changes.promises.append(promise)
        self._settle_status()
        return promise

    def convert_to_plan(self, plan_id: str, installment_cents: int, frequency: str, start: date,
                        today: date, created_at: datetime, created_by: str) -> Plan:
        """Business rule: the whole balance becomes a plan; open invoices move into it."""
        if self.plan is not None:
            raise PlanActive("the patient already has an active payment plan")
        if self.balance_cents == 0:
            raise NothingOwed("nothing is owed")
        if start < today:
            raise ValidationError("start_date is in the past", fields={"start_date": "must be today or later"})
        count = -(-self.balance_cents // installment_cents)
        if count > MAX_INSTALLMENTS:
            raise ValidationError(
                f"{count} installments; at most {MAX_INSTALLMENTS}",
                fields={"installment_cents": f"makes {count} installments, more than {MAX_INSTALLMENTS}"})
        schedule = build_schedule(self.balance_cents, installment_cents, frequency, start)
        oldest = self.oldest_open_invoice_date
        for invoice in self.open_invoices():
            invoice.status = "in_plan"
            self._touch_invoice(invoice)
        self.plan = Plan(plan_id=plan_id, patient_id=self.patient_id, total_cents=self.balance_cents,
                         installment_cents=installment_cents, frequency=frequency, start_date=start,
                         installments=[Installment(s.number, s.due_date, s.amount_cents) for s in schedule],
                         created_at=created_at, created_by=created_by, oldest_invoice_date=oldest)
        self.changes.new_plan = True
        self._touch_plan()
        self._settle_status()
        return self.plan

    def invoice_due_installments(self, run_date: date, created_at: datetime,
                                 limit: int = INVOICE_WRITES_PER_TRANSACTION) -> list[Invoice]:
        """Business rule: every installment due on or before `run_date` that has no invoice
        gets one, dated its due date, with the part not yet prepaid as its balance; at most
        `limit` at a time (one transaction's worth: the caller asks again for the rest)."""
        plan = self.plan
        if plan is None:
            return []
        created = []
        for installment in plan.installments:
            if installment.status != "scheduled" or installment.due_date > run_date:
                continue
            if len(created) == limit:
                break
            invoice = Invoice(
                invoice_id=installment_invoice_id(plan.plan_id, installment.number),
                patient_id=self.patient_id, amount_cents=installment.amount_cents,
                balance_cents=installment.amount_cents - installment.prepaid_cents,
                invoice_date=installment.due_date, source="plan", plan_id=plan.plan_id,
                installment_number=installment.number, created_at=created_at,
                description=f"Payment plan installment {installment.number} of {len(plan.installments)}")
            if invoice.invoice_id in self.invoices:
                raise Conflict("installment already invoiced")
            installment.status = "invoiced"
            installment.invoice_id = invoice.invoice_id
            self._touch_invoice(invoice)
            self.changes.new_invoice_ids.add(invoice.invoice_id)
            created.append(invoice)
        if created:
            self._touch_plan()
        # Moving debt from the plan to invoices changes nothing owed: no ledger entry.
        self._settle_status()
        return created

    def write_off(self, entry_ref: str) -> int:
        """Business rule: a write-off zeroes every open invoice and cancels the active plan."""
        if self.balance_cents == 0:
            raise NothingOwed("nothing is owed")
        amount = self.balance_cents
        for invoice in self.open_invoices():
            invoice.status = "written_off"
            invoice.balance_cents = 0  # the contract: a write-off zeroes every open invoice
            self._touch_invoice(invoice)
        if self.plan is not None:
            self.plan.status = "cancelled"
            self._touch_plan()
            self.plan = None
        self.balance_cents = 0
        if self.promise is not None:
            self._cancel_promise()
        self.changes.ledger.append(LedgerEntry("write_off", -amount, entry_ref))
        self.status = WRITTEN_OFF
        if self.hold is not None:
            self.changes.hold_ended = self.hold
            self.hold = None
        return amount

    def _cancel_promise(self) -> None:
        """A write-off ends a pending promise as `cancelled`: neither kept nor broken."""
        promise = self.promise
        promise.status = "cancelled"
        self.changes.promises.append(promise)
        self.promise = None

    # ----- corrections ---------------------------------------------------------------------
    def _open_invoice_to_correct(self, invoice_id: str) -> Invoice:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise InvariantViolation("no_such_invoice", patient_id=self.patient_id, invoice_id=invoice_id)
        if invoice.status == "in_plan" or (invoice.source == "plan" and invoice.status == "open"):
            raise Conflict(f"invoice {invoice_id} is part of a payment plan: change or cancel the plan instead")
        return invoice

    def _end_promise_if_nothing_owed(self) -> None:
        """A correction that leaves nothing owed ends a pending promise as `cancelled`."""
        if self.balance_cents == 0 and self.promise is not None:
            self._cancel_promise()

    def void_invoice(self, invoice_id: str, entry_ref: str) -> int:
        """Business rule: only an open invoice that no payment paid, outside any plan, is voided;
        what it still owes leaves the balance through one `void` ledger entry. Returns that amount."""
        invoice = self._open_invoice_to_correct(invoice_id)
        if invoice.paid_cents > 0 and invoice.status in ("open", "paid"):
            raise Conflict(f"invoice {invoice_id} has payments allocated to it: reverse them first",
                           code="invoice_has_payments")
        if not invoice.is_open:
            raise Conflict(f"invoice {invoice_id} is {invoice.status}, not open")
        amount = invoice.balance_cents  # the amount, less any adjustment already in the ledger
        invoice.status, invoice.balance_cents = "void", 0
        self._touch_invoice(invoice)
        self.balance_cents -= amount
        self.changes.ledger.append(LedgerEntry("void", -amount, entry_ref))
        self._end_promise_if_nothing_owed()
        self._settle_status()
        return amount

    def adjust_invoice(self, invoice_id: str, amount_cents: int, entry_ref: str) -> Invoice:
        """Business rule: an adjustment lowers an open invoice's balance by 1 up to its whole
        balance (a discount, a correction) through one `adjustment` ledger entry."""
        invoice = self._open_invoice_to_correct(invoice_id)
        if not invoice.is_open:
            raise Conflict(f"invoice {invoice_id} is {invoice.status}, not open")
        if not 1 <= amount_cents <= invoice.balance_cents:
            raise ValidationError("the adjustment is more than the invoice's balance",
                                  fields={"amount_cents": f"1 to the invoice's balance ({invoice.balance_cents})"})
        invoice.balance_cents -= amount_cents
        invoice.adjusted_cents += amount_cents
        if invoice.balance_cents == 0:
            invoice.status = "paid"  # settled: nothing left on it
        self._touch_invoice(invoice)
        self.balance_cents -= amount_cents
        self.changes.ledger.append(LedgerEntry("adjustment", -amount_cents, entry_ref))
        self._end_promise_if_nothing_owed()
        self._settle_status()
        return invoice

    def _plan_for_reversal(self, plan_id: str | None, others: dict[str, Plan]) -> Plan | None:
        """The plan a reversal gives money back to: the active one, or a plan this payment
        completed (it becomes active again, when no other plan is)."""
        if plan_id is None or (self.plan is not None and self.plan.plan_id == plan_id):
            return self.plan
        plan = others.get(plan_id)
        if plan is None or plan.status != "completed":
            return None
        if self.plan is not None:
            raise Conflict("the payment paid a plan that was completed and another plan is active now")
        return plan

    def reverse_payment(self, payment: Payment, entry_ref: str, others: dict[str, Plan] | None = None) -> int:
        """Business rule: a reversal undoes every allocation of the payment (each invoice gets its
        amount back and reopens, a plan's reduced remainder too), through one `payment_reversal`
        ledger entry of +amount; invoices keep their dates, so the follow-up ages as before.
        Refused (nothing changes) when the money's place is gone: an invoice since written off,
        moved into a plan or voided, or a plan since cancelled."""
        if payment.reversed:
            raise Conflict("this payment is already reversed", code="already_reversed")
        others = others or {}
        touched_plan = None
        steps: list[tuple[Invoice | None, Installment | None, int]] = []
        for allocation in payment.allocations:
            if allocation.invoice_id is not None:
                invoice = self.invoices.get(allocation.invoice_id)
                if invoice is None or invoice.status not in ("open", "paid"):
                    status = invoice.status if invoice else "gone"
                    raise Conflict(f"invoice {allocation.invoice_id} is {status}: the payment cannot go back to it")
                installment = None
                if invoice.plan_id and invoice.installment_number is not None:
                    plan = self._plan_for_reversal(invoice.plan_id, others)
                    if plan is not None:
                        touched_plan = plan
                        installment = plan.installment(invoice.installment_number)
                steps.append((invoice, installment, allocation.amount_cents))
                continue
            plan = self._plan_for_reversal(allocation.plan_id, others)
            if plan is None:
                raise Conflict("the payment prepaid a plan that is no longer active: cancel-time remainders "
                               "cannot take it back")
            touched_plan = plan
            parts = allocation.installments or _legacy_prepaid_parts(plan, allocation.amount_cents)
            for number, cents in parts:
                installment = plan.installment(number)
                if installment.prepaid_cents < cents:
                    raise Conflict(f"installment {number} no longer holds the prepaid amount")
                invoice = self.invoices.get(installment.invoice_id) if installment.invoice_id else None
                if installment.invoice_id and (invoice is None or invoice.status not in ("open", "paid")):
                    raise Conflict(f"installment {number}'s invoice cannot take the payment back")
                steps.append((invoice, installment, -cents))  # negative: a prepaid part
        for invoice, installment, cents in steps:
            prepaid = cents < 0
            cents = abs(cents)
            if invoice is not None:
                invoice.balance_cents += cents
                if not prepaid:
                    invoice.paid_cents -= cents
                invoice.status = "open"
                self._touch_invoice(invoice)
            if installment is not None:
                if prepaid:
                    installment.prepaid_cents -= cents
                installment.status = "invoiced" if installment.invoice_id else "scheduled"
        if touched_plan is not None:
            if touched_plan.status == "completed":
                touched_plan.status = "active"
            self.plan = touched_plan
            self._touch_plan()
        self.balance_cents += payment.amount_cents
        self.changes.ledger.append(LedgerEntry("payment_reversal", payment.amount_cents, entry_ref))
        self._settle_status()
        return payment.amount_cents

    def cancel_plan(self, plan_id: str, remainder_invoice_id: str, at: datetime) -> Invoice | None:
        """Business rule: cancelling the active plan leaves its issued invoices as they are and
        turns the uninvoiced remainder into one open invoice dated by the oldest invoice that went
        into the plan (aging does not restart). Nothing owed changes: no ledger entry."""
        plan = self.plan
        if plan is None or plan.plan_id != plan_id:
            raise Conflict(f"payment plan {plan_id} is not active")
        remainder = plan.uninvoiced_cents
        dated = plan.oldest_invoice_date or min(
            (i.invoice_date for i in self.invoices.values() if i.status == "in_plan"), default=plan.start_date)
        plan.status = "cancelled"
        invoice = None
        if remainder:
            invoice = Invoice(invoice_id=remainder_invoice_id, patient_id=self.patient_id, amount_cents=remainder,
                              balance_cents=remainder, invoice_date=dated, source="plan_remainder", plan_id=plan_id,
                              created_at=at, description="Remainder of a cancelled payment plan")
            if invoice.invoice_id in self.invoices:
                raise Conflict("the plan's remainder is already invoiced")
            self._touch_invoice(invoice)
            self.changes.new_invoice_ids.add(invoice.invoice_id)
            plan.remainder_invoice_id = invoice.invoice_id
        self._touch_plan()
        self.plan = None
        self._settle_status()
        return invoice

    def change_plan(self, plan_id: str, today: date, *, installment_cents: int | None = None,
                    frequency: str | None = None, next_due_date: date | None = None) -> Plan:
        """Business rule: the uninvoiced remainder is rescheduled from `next_due_date` (default the
        next scheduled due date) with the new installment and frequency, within the conversion's
        limits; issued installments and prepaid parts stay as they are, and installment numbers
        are never reused (an installment's invoice id is its number)."""
        plan = self.plan
        if plan is None or plan.plan_id != plan_id:
            raise Conflict(f"payment plan {plan_id} is not active")
        scheduled = [i for i in plan.installments if i.status == "scheduled"]
        remainder = sum(i.uninvoiced_cents for i in scheduled)
        if remainder == 0:
            raise Conflict("every installment of the plan is invoiced or paid: nothing to reschedule")
        if next_due_date is not None and next_due_date < today:
            raise ValidationError("next_due_date is in the past", fields={"next_due_date": "must be today or later"})
        start = next_due_date or plan.next_due_date
        cents = installment_cents or plan.installment_cents
        every = frequency or plan.frequency
        count = -(-remainder // cents)
        if count > MAX_INSTALLMENTS:
            raise ValidationError(
                f"{count} installments; at most {MAX_INSTALLMENTS}",
                fields={"installment_cents": f"makes {count} installments, more than {MAX_INSTALLMENTS}"})
        kept = [i for i in plan.installments if i.status != "scheduled"]
        kept += [Installment(i.number, i.due_date, i.prepaid_cents, i.prepaid_cents, "paid")
                 for i in scheduled if i.prepaid_cents]  # the part already paid stays paid
        base = max(i.number for i in plan.installments)
        plan.installments = sorted(kept, key=lambda i: i.number) + [
            Installment(base + s.number, s.due_date, s.amount_cents)
            for s in build_schedule(remainder, cents, every, start)]
        plan.installment_cents, plan.frequency = cents, every
        self._touch_plan()
        self._settle_status()
        return plan

    # ----- holds ---------------------------------------------------------------------------
    def place_hold(self, hold: Hold, today: date) -> None:
        """Business rule: a follow-up with something owed and no hold goes on hold until a date
        after today, at most 180 days ahead."""
        if hold.until <= today:
            raise ValidationError("until must be after today", fields={"until": "must be after today"})
        last = today + timedelta(days=HOLD_MAX_DAYS)
        if hold.until > last:
            raise ValidationError(f"until is more than {HOLD_MAX_DAYS} days after today",
                                  fields={"until": f"at most {HOLD_MAX_DAYS} days after today ({last.isoformat()})"})
        if self.balance_cents == 0:
            raise NothingOwed("nothing is owed")
        if self.hold is not None:
            raise Conflict("the follow-up is already on hold")
        self.hold = hold
        self._settle_status()

    def release_hold(self) -> Hold:
        """Business rule: releasing a hold puts the follow-up back to plan, promise or open."""
        hold = self.hold
        if hold is None:
            raise Conflict("the follow-up is not on hold")
        self.hold = None
        self._settle_status()
        return hold


def _legacy_prepaid_parts(plan: Plan, amount_cents: int) -> list[tuple[int, int]]:
    """A payment stored before allocations named their installments: its prepaid cents come back
    from the plan's uninvoiced installments holding prepaid parts, earliest first."""
    parts, rest = [], amount_cents
    for installment in plan.installments:
        take = min(rest, installment.prepaid_cents) if installment.invoice_id is None else 0
        if take:
            parts.append((installment.number, take))
            rest -= take
    if rest:
        raise Conflict("the plan no longer holds this payment's prepaid amount")
    return parts


@dataclass(frozen=True)
class Reversal:
    """A payment undone (returned, chargeback, entered in error): counted against the member the
    payment was credited to, on its own date (staff-performance report)."""

    reversal_id: str
    payment_id: str
    patient_id: str
    amount_cents: int
    reason: str
    at: datetime
    by: str
    note: str | None = None
    recovered_by: str | None = None
