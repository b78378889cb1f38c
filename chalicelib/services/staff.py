"""Staff: the clinic's team. The staff record is the one source of a member's role and status
(who may act, and as what); the user pool's groups and enabled flag mirror it.

Every change here is record-first: the record (with its audit) commits in one transaction, then
the user pool is brought to match it (`cognito.mirror`), then the follow-on work (a leaver's
callbacks). Each step is safe to repeat, so the same request sent again after any failure
converges; until the pool matches, the record already decides (a deactivated member's tokens are
refused whatever Cognito says)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .. import config
from ..domain import clock, roles
from ..domain.errors import Conflict, Forbidden, LastOwner, NotFound, Unauthorized, Unavailable, ValidationError
from ..domain.roles import OWNER, SYSTEM, Caller
from ..domain.team import (
    ACTIVE,
    INACTIVE,
    PENDING,
    Enrolment,
    StaffMember,
    may_act,
    may_deactivate,
    other_active_owners,
)
from ..logs import logger
from ..store import cognito
from ..store.uow import MAX_ITEMS, StaleWrite
from . import audit, integrations

REASSIGN_BATCH = (MAX_ITEMS - 2) // 2  # a callback and its audit entry each, in one transaction


def list_members(uow, clinic_id: str, *, include_inactive: bool = False) -> list[StaffMember]:
    """The clinic's members, active ones only unless asked (`GET /staff?status=all`)."""
    return [m for m in uow.staff.list(clinic_id) if include_inactive or m.is_active]


def require_member(uow, clinic_id: str, sub: str, field: str) -> StaffMember:
    """A body that names a person must name active staff of this clinic (else 400, not 404): a
    deactivated member takes no new callback or delegation."""
    member = uow.staff.get(clinic_id, sub) if isinstance(sub, str) and sub else None
    if member is None:
        raise ValidationError(f"{field} is not staff of this clinic", fields={field: "not staff of this clinic"})
    if not member.is_active:
        raise ValidationError(f"{field} is a deactivated member", fields={field: "not an active staff member"})
    return member


def acting_member(uow, caller: Caller) -> StaffMember | None:
    """The caller's staff record, read with the clinic in one call, which the request's services
    then use (see `ClinicRepository.get_with_member`)."""
    _, member = uow.clinics.get_with_member(caller.clinic_id, caller.sub)
    return member


def as_acting(caller: Caller, member: StaffMember | None) -> Caller:
    """Business rule: a token acts with its staff record's role, whatever groups it lists; a
    deactivated member's tokens are refused (401: they are signed out); a user whose creation
    never finished, or who has no record, does nothing (403)."""
    if member is not None and member.status == INACTIVE:
        raise Unauthorized("this account was deactivated")
    if not may_act(member):
        raise Forbidden("you are not an active staff member of this clinic")
    return replace(caller, roles=frozenset({member.role}))


def _existing_email(email: str) -> Conflict:
    return Conflict(f"a staff member with the email {email} already exists")


def create(uow, clinic_id: str, now: datetime, *, email: str, name: str, role: str, actor: str = SYSTEM,
           actor_roles: frozenset[str] | None = None, password: str | None = None) -> StaffMember:
    """Business rule: only an Owner makes Owners; an email is one member of a clinic.

    Cognito is outside the transaction, so creation takes three steps, each safe to crash after:
    1. a pending enrolment keyed by the email, with its audit (`staff.pending`), in one transaction;
    2. the user pool's user, created, or adopted when an earlier attempt in this clinic left one,
       in exactly the role's group (and with `password`, for the CLI);
    3. activation: the member's record with the user's `sub` and the enrolment made active, with
       `staff.created`, in one transaction.
    Until step 3 commits the user holds nothing (`require_active`); the same request sent again
    finds the pending enrolment and carries on from there instead of answering 409."""
    if role not in roles.ROLES:
        raise ValidationError(f"unknown role {role!r}", fields={"role": f"one of {', '.join(roles.ROLES)}"})
    if not roles.may_create_role(actor_roles, role):
        raise Forbidden("only an Owner can create another Owner")
    email = email.strip().lower()
    pool_id = config.settings().user_pool_id
    enrolment = uow.staff.enrolment(clinic_id, email)
    if enrolment is not None and enrolment.status != PENDING:
        raise _existing_email(email)
    # Look before writing anything, so a refusal changes nothing: the email of another clinic's
    # user, or of a member recorded before enrolments existed.
    user = cognito.find_user(pool_id=pool_id, email=email)
    if user is not None and (user.clinic_id != clinic_id or uow.staff.get(clinic_id, user.sub, consistent=True)):
        raise _existing_email(email)
    enrolment = _begin(uow, clinic_id, now, enrolment, email=email, name=name, role=role, actor=actor)
    sub = cognito.ensure_user(pool_id=pool_id, clinic_id=clinic_id, email=email, name=name, role=role,
                              password=password, existing=user)
    return _activate(uow, clinic_id, now, enrolment, sub, actor)


