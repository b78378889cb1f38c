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
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
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
    Unauthorized,
    ValidationError,
)
from ..domain.roles import Caller
from ..logs import logger
from . import auth

MAX_BODY_BYTES = 64 * 1024

STATUS = {ValidationError: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409}


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
    headers = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="followups"'
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


def parse_body(raw: bytes | None, model: type[BaseModel]) -> BaseModel:
    raw = raw or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationError(f"the body is larger than {MAX_BODY_BYTES} bytes")
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
          permission: str | None = None, also_returns: tuple[str, ...] = ()) -> Callable:
    """Register `fn(request_context, **path_params)`; `fn` returns a dict, a list or a Response.

    `permission` (e.g. "write_off") must be in `caller.permissions` (read from the grant store,
    not the token); it is checked right after the role, so a caller without it gets 403 whatever
    the body says.
    """

    def decorator(fn: Callable) -> Callable:
        ROUTES.append(RouteSpec(path, method, roles, body, query, response, status,
                                summary or (fn.__doc__ or "").strip().split("\n")[0], content_type, headers,
                                permission, also_returns))

        @functools.wraps(fn)
        def view(request, **path_params):
            try:
                ctx = RequestContext(request=request)
                if roles is not None:
                    ctx.caller = auth.caller_from_header(request.headers.get("authorization"))
                    logger.append_keys(clinic_id=ctx.caller.clinic_id, sub=ctx.caller.sub)
                    if not ctx.caller.has_any(roles):
                        raise Forbidden(f"this needs one of the roles {', '.join(sorted(roles))}")
                    ctx.require_active_staff()
                    if permission is not None:
                        ctx.caller = ctx.with_permissions()
                        if not ctx.caller.may(permission):
                            raise Forbidden(f"this needs the {permission} permission (an Owner, or an active "
                                            "delegation)")
                if body is not None:
                    ctx.body = parse_body(request.raw_body, body)
                if query is not None:
                    ctx.query = parse_query(request.query_params, model=query)
                result = fn(ctx, **path_params)
            except FollowUpsError as e:
                logger.info("request refused", extra={"status_code": STATUS.get(type(e), 400),
                                                      "error_code": e.code})
                return error_response(e)
            except InvariantViolation as e:
                logger.error("invariant broken", extra={"invariant": e.code, **e.ids, **_safe_exception(e)})
                return _internal_error(request)
            except Exception as e:
                logger.error("unhandled error", extra=_safe_exception(e))
                return _internal_error(request)
            finally:
                logger.remove_keys(["clinic_id", "sub"])
            if isinstance(result, Response):
                return result
            return json_response(result, status)

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


def _internal_error(request) -> Response:
    """500 with the request id the logs carry, so a report of it can be found."""
    request_id = ((getattr(request, "context", None) or {}).get("requestId")) or ""
    return Response(body=json.dumps({"error": {"code": "internal_error", "message": "something went wrong on our side",
                                               "request_id": request_id}}),
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

    def require_active_staff(self) -> None:
        """A valid token is not enough: its user needs an active staff record in the clinic (read
        with the clinic, in the same call the route's services would make for it)."""
        from ..services import staff  # noqa: PLC0415 - loaded with the first authenticated route

        staff.require_active(self.uow, self.caller)

    def with_permissions(self) -> Caller:
        """The caller with the permissions the store grants them now (a read: only when needed)."""
        from ..services import delegations  # noqa: PLC0415 - only routes that ask pay for the import

        return replace(self.caller, permissions=delegations.permissions_of(
            self.uow, self.caller.clinic_id, self.caller.sub, self.now))
