"""The console's files: served from a fixed allow-list with their types, public, outside the API's
OpenAPI document, and with a config.json that tells the browser where the API and Cognito are."""

from __future__ import annotations

import pytest

from chalicelib.api import console
from chalicelib.domain.errors import ValidationError
from tests.support import Api


@pytest.fixture
def anonymous(http):
    return Api(http, None)


def test_every_file_in_the_console_folder_is_on_the_allow_list_and_every_listed_file_exists():
    on_disk = {p.name for p in console.CONSOLE_DIR.iterdir() if p.is_file()}
    assert on_disk == set(console.FILES)


@pytest.mark.parametrize("name", sorted(console.FILES))
def test_each_console_file_is_served_with_its_content_type_and_no_sniffing(anonymous, name):
    r = anonymous.get(f"/console/{name}")
    assert r.status == 200
    assert r.headers["Content-Type"] == console.FILES[name]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.text == (console.CONSOLE_DIR / name).read_text(encoding="utf-8")


def test_the_console_page_is_index_html_with_a_policy_that_allows_only_the_api_and_cognito(anonymous, aws):
    r = anonymous.get("/console/", headers={"Host": "console.example.test"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<title>Clinic Follow-ups</title>" in r.text
    policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    connect = next(part for part in policy.split(";") if part.strip().startswith("connect-src")).split()[1:]
    assert set(connect) == {"'self'", "http://console.example.test", "https://cognito-idp.us-east-1.amazonaws.com"}


def test_the_console_without_its_slash_redirects_so_relative_module_paths_resolve(anonymous):
    r = anonymous.get("/console")
    assert r.status == 302 and r.headers["Location"] == "/console/"


@pytest.mark.parametrize("name", ["app.py", "..%2Fapp.py", "%2e%2e", ".env", "index.htm", "config.py", "README.md"])
def test_anything_off_the_allow_list_is_not_found(anonymous, name):
    r = anonymous.get(f"/console/{name}")
    assert r.status == 404 and r.body["error"]["code"] == "not_found"


def test_config_json_names_the_api_as_the_browser_reached_it_and_the_pool_client(anonymous, aws):
    r = anonymous.get("/console/config.json", headers={"Host": "clinic.example.test:8443",
                                                       "X-Forwarded-Proto": "https"})
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert r.body == {"api_url": "https://clinic.example.test:8443",
                      "cognito_endpoint": "https://cognito-idp.us-east-1.amazonaws.com/",
                      "region": "us-east-1", "user_pool_id": aws["pool_id"], "user_pool_client_id": aws["client_id"],
                      # the first sign-in shows and checks the pool's rules; an open console asks
                      # the API this often whether its user may still act
                      "password_policy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                          "RequireNumbers": True, "RequireSymbols": True},
                      "session_check_seconds": 25.0}


class _Request:
    def __init__(self, headers: dict, path: str):
        self.headers, self.context = headers, {"path": path}


def test_behind_api_gateway_the_stage_prefix_is_part_of_the_api_url():
    request = _Request({"host": "abc.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"},
                       "/api/console/config.json")
    assert console.api_base_url(request) == "https://abc.execute-api.us-east-1.amazonaws.com/api"


@pytest.mark.parametrize("host", ["evil.test/path?x=", "a b", "x\r\nSet-Cookie: y", "<script>"])
def test_a_malformed_host_is_refused_rather_than_echoed_into_the_config(anonymous, host):
    r = anonymous.get("/console/config.json", headers={"Host": host})
    assert r.status == 400 and r.body["error"]["code"] == "validation_error"
    with pytest.raises(ValidationError):
        console.api_base_url(_Request({"host": host}, "/console/config.json"))


def test_an_unknown_forwarded_scheme_is_ignored():
    assert console.api_base_url(_Request({"host": "ok.test", "x-forwarded-proto": "javascript"}, "/console/")) == (
        "http://ok.test")


def test_the_console_routes_are_public_static_files_and_not_part_of_the_api_document(anonymous):
    from chalicelib.api.wiring import api_routes

    static = {(spec.path, spec.method) for spec in console.STATIC_ROUTES}
    assert static == {("/console", "GET"), ("/console/config.json", "GET"), ("/console/{name}", "GET")}
    assert all(spec.roles is None for spec in console.STATIC_ROUTES)
    assert not static & {(spec.path, spec.method) for spec in api_routes()}
    paths = anonymous.get("/openapi.json").body["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_every_route_the_app_serves_is_either_an_api_route_or_a_static_console_route():
    from app import app
    from chalicelib.api.wiring import api_routes

    known = {(s.path, s.method) for s in api_routes()} | {(s.path, s.method) for s in console.STATIC_ROUTES}
    served = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert served == known
