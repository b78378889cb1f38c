"""The auto-invoicing handler: EventBridge invokes it every 15 minutes (UTC); "now" is the
event's `time`, never the clock, so a retried or duplicated delivery repeats the same run.

Each run reports itself as embedded metrics (CloudWatch EMF: one JSON document printed with the
function's log output, turned into metrics by CloudWatch Logs, no API call and no permission):
namespace `Followups`, dimensions `function` (the Lambda's name, so two stacks in one account
never share a series) and `service`. The template alarms on `ClinicsFailed` (docs/deploy.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..logs import logger
from ..services import invoicing

# Stop starting clinics when less than this is left of the Lambda's time; the next tick
# picks up the clinics not started (they are still due).
SAFETY_MS = 15_000

METRICS_NAMESPACE = "Followups"
metrics = Metrics(namespace=METRICS_NAMESPACE, service="followups")


def event_time(event: dict[str, Any]) -> datetime:
    """The instant of a scheduled event: ISO 8601 with an offset (EventBridge sends `...Z`)."""
    raw = event.get("time") if isinstance(event, dict) else None
    if not isinstance(raw, str):
        raise ValueError("the event has no `time`")
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"the event's time {raw!r} has no offset")
    return parsed.astimezone(UTC)


def _deadline(context: Any):
    """A `should_stop` for a Lambda context with a real time budget (more than twice the margin;
    local emulators give a nominal 3 s, which is no deadline)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining) or remaining() <= 2 * SAFETY_MS:
        return None
    return lambda: remaining() < SAFETY_MS


def handle(event: Any, context: Any = None) -> dict:
    """Run every clinic whose 03:00 has come at the event's time; returns the run's summary."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    context = context if context is not None else getattr(event, "context", None)
    now = event_time(raw)
    from ..store.uow import UnitOfWork  # noqa: PLC0415 - loaded with the job, not at import

    result = invoicing.run_scheduled(UnitOfWork(), now, _deadline(context))
    logger.info("auto-invoicing run", extra={
        "event_time": raw.get("time"), "clinics_run": len(result.clinics_run),
        "clinics_failed": result.clinics_failed, "stopped_early": result.stopped_early,
        "invoices_created": result.invoices_created, "promises_broken": result.promises_broken})
    record_metrics(result, getattr(context, "function_name", None) or "local")
    metrics.flush_metrics()
    return {"clinics_run": result.clinics_run, "invoices_created": result.invoices_created,
            "promises_broken": result.promises_broken}


def record_metrics(result: invoicing.RunResult, function_name: str) -> None:
    """The run's counts, one value each, for the next `metrics.flush_metrics()`."""
    metrics.add_dimension(name="function", value=function_name)
    for name, value in (("ClinicsRun", len(result.clinics_run)), ("ClinicsFailed", len(result.clinics_failed)),
                        ("InstallmentsInvoiced", result.invoices_created), ("PromisesBroken", result.promises_broken),
                        ("RunsStoppedEarly", int(result.stopped_early))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
