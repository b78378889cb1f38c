"""The stored shapes. One table for the billing data, one append-only table for the audit.

Only the repositories in this package use them; they hand the rest of the code dataclasses.

See docs/data-model.md for the access patterns each key and index serves.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .. import config
from ..config import STORE_POLICY


class _Meta:
    region = config.region()
    billing_mode = "PAY_PER_REQUEST"
    connect_timeout_seconds = STORE_POLICY.connect_timeout_seconds
    read_timeout_seconds = STORE_POLICY.read_timeout_seconds
    max_retry_attempts = STORE_POLICY.read_attempts - 1


def _index(name: str, hash_attr: str, range_attr: str):
    """A GSI class with string keys `hash_attr` / `range_attr`, projecting every attribute."""

    class Meta:
        index_name = name
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    attrs = {
        "Meta": Meta,
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: UnicodeAttribute(range_key=True),
    }
    return type(f"{name.title().replace('-', '')}Index", (GlobalSecondaryIndex,), attrs)


WorklistIndex = _index("worklist", "wl_pk", "wl_sk")
DueIndex = _index("due", "due_pk", "due_sk")
TimelineIndex = _index("timeline", "tl_pk", "tl_sk")
AssigneeIndex = _index("assignee", "as_pk", "as_sk")


class Record(Model):
    """Base of every item in the billing table; `kind` tells the stored shape."""

    class Meta(_Meta):
        table_name = config.table_name()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    # Sparse index keys: set only while the item belongs in that index.
    wl_pk = UnicodeAttribute(null=True)
    wl_sk = UnicodeAttribute(null=True)
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)
    tl_pk = UnicodeAttribute(null=True)
    tl_sk = UnicodeAttribute(null=True)
    as_pk = UnicodeAttribute(null=True)
    as_sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    worklist = WorklistIndex()
    due = DueIndex()
    timeline = TimelineIndex()
    assignee = AssigneeIndex()


class ContactPolicyMap(MapAttribute):
    """The clinic's contact policy (domain/contact_rules.ContactPolicy); absent: the defaults."""

    call_start = UnicodeAttribute()  # HH:MM, clinic-patient wall clock
    call_end = UnicodeAttribute()  # HH:MM, exclusive; 24:00 for midnight
    max_calls_per_7_days = NumberAttribute()
    quiet_days_after_conversation = NumberAttribute()


class ClinicRecord(Record, discriminator="clinic"):
    clinic_id = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    currency = UnicodeAttribute()
    created_at = UnicodeAttribute()
    next_run_date = UnicodeAttribute(null=True)  # the clinic-local date auto-invoicing runs next
    calendar_show_names = BooleanAttribute(null=True)  # None: off (clinics stored before the setting)
    contact_policy = ContactPolicyMap(null=True)  # None: the defaults (never set, or stored before it)
    version = VersionAttribute()


class StaffRecord(Record, discriminator="staff"):
    sub = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(null=True)  # None: active (records written before there was a status)


class StaffEnrolmentRecord(Record, discriminator="staff_enrolment"):
    """`C#<clinic>` / `EMAIL#<sha256 of the email>`: the email is taken in this clinic; `pending`
    until the member's record (`STAFF#<sub>`) is written in the same transaction that makes it
    `active`."""

    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    sub = UnicodeAttribute(null=True)


class DelegationRecord(Record, discriminator="delegation"):
    delegation_id = UnicodeAttribute()
    grantee_sub = UnicodeAttribute()
    permission = UnicodeAttribute()
    expires_at_iso = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)


class CalendarFeedRecord(Record, discriminator="calendar_feed"):
    sub = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    created_at = UnicodeAttribute()


class IdempotencyRecord(Record, discriminator="idempotency"):
    """A stored response, written in the same transaction as the change it answers for."""

    request_sha256 = UnicodeAttribute()
    status_code = NumberAttribute()
    response_json = UnicodeAttribute()
    created_at = UnicodeAttribute()


class PromiseMap(MapAttribute):
    promise_id = UnicodeAttribute()
    attempt_id = UnicodeAttribute()
    amount_cents = NumberAttribute()
    promised_date = UnicodeAttribute()
    made_at = UnicodeAttribute()
    made_by = UnicodeAttribute()
    paid_cents = NumberAttribute(default=0)
    status = UnicodeAttribute(default="pending")
    resolved_at = UnicodeAttribute(null=True)


class LastAttemptMap(MapAttribute):
    at = UnicodeAttribute()
    channel = UnicodeAttribute()
    outcome = UnicodeAttribute()
    by = UnicodeAttribute()


