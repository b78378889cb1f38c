"""Clinic Follow-ups: everything the Chalice app in app.py wires together."""
