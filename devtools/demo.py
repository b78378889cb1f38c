"""The demo clinic of the local stack: the last five weeks of a small clinic, replayed through the services.

Every step goes through the same services the API calls, in time order, with "now" set to the
moment it happened (days before today, at a clinic-local time), so the data obeys every rule:
invoices at every age, contact attempts of every outcome by each demo user, promises kept, pending
and broken (the broken one by the scheduled run, as the nightly tick would), a weekly payment plan
with installments issued, a written-off patient, payments the report credits to whoever called,
and for each demo user a callback due today and one overdue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

TIMEZONE = "America/New_York"
DEMO_USERS = (("owner@demo.clinic", "Olivia Owner", "Owner"),
              ("admin@demo.clinic", "Adam Admin", "Admin"),
              ("billing@demo.clinic", "Bea Billing", "BillingStaff"))
OPENED_DAYS_AGO = 35  # the clinic's first day in the system; older invoices came in with it
# (name, [(invoice days ago, cents)]); what happens to each is in `_story`.
DEMO_PATIENTS = (
    ("Alice Moreno", [(12, 8_500)]),
    ("Bruno Silva", [(45, 22_000), (20, 4_000)]),
    ("Chen Wei", [(75, 15_000)]),
    ("Dana Kowalski", [(130, 48_000)]),
    ("Elif Yilmaz", [(95, 6_000), (33, 12_500)]),
    ("Farah Haddad", [(3, 19_900)]),
    ("Gus Johansson", [(61, 30_000)]),  # promises to pay in full, and does: not on the worklist
    ("Hana Petrova", [(28, 14_000)]),  # a promise still pending
    ("Iris Nakamura", [(50, 36_000)]),  # a weekly payment plan
    ("Jonas Berg", [(40, 9_500)]),  # a promise the nightly run marks broken
    ("Karl Lindqvist", [(210, 12_000)]),  # written off
)


@dataclass(order=True)
class _Step:
    at: datetime
    n: int  # steps at one instant keep the order they were written in
    run: Callable[[datetime], object] = field(compare=False)


class _Story:
    """Steps dated relative to today, played in time order with each step's "now"."""

    def __init__(self, now: datetime):
        from chalicelib.domain import clock

        self.now, self._clock = now, clock
        self.today = clock.local_date(now, TIMEZONE)
        self._steps: list[_Step] = []  # a heap
        self._count = 0

    def at(self, days_ago: int, hh_mm: str) -> datetime:
        wall = datetime.combine(self.today - timedelta(days=days_ago), time.fromisoformat(hh_mm))
        return self._clock.local_wall_time_to_utc(wall, TIMEZONE)

    def on(self, instant: datetime, run: Callable[[datetime], object]) -> None:
        assert instant <= self.now, "the demo only replays the past"
        self._count += 1
        heapq.heappush(self._steps, _Step(instant, self._count, run))

    def later_today(self, minutes: int) -> tuple[datetime, datetime]:
        """(when to book it, when it is due): later today; late at night, booked this morning for a
        moment already gone (still today, so it shows as due today and overdue)."""
        due = self.now + timedelta(minutes=minutes)
        if due < self._clock.end_of_local_day(self.today, TIMEZONE) - timedelta(minutes=1):
            return self.now, due
        start = self._clock.start_of_local_day(self.today, TIMEZONE)
        return start + timedelta(minutes=1), start + timedelta(minutes=minutes % 60 + 2)

    def play(self) -> None:
        """Earliest first; a step may add later ones (a callback booked now, done tomorrow)."""
        heapq.heapify(self._steps)
        while self._steps:
            step = heapq.heappop(self._steps)
            step.run(step.at)


