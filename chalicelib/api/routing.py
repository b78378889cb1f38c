"""One decorator for every route: authenticate, check the role, parse, call, map errors.

Chalice turns exceptions raised in a view into responses before any middleware sees them, so
errors are mapped here, in one table. Each route also registers a `RouteSpec`, from which
`/openapi.json` and the authorization-matrix test are generated, and its handler in `HANDLERS`,
where `wiring` finds it on the route's first request (app.py registers every route with Chalice
from the generated `route_table`, without importing this module or the route's).
"""

from __future__ import annotations

import functools
import json
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from chalice import Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from ..domain.errors import (
    Conflict,
    FollowUpsError,
    Forbidden,
    InvariantViolation,
    NotFound,
    RateLimited,
    TooManyRows,
    Unauthorized,
    Unavailable,
    ValidationError,
)
from ..domain.ids import CHILD_PREFIXES, is_patient_id, patient_of
from ..domain.roles import Caller
from ..logs import logger
from . import auth, integration_auth

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32  # nesting levels of a body; json.loads recurses once per level
JSON = "application/json"


class UnsupportedMediaType(FollowUpsError):
    """A body sent as a media type the route does not take (HTTP's concern, so defined here)."""

    code = "unsupported_media_type"


STATUS = {ValidationError: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
          UnsupportedMediaType: 415, Unavailable: 503, TooManyRows: 413, RateLimited: 429}


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    roles: frozenset[str] | None  # None: no authentication
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    content_type: str = "application/json"
    headers: tuple[str, ...] = ()
    permission: str | None = None  # checked against the grant store, before the body is read
    also_returns: tuple[str, ...] = ()  # other content types of the success response (e.g. text/csv)
    accepts: tuple[str, ...] = (JSON,)  # the media types a request body may be sent as
    scopes: tuple[str, ...] = ()  # an integration key needs one of these (none: keys get 403)
    also_status: tuple[int, ...] = ()  # other success statuses with the same body (a PUT's 200 beside its 201)


@dataclass(frozen=True)
class Handler:
    """What serves one method and path: `view(request, **path_params) -> Response`."""

    view: Callable[..., Response]
    module: str  # the module under chalicelib.api that defines it
    name: str
    authenticated: bool


ROUTES: list[RouteSpec] = []  # the API's routes, as /openapi.json describes them
HANDLERS: dict[tuple[str, str], Handler] = {}  # (method, path): every route, the console's files too


def _register(method: str, path: str, fn: Callable, view: Callable[..., Response], authenticated: bool) -> None:
    if (method, path) in HANDLERS:
        raise ValueError(f"{method} {path} is registered twice")
    HANDLERS[(method, path)] = Handler(view, fn.__module__.rsplit(".", 1)[-1], fn.__name__, authenticated)


def static_route(path: str) -> Callable:
    """A public GET that is not part of the API (the console's files): `fn(request, **path_params)`."""

    def decorator(fn: Callable) -> Callable:
        _register("GET", path, fn, fn, authenticated=False)
        return fn

    return decorator


def error_response(error: FollowUpsError) -> Response:
    status = next((code for cls, code in STATUS.items() if isinstance(error, cls)), 400)
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.fields:
        payload["fields"] = error.fields
    payload.update({k: v for k, v in error.extra().items() if k not in payload})
    headers = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="followups"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Response(body=json.dumps({"error": payload}), status_code=status, headers=headers)


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(payload), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _pydantic_fields(error: PydanticError) -> dict[str, str]:
    fields = {}
    for problem in error.errors():
        loc = ".".join(str(p) for p in problem["loc"]) or "body"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        fields.setdefault(loc, message.removeprefix("Value error, "))
    return fields


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(raw: bytes) -> int:
    """How deeply a JSON text nests arrays and objects, brackets inside strings not counted;
    linear in the text and without recursion, so it can run before json.loads (which recurses
    once per level and, some thousands deep, raises RecursionError)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_A_BRACKET)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def media_type(request) -> str:
    """The request's Content-Type without its parameters; none given reads as JSON (Chalice's
    and API Gateway's default too)."""
    value = (request.headers.get("content-type") or JSON).split(";", 1)[0].strip().lower()
    return value or JSON


def check_media_type(request, accepts: tuple[str, ...]) -> str:
    """A body sent as a type the route does not name is 415 in the contract's error shape.
    Chalice's own check is off (wiring registers every route for `*/*`): its 415 has another
    shape. A request without a body is not checked (a header alone carries nothing to misread)
    and reads as JSON, so a route with a body schema answers it "the body must be a JSON object"."""
    if not request.raw_body:
        return JSON
    kind = media_type(request)
    if kind not in accepts:
        raise UnsupportedMediaType(f"a request body here must be sent as {' or '.join(accepts)}, not {kind}",
                                   fields={"Content-Type": f"one of {', '.join(accepts)}"})
    return kind


