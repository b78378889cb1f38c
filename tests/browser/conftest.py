"""Browser tests: Playwright drives Debian's Chromium (`/usr/bin/chromium`) against the real local
stack (`python -m devtools.devstack` on free ports) and signs in as the demo users.

Without Chromium (or Playwright) every browser test is skipped and the run says so loudly in the
terminal summary; with `CI=true` they fail instead, so a CI without a browser cannot pass. A route
or screen the stack lacks fails the test that uses it (the console says the screen is not
available, and the test finds no screen).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import ROOT, LocalStack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEMO_PASSWORD = "Demo-Password-2026"
OWNER, ADMIN, BILLING = "owner@demo.clinic", "admin@demo.clinic", "billing@demo.clinic"
YEN_OWNER = "owner@yen.clinic"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config, items):
    reason = browser_missing()
    if reason is None or in_ci():
        return  # in CI, the `browser` fixture fails each test instead
    skip = pytest.mark.skip(reason=f"BROWSER TESTS SKIPPED: {reason}")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    collected = [r for rs in terminalreporter.stats.values() for r in rs
                 if getattr(r, "nodeid", "").startswith("tests/browser/")]
    if not collected:
        return
    reason = browser_missing()
    if reason is not None:
        verdict = "FAILED (CI=true)" if in_ci() else "SKIPPED"
        terminalreporter.write_sep("!", f"BROWSER TESTS {verdict}: {reason}", red=True, bold=True)


# ----- the stack ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def local_stack_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-stack")
    local = LocalStack(tmp)
    # An open console checks its session every 2 s (not 25): a deactivation ends it quickly.
    local.env.update(FOLLOWUPS_CONSOLE_CHECK_SECONDS="2", FOLLOWUPS_OUTBOX_FILE=str(tmp / "outbox.jsonl"))
    local.info = local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def stack(local_stack_process):
    info = local_stack_process.info
    assert "console_url" in info, "the stack file names no console_url"
    return info


# ----- API access for setting up data ---------------------------------------------------------------
class StackApi:
    """One signed-in user talking to the stack over HTTP (for arranging and checking data)."""

    def __init__(self, info: dict, email: str, password: str = DEMO_PASSWORD):
        self.base = info["api_url"]
        r = requests.post(info["aws_endpoint_url"], timeout=10, json={
            "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": info["user_pool_client_id"],
            "AuthParameters": {"USERNAME": email, "PASSWORD": password}},
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"})
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['AuthenticationResult']['IdToken']}"}

    def request(self, method: str, path: str, body=None, headers=None, expect: int | None = None):
        r = requests.request(method, self.base + path, json=body, headers={**self.headers, **(headers or {})},
                             timeout=10)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def today(self):
        from datetime import UTC, datetime
        from zoneinfo import ZoneInfo

        return datetime.now(UTC).astimezone(ZoneInfo(self.get("/clinic")["timezone"])).date()

    def owing_patient(self, name: str, *bills: tuple[int, int]) -> str:
        """A patient with invoices of (days ago, cents); returns the patient id."""
        from datetime import timedelta

        patient = self.post("/patients", {"name": name}, expect=201)
        today = self.today()
        for days_ago, cents in bills:
            self.post("/invoices", {"patient_id": patient["patient_id"], "amount_cents": cents,
                                    "invoice_date": (today - timedelta(days=days_ago)).isoformat()}, expect=201)
        return patient["patient_id"]


@pytest.fixture(scope="session")
def billing_api(stack) -> StackApi:
    return StackApi(stack, BILLING)


@pytest.fixture(scope="session")
def owner_api(stack) -> StackApi:
    return StackApi(stack, OWNER)


@pytest.fixture(scope="session")
def yen_owner_api(local_stack_process, stack) -> StackApi:
    """The Owner of a second clinic, made with the CLI, that bills in JPY (a currency without minor units)."""
    def cli(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "devtools.cli", *args], env=local_stack_process.env, cwd=ROOT,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    clinic = cli("clinic", "create", "--name", "Yen Clinic", "--timezone", "Asia/Tokyo", "--currency", "JPY")
    cli("user", "create", "--clinic", clinic["clinic_id"], "--email", YEN_OWNER, "--password", DEMO_PASSWORD,
        "--role", "Owner")
    return StackApi(stack, YEN_OWNER)


# ----- the browser ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    reason = browser_missing()
    if reason is not None:  # only reached with CI=true: elsewhere these tests are skipped
        pytest.fail(f"BROWSER TESTS FAILED: CI=true and {reason}", pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


class Console:
    """A page on the console, plus the origins it has talked to."""

    def __init__(self, page, info: dict):
        self.page, self.info = page, info
        self.requested: list[str] = []
        page.on("request", lambda r: self.requested.append(r.url))
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, hash_: str = "") -> None:
        self.page.goto(self.info["console_url"] + hash_)

    def sign_in(self, email: str, password: str = DEMO_PASSWORD, hash_: str = "") -> None:
        from playwright.sync_api import expect

        self.open(hash_)
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def go(self, hash_: str) -> None:
        self.page.evaluate("h => { window.location.hash = h; }", hash_)

    def dialog(self):
        return self.page.get_by_role("dialog")


def new_console(browser, stack, **context_options) -> tuple[Console, object]:
    options = {"locale": "en-US", "viewport": {"width": 1280, "height": 900}, **context_options}
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    return Console(context.new_page(), stack), context


def origins_of(urls: list[str]) -> set[str]:
    return {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, urls) if p.scheme not in ("data", "blob", "about")}


def check_page(c: Console, stack: dict) -> None:
    """After every test: no uncaught error, and nothing fetched from anywhere but the API and Cognito."""
    assert not c.errors, f"uncaught errors in the page: {c.errors}"
    allowed = origins_of([stack["api_url"], stack["aws_endpoint_url"]])
    assert origins_of(c.requested) <= allowed, f"requests outside the API and Cognito: {c.requested}"


@pytest.fixture
def console(browser, stack):
    c, context = new_console(browser, stack)
    yield c
    context.close()
    check_page(c, stack)


@pytest.fixture
def phone(browser, stack):
    c, context = new_console(browser, stack, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield c
    context.close()
    check_page(c, stack)
