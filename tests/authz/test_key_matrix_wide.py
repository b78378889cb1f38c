"""key_matrix.txt for keys with every scope: clinic A's, clinic B's (k_other) and a revoked one."""

import pytest

from tests.authz.matrix import key_cases


@pytest.mark.parametrize("row, principal, variant", key_cases("k_all", "k_other", "k_revoked"))
def test_the_key_matrix_holds_for_keys_with_every_scope(keyed_world, row, principal, variant):
    keyed_world.check(principal, row, variant, row.expected(principal, variant))
