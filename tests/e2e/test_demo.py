"""The demo clinic of `make run` looks lived in: what a newcomer's first screens show (the worklist,
their tasks, the month's staff report) has something of everything the product does. Read over
HTTP from the running local stack; other tests of the session only add to the clinic."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.test_local_stack import sign_in

pytestmark = pytest.mark.e2e
USERS = ("owner@demo.clinic", "admin@demo.clinic", "billing@demo.clinic")
OUTCOMES = {"no_answer", "promised_payment", "dispute", "hung_up", "refused", "no_payment_despite_promise"}


class Client:
    def __init__(self, info: dict, email: str):
        self.api, self.headers = info["api_url"], {"Authorization": f"Bearer {sign_in(info, email)}"}

    def get(self, path: str) -> dict:
        r = requests.get(f"{self.api}{path}", headers=self.headers, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()


@pytest.fixture(scope="module")
def owner(local_stack) -> Client:
    return Client(local_stack[1], "owner@demo.clinic")


@pytest.fixture(scope="module")
def worklist(owner) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = owner.get("/follow-ups?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


@pytest.fixture(scope="module")
def details(owner, worklist) -> dict[str, dict]:
    return {r["patient_id"]: owner.get(f"/follow-ups/{r['patient_id']}") for r in worklist}


def test_the_worklist_has_open_promised_and_plan_follow_ups_with_contact_history(worklist):
    statuses = {r["status"] for r in worklist}
    assert {"open", "promised", "payment_plan"} <= statuses, statuses
    assert sum(1 for r in worklist if r["last_attempt"]) >= 5
    assert {"callback", "promise", "installment"} <= {r["next_action"]["type"] for r in worklist if r["next_action"]}


def test_the_demo_has_attempts_of_every_outcome(details):
    outcomes = {a["outcome"] for d in details.values() for a in d["attempts"]}
    assert outcomes >= OUTCOMES, OUTCOMES - outcomes


def test_one_promise_is_pending_and_one_was_broken_by_the_scheduled_run(owner, details):
    assert any(d["pending_promise"] and d["status"] == "promised" for d in details.values())
    broken = owner.get("/audit?action=promise.broken&limit=100")["items"]
    assert broken and broken[-1]["actor"] == "system"
    patient = details.get(broken[-1]["patient_id"]) or owner.get(f"/follow-ups/{broken[-1]['patient_id']}")
    assert patient["promises"]["broken"] >= 1 and patient["status"] == "open"


def test_a_plan_has_issued_installments(details):
    plans = [d["plan"] for d in details.values() if d["status"] == "payment_plan"]
    assert plans
    issued = [i for p in plans for i in p["installments"] if i["invoice_id"]]
    assert len(issued) >= 2 and any(i["status"] == "paid" for i in issued)


def test_a_patient_was_written_off(owner):
    entries = owner.get("/audit?action=writeoff.recorded&limit=100")["items"]
    assert entries
    oldest = entries[-1]  # the demo's, before anything a test did
    written_off = owner.get(f"/follow-ups/{oldest['patient_id']}")
    assert written_off["status"] == "written_off" and written_off["balance_cents"] == 0


@pytest.mark.parametrize("email", USERS)
def test_every_demo_user_has_callbacks_due_today_and_overdue(local_stack, email):
    me = Client(local_stack[1], email)
    tz = ZoneInfo(me.get("/clinic")["timezone"])
    tasks = me.get("/tasks")
    days = {datetime.fromisoformat(t["due_at"].replace("Z", "+00:00")).astimezone(tz).date().isoformat()
            for t in tasks["items"]}
    assert tasks["as_of"] in days, tasks  # due today
    assert any(day < tasks["as_of"] for day in days), tasks  # overdue since an earlier day
    assert all(t["overdue"] for t in tasks["items"] if t["due_at"] < tasks["as_of"])
    assert all(t["patient_name"] for t in tasks["items"])


def test_the_staff_report_for_the_last_month_has_figures_for_every_demo_user(owner):
    today = date.fromisoformat(owner.get("/follow-ups?limit=1")["as_of"])
    report = owner.get(f"/reports/staff-performance?from={today - timedelta(days=30)}&to={today}")
    staff = {s["sub"]: s["email"] for s in owner.get("/staff")["items"]}
    items = {staff[i["sub"]]: i for i in report["items"] if staff.get(i["sub"]) in USERS}
    assert set(items) == set(USERS)
    assert all(i["attempts"] > 0 for i in items.values())
    total = {k: sum(i[k] for i in items.values())
             for k in ("recovered_cents", "promises_made", "promises_kept", "promises_broken", "callbacks_done",
                       "callbacks_overdue")}
    assert all(v > 0 for v in total.values()), total
    assert sum(1 for i in items.values() if i["recovered_cents"] > 0) >= 2
