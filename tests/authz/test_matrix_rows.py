"""The matrices themselves: a row for every registered route and a request builder for every row."""

from chalicelib.api.wiring import api_routes
from tests.authz.matrix import BUILDERS, KEY_ROWS, ROWS, registered


def test_every_registered_route_has_a_row_and_every_row_a_route_and_a_request_builder():
    rows = {(row.method, row.path) for row in ROWS}
    assert len(rows) == len(ROWS), "a route has two rows"
    assert registered() - rows == set(), "routes without a row in tests/authz/matrix.txt"
    assert rows - registered() == set(), "rows of tests/authz/matrix.txt for routes the app does not register"
    assert rows - set(BUILDERS) == set(), "rows without a request builder in tests/authz/matrix.py"


def test_the_unauthenticated_kinds_are_refused_on_every_route_that_needs_a_token():
    authenticated = {(r.method, r.path) for r in api_routes() if r.roles is not None}
    for row in ROWS:
        if (row.method, row.path) in authenticated:
            assert {row.own[p] for p in ("anonymous", "expired", "other_client", "access")} == {401}, row
        else:
            assert len(set(row.own.values())) == 1, f"a public route answers everyone alike: {row}"


def test_every_key_matrix_row_names_a_route():
    assert set(KEY_ROWS) - registered() == set(), "rows of tests/authz/key_matrix.txt for routes the app lacks"
