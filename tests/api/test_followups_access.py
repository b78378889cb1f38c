"""Every follow-up route refuses a request without a token, with a token that is not a JWT, or
with an empty Bearer: 401 before anything else.

In the moto tier because verifying the token is the point (the fast tier's fake pool does not
parse JWTs); roles and clinic isolation on these routes are tests/fast/test_followups_access.py.
"""

from __future__ import annotations

import pytest

from tests.followups_support import call, routes, their_follow_up
from tests.support import Api


@pytest.fixture
def theirs(other_clinic):
    return their_follow_up(other_clinic)


def test_every_follow_up_route_wants_a_valid_token(http, theirs):
    pid, cb = theirs
    for method, path, body in routes(pid, cb):
        for api in (Api(http, None), Api(http, "not.a.jwt"), Api(http, "Bearer")):
            r = call(api, method, path, body)
            assert r.status == 401 and r.body["error"]["code"] == "unauthorized", (method, path, r)