def seed(password: str, now: datetime | None = None) -> dict:
    from chalicelib.domain.roles import ADMIN, BILLING, OWNER, Caller
    from chalicelib.logs import logger
    from chalicelib.services import clinics, staff
    from chalicelib.store.uow import UnitOfWork

    now = now or datetime.now(UTC)
    story = _Story(now)
    opened = story.at(OPENED_DAYS_AGO, "08:00")
    uow = UnitOfWork()
    clinic = clinics.create(uow, opened, name="Demo Family Clinic", timezone=TIMEZONE, currency="USD")
    users = [staff.create(uow, clinic.clinic_id, opened, email=email, name=name, role=role, password=password)
             for email, name, role in DEMO_USERS]
    owner, admin, billing = (Caller(u.sub, clinic.clinic_id, frozenset({role}))
                             for u, role in zip(users, (OWNER, ADMIN, BILLING), strict=True))
    _story(story, uow, owner, admin, billing)
    level = logger.log_level
    logger.setLevel("WARNING")  # the replay's info lines (runs, write-offs) are not news at start-up
    try:
        story.play()
    finally:
        logger.setLevel(level)
    return {"clinic_id": clinic.clinic_id, "users": [(u.email, u.role) for u in users]}


def _story(story: _Story, uow, owner, admin, billing) -> None:
    from chalicelib.services import attempts, callbacks, invoices, invoicing, patients, payments, plans, writeoffs

    ids: dict[str, str] = {}  # first name -> patient id, once the patient exists
    today = story.today
    keys = iter(range(1, 1_000))

    def patient(name: str, n: int):
        def create(now):
            ids[name.split()[0]] = patients.create(uow, billing, now, name=name, phone=f"+1-555-01{n:02d}").patient_id
        return create

    def invoice(first: str, days_ago: int, cents: int):
        return lambda now: invoices.create(uow, billing, now, patient_id=ids[first], amount_cents=cents,
                                           invoice_date=today - timedelta(days=days_ago),
                                           service_date=today - timedelta(days=days_ago + 2),
                                           description="Office visit")

    def attempt(who, first: str, channel: str, outcome: str, notes: str | None = None, promise=None):
        amount, days_ahead = promise or (None, None)
        return lambda now: attempts.log(
            uow, who, now, ids[first], channel=channel, outcome=outcome, notes=notes, promised_amount_cents=amount,
            promised_date=None if promise is None else today + timedelta(days=days_ahead))

    def pay(who, first: str, cents: int, method: str):
        key = f"demo-{next(keys)}"
        return lambda now: payments.record(uow, who, now, idempotency_key=key, body={
            "patient_id": ids[first], "amount_cents": cents, "method": method})

    def callback(who, first: str, due: datetime, notes: str, done_at: datetime | None = None,
                 override: str | None = None):
        # `override`: the patient asked for that time, which a contact rule may block (the quiet
        # days after a conversation, or call hours for "later today" at night): kept only if one does.
        def book(now):
            made = callbacks.schedule(uow, who, now, ids[first], due_at=due, notes=notes, override_reason=override)
            if done_at is not None:
                story.on(done_at, lambda later: callbacks.update(uow, who, later, made.callback_id, status="done"))
        return book

    # The clinic's first morning: its patients and the open invoices it brought along.
    opened = story.at(OPENED_DAYS_AGO, "09:00")
    for n, (name, bills) in enumerate(DEMO_PATIENTS):
        story.on(opened, patient(name, n))
        for days_ago, cents in bills:
            story.on(story.at(min(days_ago, OPENED_DAYS_AGO), "09:30"), invoice(name.split()[0], days_ago, cents))

    a = story.at
    # Promises kept: each payment is credited to whoever called last (the staff report's recovered).
    story.on(a(30, "09:15"), attempt(admin, "Gus", "phone", "promised_payment", promise=(30_000, -27)))
    story.on(a(27, "12:00"), pay(billing, "Gus", 30_000, "bank_transfer"))
    story.on(a(28, "10:30"), attempt(owner, "Dana", "phone", "promised_payment", "Will pay part by check",
                                     promise=(10_000, -21)))
    story.on(a(22, "16:00"), pay(billing, "Dana", 10_000, "check"))
    story.on(a(25, "10:00"), attempt(billing, "Bruno", "phone", "promised_payment", promise=(5_000, -18)))
    story.on(a(20, "15:00"), pay(billing, "Bruno", 5_000, "card"))
    # A weekly plan from three weeks ago: the first installment invoiced and paid, the next two
    # invoiced by the nightly run below.
    story.on(a(23, "11:00"), attempt(billing, "Iris", "phone", "no_answer"))

    def convert_to_plan(now):
        plan = plans.create(uow, billing, now, patient_id=ids["Iris"], installment_cents=6_000,
                            frequency="weekly", start_date=today - timedelta(days=21))
        plans.run(uow, billing, now, plan.plan_id)  # the first installment is due at once

    story.on(a(21, "10:00"), convert_to_plan)
    story.on(a(19, "12:00"), pay(billing, "Iris", 6_000, "card"))
    # The other outcomes, and a callback done on time.
    story.on(a(30, "14:00"), attempt(admin, "Karl", "phone", "refused", "Moved abroad; will not pay"))
    story.on(a(16, "15:00"), callback(billing, "Chen", a(15, "10:00"), "Ask about the insurance claim",
                                      done_at=a(15, "10:06")))
    story.on(a(15, "10:05"), attempt(billing, "Chen", "phone", "dispute", "Says the visit was covered by insurance"))
    story.on(a(12, "13:00"), attempt(billing, "Elif", "sms", "refused"))
    story.on(a(8, "11:00"), attempt(admin, "Bruno", "email", "no_answer"))
    story.on(a(7, "09:00"), lambda now: writeoffs.write_off(uow, owner, now, patient_id=ids["Karl"],
                                                             reason="Uncollectable: patient moved abroad"))
    story.on(a(6, "14:00"), attempt(billing, "Dana", "phone", "hung_up"))
    story.on(a(5, "09:45"), attempt(billing, "Alice", "phone", "no_answer"))
    story.on(a(2, "17:00"), attempt(owner, "Farah", "email", "no_answer"))
    # A promise that was not kept: the nightly run after its date marks it broken (as `system`).
    story.on(a(10, "16:30"), attempt(admin, "Jonas", "phone", "promised_payment", promise=(9_500, -5)))
    story.on(a(4, "03:20"), lambda now: invoicing.run_scheduled(uow, now))
    story.on(a(3, "10:00"), attempt(billing, "Jonas", "phone", "no_payment_despite_promise", "Says payday is Friday"))
    # A promise still pending.
    story.on(a(2, "11:30"), attempt(billing, "Hana", "phone", "promised_payment", promise=(7_000, 5)))
    # Each demo user's callbacks: one overdue since an earlier day, one due today.
    story.on(a(3, "10:01"), callback(billing, "Jonas", a(1, "10:00"), "Check the promised payment arrived",
                                     override="Patient asked to be called after payday"))
    story.on(a(8, "11:05"), callback(admin, "Chen", a(2, "15:00"), "Follow up on the insurance answer"))
    story.on(a(6, "14:05"), callback(owner, "Dana", a(1, "16:00"), "Offer a payment plan",
                                     override="Patient asked to hear about a plan this week"))
    for n, (who, first) in enumerate(((billing, "Alice"), (admin, "Bruno"), (owner, "Farah"))):
        booked, due = story.later_today(60 + 20 * n)
        story.on(booked, callback(who, first, due, "Call back as agreed", override="Patient agreed to this time"))
    # Tonight's work done already: the clinic is caught up to today's run.
    story.on(story.now, lambda now: invoicing.run_scheduled(uow, now))


