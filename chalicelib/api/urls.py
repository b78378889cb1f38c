"""Where clients reach this API, as the request says: the one place that builds absolute URLs."""

from __future__ import annotations

import re

from .. import config
from ..domain.errors import ValidationError

_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


def public_base_url(request, mount: str, default_host: str | None = None) -> str:
    """FOLLOWUPS_PUBLIC_URL if set, else the request's scheme and host plus whatever path prefix
    (API Gateway's stage, a custom domain's base path) comes before `mount`, the route's first
    path segment (e.g. "/calendar" for the feed URL, "/console" for the console's config)."""
    configured = config.settings().public_url
    if configured:
        return configured.rstrip("/")
    host = (request.headers.get("host") or default_host or "").strip()
    if not _HOST.match(host):
        raise ValidationError("the Host header is missing or malformed",
                              fields={"Host": "a host name and optional port"})
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else "http"
    # requestContext.path is the path the client used (with the stage behind API Gateway).
    path = (request.context or {}).get("path") or mount
    prefix = path[: path.find(mount)] if mount in path else ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"
