"""Token edge cases: the key cache (empty at a clock of zero, expiry, rotation, removal, outage),
unknown keys, another pool's tokens."""

from types import SimpleNamespace

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


class Clock:
    """A monotonic clock the test moves; it starts at zero, as on a host that has just booted."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool_keys(monkeypatch):
    """The pool's JWKS as the app fetches it, editable (a kid removed, another published) and with
    each fetch's time recorded; a fresh cache (5 s between refetches, keys kept an hour) on a
    clock at zero."""
    served = SimpleNamespace(fetches=[], removed=set(), published={}, clock=Clock())
    real = auth.JwksCache._fetch

    def fetch(url):
        served.fetches.append(served.clock.now)
        keys = {kid: key for kid, key in real(url).items() if kid not in served.removed}
        return {**keys, **served.published}

    monkeypatch.setattr(auth.JwksCache, "_fetch", staticmethod(fetch))
    monkeypatch.setattr(auth, "JWKS", auth.JwksCache(min_refetch_seconds=5, max_age_seconds=3600,
                                                     clock=served.clock))
    return served


def test_keys_are_fetched_once_and_cached(clinic, counted_jwks):
    for _ in range(3):
        assert clinic.billing.get("/me").status == 200
    assert len(counted_jwks) == 1


def test_the_first_token_is_verified_when_the_hosts_monotonic_clock_is_at_zero(clinic, pool_keys):
    assert clinic.billing.get("/me").status == 200
    assert clinic.owner.get("/me").status == 200
    assert pool_keys.fetches == [0.0], "an empty cache is filled at once, whatever the clock says"


def test_cached_keys_expire_after_an_hour_and_are_fetched_again(clinic, pool_keys):
    for now in (0.0, 1.0, 3599.0):
        pool_keys.clock.now = now
        assert clinic.billing.get("/me").status == 200
    assert pool_keys.fetches == [0.0]
    pool_keys.clock.now = 3600.0
    assert clinic.billing.get("/me").status == 200
    assert pool_keys.fetches == [0.0, 3600.0]


def test_a_rotated_key_is_trusted_after_one_refetch(clinic, pool_keys):
    # Before the rotation the pool publishes only an old key; tokens are then signed with the new one.
    pool_keys.removed, pool_keys.published = {"dummy"}, {"old-key": object()}
    assert clinic.owner.get("/me").status == 401
    pool_keys.removed, pool_keys.published = set(), {}
    pool_keys.clock.now = 2.0
    assert clinic.billing.get("/me").status == 401, "an unknown kid refetches at most every 5 s"
    pool_keys.clock.now = 5.0
    assert clinic.billing.get("/me").status == 200
    assert pool_keys.fetches == [0.0, 5.0]
    assert "dummy" in auth.JWKS._keys and "old-key" not in auth.JWKS._keys, "the old key left with the refetch"


def test_a_key_removed_from_the_jwks_stops_being_trusted_once_the_cache_expires(clinic, pool_keys):
    assert clinic.billing.get("/me").status == 200
    pool_keys.removed = {"dummy"}  # the pool withdraws the key that signed the token
    pool_keys.clock.now = 600.0
    assert clinic.billing.get("/me").status == 200, "still cached: trusted until the cache expires"
    pool_keys.clock.now = 3600.0
    r = clinic.billing.get("/me")
    assert r.status == 401 and r.body["error"]["code"] == "unauthorized"
    pool_keys.clock.now = 3602.0
    assert clinic.billing.get("/me").status == 401
    assert pool_keys.fetches == [0.0, 3600.0], "and the unknown kid it has become refetches at most every 5 s"


def test_a_jwks_outage_is_a_401_and_is_not_retried_on_every_request(clinic, pool_keys, monkeypatch):
    real = auth.JwksCache._fetch

    def down(url):
        pool_keys.fetches.append(pool_keys.clock.now)
        raise auth.Unauthorized("the signing keys of the user pool could not be fetched")

    monkeypatch.setattr(auth.JwksCache, "_fetch", staticmethod(down))
    for now in (0.0, 1.0, 4.0):
        pool_keys.clock.now = now
        assert clinic.billing.get("/me").status == 401
    assert pool_keys.fetches == [0.0]
    monkeypatch.setattr(auth.JwksCache, "_fetch", staticmethod(real))
    pool_keys.clock.now = 5.0
    assert clinic.billing.get("/me").status == 200, "the first request after the pause fetches again"


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
