"""Integration keys: made by an Owner (the key shown once), listed, revoked."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..domain import integrations as keys
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.ids import new_id
from ..domain.integrations import Integration
from ..domain.roles import Caller
from ..store.uow import StaleWrite
from . import audit


def create(uow, caller: Caller, now: datetime, *, name: str, scopes: list[str]) -> tuple[Integration, str]:
    """Business rule: a key has at least one known scope; the key itself leaves only in this answer."""
    unknown = sorted(set(scopes) - set(keys.SCOPES))
    if unknown or not scopes:
        raise ValidationError("unknown or no scopes", fields={"scopes": f"one or more of {', '.join(keys.SCOPES)}"})
    key = keys.new_key()
    integration = Integration(new_id("int"), caller.clinic_id, name, tuple(s for s in keys.SCOPES if s in scopes),
                              keys.key_sha256(key), key[-4:], now, caller.actor)
    uow.integrations.add(integration)
    audit.record(uow, caller.clinic_id, caller.actor, "integration.created", now,
                 details={"integration_id": integration.integration_id, "scopes": list(integration.scopes)})
    uow.commit()
    return integration, key


def list_all(uow, caller: Caller) -> list[Integration]:
    """The clinic's active keys, newest first."""
    return sorted((i for i in uow.integrations.list(caller.clinic_id) if i.active),
                  key=lambda i: (i.created_at, i.integration_id), reverse=True)


def revoke(uow, caller: Caller, now: datetime, integration_id: str) -> Integration:
    integration = uow.integrations.get(caller.clinic_id, integration_id)
    if integration is None or not integration.active:
        raise NotFound(f"no integration {integration_id}")
    stage_revocation(uow, caller, now, integration)
    try:
        uow.commit()
    except StaleWrite as e:
        raise NotFound(f"no integration {integration_id}") from e  # revoked by someone else meanwhile
    return integration


def stage_revocation(uow, caller: Caller, now: datetime, integration: Integration) -> Integration:
    revoked = replace(integration, revoked_at=now, revoked_by=caller.actor)
    uow.integrations.save_revoked(revoked)
    audit.record(uow, caller.clinic_id, caller.actor, "integration.revoked", now,
                 details={"integration_id": integration.integration_id})
    return revoked


def stage_revoke_keys_of_member(uow, caller: Caller, now: datetime, sub: str) -> list[str]:
    """Stage (without committing) the revocation of every active key `sub` made, each with its
    audit record, so it joins the caller's transaction (a member's deactivation, issue 15).
    Returns the revoked integration ids. Each key is 3 items of the transaction."""
    staged = uow.integrations.created_by(caller.clinic_id, sub)
    if len(staged) > 20:
        raise Conflict("the member made more keys than one change revokes; revoke some first")
    return [stage_revocation(uow, caller, now, i).integration_id for i in staged]
