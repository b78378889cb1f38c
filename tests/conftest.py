"""Test settings are fixed before the app is imported (PynamoDB's Meta reads them then)."""

import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "FOLLOWUPS_TABLE": "followups-test", "FOLLOWUPS_AUDIT_TABLE": "followups-audit-test",
    "FOLLOWUPS_GATEWAY_AUTHORIZER": "off", "POWERTOOLS_LOG_LEVEL": "WARNING", "FOLLOWUPS_LOG_LEVEL": "WARNING",
})
from chalicelib import moto_speedup  # noqa: E402

moto_speedup.install()

for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_COGNITO_IDP", "AWS_PROFILE"):
    os.environ.pop(name, None)
