"""The Cognito user pool: staff users, their clinic attribute and their role group."""

from __future__ import annotations

from functools import lru_cache

from botocore.exceptions import ClientError

from .. import config
from ..domain.errors import Conflict, ValidationError


@lru_cache(maxsize=1)
def client():
    import boto3  # only POST /staff and the CLI talk to Cognito: keep boto3 off the cold start

    return boto3.client("cognito-idp", region_name=config.region())


def create_user(*, pool_id: str, clinic_id: str, email: str, name: str, role: str,
                password: str | None = None) -> str:
    """Create a confirmed user in `role`'s group; returns the user's `sub`.

    With a password (the CLI) the user can sign in at once; without one Cognito emails an
    invitation with a temporary password (the `POST /staff` route).
    """
    attributes = [
        {"Name": "email", "Value": email},
        {"Name": "email_verified", "Value": "true"},
        {"Name": "name", "Value": name},
        {"Name": "custom:clinic_id", "Value": clinic_id},
    ]
    options = {"MessageAction": "SUPPRESS"} if password else {"DesiredDeliveryMediums": ["EMAIL"]}
    try:
        created = client().admin_create_user(UserPoolId=pool_id, Username=email,
                                             UserAttributes=attributes, **options)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code in ("UsernameExistsException", "AliasExistsException"):
            raise Conflict(f"a user with the email {email} already exists") from e
        if code in ("InvalidParameterException", "InvalidPasswordException"):
            raise ValidationError(e.response["Error"].get("Message", "invalid user"),
                                  fields={"email": "not accepted by the user pool"}) from e
        raise
    user = created["User"]
    username = user["Username"]
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    try:
        if password:
            client().admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                                             Permanent=True)
        client().admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)
    except ClientError as e:
        delete_user(pool_id=pool_id, username=username)
        if e.response["Error"]["Code"] == "InvalidPasswordException":
            raise ValidationError("the password does not meet the pool's policy",
                                  fields={"password": e.response["Error"].get("Message", "too weak")}) from e
        raise
    return sub


def delete_user(*, pool_id: str, username: str) -> None:
    """Undo a half-made user (the only step outside a DynamoDB transaction)."""
    try:
        client().admin_delete_user(UserPoolId=pool_id, Username=username)
    except ClientError:
        pass
