"""Structured JSON logs that carry ids only: never names, phones, emails or notes.

Lambda collects stdout, so the lines go there by default (Powertools' convention); a process whose
stdout is its result (the `followups` CLI) sends them to stderr with `send_to`."""

from __future__ import annotations

from typing import TextIO

from aws_lambda_powertools import Logger

from . import config

logger = Logger(service="followups", level=config.settings().log_level)


def send_to(stream: TextIO) -> TextIO:
    """Write every log line from now on to `stream`; returns the stream they went to before."""
    handler = logger.registered_handler
    previous = handler.stream
    handler.setStream(stream)
    return previous
