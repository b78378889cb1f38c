"""Structured JSON logs that carry ids only: never names, phones, emails or notes."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from . import config

logger = Logger(service="followups", level=config.settings().log_level)
