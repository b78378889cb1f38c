"""matrix.txt for everyone else: another clinic's Owner, no token, an expired token, a token of
another app client, an access token; and members whose token's groups disagree with their staff
record, or who were deactivated after signing in (DERIVED)."""

import pytest

from tests.authz.matrix import DERIVED, cases


@pytest.mark.parametrize("row, principal, variant",
                         cases("other_owner", "anonymous", "expired", "other_client", "access", *DERIVED))
def test_the_matrix_holds_for_outsiders_and_stale_tokens(world, row, principal, variant):
    world.check(principal, row, variant, row.expected(principal, variant))
