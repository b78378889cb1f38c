"""The fast tier's own guarantees: nothing reaches AWS or the network, and the fakes behave like the real thing."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import boto3
import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.services import staff
from tests.fast.fakes import NoAws
from tests.support import Api


def test_a_call_to_aws_fails_the_test():
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    with pytest.raises(NoAws):
        dynamodb.list_tables()


def test_opening_a_connection_fails_the_test():
    with pytest.raises(NoAws), socket.socket() as s:
        s.connect(("127.0.0.1", 9))


def test_the_routes_use_the_modules_memory_store(clinic, store):
    pid = clinic.patient("Stored In Memory")
    assert store.patients[(clinic.clinic_id, pid)].name == "Stored In Memory"


def test_a_second_user_with_the_same_email_is_a_conflict(clinic, uow):
    email = clinic.users["billing"]["email"]
    with pytest.raises(Conflict):
        staff.create(uow, clinic.clinic_id, datetime.now(UTC), email=email, name="Twin", role="BillingStaff")


def test_a_token_the_pool_did_not_issue_is_a_401(http):
    assert Api(http, "made-up-token").get("/me").status == 401
    assert Api(http, None).get("/me").status == 401


def test_a_token_names_its_users_clinic_and_role(clinic):
    me = clinic.admin.get("/me").body
    assert (me["sub"], me["clinic_id"], me["roles"]) == (clinic.sub("admin"), clinic.clinic_id, ["Admin"])
