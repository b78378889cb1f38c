"""The audit tests' clinic for both tiers: a trail of invoices, payments and a write-off, made
through the routes (so by either tier's `make_clinic` world)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain import clock


def busy_trail(world):
    """`world` (a fresh ClinicWorld) with two patients, Ann and Bob (`world.ann`, `world.bob`), three
    invoices each, three payments of Ann's and a write-off of Bob's."""
    today = clock.local_date(datetime.now(UTC), world.timezone).isoformat()
    world.ann, world.bob = world.patient("Ann"), world.patient("Bob")
    for n in range(3):
        world.invoice(world.ann, 1_000 + n, today)
        world.invoice(world.bob, 2_000 + n, today)
        assert world.pay(world.ann, 100).status == 201
    assert world.owner.post(f"/follow-ups/{world.bob}/write-off", {"reason": "audit test"}).status == 200
    return world
