"""Scheduled functions: thin handlers that read the event and call one service."""
