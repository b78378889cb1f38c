"""Clinic Follow-ups: the API's routes and the scheduled function. No logic here.

A cold start imports only this, Chalice and the route table: each route's module (its pydantic
models, services, PynamoDB models) loads on the route's first request (chalicelib/api/wiring.py),
and the auto-invoicing job on the first scheduled event.
"""

import gc

# A cold start allocates a lot and frees nothing: no garbage collections while the modules load
# (BENCHMARKS.md, "Cold start").
gc.disable()

from chalice import Chalice, Rate  # noqa: E402

from chalicelib import config  # noqa: E402
from chalicelib.api import wiring  # noqa: E402

app = Chalice(app_name="followups")
wiring.register(app)

if config.lambda_runtime():
    # Once, at the Lambda entry: what start-up built lives as long as the process, so later
    # collections need not walk it. Never in tests or `chalice local`, where a freeze would pin
    # every cyclic object alive at that moment (moto's backends, tracebacks) for the whole run.
    # Before gc.enable(): the first allocation after it would otherwise collect all of start-up.
    gc.freeze()
gc.enable()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="auto_invoicing")
def auto_invoicing(event):
    """Every 15 minutes (UTC): each clinic's 03:00 local run. "now" is the event's `time`."""
    from chalicelib.jobs import auto_invoicing as job  # noqa: PLC0415 - not on the API's start-up path

    return job.handle(event)


@app.lambda_function(name="webhook_delivery")
def webhook_delivery(event, context):
    """Webhooks (issue 18): the billing table's stream (event items) and the delivery queue's tries.
    Its event sources, role and queue are in deploy/resources.json and .chalice/policy-webhook-delivery.json."""
    from chalicelib.jobs import webhooks as job  # noqa: PLC0415 - not on the API's start-up path

    return job.handle(event, context)
