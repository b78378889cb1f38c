"""Clinic Follow-ups: wires the blueprints and the scheduled function. No logic here."""

from chalice import Chalice

from chalicelib.api import clinic, console, patients, system

app = Chalice(app_name="followups")

for blueprint in (system.bp, clinic.bp, patients.bp, console.bp):
    app.register_blueprint(blueprint)