def _begin(uow, clinic_id: str, now: datetime, found: Enrolment | None, *, email: str, name: str, role: str,
           actor: str) -> Enrolment:
    if found is not None and found.asks_for(name, role):
        return found  # a retry of the same request: step 1 is done
    enrolment = Enrolment(email, name, role, PENDING, now.isoformat(), actor)
    uow.staff.begin_enrolment(clinic_id, enrolment, replaces=found)
    audit.record(uow, clinic_id, actor, "staff.pending", now, details={"role": role})
    try:
        uow.commit()
    except StaleWrite as e:  # another request for this email got there first
        raise Conflict(f"a staff member with the email {email} is being created; try again") from e
    return enrolment


def _activate(uow, clinic_id: str, now: datetime, enrolment: Enrolment, sub: str, actor: str) -> StaffMember:
    member = StaffMember(sub, enrolment.email, enrolment.name, enrolment.role, now.isoformat(), ACTIVE)
    uow.staff.activate(clinic_id, replace(enrolment, status=ACTIVE, sub=sub), member)
    audit.record(uow, clinic_id, actor, "staff.created", now, details={"sub": sub, "role": member.role})
    try:
        uow.commit()
    except StaleWrite as e:  # a concurrent request activated it (or changed what it asks for)
        raise _existing_email(enrolment.email) from e
    return member


# ----- changing a member: role and name, deactivation, reactivation --------------------------------
@dataclass(frozen=True)
class Deactivation:
    member: StaffMember
    callbacks_reassigned: int


def _acting_record(uow, caller: Caller) -> StaffMember:
    """The caller as the store says now (strongly consistent), to be checked again at commit."""
    member = uow.staff.get(caller.clinic_id, caller.sub, consistent=True)
    if not may_act(member):
        raise Forbidden("you are not an active staff member of this clinic")
    return member


def _target(uow, clinic_id: str, sub: str) -> StaffMember:
    member = uow.staff.get(clinic_id, sub, consistent=True) if isinstance(sub, str) and 0 < len(sub) <= 128 else None
    if member is None:
        raise NotFound(f"no staff member {sub}")
    return member


def _keep_an_owner(uow, clinic_id: str, target: StaffMember, actor: StaffMember) -> None:
    """Business rule: a clinic keeps at least one active Owner. When `target` (an active Owner)
    stops being one, another active Owner must still be one at commit (the actor, if they are)."""
    if not (target.is_active and target.role == OWNER):
        return
    others = other_active_owners(uow.staff.list(clinic_id), target.sub)
    others.sort(key=lambda m: m.sub != actor.sub)  # the actor first: their record is checked anyway
    if not others:
        raise LastOwner("this is the clinic's last active Owner; make someone else an Owner first")
    if others[0].sub != actor.sub:
        uow.staff.require_unchanged(clinic_id, others[0], label="owner")


