"""matrix.txt for clinic A's own staff: Owner, Admin, Billing Staff and a delegate of write-offs."""

import time

import pytest

from chalicelib.api import auth
from tests.authz.matrix import Call, cases
from tests.support import Api


@pytest.mark.parametrize("row, principal, variant", cases("owner", "admin", "billing", "delegate"))
def test_the_matrix_holds_for_the_clinics_staff(world, row, principal, variant):
    world.check(principal, row, variant, row.expected(principal, variant))


def test_the_expired_principal_holds_a_token_that_was_valid(world):
    """The 401s of `expired` come from the clock alone: the same token works now."""
    assert Api(world.a.http, world.tokens["expired"]).get("/me").status == 200
    assert world.send("expired", Call("GET", "/me")).status == 401
    assert time.time() < auth.clock() + 1  # the patch did not leak
