"""The Cognito user pool: staff users, their clinic attribute and their role group.

Cognito is outside every DynamoDB transaction, so each call here is safe to repeat: `ensure_user`
brings the pool to "this email is a user of this clinic, in exactly this role's group" from
whatever a failed earlier attempt left (no user, a user without a group or password, a user in
another role's group).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError

from .. import config
from ..domain.errors import Conflict, Unavailable, ValidationError
from ..domain.roles import ROLES


@lru_cache(maxsize=1)
def client():
    import boto3  # only POST /staff and the CLI talk to Cognito: keep boto3 off the cold start

    return boto3.client("cognito-idp", region_name=config.region())


@dataclass(frozen=True)
class PoolUser:
    username: str
    sub: str
    clinic_id: str | None  # `custom:clinic_id`
    name: str | None


def _code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def find_user(*, pool_id: str, email: str) -> PoolUser | None:
    """The pool's user signing in with `email`, or None."""
    try:
        found = client().admin_get_user(UserPoolId=pool_id, Username=email)
    except ClientError as e:
        if _code(e) == "UserNotFoundException":
            return None
        raise
    return _pool_user(found["Username"], found.get("UserAttributes", []))


def _pool_user(username: str, attributes: list[dict]) -> PoolUser:
    values = {a["Name"]: a["Value"] for a in attributes}
    return PoolUser(username, values["sub"], values.get("custom:clinic_id"), values.get("name"))


def ensure_user(*, pool_id: str, clinic_id: str, email: str, name: str, role: str, password: str | None,
                existing: PoolUser | None) -> str:
    """Make `email` a user of `clinic_id` in exactly `role`'s group and return its `sub`.

    `existing` is what `find_user` answered just before (None: create the user). A new user is
    invited by email with a temporary password, or, given `password` (the CLI), can sign in at
    once. A user of this clinic is adopted (that is what a failed attempt leaves); a user of
    another clinic is a Conflict."""
    user, new = (existing, False) if existing is not None else _create(pool_id, clinic_id, email, name, password)
    if user.clinic_id != clinic_id:
        raise Conflict(f"a user with the email {email} already exists")
    try:
        if password:
            client().admin_set_user_password(UserPoolId=pool_id, Username=user.username, Password=password,
                                             Permanent=True)
        if not new and user.name != name:
            client().admin_update_user_attributes(UserPoolId=pool_id, Username=user.username,
                                                  UserAttributes=[{"Name": "name", "Value": name}])
        held = set() if new else {g["GroupName"] for g in client().admin_list_groups_for_user(
            UserPoolId=pool_id, Username=user.username)["Groups"]}
        for other in sorted(held & set(ROLES) - {role}):
            client().admin_remove_user_from_group(UserPoolId=pool_id, Username=user.username, GroupName=other)
        if role not in held:
            client().admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=role)
    except ClientError as e:
        if _code(e) == "InvalidPasswordException":
            raise ValidationError("the password does not meet the pool's policy",
                                  fields={"password": e.response["Error"].get("Message", "too weak")}) from e
        raise
    return user.sub


def _create(pool_id: str, clinic_id: str, email: str, name: str, password: str | None) -> tuple[PoolUser, bool]:
    """(the user, whether this call made it)."""
    attributes = [
        {"Name": "email", "Value": email},
        {"Name": "email_verified", "Value": "true"},
        {"Name": "name", "Value": name},
        {"Name": "custom:clinic_id", "Value": clinic_id},
    ]
    options = {"MessageAction": "SUPPRESS"} if password else {"DesiredDeliveryMediums": ["EMAIL"]}
    try:
        created = client().admin_create_user(UserPoolId=pool_id, Username=email, UserAttributes=attributes,
                                             **options)
    except ClientError as e:
        code = _code(e)
        if code in ("UsernameExistsException", "AliasExistsException"):
            # Another request made it since we looked: adopt it if it is this clinic's.
            user = find_user(pool_id=pool_id, email=email)
            if user is None or user.clinic_id != clinic_id:
                raise Conflict(f"a user with the email {email} already exists") from e
            return user, False
        if code in ("InvalidParameterException", "InvalidPasswordException"):
            raise ValidationError(e.response["Error"].get("Message", "invalid user"),
                                  fields={"email": "not accepted by the user pool"}) from e
        raise
    user = created["User"]
    return _pool_user(user["Username"], user["Attributes"]), True


def mirror(*, pool_id: str, username: str, role: str, active: bool | None) -> None:
    """Bring the pool's user to what their staff record says: exactly `role`'s group, and enabled
    or disabled (None: leave that as it is, for a role change); a disabled user is also signed
    out everywhere (their refresh tokens stop; ID tokens already issued are refused by the app,
    which reads the record). Every call is idempotent; a failure of the pool is `Unavailable`
    (whatever was done stays done, and the next call finishes it)."""
    try:
        _mirror(client(), pool_id, username, role, active)
    except (ClientError, BotoCoreError) as e:
        raise Unavailable("the change is saved, but the sign-in service did not take it yet; send the same "
                          "request again to finish it") from e


def _mirror(pool, pool_id: str, username: str, role: str, active: bool | None) -> None:
    held = {g["GroupName"] for g in pool.admin_list_groups_for_user(UserPoolId=pool_id, Username=username)["Groups"]}
    if role not in held:
        pool.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)
    for other in sorted(held & set(ROLES) - {role}):
        pool.admin_remove_user_from_group(UserPoolId=pool_id, Username=username, GroupName=other)
    if active:
        pool.admin_enable_user(UserPoolId=pool_id, Username=username)
    elif active is False and pool.admin_get_user(UserPoolId=pool_id, Username=username).get("Enabled", True):
        # Signed out first, disabled second: a user found disabled was signed out before.
        pool.admin_user_global_sign_out(UserPoolId=pool_id, Username=username)
        pool.admin_disable_user(UserPoolId=pool_id, Username=username)
