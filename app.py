"""Clinic Follow-ups: wires the blueprints and the scheduled function. No logic here."""

from chalice import Chalice, Rate

from chalicelib.api import clinic, patients, plans, system
from chalicelib.jobs import auto_invoicing as auto_invoicing_job

app = Chalice(app_name="followups")

for blueprint in (system.bp, clinic.bp, patients.bp, plans.bp):
    app.register_blueprint(blueprint)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="auto_invoicing")
def auto_invoicing(event):
    """Every 15 minutes (UTC): each clinic's 03:00 local run. "now" is the event's `time`."""
    return auto_invoicing_job.handle(event)
