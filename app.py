"""Clinic Follow-ups: wires the blueprints and the scheduled function. No logic here."""

from chalice import Chalice

from chalicelib.api import admin, clinic, console, followups, patients, reports, system, writeoffs

app = Chalice(app_name="followups")

for blueprint in (system.bp, clinic.bp, patients.bp, followups.bp, writeoffs.bp, admin.bp, reports.bp,
                  console.bp):
    app.register_blueprint(blueprint)
