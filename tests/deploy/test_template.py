"""The deployable template keeps the promises the code relies on: every index it queries, a user pool
whose clinic attribute nobody can rewrite, an authorizer bound to that pool, the 15-minute tick,
and roles that grant each function only what it uses."""

from __future__ import annotations

import json
import re

import pytest

from deploy import build_template
from deploy import package as packaging
from tests.deploy.conftest import ROOT, fixture_project, translate

TABLES = {"Record": "BillingTable", "AuditRecord": "AuditTable"}
AUTHORIZER = "followups-users"
WRITES_THAT_REWRITE_HISTORY = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                               "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:DeleteTable",
                               "dynamodb:UpdateTable"}


def resources_of(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def statements(template: dict, role: str) -> list[dict]:
    """A role's inline statements (the API Gateway logs role has AWS's managed policy only:
    tests/deploy/test_observability.py)."""
    return [s for p in template["Resources"][role]["Properties"].get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]]


def granted(template: dict, role: str) -> set[tuple[str, str]]:
    """(action, resource expression as JSON) pairs a role allows."""
    pairs = set()
    for s in statements(template, role):
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        pairs |= {(a, json.dumps(r, sort_keys=True)) for a in actions for r in res}
    return pairs


def table_arn(logical_id: str, index: str | None = None):
    if index is None:
        return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)
    return json.dumps({"Fn::Sub": f"${{{logical_id}.Arn}}/index/{index}"}, sort_keys=True)


# ----- tables ---------------------------------------------------------------------------------
def test_every_table_the_models_declare_is_in_the_template_with_the_same_keys_and_indexes(template):
    from chalicelib.store.models import ALL_TABLES

    assert {m.__name__ for m in ALL_TABLES} == set(TABLES), "map every new model table to its logical id"
    for model in ALL_TABLES:
        props = template["Resources"][TABLES[model.__name__]]["Properties"]
        schema = model._get_schema()
        assert props["KeySchema"] == [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]}
                                      for k in schema["key_schema"]]
        assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            schema["attribute_definitions"], key=lambda a: a["AttributeName"])
        declared = {i["index_name"]: (i["key_schema"], i["projection"]) for i in schema["global_secondary_indexes"]}
        deployed = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in props["GlobalSecondaryIndexes"]}
        assert deployed == declared
        assert not schema.get("local_secondary_indexes"), "add LSIs to the template too"


def test_the_billing_table_expires_idempotency_keys_with_the_models_ttl_attribute(template):
    from chalicelib.store.models import AuditRecord, Record

    ttl = Record._ttl_attribute()
    assert template["Resources"]["BillingTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": ttl.attr_name, "Enabled": True}
    assert AuditRecord._ttl_attribute() is None
    assert "TimeToLiveSpecification" not in template["Resources"]["AuditTable"]["Properties"]


@pytest.mark.parametrize("table", sorted(TABLES.values()))
def test_money_and_audit_tables_are_on_demand_recoverable_protected_and_encrypted(template, table):
    resource = template["Resources"][table]
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert "TableName" not in props, "generated names: two stacks in one account never collide"


# ----- Cognito --------------------------------------------------------------------------------
def test_staff_sign_in_with_email_to_a_pool_nobody_can_join_on_their_own(template):
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"))
    assert template["Resources"]["UserPool"]["DeletionPolicy"] == "Retain"


def test_the_clinic_of_a_user_is_immutable_and_not_writable_by_the_app_client(template):
    pool = template["Resources"]["UserPool"]["Properties"]
    clinic = next(a for a in pool["Schema"] if a["Name"] == "clinic_id")
    assert clinic["Mutable"] is False
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert "custom:clinic_id" not in client["WriteAttributes"]
    assert "email" not in client["WriteAttributes"], "the email is the user name"
    assert "custom:clinic_id" in client["ReadAttributes"], "the ID token must carry the clinic"


def test_the_app_client_signs_in_with_a_password_and_refreshes_without_a_secret(template):
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "UserPool"}
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


