"""The route table that app.py registers from, and what a cold start imports.

app.py registers every route from chalicelib/api/route_table.py without importing the route
modules; a route's module loads on its first request. These tests keep the table equal to the
modules' own decorators and check that start-up stays lean.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from chalicelib.api import route_table, wiring

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "pynamodb", "botocore", "aws_lambda_powertools", "chalicelib.store", "chalicelib.services",
         "chalicelib.api.routing")


def test_the_route_table_is_generated_from_the_routes_decorators():
    assert route_table.TABLE, "the table is empty"
    current = (ROOT / "chalicelib/api/route_table.py").read_text()
    assert current == wiring.render_table(), "chalicelib/api/route_table.py is stale: run `make routes`"


def test_the_app_serves_exactly_the_tables_routes_with_the_decorators_options():
    import app

    served = {(method, path): entry for path, methods in app.app.routes.items() for method, entry in methods.items()}
    handlers = wiring.load_all()
    assert set(served) == set(handlers) == {(m, p) for m, p, *_ in route_table.TABLE}
    for (method, path), entry in served.items():
        assert entry.view_name == handlers[(method, path)].name
        # Any type reaches the view, which answers 415 in the contract's shape (routing.check_media_type).
        assert entry.content_types == ["*/*"], f"{method} {path}"


def test_every_route_a_console_screen_asks_for_is_in_the_route_table():
    """The console hides a screen whose route a server lacks (console/api.js `has`); this build
    must lack none, so a screen that would say "not available" fails here."""
    asked = {m.group(1) for path in (ROOT / "console").glob("*.js")
             for m in re.finditer(r"""api\.has\(['"]([^'"]+)['"]\)""", path.read_text())}
    assert asked, "no api.has(...) found in console/*.js"
    def key(method: str, path: str) -> str:  # as console/api.js routeKey: parameter names do not matter
        return f"{method} {re.sub(r'{[^}]*}', '{}', path)}"

    served = {key(method, path) for method, path, *_ in route_table.TABLE}
    missing = sorted(spec for spec in asked if key(*spec.split(maxsplit=1)) not in served)
    assert missing == [], f"console screens ask for routes this app does not register: {missing}"


def _run(code: str, **env: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


LOADED = """
import json, sys
def loaded(prefixes):
    return sorted({m for m in sys.modules for p in prefixes if m == p or m.startswith(p + ".")})
"""


def test_a_cold_start_imports_no_route_module_pydantic_or_pynamodb():
    seen = _run(LOADED + f"import app\nprint(json.dumps({{'heavy': loaded({HEAVY!r}), "
                         "'api': loaded(['chalicelib.api'])}))")
    assert seen["heavy"] == []
    assert seen["api"] == ["chalicelib.api", "chalicelib.api.route_table", "chalicelib.api.wiring"]


def test_preloading_loads_every_route_module_at_start_up():
    seen = _run(LOADED + "import app\nprint(json.dumps({'api': loaded(['chalicelib.api'])}))",
                FOLLOWUPS_PRELOAD_ROUTES="on")
    assert {"chalicelib.api." + m for m in wiring.route_modules()} <= set(seen["api"])


def test_a_route_loads_only_its_own_module_on_its_first_request():
    code = LOADED + """
from chalice.test import Client
import app
with Client(app.app) as client:
    first = client.http.get("/health")
    second = client.http.get("/health")
print(json.dumps({"status": [first.status_code, second.status_code], "body": first.json_body,
                  "api": loaded(["chalicelib.api"]), "services": loaded(["chalicelib.services"])}))
"""
    seen = _run(code)
    assert seen["status"] == [200, 200] and seen["body"] == {"status": "ok"}
    routes = {"chalicelib.api." + m for m in wiring.route_modules()}
    assert set(seen["api"]) & routes == {"chalicelib.api.system"}
    assert seen["services"] == []


def test_concurrent_first_requests_each_find_their_handler():
    code = LOADED + """
import threading
import app
from chalicelib.api import route_table, wiring
rows = [r for r in route_table.TABLE if r[2] in ("followups", "patients")] * 3
barrier = threading.Barrier(len(rows))
found, errors = [], []
def first_call(method, path, module):
    barrier.wait()
    try:
        found.append(wiring.handler(method, path, module).name)
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=first_call, args=r[:3]) for r in rows]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"found": sorted(found), "expected": sorted(r[3] for r in rows), "errors": errors}))
"""
    seen = _run(code)
    assert seen["errors"] == []
    assert seen["found"] == seen["expected"]


def test_deployed_stages_put_the_authorizer_on_exactly_the_authenticated_routes_keys_may_not_call():
    code = """
import json
import app
print(json.dumps([[m, p, e.authorizer is not None] for p, ms in app.app.routes.items() for m, e in ms.items()]))
"""
    deployed = {(m, p): a for m, p, a in _run(code, FOLLOWUPS_GATEWAY_AUTHORIZER="cognito")}
    local = {(m, p): a for m, p, a in _run(code, FOLLOWUPS_GATEWAY_AUTHORIZER="off")}
    assert deployed == {(m, p): authenticated and (m, p) not in route_table.KEY_ROUTES
                        for m, p, _, _, authenticated in route_table.TABLE}
    assert not any(local.values())


# gc.freeze() pins every cyclic object alive at that moment for the rest of the process: only the
# Lambda runtime's start-up may do it, once. Fresh processes, so that a route module is still unloaded.
COUNT_FREEZES = """
import gc, importlib, json
freezes, imported = [], []
real_freeze, real_import = gc.freeze, importlib.import_module
gc.freeze = lambda: freezes.append(1) or real_freeze()
def counting_import(name, *args, **kwargs):
    if name.startswith("chalicelib.api."):
        imported.append(name)
    return real_import(name, *args, **kwargs)
importlib.import_module = counting_import
"""


def test_loading_routes_lazily_or_all_at_once_never_freezes_the_collector():
    code = COUNT_FREEZES + """
import app
from chalicelib.api import wiring
at_start = len(freezes)
wiring.handler("GET", "/health", "system")
first = len(imported)
handlers = wiring.load_all()
second = len(imported)
again = wiring.load_all()
print(json.dumps({"freezes": [at_start, len(freezes)], "lazy": imported[:first],
                  "imports": [second - first, len(imported) - second], "same": again is handlers,
                  "gc_enabled": gc.isenabled()}))
"""
    seen = _run(code)
    assert seen["freezes"] == [0, 0]
    assert seen["lazy"] == ["chalicelib.api.system"]
    assert seen["imports"] == [len(wiring.route_modules()), 0], "the second load_all() imported again"
    assert seen["same"] and seen["gc_enabled"]


def test_app_freezes_the_collector_once_when_the_lambda_runtime_starts_it_and_never_elsewhere():
    code = COUNT_FREEZES + """
import app
at_import = len(freezes)
from chalicelib.api import wiring
wiring.handler("GET", "/health", "system")
wiring.load_all()
print(json.dumps({"at_import": at_import, "after_routes": len(freezes), "frozen": gc.get_freeze_count() > 0}))
"""
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "followups-prod-APIHandler-X"}
    assert _run(code, **lambda_env) == {"at_import": 1, "after_routes": 1, "frozen": True}
    assert _run(code) == {"at_import": 0, "after_routes": 0, "frozen": False}
    # `chalice local` and `chalice package` say so, even with a stage that names a function.
    assert _run(code, AWS_CHALICE_CLI_MODE="true", **lambda_env)["after_routes"] == 0
    assert _run(code, FOLLOWUPS_PRELOAD_ROUTES="on", **lambda_env)["after_routes"] == 1
