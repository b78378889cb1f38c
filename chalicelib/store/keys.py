"""Every key format in one place. Every key starts with the clinic id.

The one exception is the auto-invoicing run schedule (`RUNS` on the `due` index), which
holds only clinic ids and times: it is how the scheduled function finds the clinics whose
03:00 has come without reading every clinic.

Sort keys that carry a date or an instant put it first (`YYYY-MM-DD...` or `iso_z`), so a key
range is a date or time range; `~` sorts after, and `!` before, every character of an id.
"""

from __future__ import annotations

import hashlib
from datetime import date

# ----- the clinic's partition `C#<clinic>` -----------------------------------------------------
CLINIC = "CLINIC"
STAFF = "STAFF#"
STAFF_EMAIL = "EMAIL#"  # a staff email's enrolment: the email is one member per clinic
DELEGATION = "DELEG#"
FEED = "FEED#"

# ----- a patient's partition `C#<clinic>#P#<patient>` -------------------------------------------
PROFILE = "0#PROFILE"
INVOICE = "1#INV#"
PLAN = "2#PLAN#"
PROMISE = "3#PROM#"
PAYMENT = "4#PAY#"
ATTEMPT = "5#ATT#"
CALLBACK = "6#CB#"
REVERSAL = "7#REV#"  # + payment id: one reversal per payment
# A money operation loads the profile, the invoices and the plans with one Query: sk in
# [ACCOUNT_FIRST, ACCOUNT_LAST]; the follow-up detail reads the whole partition.
ACCOUNT_FIRST = "0#"
ACCOUNT_LAST = "2#~"


def newest_first_range(prefix: str, before_id: str | None) -> tuple[str, str]:
    """`sk BETWEEN lo AND hi` for a patient's items of one kind up to (and including) the item
    `before_id`: a page newest first is this range read backwards, without that item."""
    return prefix, prefix + before_id if before_id else prefix + _HIGHEST


def ledger_after(seq: int | None) -> str:
    """The lowest ledger sort key after entry `seq` (or the first)."""
    return ledger_sk((seq or 0) + 1)
IDEMPOTENCY = "IDEM"

# ----- indexes ---------------------------------------------------------------------------------
RUNS = "RUNS"  # `due` index: clinics by the instant of their next 03:00 run
# `timeline` index partitions `C#<clinic>#<kind>`: the clinic's events by time (reports)
ATTEMPTS_TIMELINE, PAYMENTS_TIMELINE, CALLBACKS_TIMELINE, PROMISES_TIMELINE = "ATT", "PAY", "CB", "PROMISE"
# What is owed, for the aging report: an invoice only while it is open, a plan only while it has
# an uninvoiced remainder.
OWED = "OWED"
_HIGHEST = "~"
_AFTER = "!"


def clinic_pk(clinic_id: str) -> str:
    return f"C#{clinic_id}"


def patient_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}"


def ledger_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}#LEDGER"


def ledger_sk(seq: int) -> str:
    return f"{seq:010d}"