def parse_body(raw: bytes | None, model: type[BaseModel]) -> BaseModel:
    raw = raw or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if nesting_depth(raw) > MAX_DEPTH:
        raise ValidationError(f"the body is nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError) as e:
        raise ValidationError("the body is not valid JSON") from e
    if not isinstance(document, dict):
        raise ValidationError("the body must be a JSON object")
    try:
        return model.model_validate_json(raw)
    except PydanticError as e:
        raise ValidationError("invalid request body", fields=_pydantic_fields(e)) from e


def parse_query(params: dict | None, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(params or {}))
    except PydanticError as e:
        raise ValidationError("invalid query parameters", fields=_pydantic_fields(e)) from e


def route(path: str, method: str, *, roles: frozenset[str] | None,
          body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
          response: type[BaseModel] | None = None, status: int = 200, summary: str = "",
          content_type: str = "application/json", headers: tuple[str, ...] = (),
          permission: str | None = None, also_returns: tuple[str, ...] = (),
          accepts: tuple[str, ...] = (JSON,), scopes: tuple[str, ...] = (),
          also_status: tuple[int, ...] = ()) -> Callable:
    """Register `fn(request_context, **path_params)`; `fn` returns a dict, a list or a Response.

    `permission` (e.g. "write_off") must be in `caller.permissions` (read from the grant store,
    not the token); it is checked right after the role, so a caller without it gets 403 whatever
    the body says.

    `accepts`: the media types a body may be sent as (any other is 415). `body` is parsed when it
    comes as JSON; a route that also names another type (`text/csv`) reads `ctx.media_type` and
    `ctx.request.raw_body` itself.

    `scopes`: an integration key (api/integration_auth.py) may call the route if it holds one of
    them; a route that names none is for staff only (keys get 403).
    """

    def decorator(fn: Callable) -> Callable:
        ROUTES.append(RouteSpec(path, method, roles, body, query, response, status,
                                summary or (fn.__doc__ or "").strip().split("\n")[0], content_type, headers,
                                permission, also_returns, tuple(a.lower() for a in accepts), tuple(scopes),
                                tuple(also_status)))
        accepted = ROUTES[-1].accepts

        @functools.wraps(fn)
        def view(request, **path_params):
            started = time.perf_counter()
            ctx = RequestContext(request=request)
            error_code = None
            try:
                response = serve(ctx, path_params)
            except FollowUpsError as e:
                error_code = e.code
                response = error_response(e)
            except InvariantViolation as e:
                error_code = "internal_error"
                logger.error("invariant broken", extra={"invariant": e.code, **e.ids, **_safe_exception(e)})
                response = _internal_error(request)
            except Exception as e:
                error_code = "internal_error"
                logger.error("unhandled error", extra=_safe_exception(e))
                response = _internal_error(request)
            try:
                _log_request(f"{method} {path}", ctx, path_params, response.status_code, error_code, started)
            finally:
                logger.remove_keys(["clinic_id", "sub"])
            return response

        def serve(ctx: RequestContext, path_params: dict) -> Response:
            request = ctx.request
            if roles is not None and integration_auth.is_key_header(request.headers.get("authorization")):
                ctx.caller = integration_auth.caller_for(ctx.uow, request.headers.get("authorization"), scopes, ctx.now)
                logger.append_keys(clinic_id=ctx.caller.clinic_id, sub=ctx.caller.sub)
            elif roles is not None:
                ctx.caller = auth.caller_from_header(request.headers.get("authorization"))
                logger.append_keys(clinic_id=ctx.caller.clinic_id, sub=ctx.caller.sub)
                ctx.caller = ctx.require_active_staff()
                if not ctx.caller.has_any(roles):
                    raise Forbidden(f"this needs one of the roles {', '.join(sorted(roles))}")
                if permission is not None:
                    ctx.caller = ctx.with_permissions()
                    if not ctx.caller.may(permission):
                        raise Forbidden(f"this needs the {permission} permission (an Owner, or an active "
                                        "delegation)")
            ctx.media_type = check_media_type(request, accepted)
            if body is not None and ctx.media_type == JSON:
                ctx.body = parse_body(request.raw_body, body)
            if query is not None:
                ctx.query = parse_query(request.query_params, model=query)
            result = fn(ctx, **path_params)
            return result if isinstance(result, Response) else json_response(result, status)

        _register(method, path, fn, view, authenticated=roles is not None)
        return fn

    return decorator


def _safe_exception(error: Exception) -> dict:
    """What an unhandled error may put in a log line: its type, an AWS error code, and the
    frames (file, line, function) without the message or locals, which can carry request data
    (a patient's name inside a DynamoDB error, a body inside a ValueError)."""
    code = getattr(error, "cause_response_code", None)
    response = getattr(error, "response", None)
    if code is None and isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
    frames = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(error.__traceback__)]
    return {"exception_name": type(error).__name__, "aws_error_code": code, "frames": frames[-12:]}


