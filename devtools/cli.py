"""The `followups` command: create clinics and users, run auto-invoicing, against the local
stack (read from its stack file) or real AWS (FOLLOWUPS_* settings in the environment)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent


def _stack_file() -> Path | None:
    if os.environ.get("FOLLOWUPS_STACK_FILE"):
        return Path(os.environ["FOLLOWUPS_STACK_FILE"])
    for candidate in (Path.cwd() / ".local" / "stack.json", ROOT / ".local" / "stack.json"):
        if candidate.exists():
            return candidate
    return None


def _configure() -> None:
    """Point the process at the local stack when its stack file exists, else at real AWS.

    Must run before any model is imported (PynamoDB reads table names at import)."""
    path = _stack_file()
    if path is not None and path.exists() and not os.environ.get("FOLLOWUPS_USE_AWS"):
        stack = json.loads(path.read_text())
        from devtools.devstack import aws_environment

        os.environ.update(aws_environment(stack["aws_endpoint_url"], stack["region"]))
        os.environ["FOLLOWUPS_USER_POOL_ID"] = stack["user_pool_id"]
        os.environ["FOLLOWUPS_USER_POOL_CLIENT_ID"] = stack["user_pool_client_id"]
    elif not os.environ.get("FOLLOWUPS_USER_POOL_ID"):
        raise click.ClickException(
            "no local stack running (no .local/stack.json) and FOLLOWUPS_USER_POOL_ID is not set; "
            "for AWS set FOLLOWUPS_USER_POOL_ID, FOLLOWUPS_TABLE, FOLLOWUPS_AUDIT_TABLE and AWS_REGION")


def _emit(payload: dict) -> None:
    click.echo(json.dumps(payload))


def _fail_on_domain_error(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from chalicelib.domain.errors import FollowUpsError

        try:
            return fn(*args, **kwargs)
        except FollowUpsError as e:
            click.echo(json.dumps({"error": {"code": e.code, "message": e.message, "fields": e.fields}}),
                       err=True)
            sys.exit(2)

    return wrapper


@click.group()
def main() -> None:
    """Clinic Follow-ups administration."""


@main.group()
def clinic() -> None:
    """Clinics."""


@clinic.command("create")
@click.option("--name", required=True)
@click.option("--timezone", "timezone", required=True, help="IANA time zone, e.g. America/New_York")
@click.option("--currency", default="USD", show_default=True)
@_fail_on_domain_error
def clinic_create(name: str, timezone: str, currency: str) -> None:
    """Create a clinic; prints {"clinic_id"}."""
    _configure()
    from chalicelib.services import clinics
    from chalicelib.store.uow import UnitOfWork

    created = clinics.create(UnitOfWork(), datetime.now(UTC), name=name, timezone=timezone,
                             currency=currency.upper(), actor="cli")
    _emit({"clinic_id": created.clinic_id})


@main.group()
def user() -> None:
    """Staff users."""


@user.command("create")
@click.option("--clinic", "clinic_id", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["Owner", "Admin", "BillingStaff"]), required=True)
@click.option("--name", default=None)
@_fail_on_domain_error
def user_create(clinic_id: str, email: str, password: str, role: str, name: str | None) -> None:
    """Create a confirmed user who can sign in at once; prints {"sub","email"}."""
    _configure()
    from chalicelib.services import clinics, staff
    from chalicelib.store.uow import UnitOfWork

    uow = UnitOfWork()
    clinics.get(uow, clinic_id)
    member = staff.create(uow, clinic_id, datetime.now(UTC), email=email.lower(),
                          name=name or email.split("@")[0], role=role, actor="cli", password=password)
    _emit({"sub": member.sub, "email": member.email})


@main.group()
def invoicing() -> None:
    """Auto-invoicing."""


@invoicing.command("run")
@click.option("--at", "at", required=True,
              help="the tick's instant, ISO 8601 with an offset, e.g. 2026-03-29T01:00:00Z")
def invoicing_run(at: str) -> None:
    """Run the scheduled function exactly as EventBridge would with `time` = AT; prints
    {"clinics_run":[..],"invoices_created":N,"promises_broken":N}."""
    import uuid

    from chalicelib.jobs import auto_invoicing

    try:
        auto_invoicing.event_time({"time": at})
    except ValueError as e:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 instant with an offset", param_hint="--at") from e
    _configure()
    from chalicelib import config

    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "000000000000", "time": at, "region": config.region(), "resources": [], "detail": {}}
    _emit(auto_invoicing.handle(event))


@main.command("token")
@click.argument("email")
@click.option("--password", default="Demo-Password-2026", show_default=True)
def token(email: str, password: str) -> None:
    """Sign in with USER_PASSWORD_AUTH and print the ID token (for curl)."""
    _configure()
    import boto3

    from chalicelib import config

    cognito = boto3.client("cognito-idp", region_name=config.region())
    try:
        result = cognito.initiate_auth(ClientId=config.settings().user_pool_client_id,
                                       AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": email, "PASSWORD": password})
    except cognito.exceptions.NotAuthorizedException as e:
        raise click.ClickException("wrong email or password") from e
    click.echo(result["AuthenticationResult"]["IdToken"])


if __name__ == "__main__":
    main()
