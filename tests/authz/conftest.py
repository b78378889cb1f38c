"""Each matrix module gets its own in-process moto (the `aws` fixture is per module) and its own
world of two clinics, their staff and their tokens."""

import pytest

from tests.authz.matrix import World, make_keys, make_world


@pytest.fixture(scope="module")
def world(http, aws) -> World:
    return make_world(http, aws)


@pytest.fixture(scope="module")
def keyed_world(world) -> World:
    """The world, with one integration key per column of key_matrix.txt among its tokens."""
    make_keys(world)
    return world