def instructions(stack: dict, demo: dict, password: str, seconds: float, stack_file: Path) -> str:
    users = "\n".join(f"    {role:<13} {email}" for email, role in demo["users"])
    login = (f"aws --endpoint-url {stack['aws_endpoint_url']} cognito-idp initiate-auth "
             f"--client-id {stack['user_pool_client_id']} --auth-flow USER_PASSWORD_AUTH \\\n"
             f"      --auth-parameters USERNAME=owner@demo.clinic,PASSWORD={password}")
    console = f"\n  Console:   {stack['console_url']}" if "console_url" in stack else ""
    return f"""
Clinic Follow-ups is running (ready in {seconds:.1f}s).
  API:       {stack['api_url']}
  AWS:       {stack['aws_endpoint_url']}  (embedded: DynamoDB + Cognito){console}
  Stack:     {stack_file}
  Outbox:    {stack.get('outbox_file', '-')}  (what Cognito would email: invitations, reset codes)
  Clinic:    Demo Family Clinic ({demo['clinic_id']}), {TIMEZONE}
  Users (password {password}):
{users}

Sign in and call the API (see README "First requests"):
  TOKEN=$(.venv/bin/followups token owner@demo.clinic \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["id_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" {stack['api_url']}/me
or with the AWS CLI:
  {login}

Press Ctrl-C to stop.
"""