def _mirror(member: StaffMember, *, status_changed: bool = True) -> None:
    """Bring the user pool to what the record says (its enabled flag only when the status is what
    changed); a failure is 503 and the same request again finishes it."""
    try:
        cognito.mirror(pool_id=config.settings().user_pool_id, username=member.email, role=member.role,
                       active=member.is_active if status_changed else None)
    except Unavailable:
        logger.warning("user pool not updated yet", extra={"staff_sub": member.sub})
        raise


def update(uow, caller: Caller, now: datetime, sub: str, *, role: str | None = None,
           name: str | None = None) -> StaffMember:
    """Business rule: only an Owner changes roles and names; the last active Owner is not demoted.
    A request that changes nothing (a retry) still brings the user pool's group in line."""
    if role is not None and role not in roles.ROLES:
        raise ValidationError(f"unknown role {role!r}", fields={"role": f"one of {', '.join(roles.ROLES)}"})
    clinic_id = caller.clinic_id

    def attempt() -> StaffMember:
        actor = _acting_record(uow, caller)
        if actor.role != OWNER:
            raise Forbidden("only an Owner changes staff members")
        target = _target(uow, clinic_id, sub)
        changed = replace(target, role=role or target.role, name=name if name is not None else target.name)
        if changed == target:
            return target
        if changed.role != target.role:
            _keep_an_owner(uow, clinic_id, target, actor)
        uow.staff.save(clinic_id, changed, was=target)
        if actor.sub != target.sub:
            uow.staff.require_unchanged(clinic_id, actor, label="actor")
        details = {"sub": sub}
        if changed.role != target.role:
            details.update(role=changed.role, previous_role=target.role)
        if changed.name != target.name:
            details["name_changed"] = True  # names stay out of the audit details (they leave in exports)
        audit.record(uow, clinic_id, caller.actor, "staff.updated", now, details=details)
        uow.commit()
        return changed

    member = uow.retrying(attempt)
    _mirror(member, status_changed=False)
    return member


def deactivate(uow, caller: Caller, now: datetime, sub: str, *, reassign_to: str | None = None) -> Deactivation:
    """Business rule: an Owner deactivates anyone, an Admin BillingStaff members; nobody
    deactivates themselves or the last active Owner. The member's delegations are revoked with the
    record change; then the user pool disables them and signs them out everywhere; then their
    scheduled callbacks go to `reassign_to` (an active member; default the caller). Deactivating
    someone already inactive does the steps a failure may have left undone (a retry)."""
    clinic_id = caller.clinic_id
    if sub == caller.sub:
        raise Conflict("you cannot deactivate yourself")
    heir_sub = reassign_to if reassign_to is not None else caller.sub

    def attempt() -> tuple[StaffMember, StaffMember]:
        actor = _acting_record(uow, caller)
        target = _target(uow, clinic_id, sub)
        if not may_deactivate(actor.role, target.role):
            raise Forbidden("an Admin deactivates BillingStaff members only; an Owner anyone")
        heir = actor if heir_sub == actor.sub else _heir(uow, clinic_id, heir_sub, sub)
        if not target.is_active:
            return target, heir
        _keep_an_owner(uow, clinic_id, target, actor)
        leaver = replace(target, status=INACTIVE)
        uow.staff.save(clinic_id, leaver, was=target)
        uow.staff.require_unchanged(clinic_id, actor, label="actor")
        if heir.sub != actor.sub:
            uow.staff.require_unchanged(clinic_id, heir, label="reassign_to")
        revoked = []
        for grant in uow.delegations.active(clinic_id, now, sub):
            grant.revoked_at, grant.revoked_by = now, caller.actor
            uow.delegations.save_revoked(clinic_id, grant)
            audit.record(uow, clinic_id, caller.actor, "delegation.revoked", now,
                         details={"delegation_id": grant.delegation_id, "grantee_sub": sub,
                                  "permission": grant.permission, "was_expired": False})
            revoked.append(grant.delegation_id)
        # The integration keys this member created stop with the record, in this same transaction.
        keys_revoked = integrations.stage_revoke_keys_of_member(uow, caller, now, sub)
        audit.record(uow, clinic_id, caller.actor, "staff.deactivated", now,
                     details={"sub": sub, "role": target.role, "reassign_to": heir.sub,
                              "delegations_revoked": revoked, "integrations_revoked": keys_revoked})
        uow.commit()
        return leaver, heir

    leaver, heir = uow.retrying(attempt)
    _mirror(leaver)
    moved = _reassign_callbacks(uow, caller, now, leaver, heir)
    logger.info("staff deactivated", extra={"staff_sub": sub, "callbacks_reassigned": moved})
    return Deactivation(leaver, moved)


