"""Create the tables and the user pool where no template does: the local stack and tests.

On AWS the deploy template (`deploy/resources.json`) creates the same resources; a test keeps
the two in step.
"""

from __future__ import annotations

import boto3

from chalicelib import config
from chalicelib.store.models import ALL_TABLES

ROLES = ("Owner", "Admin", "BillingStaff")
PASSWORD_POLICY = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
                   "RequireSymbols": False}


def invitation_template(console_url: str) -> dict:
    """What the pool emails a new member (the deployed pool's says the same, with its console URL)."""
    return {"EmailSubject": "You are invited to Clinic Follow-ups",
            "EmailMessage": ("You have been added to your clinic's team on Clinic Follow-ups. Sign in at "
                             f"{console_url} with the username {{username}} and the temporary password {{####}}; "
                             "you will choose your own password then.")}


def create_tables() -> None:
    for model in ALL_TABLES:
        if not model.exists():
            model.create_table(wait=True)


def create_user_pool(name: str = "followups-local", console_url: str | None = None) -> tuple[str, str]:
    """A pool like production's: email sign-in, immutable `custom:clinic_id`, the role groups,
    optional software-token MFA, the invitation naming the console (`console_url`), and an app
    client allowing USER_PASSWORD_AUTH. Returns (pool id, client id)."""
    cognito = boto3.client("cognito-idp", region_name=config.region())
    pool = cognito.create_user_pool(
        PoolName=name,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True,
                               **({"InviteMessageTemplate": invitation_template(console_url)} if console_url else {})},
        Policies={"PasswordPolicy": dict(PASSWORD_POLICY)},
        AccountRecoverySetting={"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
        Schema=[{"Name": "clinic_id", "AttributeDataType": "String", "Mutable": False,
                 "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
                {"Name": "name", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    cognito.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
    for group in ROLES:
        cognito.create_group(UserPoolId=pool["Id"], GroupName=group)
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="followups-console", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "name", "custom:clinic_id"], WriteAttributes=["name"],
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


# ----- webhooks (issue 18) ------------------------------------------------------------------------
WEBHOOK_KEY_ALIAS = "alias/followups-webhooks"
WEBHOOK_QUEUE = "followups-webhook-deliveries"


def enable_event_stream() -> str:
    """The billing table's stream (NEW_IMAGE), as the template declares it; returns its ARN.
    Opt-in (the local stack and the webhook tests): moto records every write of a streamed table."""
    client = boto3.client("dynamodb", region_name=config.region())
    table = client.describe_table(TableName=config.table_name())["Table"]
    if not table.get("StreamSpecification", {}).get("StreamEnabled"):
        table = client.update_table(TableName=config.table_name(), StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    return table["LatestStreamArn"]


def create_webhook_resources() -> dict[str, str]:
    """The secrets' KMS key (under its alias) and the delivery queue with its dead-letter queue, as
    the template makes them; sets FOLLOWUPS_WEBHOOK_KEY_ID / FOLLOWUPS_WEBHOOK_QUEUE_URL."""
    import json
    import os

    kms = boto3.client("kms", region_name=config.region())
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    if WEBHOOK_KEY_ALIAS not in aliases:
        key_id = kms.create_key(Description="followups webhook secrets")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=WEBHOOK_KEY_ALIAS, TargetKeyId=key_id)
    sqs = boto3.client("sqs", region_name=config.region())
    dlq = sqs.create_queue(QueueName=WEBHOOK_QUEUE + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=WEBHOOK_QUEUE, Attributes={
        "VisibilityTimeout": "360",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    os.environ["FOLLOWUPS_WEBHOOK_KEY_ID"], os.environ["FOLLOWUPS_WEBHOOK_QUEUE_URL"] = WEBHOOK_KEY_ALIAS, queue
    return {"kms_key_id": WEBHOOK_KEY_ALIAS, "queue_url": queue, "dead_letter_queue_url": dlq}
