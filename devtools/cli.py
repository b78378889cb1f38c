"""The `followups` command: create clinics and users, run auto-invoicing, sign in, against the local
stack (read from its stack file) or real AWS (FOLLOWUPS_* settings in the environment).

Scripts parse it: each command prints one JSON document on stdout and nothing else; logs, metrics
and warnings go to stderr; a failure prints nothing on stdout and exits 2 (bad input, click's usage
errors too) or 1 with `{"error": {"code", "message", "fields"?}}` as the last line of stderr."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import traceback
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
        raise CliError(
            "not_configured", "no local stack running (no .local/stack.json) and FOLLOWUPS_USER_POOL_ID is not set; "
            "for AWS set FOLLOWUPS_USER_POOL_ID, FOLLOWUPS_TABLE, FOLLOWUPS_AUDIT_TABLE and AWS_REGION")


class CliError(click.ClickException):
    """A failure the CLI itself names (not configured, wrong password), with the contract's code."""

    def __init__(self, code: str, message: str, exit_code: int = 1):
        super().__init__(message)
        self.code, self.exit_code = code, exit_code


def json_command(fn):
    """A command whose result is the one JSON document on stdout.

    The command body runs with `sys.stdout` pointed at stderr and the log lines sent there too:
    Powertools Logger writes to stdout (Lambda's convention) and Powertools Metrics prints its
    EMF documents with `print`, so whatever the services log or print while the command runs
    lands on stderr. Only the returned payload is written to the real stdout, once, at the end.
    The stack is configured before anything under chalicelib/ is imported (the models read their
    table names, and `config.settings()` its values, once)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with contextlib.redirect_stdout(sys.stderr):
            _configure()
            from chalicelib import logs

            before = logs.send_to(sys.stderr)
            try:
                payload = fn(*args, **kwargs)
            finally:
                logs.send_to(before)
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    return wrapper


@click.group()
def cli() -> None:
    """Clinic Follow-ups administration. Each command prints one JSON document on stdout; logs go to
    stderr; a failure exits non-zero (2: bad input, 1: anything else) with {"error": {...}} on stderr."""


def _instant(ctx, param, value: str | None) -> str | None:
    """--at: what EventBridge puts in `time`, ISO 8601 with an offset (auto_invoicing.event_time
    reads it the same way); checked before any stack is needed."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant with an offset, e.g. 2026-03-29T01:00:00Z")
    return value


@cli.group()
def clinic() -> None:
    """Clinics."""


@clinic.command("create")
@click.option("--name", required=True)
@click.option("--timezone", "timezone", required=True, help="IANA time zone, e.g. America/New_York")
@click.option("--currency", default="USD", show_default=True)
@json_command
def clinic_create(name: str, timezone: str, currency: str) -> dict:
    """Create a clinic; prints {"clinic_id"}."""
    from chalicelib.services import clinics
    from chalicelib.store.uow import UnitOfWork

    created = clinics.create(UnitOfWork(), datetime.now(UTC), name=name, timezone=timezone,
                             currency=currency.upper(), actor="cli")
    return {"clinic_id": created.clinic_id}


@cli.group()
def user() -> None:
    """Staff users."""


@user.command("create")
@click.option("--clinic", "clinic_id", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["Owner", "Admin", "BillingStaff"]), required=True)
@click.option("--name", default=None)
@json_command
def user_create(clinic_id: str, email: str, password: str, role: str, name: str | None) -> dict:
    """Create a confirmed user who can sign in at once; prints {"sub","email"}."""
    from chalicelib.services import clinics, staff
    from chalicelib.store.uow import UnitOfWork

    uow = UnitOfWork()
    clinics.get(uow, clinic_id)
    member = staff.create(uow, clinic_id, datetime.now(UTC), email=email.lower(),
                          name=name or email.split("@")[0], role=role, actor="cli", password=password)
    return {"sub": member.sub, "email": member.email}


@cli.group()
def invoicing() -> None:
    """Auto-invoicing."""


@invoicing.command("run")
@click.option("--at", "at", required=True, callback=_instant,
              help="the tick's instant, ISO 8601 with an offset, e.g. 2026-03-29T01:00:00Z")
@json_command
def invoicing_run(at: str) -> dict:
    """Run the scheduled function exactly as EventBridge would with `time` = AT; prints
    {"clinics_run":[..],"invoices_created":N,"promises_broken":N}. Its log lines and metrics go to
    stderr."""
    import uuid

    from chalicelib import config
    from chalicelib.jobs import auto_invoicing

    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "000000000000", "time": at, "region": config.region(), "resources": [], "detail": {}}
    return auto_invoicing.handle(event)


@cli.command("token")
@click.argument("email")
@click.option("--password", default="Demo-Password-2026", show_default=True)
@json_command
def token(email: str, password: str) -> dict:
    """Sign in with USER_PASSWORD_AUTH; prints {"id_token","expires_in","token_type"} (for curl:
    TOKEN=$(followups token EMAIL | python3 -c 'import json,sys; print(json.load(sys.stdin)["id_token"])'))."""
    import boto3

    from chalicelib import config

    cognito = boto3.client("cognito-idp", region_name=config.region())
    try:
        result = cognito.initiate_auth(ClientId=config.settings().user_pool_client_id,
                                       AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": email, "PASSWORD": password})
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException) as e:
        raise CliError("unauthorized", "wrong email or password") from e
    if "AuthenticationResult" not in result:  # a challenge: NEW_PASSWORD_REQUIRED, MFA, ...
        raise CliError("challenge_required", f"sign-in asks for {result.get('ChallengeName')}: "
                       "finish it in the console first")
    tokens = result["AuthenticationResult"]
    return {"id_token": tokens["IdToken"], "expires_in": tokens["ExpiresIn"], "token_type": "Bearer"}


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clinic", "clinic_id", required=True)
@click.option("--chunk", "chunk_rows", default=1000, show_default=True, type=click.IntRange(1, 1000),
              help="rows per request (POST /imports takes at most 1,000)")
