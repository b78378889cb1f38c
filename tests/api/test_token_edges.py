"""Token edge cases: key rotation, unknown keys, another pool's tokens."""

import boto3
import pytest

from chalicelib.api import auth
from devtools import bootstrap
from tests.support import PASSWORD, Api


@pytest.fixture
def counted_jwks(monkeypatch):
    """The real JWKS fetch, counted; a fresh, empty key cache."""
    fetches = []
    real = auth.JwksCache._fetch

    def fetch(url):
        fetches.append(url)
        return real(url)

    monkeypatch.setattr(auth.JwksCache, "_fetch", staticmethod(fetch))
    monkeypatch.setattr(auth, "JWKS", auth.JwksCache(min_refetch_seconds=60))
    return fetches


def test_keys_are_fetched_once_and_cached(clinic, counted_jwks):
    for _ in range(3):
        assert clinic.billing.get("/me").status == 200
    assert len(counted_jwks) == 1


def test_a_rotated_key_is_picked_up_by_refetching_on_an_unknown_kid(clinic, monkeypatch, counted_jwks):
    # Before rotation the cache holds only an old key; the token names the new one ("dummy").
    auth.JWKS._url = auth.config.settings().jwks_url
    auth.JWKS._keys = {"old-key": object()}
    auth.JWKS._fetched_at = 0.0
    assert clinic.billing.get("/me").status == 200
    assert len(counted_jwks) == 1 and "dummy" in auth.JWKS._keys


def test_unknown_kids_cannot_make_the_app_hammer_the_key_endpoint(clinic, counted_jwks):
    from tests.api.test_auth import _b64, _parts

    header, payload, signature = _parts(clinic.users["billing"]["token"])
    for n in range(5):
        forged = f"{_b64({**header, 'kid': f'unknown-{n}'})}.{_b64(payload)}.{signature}"
        assert Api(clinic.http, forged).get("/me").status == 401
    assert len(counted_jwks) == 1  # refetches are rate-limited


def test_a_token_of_another_user_pool_is_refused(clinic):
    pool_id, client_id = bootstrap.create_user_pool("some-other-pool")
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    email = "stranger@example.test"
    cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": email},
                                              {"Name": "custom:clinic_id", "Value": clinic.clinic_id}])
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="Owner")
    token = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
                                  )["AuthenticationResult"]["IdToken"]
    # Same signing key in moto (every pool shares it): only iss and aud can tell them apart.
    r = Api(clinic.http, token).get("/clinic")
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"
