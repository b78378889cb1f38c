"""Screenshots of the console's main screens into docs/screenshots/ (for the README).

    .venv/bin/python scripts/screenshots.py                 # starts its own local stack on free ports
    .venv/bin/python scripts/screenshots.py --stack-file .local/stack.json   # or uses a running one

Signs in as the demo Owner, adds a little activity to the demo clinic where the stack offers the
routes (an attempt with a promise, a callback for today, a payment plan), then captures: sign-in,
worklist (desktop and phone width), patient panel, plan preview, dashboard, reports and team.
Needs Debian's Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, OWNER, StackApi  # noqa: E402
from tests.e2e.conftest import LocalStack  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def route_key(spec: str) -> str:
    """'POST /follow-ups/{patient_id}/attempts' -> 'POST /follow-ups/{}/attempts' (as the console compares them)."""
    method, path = spec.split(maxsplit=1)
    return f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path.strip())}"


def routes_of(api: StackApi) -> set[str]:
    doc = api.get("/openapi.json")
    return {route_key(f"{m} {p}") for p, ops in doc["paths"].items() for m in ops}


def patient_id(api: StackApi, name: str) -> str | None:
    for row in api.get("/follow-ups", )["items"]:
        if row["patient_name"] == name:
            return row["patient_id"]
    return None


def add_activity(api: StackApi, routes: set[str]) -> dict:
    """Some contact history so the screens are not empty; only through routes the stack has."""
    found: dict = {}
    if route_key("GET /follow-ups") not in routes:
        return found
    tz = ZoneInfo(api.get("/clinic")["timezone"])
    today = datetime.now(UTC).astimezone(tz).date()
    bruno, chen, elif_ = (patient_id(api, n) for n in ("Bruno Silva", "Chen Wei", "Elif Yilmaz"))
    found.update(bruno=bruno, chen=chen)
    if route_key("POST /follow-ups/{}/attempts") in routes:
        api.post(f"/follow-ups/{chen}/attempts", {"channel": "phone", "outcome": "no_answer"}, expect=201)
        api.post(f"/follow-ups/{bruno}/attempts", {"channel": "phone", "outcome": "promised_payment",
                                                   "notes": "Pays after the insurance refund",
                                                   "promised_amount_cents": 10_000,
                                                   "promised_date": (today + timedelta(days=10)).isoformat()},
                 expect=201)
    if route_key("POST /follow-ups/{}/callbacks") in routes:
        soon = datetime.now(UTC) + timedelta(minutes=30)
        if soon.astimezone(tz).date() == today:
            api.post(f"/follow-ups/{chen}/callbacks", {"due_at": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                       "notes": "Second try, mornings are better"}, expect=201)
        api.post(f"/follow-ups/{bruno}/callbacks", {"due_at": f"{(today + timedelta(days=3)).isoformat()}T10:00",
                                                    "notes": "Check the refund arrived"}, expect=201)
    if route_key("POST /follow-ups/{}/payment-plan") in routes and elif_:
        api.post(f"/follow-ups/{elif_}/payment-plan", {"installment_cents": 5_000, "frequency": "monthly",
                                                        "start_date": today.isoformat()}, expect=201)
    if route_key("POST /payments") in routes and bruno:
        api.post("/payments", {"patient_id": bruno, "amount_cents": 2_500, "method": "card"},
                 headers={"Idempotency-Key": uuid.uuid4().hex}, expect=201)
    return found


def capture(info: dict) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    api = StackApi(info, OWNER)
    routes = routes_of(api)
    found = add_activity(api, routes)
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def shoot(page, name: str, full_page: bool = True) -> None:
            page.wait_for_timeout(400)  # let counts and toasts settle
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            shots.append(path)

        def sign_in(page, hash_: str = "") -> None:
            page.goto(info["console_url"] + hash_)
            page.get_by_label("Email").fill(OWNER)
            page.get_by_label("Password").fill("Demo-Password-2026")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()

        desk = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
        page = desk.new_page()
        page.goto(info["console_url"])
        page.get_by_label("Email").fill(OWNER)
        shoot(page, "sign-in", full_page=False)
        page.get_by_label("Password").fill("Demo-Password-2026")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Follow-ups", exact=True)).to_be_visible()
        shoot(page, "worklist")
        if found.get("bruno"):
            page.goto(f"{info['console_url']}#/patients/{found['bruno']}")
            expect(page.get_by_role("heading", name="Bruno Silva")).to_be_visible()
            shoot(page, "patient")
            convert = page.get_by_role("button", name="Convert to payment plan")
            if convert.count():
                convert.click()
                page.get_by_label("Installment amount").fill("45")
                shoot(page, "plan-preview", full_page=False)
                page.keyboard.press("Escape")
        for hash_, name in (("#/dashboard", "dashboard"), ("#/reports", "reports"), ("#/team", "team")):
            page.goto(info["console_url"] + hash_)
            page.wait_for_load_state("networkidle")
            shoot(page, name)
        desk.close()

        phone = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True, device_scale_factor=2)
        page = phone.new_page()
        sign_in(page)
        page.wait_for_load_state("networkidle")
        shoot(page, "worklist-phone", full_page=False)
        phone.close()
        browser.close()
    return shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack-file", type=Path, help="use a running local stack instead of starting one")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} not found: apt-get install -y chromium", file=sys.stderr)
        return 1
    if args.stack_file:
        shots = capture(json.loads(args.stack_file.read_text()))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            stack = LocalStack(Path(tmp))
            try:
                shots = capture(stack.start())
            finally:
                stack.stop()
    for path in shots:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