class HoldMap(MapAttribute):
    hold_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    until = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class PatientRecord(Record, discriminator="patient"):
    """The patient and their follow-up: the row of the worklist (the `worklist` index)."""

    patient_id = UnicodeAttribute()
    name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    balance_cents = NumberAttribute(default=0)
    status = UnicodeAttribute(default="closed")
    oldest_open_invoice_date = UnicodeAttribute(null=True)
    ledger_seq = NumberAttribute(default=0)
    active_plan_id = UnicodeAttribute(null=True)
    plan_next_due = UnicodeAttribute(null=True)
    pending_promise = PromiseMap(null=True)
    promises_made = NumberAttribute(default=0)
    promises_kept = NumberAttribute(default=0)
    promises_broken = NumberAttribute(default=0)
    last_attempt = LastAttemptMap(null=True)
    next_callback_at = UnicodeAttribute(null=True)
    # {invoice_id: [status, balance_cents, invoice_date]}: decided by a change, not yet written
    deferred_invoices = UnicodeAttribute(null=True)
    hold = HoldMap(null=True)  # on the follow-up row, so the worklist needs no read per row
    # ContactFacts.as_stored(): what the contact rules judge the row on (absent: no facts yet)
    contact = MapAttribute(null=True)
    version = VersionAttribute()
    # Contact preferences (PATCH /patients; issue 19's contact rules read them)
    timezone = UnicodeAttribute(null=True)  # None: the clinic's
    do_not_contact = ListAttribute(of=UnicodeAttribute, null=True)
    preferred_channel = UnicodeAttribute(null=True)


class InvoiceRecord(Record, discriminator="invoice"):
    invoice_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    amount_cents = NumberAttribute()
    balance_cents = NumberAttribute()
    invoice_date = UnicodeAttribute()
    service_date = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    source = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    plan_id = UnicodeAttribute(null=True)
    installment_number = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    paid_cents = NumberAttribute(null=True)  # None: stored before corrections (amount - balance)
    adjusted_cents = NumberAttribute(null=True)


class InstallmentMap(MapAttribute):
    number = NumberAttribute()
    due_date = UnicodeAttribute()
    amount_cents = NumberAttribute()
    prepaid_cents = NumberAttribute(default=0)
    status = UnicodeAttribute()
    invoice_id = UnicodeAttribute(null=True)


class PlanRecord(Record, discriminator="plan"):
    plan_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    total_cents = NumberAttribute()
    installment_cents = NumberAttribute()
    frequency = UnicodeAttribute()
    start_date = UnicodeAttribute()
    installments = ListAttribute(of=InstallmentMap)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    oldest_invoice_date = UnicodeAttribute(null=True)
    remainder_invoice_id = UnicodeAttribute(null=True)


class PromiseRecord(Record, discriminator="promise"):
    """The history of one promise (the pending one is also on the patient record)."""

    patient_id = UnicodeAttribute()
    promise = PromiseMap()


class AllocationMap(MapAttribute):
    invoice_id = UnicodeAttribute(null=True)
    amount_cents = NumberAttribute()
    plan_id = UnicodeAttribute(null=True)
    installments = ListAttribute(of=NumberAttribute, null=True)  # [number, cents, number, cents, ...]


class PaymentRecord(Record, discriminator="payment"):
    payment_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    amount_cents = NumberAttribute()
    method = UnicodeAttribute()
    received_at = UnicodeAttribute()
    invoice_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    allocations = ListAttribute(of=AllocationMap)
    balance_after_cents = NumberAttribute()
    status_after = UnicodeAttribute(null=True)  # the follow-up's status right after it, as POST answered
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    # The staff member whose attempt on this patient was the latest before the payment, if at
    # most 30 days older: decided once, when the payment is recorded (staff-performance report).
    recovered_by = UnicodeAttribute(null=True)
    reversal_id = UnicodeAttribute(null=True)
    reversed_at = UnicodeAttribute(null=True)


class ReversalRecord(Record, discriminator="reversal"):
    """A payment's reversal: created once (`7#REV#<payment>` must not exist), on the `PAY`
    timeline at its own instant, where the staff report counts it against `recovered_by`."""

    reversal_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    amount_cents = NumberAttribute()
    reason = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    by = UnicodeAttribute()
    recovered_by = UnicodeAttribute(null=True)


