"""Every token is verified by the app: signature, issuer, audience, token use, expiry."""

import base64
import json

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.api import auth
from tests.support import PASSWORD, Api, access_token, id_token


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str):
    header, payload, signature = token.split(".")
    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return decode(header), decode(payload), signature


def test_a_request_without_a_token_is_unauthorized(http):
    r = Api(http, None).get("/me")
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"


def test_a_real_id_token_identifies_the_caller_and_the_clinic(clinic):
    r = clinic.owner.get("/me")
    assert r.status == 200, r
    assert r.body["clinic_id"] == clinic.clinic_id and r.body["roles"] == ["Owner"]
    assert r.body["sub"] == clinic.sub("owner") and r.body["permissions"] == ["write_off"]


def test_the_raw_token_without_bearer_is_accepted(clinic, http):
    r = http.get("/me", headers={"Authorization": clinic.users["billing"]["token"]})
    assert r.status_code == 200


@pytest.mark.parametrize("header", ["garbage", "Bearer", "Bearer a.b", "Basic dXNlcjpwYXNz", "Bearer a.b.c"])
def test_malformed_headers_are_unauthorized_not_errors(http, header):
    r = http.get("/me", headers={"Authorization": header})
    assert r.status_code == 401


def test_a_token_whose_claims_were_changed_fails_its_signature(clinic, other_clinic):
    header, payload, signature = _parts(clinic.users["billing"]["token"])
    payload["custom:clinic_id"] = other_clinic.clinic_id
    payload["cognito:groups"] = ["Owner"]
    forged = f"{_b64(header)}.{_b64(payload)}.{signature}"
    assert Api(clinic.http, forged).get("/me").status == 401


def test_a_token_signed_with_another_key_is_refused(clinic):
    _, payload, _ = _parts(clinic.users["billing"]["token"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "dummy"})
    assert Api(clinic.http, forged).get("/me").status == 401


def test_alg_none_is_refused(clinic):
    header, payload, _ = _parts(clinic.users["billing"]["token"])
    unsigned = f"{_b64({**header, 'alg': 'none'})}.{_b64(payload)}."
    assert Api(clinic.http, unsigned).get("/me").status == 401


def test_an_unknown_key_id_is_refused_after_refetching_the_keys(clinic):
    header, payload, signature = _parts(clinic.users["billing"]["token"])
    renamed = f"{_b64({**header, 'kid': 'rotated-away'})}.{_b64(payload)}.{signature}"
    assert Api(clinic.http, renamed).get("/me").status == 401


def test_an_access_token_is_not_an_id_token(clinic):
    token = access_token(clinic.users["billing"]["email"])
    assert Api(clinic.http, token).get("/me").status == 401


def test_a_token_of_another_app_client_is_refused(clinic, aws):
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    other = cognito.create_user_pool_client(UserPoolId=aws["pool_id"], ClientName="someone-elses-app",
                                            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    token = id_token(clinic.users["billing"]["email"], PASSWORD, client_id=other["ClientId"])
    assert Api(clinic.http, token).get("/me").status == 401


def test_an_expired_token_is_refused(clinic, monkeypatch):
    # moto's tokens live an hour: judge this real token as if read 2 hours later.
    real_clock = auth.clock
    monkeypatch.setattr(auth, "clock", lambda: real_clock() + 7200)
    r = clinic.billing.get("/me")
    assert r.status == 401 and "expired" in r.body["error"]["message"]


def test_a_token_is_valid_until_the_second_of_its_expiry(clinic, monkeypatch):
    _, payload, _ = _parts(clinic.users["billing"]["token"])
    monkeypatch.setattr(auth, "clock", lambda: payload["exp"] - 1)
    assert clinic.billing.get("/me").status == 200
    monkeypatch.setattr(auth, "clock", lambda: payload["exp"])
    assert clinic.billing.get("/me").status == 401


def test_groups_arrive_as_lists_locally_and_as_strings_behind_api_gateway():
    assert auth.groups_of({"cognito:groups": ["Owner", "Admin"]}) == {"Owner", "Admin"}
    assert auth.groups_of({"cognito:groups": "Owner,Admin"}) == {"Owner", "Admin"}
    assert auth.groups_of({"cognito:groups": "[Owner Admin]"}) == {"Owner", "Admin"}
    assert auth.groups_of({"cognito:groups": "Owner BillingStaff"}) == {"Owner", "BillingStaff"}
    assert auth.groups_of({"cognito:groups": "Superuser"}) == frozenset()
