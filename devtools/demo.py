"""The demo clinic of the local stack: one user per role and patients owing at every age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_USERS = (("owner@demo.clinic", "Olivia Owner", "Owner"),
              ("admin@demo.clinic", "Adam Admin", "Admin"),
              ("billing@demo.clinic", "Bea Billing", "BillingStaff"))
# (name, [(days ago, cents)], paid cents)
DEMO_PATIENTS = (
    ("Alice Moreno", [(12, 8_500)], 0),
    ("Bruno Silva", [(45, 22_000), (20, 4_000)], 5_000),
    ("Chen Wei", [(75, 15_000)], 0),
    ("Dana Kowalski", [(130, 48_000)], 10_000),
    ("Elif Yilmaz", [(95, 6_000), (33, 12_500)], 0),
    ("Farah Haddad", [(3, 19_900)], 0),
    ("Gus Johansson", [(61, 30_000)], 30_000),  # paid in full: not on the worklist
)


def seed(password: str, now: datetime | None = None) -> dict:
    from chalicelib.domain.roles import BILLING, Caller
    from chalicelib.services import clinics, invoices, patients, payments, plans, staff
    from chalicelib.store.uow import UnitOfWork

    now = now or datetime.now(UTC)
    uow = UnitOfWork()
    clinic = clinics.create(uow, now, name="Demo Family Clinic", timezone="America/New_York", currency="USD")
    users = []
    for email, name, role in DEMO_USERS:
        member = staff.create(uow, clinic.clinic_id, now, email=email, name=name, role=role, password=password)
        users.append(member)
    billing = Caller(users[-1].sub, clinic.clinic_id, frozenset({BILLING}))
    today = clinic.today(now)
    for n, (name, bills, paid) in enumerate(DEMO_PATIENTS):
        patient_id = patients.create(uow, billing, now, name=name, phone=f"+1-555-010{n}").patient_id
        for days_ago, cents in bills:
            invoices.create(uow, billing, now, patient_id=patient_id, amount_cents=cents,
                            invoice_date=today - timedelta(days=days_ago),
                            service_date=today - timedelta(days=days_ago + 2), description="Office visit")
        if paid:
            payments.record(uow, billing, now, idempotency_key=f"demo-{n}",
                            body={"patient_id": patient_id, "amount_cents": paid, "method": "card"})
    # One patient on a monthly payment plan whose first installment is invoiced today.
    patient_id = patients.create(uow, billing, now, name="Iris Nakamura", phone="+1-555-0109").patient_id
    invoices.create(uow, billing, now, patient_id=patient_id, amount_cents=36_000,
                    invoice_date=today - timedelta(days=50), description="Minor procedure")
    plan = plans.create(uow, billing, now, patient_id=patient_id, installment_cents=12_000,
                        frequency="monthly", start_date=today)
    plans.run(uow, billing, now, plan.plan_id)
    return {"clinic_id": clinic.clinic_id, "users": [(u.email, u.role) for u in users]}


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
  Clinic:    Demo Family Clinic ({demo['clinic_id']}), America/New_York
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