def idempotency_pk(clinic_id: str, scope: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"C#{clinic_id}#IDEM#{scope}#{digest}"


def staff_sk(sub: str) -> str:
    return f"{STAFF}{sub}"


def staff_email_sk(email: str) -> str:
    """Hashed: the key is fixed-length and names no one (keys show up in metrics and traces)."""
    return f"{STAFF_EMAIL}{hashlib.sha256(email.strip().lower().encode()).hexdigest()}"


def delegation_sk(delegation_id: str) -> str:
    return f"{DELEGATION}{delegation_id}"


def feed_sk(sub: str) -> str:
    return f"{FEED}{sub}"


# ----- the worklist index: `C#<clinic>` / `<oldest open invoice date>#<patient>` -----------------
# A follow-up on hold sorts apart, under `H#<date>#<patient>` (after every date: "H" > "9"), so
# the worklist without it and `status=on_hold` are each one key range, with no filter.
HELD = "H#"


def worklist_sk(oldest_open_invoice_date: str, patient_id: str, held: bool = False) -> str:
    return f"{HELD if held else ''}{oldest_open_invoice_date}#{patient_id}"


def worklist_position(wl_sk: str) -> tuple[date, str]:
    day, patient_id = wl_sk.removeprefix(HELD).split("#", 1)
    return date.fromisoformat(day), patient_id


def worklist_range(low: date | None, high: date | None,
                   after: tuple[date, str] | None, held: bool = False) -> tuple[str, str] | None:
    """`wl_sk BETWEEN lo AND hi` for oldest-open-invoice dates in [low, high] (None: open end),
    strictly after the row `after`, among follow-ups on hold or not; None when nothing can be in it."""
    prefix = HELD if held else ""
    lo = f"{prefix}{low.isoformat()}#" if low else f"{prefix}0000-00-00#"
    hi = f"{prefix}{high.isoformat()}#{_HIGHEST}" if high else f"{prefix}9999-99-99#{_HIGHEST}"
    if after is not None:
        lo = max(lo, worklist_sk(after[0].isoformat(), after[1], held) + _AFTER)
    return (lo, hi) if lo <= hi else None


# ----- the due index: `C#<clinic>` / `<date>#PLAN#<plan>`, `<date>#PROMISE#<patient>`, `<date>#HOLD#<patient>`
DUE_PLAN, DUE_PROMISE, DUE_HOLD = "PLAN", "PROMISE", "HOLD"
# A patient is in `due` once: by its hold's `until` while on hold (no promise breaks then, and
# the run that releases the hold breaks an overdue promise), else by its pending promise's date.


def due_sk(day: date, kind: str, item_id: str) -> str:
    return f"{day.isoformat()}#{kind}#{item_id}"


def due_until(day: date) -> str:
    """The highest due sort key dated `day` or earlier."""
    return f"{day.isoformat()}#{_HIGHEST}"


def due_parts(sk: str) -> tuple[date, str, str]:
    day, kind, item_id = sk.split("#", 2)
    return date.fromisoformat(day), kind, item_id


def run_sk(run_at_iso: str, clinic_id: str) -> str:
    return f"{run_at_iso}#{clinic_id}"


def runs_until(now_iso: str) -> str:
    return f"{now_iso}#{_HIGHEST}"


# ----- the timeline index: `C#<clinic>#<kind>` / `<iso instant>#<id>` ----------------------------
def timeline_pk(clinic_id: str, kind: str) -> str:
    return f"C#{clinic_id}#{kind}"


def timeline_sk(at: str, item_id: str) -> str:
    return f"{at}#{item_id}"


def owed_invoice_sk(invoice_date: str, invoice_id: str) -> str:
    return f"INV#{invoice_date}#{invoice_id}"


def owed_plan_sk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


def owed_patient_sk(patient_id: str) -> str:
    """A patient whose invoices have deferred writes (a change larger than one transaction) sits
    in the `OWED` partition too, so the aging report's one Query sees those invoices as decided."""
    return f"PAT#{patient_id}"


# ----- the assignee index: `C#<clinic>#U#<sub>` / `<due_at>#<callback>` --------------------------
def assignee_pk(clinic_id: str, sub: str) -> str:
    return f"C#{clinic_id}#U#{sub}"


def assignee_sk(due_at: str, callback_id: str) -> str:
    return f"{due_at}#{callback_id}"


# ----- the audit table: `C#<clinic>` / `<at>#<audit_id>`, by patient and by action ---------------
def audit_sk(at: str, audit_id: str) -> str:
    return f"{at}#{audit_id}"


def audit_patient_pk(clinic_id: str, patient_id: str) -> str:
    return f"C#{clinic_id}#P#{patient_id}"


def audit_action_pk(clinic_id: str, action: str) -> str:
    return f"C#{clinic_id}#A#{action}"


# ----- webhooks (issue 18) -----------------------------------------------------------------------
# Events: `C#<clinic>#EVENTS` / `<iso_z created_at>#<event_id>`, written in the change's own
# transaction (the table's stream carries them to the delivery function; the event source
# mapping's filter lets only these items through). Subscriptions: `C#<clinic>#WEBHOOKS` /
# `<webhook_id>`. The delivery log: `C#<clinic>#WH#<webhook_id>` / `<iso_z event created_at>#<event_id>`
# (newest first is a backwards Query). Each kind has its own partition suffix, so the delivery
# function's role can be limited to them with `dynamodb:LeadingKeys` (docs/webhooks.md).
EVENTS = "EVENTS"
WEBHOOKS = "WEBHOOKS"
WEBHOOK_LOG = "WH"


def events_pk(clinic_id: str) -> str:
    return f"C#{clinic_id}#{EVENTS}"


def event_sk(created_at: str, event_id: str) -> str:
    return f"{created_at}#{event_id}"


def webhooks_pk(clinic_id: str) -> str:
    return f"C#{clinic_id}#{WEBHOOKS}"


def webhook_sk(webhook_id: str) -> str:
    return webhook_id


def deliveries_pk(clinic_id: str, webhook_id: str) -> str:
    return f"C#{clinic_id}#{WEBHOOK_LOG}#{webhook_id}"


def delivery_sk(event_created_at: str, event_id: str) -> str:
    return f"{event_created_at}#{event_id}"


# ----- integrations (issue 17) ---------------------------------------------------------------
INTEGRATION = "INTEG#"  # `C#<clinic>` / `INTEG#<integration>`: a key of the clinic, listed by its Owner
KEY_LOOKUP_SK = "KEY"
SEARCH_NAME, SEARCH_PHONE, SEARCH_EMAIL = "n", "p", "e"


def integration_sk(integration_id: str) -> str:
    return f"{INTEGRATION}{integration_id}"


def key_lookup_pk(key_sha256: str) -> str:
    """`KEY#<sha256 of the key>` / `KEY`: the second exception to "the clinic first" (with RUNS).
    A request with a key names no clinic: the item found by the key's hash is what names it, so
    a key can only ever reach the clinic it was made in. It holds the hash, ids and scopes only."""
    return f"KEY#{key_sha256}"


def rate_pk(clinic_id: str, integration_id: str) -> str:
    """`C#<clinic>#RATE#<integration>` / `<minute iso>`: one key's request count in one minute (TTL)."""
    return f"C#{clinic_id}#RATE#{integration_id}"


def external_id_pk(clinic_id: str, kind: str, external_id: str) -> str:
    """`C#<clinic>#XID#<PAT|INV>#<sha256>` / `XID`: the external id is taken in the clinic. Hashed
    (a medical record number names someone; keys show up in metrics and traces) and one partition
    each, so a 10,000-row import spreads its writes."""
    digest = hashlib.sha256(external_id.encode()).hexdigest()
    return f"C#{clinic_id}#XID#{kind}#{digest}"


EXTERNAL_ID_SK = "XID"


def search_pk(clinic_id: str, kind: str, term: str) -> str:
    """`C#<clinic>#S#<n|p|e>#<term>`: the patients found by one search term, one partition per term,
    sorted by name. A name term is a folded word prefix (at most 10 characters); phone digits and
    emails are hashed (found by the whole value only)."""
    if kind != SEARCH_NAME:
        term = hashlib.sha256(term.encode()).hexdigest()
    return f"C#{clinic_id}#S#{kind}#{term}"


def search_sk(sort_name: str, patient_id: str) -> str:
    return f"{sort_name}#{patient_id}"