@json_command
def import_file(file: Path, clinic_id: str, chunk_rows: int) -> dict:
    """Import a CSV of open balances (docs/import-template.csv) of any size, in chunks of at most
    1,000 rows, each exactly as POST /imports would; progress on stderr; prints the summed
    summary, row numbers counted over the whole file (data rows from 1). Safe to run again: rows
    are written by external id."""
    import csv

    from chalicelib.domain.errors import ValidationError
    from chalicelib.domain.roles import Caller
    from chalicelib.services import clinics, imports
    from chalicelib.store.uow import UnitOfWork

    clinics.get(UnitOfWork(), clinic_id)
    caller = Caller(sub="cli", clinic_id=clinic_id, roles=frozenset({"Owner"}))
    total = {"rows": 0, "patients_created": 0, "patients_updated": 0, "invoices_created": 0,
             "invoices_unchanged": 0, "errors": []}

    def send(rows: list[dict], first_row: int) -> None:
        summary = imports.run(UnitOfWork(), caller, datetime.now(UTC), rows)
        for name in ("rows", "patients_created", "patients_updated", "invoices_created", "invoices_unchanged"):
            total[name] += getattr(summary, name)
        total["errors"].extend({**e, "row": e["row"] + first_row - 1} for e in summary.errors)

    with file.open("rb") as raw, click.progressbar(length=file.stat().st_size, label="importing", file=sys.stderr,
                                                   show_pos=True) as bar:
        def lines():
            encoding = "utf-8-sig"  # a byte-order mark (spreadsheet exports) only on the first line
            for line in raw:
                bar.update(len(line))
                yield line.decode(encoding)
                encoding = "utf-8"

        reader = csv.DictReader(lines())
        header = reader.fieldnames or []
        if not header or set(header) - set(imports.COLUMNS) or len(set(header)) != len(header):
            raise ValidationError("the CSV header names unknown or repeated columns",
                                  fields={"header": f"columns among {', '.join(imports.COLUMNS)}"})
        chunk, first = [], 1
        for row in reader:
            chunk.append({k: v for k, v in row.items() if k is not None})
            if len(chunk) == chunk_rows:
                send(chunk, first)
                first += len(chunk)
                chunk = []
        if chunk:
            send(chunk, first)
    return total


# ----- errors -----------------------------------------------------------------------------------
def _error(exc: BaseException) -> tuple[dict, int]:
    """The `{"error": {...}}` document and exit status for whatever ended a command: 2 for input
    the command refused (click's usage errors too), 1 for everything else. Only the type and an AWS
    error code are shown for an unexpected error: its message may carry data."""
    from chalicelib.domain.errors import FollowUpsError, ValidationError

    if isinstance(exc, click.BadParameter):
        name = exc.param.opts[0] if exc.param is not None and exc.param.opts else str(exc.param_hint or "argument")
        problem = "required" if isinstance(exc, click.MissingParameter) else exc.message
        return {"code": "validation_error", "message": exc.format_message(), "fields": {name: problem}}, 2
    if isinstance(exc, click.UsageError):
        command = exc.ctx.command_path if exc.ctx is not None else "followups"
        message = ("a command is required" if isinstance(exc, click.exceptions.NoArgsIsHelpError)
                   else exc.format_message())
        return {"code": "usage_error", "message": f"{message} (see `{command} --help`)"}, 2
    if isinstance(exc, CliError):
        return {"code": exc.code, "message": exc.format_message()}, exc.exit_code
    if isinstance(exc, click.ClickException):
        return {"code": "error", "message": exc.format_message()}, 1
    if isinstance(exc, FollowUpsError):
        error = {"code": exc.code, "message": exc.message}
        if exc.fields:
            error["fields"] = exc.fields
        return error, 2 if isinstance(exc, ValidationError) else 1
    if isinstance(exc, click.Abort | KeyboardInterrupt):
        return {"code": "aborted", "message": "interrupted"}, 130
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    if isinstance(exc, PynamoDBException):  # PynamoDB wraps botocore's errors
        if isinstance(exc.cause, BotoCoreError | ClientError):
            exc = exc.cause
        else:
            return {"code": "aws_error", "message": f"DynamoDB: {exc.cause_response_code or type(exc).__name__}"}, 1
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return {"code": "aws_error", "message": f"{exc.operation_name} failed: {code}"}, 1
    if isinstance(exc, BotoCoreError):  # no credentials, endpoint unreachable: messages name no data
        return {"code": "aws_error", "message": str(exc)}, 1
    frames = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    return {"code": "internal_error", "message": f"unexpected {type(exc).__name__}", "frames": frames[-8:]}, 1


def main(args: list[str] | None = None) -> None:
    """The `followups` entry point: run the command; on failure write `{"error": {...}}` as one
    line on stderr and exit non-zero. `--help` is text on stdout, for a person."""
    try:
        status = cli.main(args=args, prog_name="followups", standalone_mode=False)
    except (Exception, click.Abort, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure becomes JSON
        error, status = _error(exc)
        sys.stderr.write(json.dumps({"error": error}) + "\n")
        sys.stderr.flush()
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