def _heir(uow, clinic_id: str, heir_sub: str, leaver_sub: str) -> StaffMember:
    """Business rule: the leaver's callbacks go to another active member of the clinic."""
    if heir_sub == leaver_sub:
        raise ValidationError("reassign_to is the member being deactivated",
                              fields={"reassign_to": "must be another active member"})
    heir = uow.staff.get(clinic_id, heir_sub, consistent=True) if heir_sub else None
    if heir is None or not heir.is_active:
        raise ValidationError("reassign_to is not an active member of this clinic",
                              fields={"reassign_to": "not an active member of this clinic"})
    return heir


def _reassign_callbacks(uow, caller: Caller, now: datetime, leaver: StaffMember, heir: StaffMember) -> int:
    """Move every scheduled callback of `leaver` to `heir`, in transactions of REASSIGN_BATCH
    callbacks, each with its `callback.updated` entry. A callback that changed meanwhile (done,
    rescheduled, already moved: the index is read eventually consistent) is read again from its
    patient and skipped if it is no longer the leaver's to move. Safe to run again."""
    clinic_id, moved = caller.clinic_id, 0
    due = uow.contacts.scheduled_for(clinic_id, leaver.sub)
    for start in range(0, len(due), REASSIGN_BATCH):
        batch = due[start:start + REASSIGN_BATCH]
        try:
            moved += _move(uow, caller, now, batch, heir)
        except StaleWrite:
            uow.discard()
            for callback in batch:
                moved += uow.retrying(lambda c=callback: _move_fresh(uow, caller, now, c, leaver, heir))
    return moved


def _move(uow, caller: Caller, now: datetime, callbacks: list, heir: StaffMember) -> int:
    for callback in callbacks:
        uow.contacts.reassign_callback(caller.clinic_id, callback, heir.sub, now)
        audit.record(uow, caller.clinic_id, caller.actor, "callback.updated", now, patient_id=callback.patient_id,
                     details={"callback_id": callback.callback_id, "status": callback.status,
                              "assignee_sub": heir.sub, "previous_assignee_sub": callback.assignee_sub,
                              "due_at": clock.short_z(callback.due_at)})
    uow.commit()
    return len(callbacks)


def _move_fresh(uow, caller: Caller, now: datetime, callback, leaver: StaffMember, heir: StaffMember) -> int:
    fresh = uow.contacts.callbacks_of(caller.clinic_id, callback.patient_id).get(callback.callback_id)
    if fresh is None or not fresh.is_scheduled or fresh.assignee_sub != leaver.sub:
        return 0
    return _move(uow, caller, now, [fresh], heir)


def reactivate(uow, caller: Caller, now: datetime, sub: str) -> StaffMember:
    """Business rule: only an Owner brings a member back; they return with their role, and with
    none of the callbacks or delegations they had (those moved or ended when they left)."""
    clinic_id = caller.clinic_id

    def attempt() -> StaffMember:
        actor = _acting_record(uow, caller)
        if actor.role != OWNER:
            raise Forbidden("only an Owner reactivates staff members")
        target = _target(uow, clinic_id, sub)
        if target.is_active:
            return target
        back = replace(target, status=ACTIVE)
        uow.staff.save(clinic_id, back, was=target)
        uow.staff.require_unchanged(clinic_id, actor, label="actor")
        audit.record(uow, clinic_id, caller.actor, "staff.reactivated", now, details={"sub": sub, "role": back.role})
        uow.commit()
        return back

    member = uow.retrying(attempt)
    _mirror(member)
    return member
