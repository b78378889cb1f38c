"""Clinic Follow-ups: wires the blueprints and the scheduled function. No logic here."""

import gc

# A cold start allocates a lot and frees nothing: no garbage collections while the modules load
# (about 7% of the import time, BENCHMARKS.md), then keep what they built out of later collections.
gc.disable()

from chalice import Chalice, Rate  # noqa: E402

from chalicelib.api import (  # noqa: E402
    admin,
    clinic,
    console,
    followups,
    patients,
    plans,
    reports,
    system,
    writeoffs,
)
from chalicelib.jobs import auto_invoicing as auto_invoicing_job  # noqa: E402

gc.enable()
gc.freeze()

app = Chalice(app_name="followups")

for blueprint in (system.bp, clinic.bp, patients.bp, followups.bp, plans.bp, writeoffs.bp, admin.bp, reports.bp,
                  console.bp):
    app.register_blueprint(blueprint)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="auto_invoicing")
def auto_invoicing(event):
    """Every 15 minutes (UTC): each clinic's 03:00 local run. "now" is the event's `time`."""
    return auto_invoicing_job.handle(event)