def request_id(request) -> str:
    """API Gateway's id of the request (what its access log shows), else the Lambda invocation's
    (`chalice local` and the test client give no gateway id)."""
    gateway = (getattr(request, "context", None) or {}).get("requestId")
    return gateway or getattr(getattr(request, "lambda_context", None), "aws_request_id", None) or ""


def patient_in(path_params: dict, body: Any, query: Any) -> str | None:
    """The patient a request is about: a `patient_id` path parameter, the patient inside a child
    id in the path (`inv_<patient>_...`), or the body's or query's `patient_id`. Only a
    well-formed id counts: a path or query can carry any text (a name typed into the URL), and
    what is not an id is not logged."""
    for value in path_params.values():
        if is_patient_id(value):
            return value
        prefix = value.split("_", 1)[0] if isinstance(value, str) else ""
        if prefix in CHILD_PREFIXES and (owner := patient_of(value, prefix)):
            return owner
    for parsed in (body, query):
        candidate = getattr(parsed, "patient_id", None)
        if is_patient_id(candidate):
            return candidate
    return None


def _log_request(route_name: str, ctx: RequestContext, path_params: dict, status: int, error_code: str | None,
                 started: float) -> None:
    """Who read or changed what (HIPAA's audit controls ask for reads too; the audit trail has
    the changes): one line per request with ids, the route's template, the status and the
    latency. The clinic and the caller's `sub` are the keys `append_keys` put on every line of
    the request. Never the body, the query string or the path as sent (any of them can carry a
    name)."""
    line: dict[str, Any] = {"route": route_name, "status": status,
                            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                            "request_id": request_id(ctx.request)}
    patient_id = patient_in(path_params, ctx.body, ctx.query)
    if patient_id is not None:
        line["patient_id"] = patient_id
    if error_code is not None:
        line["error_code"] = error_code
    logger.info("request", extra=line)


def _internal_error(request) -> Response:
    """500 with the request id the logs carry, so a report of it can be found."""
    return Response(body=json.dumps({"error": {"code": "internal_error", "message": "something went wrong on our side",
                                               "request_id": request_id(request)}}),
                    status_code=500, headers={"Content-Type": "application/json"})


def _store_unit_of_work():
    from ..store.uow import UnitOfWork  # noqa: PLC0415 - PynamoDB loads with the first route that needs it

    return UnitOfWork()


# What a request's services work through; the fast test tier puts in-memory repositories here.
unit_of_work: Callable[[], Any] = _store_unit_of_work


@dataclass
class RequestContext:
    """What a view needs: the request, the verified caller, parsed input, "now" (the one clock
    read of a request) and the unit of work its services use (made on first use)."""

    request: Any
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    caller: Caller | None = None
    media_type: str = JSON  # of the request body
    body: Any = None
    query: Any = None
    _uow: Any = None

    @property
    def uow(self):
        if self._uow is None:
            self._uow = unit_of_work()
        return self._uow

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name.lower())

    def require_active_staff(self) -> Caller:
        """A valid token is not enough: its user needs an active staff record in the clinic, and
        the record's role is the caller's role, whatever groups the token lists. Read with the
        clinic, in the same call the route's services would make for it, or from this process's
        cache of at most 60 s (`auth.STAFF`)."""
        from ..services import staff  # noqa: PLC0415 - loaded with the first authenticated route

        caller = self.caller
        member = auth.STAFF.get(caller.clinic_id, caller.sub, lambda: staff.acting_member(self.uow, caller))
        return staff.as_acting(caller, member)

    def with_permissions(self) -> Caller:
        """The caller with the permissions the store grants them now (a read: only when needed)."""
        from ..services import delegations  # noqa: PLC0415 - only routes that ask pay for the import

        return replace(self.caller, permissions=delegations.permissions_of(
            self.uow, self.caller.clinic_id, self.caller.sub, self.now))