def test_the_role_groups_are_those_the_code_checks(template):
    from chalicelib.api.auth import ROLES

    groups = {g["Properties"]["GroupName"] for g in resources_of(template, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == set(ROLES)
    assert all(g["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
               for g in resources_of(template, "AWS::Cognito::UserPoolGroup").values())


def test_the_local_stack_pool_is_built_like_the_deployed_one(template, monkeypatch):
    """bootstrap.create_user_pool (local stack, tests) and the template must not drift apart:
    compare what the local stack asks Cognito for with what the template declares."""
    from devtools import bootstrap

    asked: dict[str, list[dict]] = {}

    class Recorder:
        def __getattr__(self, operation):
            def call(**kwargs):
                asked.setdefault(operation, []).append(kwargs)
                return {"UserPool": {"Id": "pool"}, "UserPoolClient": {"ClientId": "client"}}
            return call

    monkeypatch.setattr(bootstrap.boto3, "client", lambda *a, **k: Recorder())
    bootstrap.create_user_pool()
    local, deployed = asked["create_user_pool"][0], template["Resources"]["UserPool"]["Properties"]
    assert local["UsernameAttributes"] == deployed["UsernameAttributes"]
    assert local["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    local_clinic = next(a for a in local["Schema"] if a["Name"] == "clinic_id")
    assert local_clinic["Mutable"] is False
    local_policy, deployed_policy = local["Policies"]["PasswordPolicy"], deployed["Policies"]["PasswordPolicy"]
    assert deployed_policy["MinimumLength"] >= local_policy["MinimumLength"]
    for rule in ("RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"):
        assert deployed_policy[rule] or not local_policy[rule], f"production must be at least as strict: {rule}"
    assert {g["GroupName"] for g in asked["create_group"]} == {
        g["Properties"]["GroupName"] for g in resources_of(template, "AWS::Cognito::UserPoolGroup").values()}
    local_client = asked["create_user_pool_client"][0]
    deployed_client = template["Resources"]["UserPoolClient"]["Properties"]
    assert set(local_client["ExplicitAuthFlows"]) == set(deployed_client["ExplicitAuthFlows"])
    assert set(local_client["WriteAttributes"]) == set(deployed_client["WriteAttributes"])
    assert local_client["GenerateSecret"] is deployed_client["GenerateSecret"] is False


# ----- API Gateway ----------------------------------------------------------------------------
def test_the_api_authorizer_trusts_exactly_the_stacks_user_pool(template):
    swagger = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = swagger["securityDefinitions"][AUTHORIZER]
    assert authorizer["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert authorizer["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools"
    assert authorizer["x-amazon-apigateway-authorizer"]["providerARNs"] == [{"Fn::GetAtt": ["UserPool", "Arn"]}]


def test_every_route_that_needs_a_role_is_behind_the_authorizer_and_only_those(template):
    """Routes integration keys may call are the exception: the gateway's Cognito authorizer
    would refuse a key, so there the app's own verification (of tokens and keys) is the check."""
    import app  # noqa: F401  (registers the routes)
    from chalicelib.api.wiring import api_routes

    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert api_routes()
    for spec in api_routes():
        operation = paths[spec.path][spec.method.lower()]
        if spec.roles is None or spec.scopes:
            assert "security" not in operation, f"{spec.method} {spec.path} is public"
        else:
            assert operation["security"] == [{AUTHORIZER: []}], f"{spec.method} {spec.path}"


# The contract's scopes table (API.md, Integrations): every route a key may call. Everything
# else stays behind the Cognito authorizer in the deployed API.
KEY_CALLABLE = {
    ("GET", "/patients/{patient_id}"), ("GET", "/patients"), ("GET", "/patients/by-external-id/{external_id}"),
    ("POST", "/patients"), ("PATCH", "/patients/{patient_id}"), ("PUT", "/patients/by-external-id/{external_id}"),
    ("POST", "/invoices"), ("PUT", "/invoices/by-external-id/{external_id}"), ("POST", "/payments"),
    ("GET", "/follow-ups"), ("GET", "/follow-ups/{patient_id}"), ("GET", "/invoices/{invoice_id}"),
    ("GET", "/patients/{patient_id}/invoices"), ("GET", "/payments/{payment_id}"),
    ("GET", "/payment-plans/{plan_id}"), ("GET", "/patients/{patient_id}/ledger"), ("GET", "/reports/aging"),
    ("GET", "/reports/staff-performance"), ("POST", "/imports"), ("POST", "/invoices/{invoice_id}/void"),
    ("POST", "/invoices/{invoice_id}/adjustments"), ("POST", "/payments/{payment_id}/reversal"),
    ("POST", "/webhooks"), ("GET", "/webhooks"), ("DELETE", "/webhooks/{webhook_id}"),
    ("POST", "/webhooks/{webhook_id}/test"), ("GET", "/webhooks/{webhook_id}/deliveries"),
}


def test_only_the_routes_of_the_scopes_table_skip_the_cognito_authorizer(template):
    import app  # noqa: F401
    from chalicelib.api.wiring import api_routes

    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    open_to_keys = {(s.method, s.path) for s in api_routes()
                    if s.roles is not None and "security" not in paths[s.path][s.method.lower()]}
    assert open_to_keys == KEY_CALLABLE
    for kept in (("GET", "/audit"), ("GET", "/staff"), ("POST", "/integrations"), ("GET", "/integrations"),
                 ("POST", "/follow-ups/{patient_id}/write-off"), ("PATCH", "/clinic"), ("GET", "/me")):
        assert paths[kept[1]][kept[0].lower()]["security"] == [{AUTHORIZER: []}], kept


def test_the_stage_is_throttled(template):
    stage = next(iter(resources_of(translate(template), "AWS::ApiGateway::Stage").values()))["Properties"]
    settings = stage["MethodSettings"]
    assert settings[0]["ResourcePath"] == "/*" and settings[0]["HttpMethod"] == "*"
    assert settings[0]["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert settings[0]["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurstLimit"}
    assert template["Parameters"]["ThrottleRateLimit"]["Default"] > 0


@pytest.mark.parametrize("response_type,status,code", [
    ("UNAUTHORIZED", "401", "unauthorized"), ("ACCESS_DENIED", "403", "forbidden"),
    ("MISSING_AUTHENTICATION_TOKEN", "403", "forbidden"), ("THROTTLED", "429", "throttled"),
    ("DEFAULT_4XX", None, "validation_error"), ("DEFAULT_5XX", None, "internal_error")])
def test_the_gateways_own_refusals_use_the_contracts_error_shape(template, response_type, status, code):
    body = translate(template)["Resources"]["RestAPI"]["Properties"]["Body"]
    response = body["x-amazon-apigateway-gateway-responses"][response_type]
    assert response.get("statusCode") == status
    # API Gateway puts the message in as a JSON string literal.
    rendered = response["responseTemplates"]["application/json"].replace(
        "$context.error.messageString", json.dumps("Unauthorized"))
    assert json.loads(rendered) == {"error": {"code": code, "message": "Unauthorized"}}


# ----- functions ------------------------------------------------------------------------------
def test_the_packaged_template_keeps_every_deployment_rule(template):
    assert build_template.problems(template) == []


def test_names_and_ids_reach_every_function_from_the_template_not_from_code(template):
    expected = {"FOLLOWUPS_TABLE": {"Ref": "BillingTable"}, "FOLLOWUPS_AUDIT_TABLE": {"Ref": "AuditTable"},
                "FOLLOWUPS_USER_POOL_ID": {"Ref": "UserPool"},
                "FOLLOWUPS_USER_POOL_CLIENT_ID": {"Ref": "UserPoolClient"}}
    functions = resources_of(translate(template), "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert {k: variables.get(k) for k in expected} == expected, name
        assert variables["FOLLOWUPS_GATEWAY_AUTHORIZER"] == "cognito"
    # The region is the Lambda runtime's own AWS_REGION (reserved: a template cannot set it).
    text = json.dumps(template)
    assert "us-east-1" not in text and not re.search(r"\b\d{12}\b", text), "the template is region/account neutral"


def test_every_function_writes_only_to_its_own_log_group_which_expires(template):
    for logical_id, function in build_template.functions(template).items():
        name = build_template.chalice_name(function)
        group = build_template.log_group_of(template, logical_id, name)
        assert template["Resources"][group]["Properties"]["RetentionInDays"] in (14, 30, 60, 90, 180, 365)
        assert group in function["DependsOn"]
        role = build_template.role_of(function)
        logs = [s for s in statements(template, role) if any(a.startswith("logs:") for a in s["Action"])]
        assert logs == [{"Sid": "OwnLogGroup", "Effect": "Allow",
                         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                         "Resource": [{"Fn::GetAtt": [group, "Arn"]}]}]


def test_no_role_grants_a_wildcard_action_or_resource(template):
    roles = resources_of(template, "AWS::IAM::Role")
    managed = {k for k, v in roles.items() if v["Properties"].get("ManagedPolicyArns")}
    assert managed == {"ApiGatewayCloudWatchRole"}, "only the region's API Gateway logs role uses AWS's policy"
    for role in roles:
        for action, resource in granted(template, role):
            assert "*" not in action, (role, action)
            expression = json.loads(resource)
            text = expression if isinstance(expression, str) else expression.get("Fn::Sub", "")
            assert "*" not in text, (role, resource)


def test_nothing_may_update_or_delete_audit_records(template):
    for role in resources_of(template, "AWS::IAM::Role"):
        on_audit = {a for a, r in granted(template, role) if "AuditTable" in r}
        assert on_audit <= {"dynamodb:PutItem", "dynamodb:Query"}, role
        assert not on_audit & WRITES_THAT_REWRITE_HISTORY


def test_the_api_may_manage_users_of_its_own_pool_only(template):
    cognito = {(a, r) for a, r in granted(template, "ApiHandlerRole") if a.startswith("cognito-idp:")}
    assert cognito == {(a, json.dumps({"Fn::GetAtt": ["UserPool", "Arn"]}, sort_keys=True))
                       for a in ("cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser",
                                 "cognito-idp:AdminUpdateUserAttributes",
                                 "cognito-idp:AdminListGroupsForUser", "cognito-idp:AdminAddUserToGroup",
                                 "cognito-idp:AdminRemoveUserFromGroup", "cognito-idp:AdminDisableUser",
                                 "cognito-idp:AdminEnableUser", "cognito-idp:AdminUserGlobalSignOut")}


def test_the_api_queries_every_index_of_the_billing_and_audit_tables_and_nothing_else(template):
    from chalicelib.store.models import ALL_TABLES

    pairs = granted(template, "ApiHandlerRole")
    for model in ALL_TABLES:
        logical_id = TABLES[model.__name__]
        for index in model._get_schema()["global_secondary_indexes"]:
            assert ("dynamodb:Query", table_arn(logical_id, index["index_name"])) in pairs
    dynamo = {a for a, _ in pairs if a.startswith("dynamodb:")}
    assert dynamo <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem",
                      "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


# ----- the scheduled function -----------------------------------------------------------------
def test_a_scheduled_function_ticks_every_15_minutes_with_a_role_that_cannot_touch_users(template):
    function = template["Resources"]["AutoInvoicing"]
    events = function["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"] == ["rate(15 minutes)"]
    role = build_template.role_of(function)
    assert role == "AutoInvoicingRole"
    actions = {a for a, _ in granted(template, role)}
    assert not any(a.startswith("cognito-idp:") for a in actions)
    assert ("dynamodb:PutItem", table_arn("AuditTable")) in granted(template, role)
    assert ("dynamodb:Query", table_arn("AuditTable")) not in granted(template, role)
    rule = next(iter(resources_of(translate(template), "AWS::Events::Rule").values()))
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"


def test_the_apps_one_schedule_auto_invoicing_is_the_templates_one_15_minute_tick(template):
    """app.py's scheduled functions are exactly `auto_invoicing`, and the template has it on the tick."""
    from chalice.app import ScheduledEventConfig

    from app import app

    in_code = {source.name for source in app.event_sources if isinstance(source, ScheduledEventConfig)}
    in_template = {build_template.chalice_name(f): [e["Properties"]["Schedule"]
                                                    for e in f["Properties"].get("Events", {}).values()
                                                    if e["Type"] == "Schedule"]
                   for f in build_template.functions(template).values()}
    assert in_code == {"auto_invoicing"}
    assert {name for name, schedules in in_template.items() if schedules} == in_code
    for name in in_code:
        assert in_template[name] == ["rate(15 minutes)"], name


def test_a_function_without_its_own_policy_file_cannot_be_packaged(tmp_path):
    source = "from chalice import Chalice\napp = Chalice(app_name='followups')\n\n\n" \
             "@app.lambda_function(name='export')\ndef export(event, context):\n    return {}\n"
    project = fixture_project(tmp_path, source)
    with pytest.raises(build_template.TemplateError, match=r"policy-prod\.json"):
        packaging.package(tmp_path / "build", project_dir=project)


def test_the_lambda_package_holds_the_app_and_no_build_tooling(template):
    import zipfile

    names = zipfile.ZipFile(ROOT / "build" / "deployment.zip").namelist()
    assert "app.py" in names and "chalicelib/api/routing.py" in names
    assert not any(n.startswith(("deploy/", "tests/", "bench/")) for n in names)


# ----- the team's sign-in (issue 15) --------------------------------------------------------------
def test_the_pool_offers_optional_authenticator_app_mfa_and_invites_with_the_console_address(template):
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["MfaConfiguration"] == "OPTIONAL" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    # Cognito takes a custom invitation only when it sends through SES (EmailSendingAccount DEVELOPER)
    condition, invite, otherwise = pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["Fn::If"]
    assert (condition, otherwise) == ("HasSesSource", {"Ref": "AWS::NoValue"})
    with_url, without_url = invite["EmailMessage"]["Fn::If"][1:]
    for message in (with_url["Fn::Sub"], without_url):
        assert "{username}" in message and "{####}" in message  # Cognito refuses a template without them
    assert "${ConsoleUrl}" in with_url["Fn::Sub"]
    assert template["Parameters"]["ConsoleUrl"]["Default"] == ""


def test_cognito_sends_through_ses_only_when_an_identity_is_given(template):
    email = template["Resources"]["UserPool"]["Properties"]["EmailConfiguration"]["Fn::If"]
    assert email[0] == "HasSesSource"
    assert email[1]["EmailSendingAccount"] == "DEVELOPER" and email[1]["SourceArn"] == {"Ref": "SesSourceArn"}
    assert email[2] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    assert template["Parameters"]["SesSourceArn"]["Default"] == ""


def test_the_console_is_told_the_pools_own_password_rules(template):
    policy = dict(template["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"])
    policy.pop("TemporaryPasswordValidityDays")
    for function in resources_of(translate(template), "AWS::Lambda::Function").values():
        assert json.loads(function["Properties"]["Environment"]["Variables"]["FOLLOWUPS_PASSWORD_POLICY"]) == policy
