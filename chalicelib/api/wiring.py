"""Registers every route with Chalice from the route table; a route's module loads on its first request.

A cold start imports app.py, this module and `route_table` (a tuple of strings), not the route
modules, their pydantic models, the services or PynamoDB: each route's handler is imported the first
time the route is called, so a Lambda pays at start-up only for the routes it serves
(BENCHMARKS.md, "Cold start"). Chalice, `chalice package` and `chalice local` see the same routes
and authorizers as if every module had been imported; the media types a body may have are checked
by the route itself (`@route(accepts=...)`), so the table need not carry them.

`route_table` is generated from the modules' own `@route` decorators: `make routes` writes it and
tests/api/test_route_table.py fails when it is stale, so a route can be added or changed in one place.

`FOLLOWUPS_PRELOAD_ROUTES=on` loads every route module at start-up instead: for provisioned
concurrency or SnapStart, where start-up happens before traffic and its work is kept.

    python -m chalicelib.api.wiring --write    # regenerate chalicelib/api/route_table.py
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice import CognitoUserPoolAuthorizer

from .. import config
from .route_table import KEY_ROUTES, TABLE

if TYPE_CHECKING:  # pragma: no cover
    from chalice import Chalice

    from .routing import Handler, RouteSpec

# Chalice answers a Content-Type outside a route's `content_types` itself, with a 415 in its own
# error shape, before the view runs (for a GET too, whose default is application/json). Every
# route takes any type here, and routing.py decides: 415 `unsupported_media_type` in the
# contract's shape for a body of a type the route's `@route(accepts=...)` does not name.
CONTENT_TYPES = ["*/*"]
NOT_ROUTE_MODULES = {"auth", "integration_auth", "openapi", "route_table", "routing", "types", "wiring"}


def gateway_authorizer() -> CognitoUserPoolAuthorizer | None:
    """API Gateway's Cognito authorizer in deployed stages; off locally (Chalice's local
    emulation of it crashes on malformed headers and verifies nothing anyway). The pool ARN is
    replaced by the merge template (deploy/resources.json)."""
    if config.settings().gateway_authorizer != "cognito":
        return None
    return CognitoUserPoolAuthorizer("followups-users", provider_arns=[
        "arn:aws:cognito-idp:us-east-1:000000000000:userpool/replaced-by-merge-template"])


def register(app: Chalice) -> None:
    """Every route of the table on `app`, each with a view that loads its module when first called."""
    authorizer = gateway_authorizer()
    for method, path, module, name, authenticated in TABLE:
        options: dict[str, Any] = {"methods": [method], "name": name}
        # Routes an integration key may call are not behind the gateway's Cognito authorizer
        # (it would refuse a key): the app verifies every token and every key itself
        # (api/auth.py, api/integration_auth.py). The others keep the stricter gateway check.
        if authenticated and authorizer is not None and (method, path) not in KEY_ROUTES:
            options["authorizer"] = authorizer
        options["content_types"] = CONTENT_TYPES
        app.route(path, **options)(_deferred_view(app, method, path, module))
    if config.settings().preload_routes:
        load_all()


def _deferred_view(app: Chalice, method: str, path: str, module: str):
    def view(**path_params):
        return handler(method, path, module).view(app.current_request, **path_params)

    view.__name__ = f"deferred_{module}"
    return view


def handler(method: str, path: str, module: str) -> Handler:
    """The route's handler, importing its module if this is the route's first call. A module in
    sys.modules may still be loading in another thread (`chalice local`): only a registered
    handler counts, and importlib makes a second importer wait for the first."""
    found = _registered().get((method, path))
    if found is None:
        _import(module)
        found = _registered()[(method, path)]
    return found


def _import(module: str) -> None:
    """Import a route module, with the collector on and no gc.freeze(): a freeze pins every cyclic
    object alive at that moment for the rest of the process (in tests, moto's backends), so app.py
    freezes once, at the Lambda entry. Turning the collector off for the import no longer pays
    without the freeze: the first collection after it walks everything the import built
    (BENCHMARKS.md, "Cold start")."""
    importlib.import_module(f"{__package__}.{module}")


def _registered() -> dict[tuple[str, str], Handler]:
    routing = sys.modules.get(f"{__package__}.routing")  # not imported before the first route
    return getattr(routing, "HANDLERS", {})


@cache
def route_modules() -> tuple[str, ...]:
    """The route modules under chalicelib/api, in name order (listed once per process)."""
    package = Path(__file__).parent
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(package)]) if m.name not in NOT_ROUTE_MODULES))


@cache
def load_all() -> dict[tuple[str, str], Handler]:
    """Import every route module (the OpenAPI document, the route-table check and tests need them
    all), once per process: a module's import registers its routes, so a second pass has nothing to do."""
    for module in route_modules():
        _import(module)
    from .routing import HANDLERS  # noqa: PLC0415

    return HANDLERS


def api_routes() -> list[RouteSpec]:
    """Every API route's spec (not the console's static files), all modules loaded."""
    load_all()
    from .routing import ROUTES  # noqa: PLC0415

    return ROUTES


def render_table() -> str:
    """The text of route_table.py, from the modules' decorators."""
    handlers = load_all()
    order = {module: i for i, module in enumerate(route_modules())}
    rows = sorted(handlers.items(), key=lambda kv: (order[kv[1].module], kv[0][1], kv[0][0]))
    lines = [f"    ({', '.join(json.dumps(v) for v in (method, path, h.module, h.name))}, {h.authenticated!r}),"
             for (method, path), h in rows]
    from .routing import ROUTES  # noqa: PLC0415

    keyed = sorted((r.method, r.path) for r in ROUTES if r.scopes)
    key_lines = [f"    ({json.dumps(method)}, {json.dumps(path)})," for method, path in keyed]
    return "\n".join([
        '"""Every route: method, path, the module under chalicelib.api that serves it, the handler\'s name,',
        "and whether it needs a signed-in caller (API Gateway's Cognito authorizer in deployed stages).",
        "",
        "Generated from the routes' decorators by `make routes` (chalicelib/api/wiring.py); do not edit.",
        '"""',
        "",
        "TABLE: tuple[tuple[str, str, str, str, bool], ...] = (",
        *lines,
        ")",
        "",
        "# Routes an integration key may call (`@route(scopes=...)`): not behind the gateway's Cognito",
        "# authorizer, which would refuse a key; the app verifies tokens and keys itself.",
        "KEY_ROUTES: frozenset[tuple[str, str]] = frozenset({",
        *key_lines,
        "})",
        "",
    ])


def main(argv: list[str]) -> int:
    target = Path(__file__).with_name("route_table.py")
    text = render_table()
    if "--write" in argv:
        target.write_text(text)
        print(f"wrote {target} ({len(load_all())} routes)")
        return 0
    if target.read_text() != text:
        print(f"{target} is stale: run `make routes`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
