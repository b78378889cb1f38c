"""Print the shell exports that point the `followups` CLI (and curl) at a deployed stack.

Usage: eval "$(.venv/bin/python -m deploy.stack_env --stack followups-prod)"
Reads the stack's outputs with your AWS credentials (cloudformation:DescribeStacks).
"""

from __future__ import annotations

import argparse
import shlex
import sys

# CloudFormation output -> the variable chalicelib/config.py (or the README's curl) reads.
VARIABLES = {
    "Region": "AWS_REGION",
    "BillingTableName": "FOLLOWUPS_TABLE",
    "AuditTableName": "FOLLOWUPS_AUDIT_TABLE",
    "UserPoolId": "FOLLOWUPS_USER_POOL_ID",
    "UserPoolClientId": "FOLLOWUPS_USER_POOL_CLIENT_ID",
    "EndpointURL": "FOLLOWUPS_API_URL",
}


def exports(outputs: dict[str, str]) -> list[str]:
    missing = [key for key in VARIABLES if key not in outputs]
    if missing:
        raise KeyError(f"the stack has no outputs {missing}: is it a Clinic Follow-ups stack?")
    lines = [f"export {VARIABLES[key]}={shlex.quote(outputs[key])}" for key in VARIABLES]
    lines.append(f"export AWS_DEFAULT_REGION={shlex.quote(outputs['Region'])}")
    lines.append("export FOLLOWUPS_USE_AWS=1  # the CLI ignores a local stack file")
    return lines


def stack_outputs(stack: str, region: str | None = None) -> dict[str, str]:
    import boto3

    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="followups-prod")
    parser.add_argument("--region", default=None, help="default: your AWS configuration's region")
    args = parser.parse_args()
    try:
        print("\n".join(exports(stack_outputs(args.stack, args.region))))
    except KeyError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
