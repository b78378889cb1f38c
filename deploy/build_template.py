"""Finish the template `chalice package` wrote: name each function, give it its own log group and
the right to write only there, and refuse a template that breaks the deployment rules.

Used by deploy/package.py (`make package`) and by the template tests.

Why a post-processing step: `chalice package` names the API handler's log group after a resource
that does not exist (`${ApiHandler}` for the function `APIHandler`, aws/chalice#2079), and a
role cannot name its function's log group by ARN without a dependency cycle (role -> log group ->
function -> role). Naming every function `<stack>-<chalice function name>` breaks the cycle: the
log group and the role's log statement are built from the stack name, not from the function.

Everything else (tables, user pool, authorizer, throttling, environment) is in the merge
template `deploy/resources.json`; the data-access policies are `.chalice/policy-<function>.json`.
"""

from __future__ import annotations

import json
import re

FUNCTION = "AWS::Serverless::Function"
LOG_GROUP = "AWS::Logs::LogGroup"
ROLE = "AWS::IAM::Role"
REQUIRED_ENV = ("FOLLOWUPS_TABLE", "FOLLOWUPS_AUDIT_TABLE", "FOLLOWUPS_USER_POOL_ID",
                "FOLLOWUPS_USER_POOL_CLIENT_ID")
SCHEDULE = "rate(15 minutes)"
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]


class TemplateError(Exception):
    """The packaged template breaks a deployment rule; the message says which."""


def chalice_name(function: dict) -> str:
    """`app.app` is the API handler; `app.<fn>` is the function `<fn>` (a schedule, ...)."""
    handler = function["Properties"]["Handler"]
    module, _, attr = handler.partition(".")
    return "api_handler" if attr == "app" else attr


def functions(template: dict) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == FUNCTION}


def _sub_target(value) -> str | None:
    """`/aws/lambda/${X}` -> X (chalice's log group names)."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        match = re.fullmatch(r"/aws/lambda/\$\{([^}]+)\}", value["Fn::Sub"])
        return match.group(1) if match else None
    return None


def log_group_of(template: dict, logical_id: str, name: str) -> str | None:
    """The logical id of the log group chalice made for a function (before or after finish())."""
    wanted = {f"/aws/lambda/${{AWS::StackName}}-{name}"}
    for key, resource in template["Resources"].items():
        if resource.get("Type") != LOG_GROUP:
            continue
        group_name = resource["Properties"].get("LogGroupName")
        target = _sub_target(group_name)
        if target is not None and target.lower() == logical_id.lower():
            return key
        if isinstance(group_name, dict) and group_name.get("Fn::Sub") in wanted:
            return key
    return None


def role_of(function: dict) -> str | None:
    role = function["Properties"].get("Role")
    if isinstance(role, dict) and isinstance(role.get("Fn::GetAtt"), list) and role["Fn::GetAtt"][1] == "Arn":
        return role["Fn::GetAtt"][0]
    return None


def finish(template: dict) -> dict:
    """Name the functions, point their log groups at those names, grant each its own log group."""
    resources = template["Resources"]
    for logical_id, function in functions(template).items():
        name = chalice_name(function)
        props = function["Properties"]
        props["FunctionName"] = {"Fn::Sub": f"${{AWS::StackName}}-{name}"}
        group = log_group_of(template, logical_id, name)
        if group is None:
            raise TemplateError(f"{logical_id} has no log group: set log_retention_in_days for the stage "
                                "in .chalice/config.json")
        resources[group]["Properties"]["LogGroupName"] = {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{name}"}
        # The group must exist before the first invocation: the role may not create groups.
        depends = function.setdefault("DependsOn", [])
        if isinstance(depends, str):
            depends = function["DependsOn"] = [depends]
        if group not in depends:
            depends.append(group)
        role = role_of(function)
        if role is None or resources.get(role, {}).get("Type") != ROLE:
            raise TemplateError(f"{logical_id} has no role of its own in the template")
        document = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]
        statements = [s for s in document["Statement"] if s.get("Sid") != "OwnLogGroup"]
        statements.append({"Sid": "OwnLogGroup", "Effect": "Allow", "Action": LOG_ACTIONS,
                           "Resource": [{"Fn::GetAtt": [group, "Arn"]}]})
        document["Statement"] = statements
    return template


def _actions(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict) -> list:
    resources = statement.get("Resource", [])
    return resources if isinstance(resources, list) else [resources]


def problems(template: dict) -> list[str]:
    """Every rule the deployable template must keep; empty when it keeps them all."""
    found = []
    resources = template["Resources"]
    env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    roles_seen: dict[str, str] = {}
    for logical_id, function in functions(template).items():
        props = function["Properties"]
        name = chalice_name(function)
        role = role_of(function)
        if role is None or resources.get(role, {}).get("Type") != ROLE:
            found.append(f"{logical_id}: no explicit role in the template (give it .chalice/policy-*.json)")
            continue
        if role in roles_seen:
            found.append(f"{logical_id} shares the role {role} with {roles_seen[role]}")
        roles_seen[role] = logical_id
        if role == "DefaultRole":
            found.append(f"{logical_id}: uses the shared default role")
        for statement in (s for p in resources[role]["Properties"].get("Policies", [])
                          for s in p["PolicyDocument"]["Statement"]):
            for action in _actions(statement):
                if "*" in action:
                    found.append(f"{role}: wildcard action {action!r}")
            for resource in _resources(statement):
                if resource == "*" or (isinstance(resource, str) and "*" in resource):
                    found.append(f"{role}: wildcard resource {resource!r} in {statement.get('Sid')}")
            if statement.get("Effect") != "Allow":
                continue
            if any(_names(r, "AuditTable") for r in _resources(statement)):
                for action in _actions(statement):
                    if action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                                  "dynamodb:DeleteTable", "dynamodb:UpdateTable"):
                        found.append(f"{role}: {action} on the append-only audit table")
        if props.get("FunctionName") != {"Fn::Sub": f"${{AWS::StackName}}-{name}"}:
            found.append(f"{logical_id}: not named after the stack (run deploy/build_template.py)")
        if log_group_of(template, logical_id, name) is None:
            found.append(f"{logical_id}: no log group with retention")
        variables = {**env, **props.get("Environment", {}).get("Variables", {})}
        for variable in REQUIRED_ENV:
            if not isinstance(variables.get(variable), dict):
                found.append(f"{logical_id}: {variable} does not come from the template")
        for event_name, event in props.get("Events", {}).items():
            if event.get("Type") == "Schedule" and event["Properties"]["Schedule"] != SCHEDULE:
                found.append(f"{logical_id}.{event_name}: schedule {event['Properties']['Schedule']!r}, "
                             f"expected {SCHEDULE!r}")
    text = json.dumps(template)
    for literal in ("000000000000", "replaced-by-merge-template"):
        if literal in text:
            found.append(f"placeholder {literal!r} left in the template")
    return found


def _names(value, logical_id: str) -> bool:
    """Does an ARN expression refer to `logical_id` (GetAtt or ${X.Arn} in a Sub)?"""
    if isinstance(value, dict):
        if value.get("Fn::GetAtt", [None])[0] == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if isinstance(sub, str) and f"${{{logical_id}." in sub:
            return True
    return False
