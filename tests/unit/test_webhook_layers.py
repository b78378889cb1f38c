"""Webhooks keep the layers: the adapters (KMS, SQS, HTTP) sit beside the store, below the services."""

from __future__ import annotations

import pytest

from tests.unit.test_layers import PACKAGE, files, imports_of


@pytest.mark.parametrize("layer", ["domain", "store"])
def test_neither_the_domain_nor_the_store_knows_the_adapters(layer):
    for path in files(layer):
        assert not [i for i in imports_of(path) if i.startswith("chalicelib.adapters")], path.name


def test_the_adapters_know_neither_the_store_nor_the_services_nor_the_http_layer():
    for path in files("adapters"):
        bad = [i for i in imports_of(path) if i.startswith(("chalicelib.store", "chalicelib.services",
                                                            "chalicelib.api", "pynamodb"))]
        assert not bad, f"{path.name} imports {bad}"


def test_the_webhook_services_get_their_adapters_passed_in():
    """Only the job (the Lambda entry) builds KMS, SQS and HTTP clients; a service that must check a
    URL may use the resolver (a function), never a client."""
    for name in ("deliveries.py", "webhooks.py", "events.py"):
        imported = imports_of(PACKAGE / "services" / name)
        assert not [i for i in imported if i.startswith(("chalicelib.adapters.kms", "chalicelib.adapters.queue",
                                                         "boto3", "botocore"))], name
