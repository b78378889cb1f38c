"""key_matrix.txt for keys with one job each: read patients; a practice-management system's
writes; follow-ups and reports; imports."""

import pytest

from tests.authz.matrix import key_cases


@pytest.mark.parametrize("row, principal, variant", key_cases("k_read", "k_pms", "k_followups", "k_import"))
def test_the_key_matrix_holds_for_narrow_keys(keyed_world, row, principal, variant):
    keyed_world.check(principal, row, variant, row.expected(principal, variant))