class AttemptRecord(Record, discriminator="attempt"):
    attempt_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    at = UnicodeAttribute()
    by = UnicodeAttribute()
    channel = UnicodeAttribute()
    outcome = UnicodeAttribute()
    notes = UnicodeAttribute(null=True)
    promised_amount_cents = NumberAttribute(null=True)
    promised_date = UnicodeAttribute(null=True)
    promise_id = UnicodeAttribute(null=True)
    rule_flags = ListAttribute(of=UnicodeAttribute, null=True)  # absent: it broke no contact rule


class CallbackRecord(Record, discriminator="callback"):
    callback_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    due_at = UnicodeAttribute()
    assignee_sub = UnicodeAttribute()
    status = UnicodeAttribute()
    notes = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    done_at = UnicodeAttribute(null=True)
    override_reason = UnicodeAttribute(null=True)  # scheduled past a contact rule, and why
    override_by = UnicodeAttribute(null=True)


class LedgerRecord(Record, discriminator="ledger"):
    entry_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    seq = NumberAttribute()
    at = UnicodeAttribute()
    type = UnicodeAttribute()
    amount_cents = NumberAttribute()
    balance_after_cents = NumberAttribute()
    ref = UnicodeAttribute()


class IntegrationRecord(Record, discriminator="integration"):
    """`C#<clinic>` / `INTEG#<integration>`: a key as its Owner lists it (never the key itself)."""

    integration_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    name = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    key_sha256 = UnicodeAttribute()
    key_hint = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    last_used_at = UnicodeAttribute(null=True)


class KeyLookupRecord(Record, discriminator="key_lookup"):
    """`KEY#<sha256>` / `KEY`: what a request's key is, found by its hash in one GetItem."""

    integration_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    created_by = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)


class RateRecord(Record, discriminator="rate"):
    """`C#<clinic>#RATE#<integration>` / `<minute>`: requests of one key in one minute (TTL: gone after)."""

    requests = NumberAttribute(default=0)


class ExternalIdRecord(Record, discriminator="external_id"):
    """`C#<clinic>#XID#<PAT|INV>#<sha256>` / `XID`: the uniqueness item of one external id."""

    external_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute(null=True)


class SearchRecord(Record, discriminator="search"):
    """`C#<clinic>#S#<kind>#<term>` / `<sort name>#<patient>`: the patient is found by the term."""

    patient_id = UnicodeAttribute()
    words = UnicodeAttribute()  # " jose nunez": further words of a query are checked with contains(" nun")


AuditByPatientIndex = _index("by-patient", "ap_pk", "ap_sk")
AuditByActionIndex = _index("by-action", "aa_pk", "aa_sk")


class AuditRecord(Model):
    """Append-only: created with a condition, never updated or deleted by any code path."""

    class Meta(_Meta):
        table_name = config.audit_table_name()

    pk = UnicodeAttribute(hash_key=True)  # C#<clinic>
    sk = UnicodeAttribute(range_key=True)  # <at>#<audit_id>: newest first by querying backwards
    ap_pk = UnicodeAttribute(null=True)
    ap_sk = UnicodeAttribute(null=True)
    aa_pk = UnicodeAttribute()
    aa_sk = UnicodeAttribute()
    audit_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    patient_id = UnicodeAttribute(null=True)
    details = MapAttribute(default=dict)

    by_patient = AuditByPatientIndex()
    by_action = AuditByActionIndex()


# ----- webhooks (issue 18) ------------------------------------------------------------------------
class EventRecord(Record, discriminator="event"):
    """An announced change, written in the change's transaction; the stream delivers it (the event
    source mapping's FilterCriteria keeps only INSERTs of `kind` = `event`). Expires after 30 days."""

    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    created_at = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    data_json = UnicodeAttribute()  # the envelope's `data` (ids, amounts, dates, statuses)
    webhook_id = UnicodeAttribute(null=True)  # a ping: the one webhook it is for


class WebhookRecord(Record, discriminator="webhook"):
    webhook_id = UnicodeAttribute()
    clinic_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    secret_ciphertext = UnicodeAttribute(null=True)  # base64 KMS ciphertext; dropped on delete
    deleted_at = UnicodeAttribute(null=True)
    deleted_by = UnicodeAttribute(null=True)


class DeliveryRecord(Record, discriminator="webhook_delivery"):
    """The delivery log: one event for one webhook (written by the delivery function only)."""

    webhook_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    event_created_at = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    status = UnicodeAttribute()
    last_status = UnicodeAttribute(null=True)  # "200", "500", "timeout", "refused_address", ...
    delivered_at = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    first_attempt_at = UnicodeAttribute(null=True)
    response_excerpt = UnicodeAttribute(null=True)  # at most 256 bytes of the receiver's answer


ALL_TABLES = (Record, AuditRecord)
