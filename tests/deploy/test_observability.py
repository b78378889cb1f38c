"""What tells an operator that something went wrong, in the packaged template: the scheduled run's
failures (embedded metrics -> alarms -> an SNS topic) and its failed invocations (a queue)."""

from __future__ import annotations

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
