"""What tells an operator that something went wrong, in the packaged template: the scheduled run's
failures (embedded metrics -> alarms -> an SNS topic), its failed invocations (a queue), and the API's
access logs (who called which route, with what status; never a body or a query string)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.jobs import auto_invoicing
from chalicelib.services.invoicing import RunResult
from tests.deploy.conftest import translate

ALARMS = ("AutoInvoicingClinicsFailedAlarm", "AutoInvoicingErrorsAlarm", "AutoInvoicingFailedInvocationsAlarm")


@pytest.fixture(scope="module")
def deployed(template) -> dict:
    """What CloudFormation makes of the SAM template."""
    return translate(template)


def emitted(result: RunResult, function_name: str) -> dict:
    """The EMF document the scheduled function prints for `result` (not printed here)."""
    auto_invoicing.record_metrics(result, function_name)
    try:
        return auto_invoicing.metrics.serialize_metric_set()
    finally:
        auto_invoicing.metrics.clear_metrics()


# ----- the scheduled run's metrics and alarms ----------------------------------------------------
def test_the_alarm_on_failed_clinics_reads_the_series_the_deployed_function_emits(template):
    function_name = "followups-prod-auto_invoicing"  # what Lambda's context says for the stack's function
    assert template["Resources"]["AutoInvoicing"]["Properties"]["FunctionName"] == {
        "Fn::Sub": "${AWS::StackName}-auto_invoicing"}
    document = emitted(RunResult(clinics_run=["cln_a"], clinics_failed=["cln_b"], invoices_created=3), function_name)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    alarm = template["Resources"]["AutoInvoicingClinicsFailedAlarm"]["Properties"]
    assert alarm["Namespace"] == directive["Namespace"] == "Followups"
    assert alarm["MetricName"] in {m["Name"] for m in directive["Metrics"]}
    assert document[alarm["MetricName"]] == [1.0]
    # An alarm matches a series only on exactly its dimensions; `function` is Ref AutoInvoicing,
    # which is the function's name, as the context gives it.
    [dimension_names] = directive["Dimensions"]
    assert sorted(d["Name"] for d in alarm["Dimensions"]) == sorted(dimension_names)
    values = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert values == {"function": {"Ref": "AutoInvoicing"}, "service": document["service"]}
    assert document["function"] == function_name
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum", 0, "GreaterThanThreshold")
    assert alarm["Period"] == 900, "one tick per period"
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3), "a clinic that keeps failing"


def test_every_count_of_a_run_is_a_metric(template):
    document = emitted(RunResult(clinics_run=["a", "b"], invoices_created=7, promises_broken=2), "fn")
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert {m["Name"]: document[m["Name"]] for m in directive["Metrics"]} == {
        "ClinicsRun": [2.0], "ClinicsFailed": [0.0], "InstallmentsInvoiced": [7.0], "PromisesBroken": [2.0],
        "RunsStoppedEarly": [0.0]}


def test_the_function_errors_and_a_failed_invocation_alarm_too(template):
    resources = template["Resources"]
    errors = resources["AutoInvoicingErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "AutoInvoicing"}}]
    dead = resources["AutoInvoicingFailedInvocationsAlarm"]["Properties"]
    assert (dead["Namespace"], dead["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AutoInvoicingFailedInvocations", "QueueName"]}}]


@pytest.mark.parametrize("alarm", ALARMS)
def test_each_alarm_tells_the_topic_when_it_fires_and_when_it_clears(template, alarm):
    props = template["Resources"][alarm]["Properties"]
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert props["TreatMissingData"] == "notBreaching", "a quiet night is no alarm"
    assert "docs/deploy.md" in props["AlarmDescription"], "the alarm says where the runbook is"


def test_the_alarm_topic_is_an_output_and_an_email_given_at_deploy_is_subscribed(template):
    resources = template["Resources"]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert template["Outputs"]["AlarmTopicArn"] == {"Value": {"Ref": "AlarmTopic"}}
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email",
                                          "Endpoint": {"Ref": "AlarmEmail"}}
    assert template["Parameters"]["AlarmEmail"]["Default"] == "", "deploying needs no address"


def test_failed_invocations_of_the_scheduled_function_land_in_a_queue_kept_14_days(template, deployed):
    [config] = [r["Properties"] for r in deployed["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert config["FunctionName"] == {"Ref": "AutoInvoicing"} and config["Qualifier"] == "$LATEST"
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["AutoInvoicingFailedInvocations", "Arn"]}
    assert config["MaximumRetryAttempts"] == 2, "a retry repeats the same run: safe (exactly once)"
    queue = template["Resources"]["AutoInvoicingFailedInvocations"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "AutoInvoicingFailedInvocationsQueueUrl" in template["Outputs"]


# ----- API Gateway access logs -------------------------------------------------------------------
def stage(deployed: dict) -> dict:
    [props] = [r["Properties"] for r in deployed["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    return props


def test_the_api_stage_writes_access_logs_to_a_group_that_expires(template, deployed):
    setting = stage(deployed)["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    group = template["Resources"]["ApiAccessLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "AccessLogRetentionInDays"}
    parameter = template["Parameters"]["AccessLogRetentionInDays"]
    assert parameter["Default"] in parameter["AllowedValues"] and parameter["Default"] >= 365
    assert group["DeletionPolicy"] == "Retain", "who read what outlives the stack"


def test_an_access_log_line_is_json_with_the_request_route_status_latency_and_caller(deployed):
    line_format = stage(deployed)["AccessLogSetting"]["Format"]
    assert "\n" not in line_format
    fields = json.loads(line_format)  # every value a quoted $context variable: each line is JSON
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", v) for v in fields.values()), fields
    assert set(fields) >= {"requestId", "time", "route", "method", "status", "latencyMs", "sub"}
    assert fields["route"] == "$context.resourcePath", "the route template, never the path with a feed's secret"
    assert fields["sub"] == "$context.authorizer.claims.sub"
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    assert fields["latencyMs"] == "$context.responseLatency"


def test_an_access_log_line_carries_no_body_query_string_path_or_personal_claim(deployed):
    line_format = stage(deployed)["AccessLogSetting"]["Format"]
    for forbidden in ("$input", "$method.request", "$context.path", "querystring", "$context.requestOverride",
                      "claims.email", "claims.name", "claims.phone", "$context.authorizer.claims}",
                      "$context.identity.user"):
        assert forbidden not in line_format, forbidden


def test_the_stage_is_made_after_the_region_lets_api_gateway_write_logs(template, deployed):
    assert deployed["Resources"]["RestAPI"]["DependsOn"] == ["ApiGatewayAccount"], "the stage needs the account role"
    account = template["Resources"]["ApiGatewayAccount"]["Properties"]
    assert account["CloudWatchRoleArn"] == {"Fn::If": ["CreateApiGatewayCloudWatchRole",
                                                       {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]},
                                                       {"Ref": "ApiGatewayCloudWatchRoleArn"}]}
    assert template["Conditions"]["CreateApiGatewayCloudWatchRole"] == {
        "Fn::Equals": [{"Ref": "ApiGatewayCloudWatchRoleArn"}, ""]}


def test_the_api_gateway_logs_role_is_trusted_by_this_accounts_api_gateway_only(template):
    role = template["Resources"]["ApiGatewayCloudWatchRole"]
    assert role["Condition"] == "CreateApiGatewayCloudWatchRole"
    assert role["DeletionPolicy"] == "Retain", "the region's setting keeps pointing at it after a stack deletion"
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # The region's one API Gateway logs role serves every REST API of the account there, so it has
    # AWS's policy for that job, not one cut to this stack's group (docs/deploy.md, Least privilege).
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert "Policies" not in role["Properties"]
