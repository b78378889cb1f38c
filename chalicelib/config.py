"""Every environment variable the service reads, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    region: str
    table_name: str
    audit_table_name: str
    user_pool_id: str
    user_pool_client_id: str
    aws_endpoint_url: str | None
    jwks_url: str
    issuer: str
    gateway_authorizer: str
    public_url: str | None
    log_level: str
    preload_routes: bool  # load every route's module at start-up, not on its first request
    staff_cache_seconds: float  # how long a process trusts a staff record it read (at most 60)
    outbox_file: str | None  # local stack only: where messages Cognito would send are written
    password_policy: dict  # the user pool's PasswordPolicy, for the console to show and check


@dataclass(frozen=True)
class StorePolicy:
    """How long one DynamoDB call may take and how often a write is tried, in one place.

    A Lambda request has 25 s (.chalice/config.json). One send lasts at most connect + read
    (7 s); a commit starts no new send after `commit_deadline_seconds` (so it ends by about 19 s)
    and a reload round starts none after `request_deadline_seconds`: the function always answers.
    The SDK itself retries nothing on a transaction (`uow.connection`), reads `read_attempts` times."""

    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 5.0
    read_attempts: int = 3  # botocore's attempts for a read (standard mode: throttling, 5xx)
    commit_sends: int = 3  # sends of one transaction with the same client request token
    commit_deadline_seconds: float = 12.0  # no new send after this much time in one commit
    stale_reloads: int = 8  # load -> decide -> commit again while another writer wins
    request_deadline_seconds: float = 15.0  # no new reload round after this; the function has 25 s
    backoff_seconds: float = 0.05  # base of the jittered exponential backoff between tries


STORE_POLICY = StorePolicy()


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def table_name() -> str:
    """Read at import by the PynamoDB models (their Meta is static)."""
    return _env("FOLLOWUPS_TABLE", "followups")


def audit_table_name() -> str:
    return _env("FOLLOWUPS_AUDIT_TABLE", "followups-audit")


def region() -> str:
    return _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1"))


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The request-time settings; cached, and `settings.cache_clear()` in tests."""
    reg = region()
    pool = _env("FOLLOWUPS_USER_POOL_ID", "")
    endpoint = _env("AWS_ENDPOINT_URL_COGNITO_IDP", _env("AWS_ENDPOINT_URL"))
    # Cognito always names itself with the AWS issuer, also in moto's server mode, but the
    # JWKS is served by whatever endpoint we talk to: configure the two separately.
    issuer = f"https://cognito-idp.{reg}.amazonaws.com/{pool}"
    default_jwks = f"{endpoint.rstrip('/')}/{pool}/.well-known/jwks.json" if endpoint else (
        f"{issuer}/.well-known/jwks.json")
    return Settings(
        region=reg,
        table_name=table_name(),
        audit_table_name=audit_table_name(),
        user_pool_id=pool,
        user_pool_client_id=_env("FOLLOWUPS_USER_POOL_CLIENT_ID", ""),
        aws_endpoint_url=_env("AWS_ENDPOINT_URL"),
        jwks_url=_env("FOLLOWUPS_JWKS_URL", default_jwks),
        issuer=issuer,
        gateway_authorizer=_env("FOLLOWUPS_GATEWAY_AUTHORIZER", "cognito"),
        public_url=_env("FOLLOWUPS_PUBLIC_URL"),
        log_level=_env("FOLLOWUPS_LOG_LEVEL", "INFO"),
        preload_routes=_env("FOLLOWUPS_PRELOAD_ROUTES", "off") == "on",
        staff_cache_seconds=staff_cache_seconds(),
        outbox_file=_env("FOLLOWUPS_OUTBOX_FILE"),
        password_policy=password_policy(),
    )


DEFAULT_PASSWORD_POLICY = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                           "RequireNumbers": True, "RequireSymbols": True}


def password_policy() -> dict:
    """FOLLOWUPS_PASSWORD_POLICY: the pool's PasswordPolicy as JSON (the template and the local stack
    set it from the pool's own); unset or unreadable: Cognito's default rules."""
    import json

    try:
        found = json.loads(_env("FOLLOWUPS_PASSWORD_POLICY", "{}"))
    except ValueError:
        found = {}
    known = {k: v for k, v in found.items() if k in DEFAULT_PASSWORD_POLICY} if isinstance(found, dict) else {}
    return {**DEFAULT_PASSWORD_POLICY, **known}


STAFF_CACHE_MAX_SECONDS = 60.0  # the contract: a role change or a deactivation counts within a minute
STAFF_CACHE_DEFAULT_SECONDS = 30.0  # with the console's 25 s check, a leaver's open console ends within a minute


CONSOLE_CHECK_SECONDS = 25.0  # how often an open console asks the API whether its user may still act


def console_check_seconds() -> float:
    """FOLLOWUPS_CONSOLE_CHECK_SECONDS (tests make it short), never longer than the default: with
    the staff cache, a deactivated member's open console ends within a minute."""
    try:
        value = float(_env("FOLLOWUPS_CONSOLE_CHECK_SECONDS", str(CONSOLE_CHECK_SECONDS)))
    except ValueError:
        value = CONSOLE_CHECK_SECONDS
    return min(max(value, 1.0), CONSOLE_CHECK_SECONDS)


def staff_cache_seconds() -> float:
    """FOLLOWUPS_STAFF_CACHE_SECONDS (default 30, at most 60; 0 turns the cache off)."""
    try:
        value = float(_env("FOLLOWUPS_STAFF_CACHE_SECONDS", str(STAFF_CACHE_DEFAULT_SECONDS)))
    except ValueError:
        value = STAFF_CACHE_DEFAULT_SECONDS
    return min(max(value, 0.0), STAFF_CACHE_MAX_SECONDS)


def lambda_runtime() -> bool:
    """Is this process the Lambda runtime starting a function? Only the runtime sets
    AWS_LAMBDA_FUNCTION_NAME. Every chalice command (`chalice local`, `chalice package`) sets
    AWS_CHALICE_CLI_MODE, in case a stage's variables name a function; `chalice.test.Client`, the
    tests and the local stack set neither. (AWS_EXECUTION_ENV is no sign: `Chalice()` sets it.)"""
    return _env("AWS_LAMBDA_FUNCTION_NAME") is not None and _env("AWS_CHALICE_CLI_MODE") is None


@dataclass(frozen=True)
class WebhookSettings:
    """Webhooks (issue 18): where secrets are encrypted, where tries wait, which URLs are allowed.

    `url_policy` is `deployed` unless the local stack says `local` (FOLLOWUPS_WEBHOOK_URL_POLICY):
    a missing setting never opens loopback delivery."""

    url_policy: str
    kms_key_id: str
    queue_url: str
    try_timeout_seconds: float = 10.0  # the contract's 10 s per try (tests shorten it)
    excerpt_bytes: int = 256  # the most of a receiver's answer that is read, and kept
    secret_cache_seconds: float = 300.0  # a decrypted secret is reused this long by one process


def webhook_settings() -> WebhookSettings:
    policy = _env("FOLLOWUPS_WEBHOOK_URL_POLICY", "deployed")
    return WebhookSettings(
        url_policy="local" if policy == "local" else "deployed",
        kms_key_id=_env("FOLLOWUPS_WEBHOOK_KEY_ID", "alias/followups-webhooks"),
        queue_url=_env("FOLLOWUPS_WEBHOOK_QUEUE_URL", ""),
        try_timeout_seconds=float(_env("FOLLOWUPS_WEBHOOK_TRY_TIMEOUT", "10")))
