"""The web console's static files and its config.json, served by the API itself (public, no auth).

The console is plain files under `console/` (ES modules, CSS, no build step). These routes serve a
fixed allow-list of them with their content types, so `make run` has a console at
`{api_url}/console/` on the same origin as the API. They are not API routes: they are not in
`routing.ROUTES` nor in `/openapi.json`; `STATIC_ROUTES` lists them (as `RouteSpec`s with
`roles=None`) so a route matrix can tell that they are public static files on purpose.

In production the same files can be uploaded to S3/CloudFront with a `config.json` beside them
(see README "Console"); a Lambda package does not contain `console/`, so there these routes answer 404.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from chalice import Response

from .. import config
from ..domain.errors import FollowUpsError, NotFound
from .routing import RouteSpec, error_response, static_route
from .urls import public_base_url

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"

_JS = "text/javascript; charset=utf-8"
# Every file the console is made of; anything else under /console/ is 404 (no path is ever
# built from the request beyond a name in this table).
FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "styles.css": "text/css; charset=utf-8",
    "app.js": _JS,
    "api.js": _JS,
    "auth.js": _JS,
    "dom.js": _JS,
    "format.js": _JS,
    "schedule.js": _JS,
    "contact.js": _JS,
    "worklist.js": _JS,
    "patient.js": _JS,
    "dashboard.js": _JS,
    "reports.js": _JS,
    "team.js": _JS,
    "corrections.js": _JS,
    "signin.js": _JS,
    "mfa.js": _JS,
    "qrcodegen.js": _JS,
    "integrations.js": _JS,
    "webhooks.js": _JS,
    "imports.js": _JS,
    "search.js": _JS,
    "patient_edit.js": _JS,
    "icon.svg": "image/svg+xml",
}

STATIC_ROUTES: list[RouteSpec] = [
    RouteSpec("/console", "GET", None, None, None, None, 200, "The console's page (index.html)",
              content_type="text/html"),
    RouteSpec("/console/config.json", "GET", None, None, None, None, 200,
              "Where the console finds the API and Cognito", content_type="application/json"),
    RouteSpec("/console/{name}", "GET", None, None, None, None, 200, "One of the console's files (allow-list)",
              content_type="text/plain"),
]




def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def api_base_url(request) -> str:
    """The API as the browser reached it (the prefix before /console is API Gateway's stage)."""
    return public_base_url(request, "/console", default_host="127.0.0.1")


def cognito_endpoint() -> str:
    """Where the browser calls InitiateAuth: the embedded AWS locally, Cognito's regional endpoint on AWS."""
    s = config.settings()
    return (s.aws_endpoint_url or f"https://cognito-idp.{s.region}.amazonaws.com").rstrip("/") + "/"


def console_config(request) -> dict:
    s = config.settings()
    return {"api_url": api_base_url(request), "cognito_endpoint": cognito_endpoint(), "region": s.region,
            "user_pool_id": s.user_pool_id, "user_pool_client_id": s.user_pool_client_id,
            "password_policy": s.password_policy, "session_check_seconds": config.console_check_seconds()}


def _security_headers(request, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}
    if content_type.startswith("text/html"):
        # The page may talk to its own origin, the API and Cognito, and load nothing from elsewhere.
        connect = " ".join(sorted({"'self'", _origin(api_base_url(request)), _origin(cognito_endpoint())}))
        headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src {connect}; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        headers["X-Frame-Options"] = "DENY"
    return headers


def _file(request, name: str) -> Response:
    content_type = FILES.get(name)
    path = CONSOLE_DIR / name
    if content_type is None or not path.is_file():
        return error_response(NotFound("no such console file"))
    try:
        headers = _security_headers(request, content_type)
    except FollowUpsError as e:
        return error_response(e)
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


@static_route("/console")
def console_index(request) -> Response:
    """index.html at /console/; /console (no slash) redirects there so relative module paths resolve."""
    path = (request.context or {}).get("path") or "/console/"
    if not path.endswith("/"):
        return Response(body="", status_code=302, headers={"Location": f"{path}/", "Cache-Control": "no-cache"})
    return _file(request, "index.html")


@static_route("/console/config.json")
def console_config_file(request) -> Response:
    try:
        return Response(body=json.dumps(console_config(request)), status_code=200,
                        headers=_security_headers(request, "application/json"))
    except FollowUpsError as e:
        return error_response(e)


@static_route("/console/{name}")
def console_file(request, name: str) -> Response:
    return _file(request, name)
