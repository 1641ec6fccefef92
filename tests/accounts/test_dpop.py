"""Device-bound tokens (RFC 9449 DPoP): binding at login, and every refusal of protocol.md."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core import checks
from django.test import override_settings
from jwt.algorithms import ECAlgorithm

from qrlogin_accounts import dpop
from qrlogin_accounts.models import DeviceToken, DPoPProofUse
from qrlogin_accounts.tokens import BEARER_SCHEME, DPOP_SCHEME
from tests.dpop import DeviceKey, ath, dpop_headers
from tests.factories import DEFAULT_PASSWORD, DeviceFactory, auth_headers, make_device_token

pytestmark = pytest.mark.django_db

LOGIN_PATH = "/accounts/api/token/"
ME = "/accounts/api/me/"
DEVICES = "/accounts/api/devices/"
CHALLENGE = 'DPoP error="invalid_dpop_proof"'

# RFC 7638 section 3.1: the example RSA key and its thumbprint.
RFC7638_RSA = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
    "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
# RFC 9449 section 6.1: the example P-256 key and its jkt.
RFC9449_EC = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}


def assert_refused(response, code="invalid_dpop_proof", status=401, challenge=CHALLENGE):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    if challenge is not None:
        assert response["WWW-Authenticate"] == challenge
    return body


def login(api_client, user, key=None, **extra):
    body = {
        "username": user.username,
        "password": DEFAULT_PASSWORD,
        "device_id": "phone-1",
        "device_type": "ios",
    }
    if key is not None:
        extra.setdefault("HTTP_DPOP", key.proof("POST", LOGIN_PATH))
    return api_client.post(LOGIN_PATH, body, format="json", **extra)


@pytest.fixture
def key():
    return DeviceKey()


@pytest.fixture
def bound(device, key):
    """(raw token, device) of a token bound to ``key``."""
    _token, raw = DeviceToken.objects.issue(device, jkt=key.thumbprint)
    return raw, device


def get_me(api_client, raw, device, proof, scheme="DPoP", **extra):
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {raw}", "HTTP_X_DEVICE_ID": device.device_id}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return api_client.get(ME, **headers, **extra)


# Thumbprints ----------------------------------------------------------------------------


def test_thumbprint_rfc7638_rsa_vector():
    assert dpop.thumbprint(RFC7638_RSA) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_rfc9449_ec_vector():
    assert dpop.thumbprint(RFC9449_EC) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_thumbprint_ignores_optional_members_and_order():
    shuffled = {"y": RFC9449_EC["y"], "crv": "P-256", "kid": "k1", "x": RFC9449_EC["x"]}
    shuffled["kty"] = "EC"
    assert dpop.thumbprint(shuffled) == dpop.thumbprint(RFC9449_EC)


def test_thumbprint_of_a_generated_ec_key_is_rfc7638():
    key = DeviceKey()
    members = {m: key.jwk[m] for m in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    assert key.thumbprint == dpop.b64url(hashlib.sha256(canonical).digest())
    assert len(key.thumbprint) == 43


def test_ath_is_base64url_sha256_of_the_token():
    # SHA-256("abc") is ba7816bf...; base64url without padding.
    assert dpop.access_token_hash("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    assert ath("abc") == dpop.access_token_hash("abc")


# Binding at the token request -----------------------------------------------------------


def test_login_with_proof_binds_the_token(api_client, user, key):
    response = login(api_client, user, key)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token_type"] == DPOP_SCHEME
    token = DeviceToken.objects.get(device__pk=body["device"]["id"])
    assert token.jkt == key.thumbprint

    me = api_client.get(ME, **dpop_headers(key, "GET", ME, body["token"], "phone-1"))
    assert me.status_code == 200, me.content
    assert me.json()["device"]["device_id"] == "phone-1"


def test_login_with_eddsa_proof(api_client, user):
    key = DeviceKey("ed25519")
    body = login(api_client, user, key).json()
    assert body["token_type"] == DPOP_SCHEME
    me = api_client.get(ME, **dpop_headers(key, "GET", ME, body["token"], "phone-1"))
    assert me.status_code == 200, me.content


def test_login_without_proof_is_a_bearer_token(api_client, user):
    body = login(api_client, user).json()
    assert body["token_type"] == BEARER_SCHEME
    assert DeviceToken.objects.get().jkt == ""


def test_login_with_a_bad_proof_is_400_and_issues_nothing(api_client, user, key):
    response = login(api_client, user, key, HTTP_DPOP=key.proof("GET", LOGIN_PATH))
    assert_refused(response, status=400)
    assert not DeviceToken.objects.exists()


def test_login_proof_replayed_is_refused(api_client, user, key):
    proof = key.proof("POST", LOGIN_PATH)
    assert login(api_client, user, key, HTTP_DPOP=proof).status_code == 201
    assert_refused(login(api_client, user, key, HTTP_DPOP=proof), status=400)


def test_two_dpop_headers_are_refused(api_client, user, key):
    proof = key.proof("POST", LOGIN_PATH)
    assert_refused(login(api_client, user, key, HTTP_DPOP=f"{proof},{proof}"), status=400)


# Every refusal of a resource request ------------------------------------------------------


def test_bound_token_with_a_valid_proof_works(api_client, bound, key):
    raw, device = bound
    response = get_me(api_client, raw, device, key.proof("GET", ME, raw))
    assert response.status_code == 200, response.content


def test_refused_without_proof(api_client, bound):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, None))


def test_refused_bound_token_under_token_scheme(api_client, bound, key):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw), scheme="Token"))
    assert_refused(api_client.get(ME, **auth_headers(raw, device)))


def test_refused_with_another_key(api_client, bound):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, DeviceKey().proof("GET", ME, raw)))


def test_refused_replayed_jti(api_client, bound, key):
    raw, device = bound
    proof = key.proof("GET", ME, raw)
    assert get_me(api_client, raw, device, proof).status_code == 200
    assert_refused(get_me(api_client, raw, device, proof))
    # The same jti in a new proof is a replay too.
    jti = jwt.decode(proof, options={"verify_signature": False})["jti"]
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw, jti=jti)))


def test_refused_stale_iat(api_client, bound, key):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw, iat=time.time() - 61)))


def test_refused_future_iat(api_client, bound, key, clock):
    # The clock stands still: a proof's iat is whole seconds, so a moving one could cut 61 s
    # ahead to 60.x by the time the server reads it, inside the window.
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw, iat=time.time() + 61)))


def test_iat_within_the_window_is_accepted_both_ways(api_client, bound, key):
    raw, device = bound
    for offset in (-55, 55):
        proof = key.proof("GET", ME, raw, iat=time.time() + offset)
        assert get_me(api_client, raw, device, proof).status_code == 200


def test_a_proof_goes_stale_with_the_clock(api_client, bound, key):
    raw, device = bound
    proof = key.proof("GET", ME, raw)
    with time_machine.travel(time.time() + 61, tick=False):
        assert_refused(get_me(api_client, raw, device, proof))


def test_refused_wrong_htm(api_client, bound, key):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("POST", ME, raw)))


@pytest.mark.parametrize(
    "htu",
    [
        "http://evil.example/accounts/api/me/",  # host
        "http://testserver/accounts/api/devices/",  # path
        "https://testserver/accounts/api/me/",  # scheme
        "http://testserver:8080/accounts/api/me/",  # port
    ],
    ids=["host", "path", "scheme", "port"],
)
def test_refused_wrong_htu(api_client, bound, key, htu):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("GET", htu, raw)))


@pytest.mark.parametrize(
    "htu",
    [
        "http://testserver/accounts/api/me/?page=2#top",
        "HTTP://TestServer:80/accounts/api/me/",
        "http://testserver/accounts/api/%6De/",
    ],
    ids=["query-and-fragment-ignored", "case-and-default-port", "percent-encoding"],
)
def test_htu_is_compared_normalized(api_client, bound, key, htu):
    raw, device = bound
    assert get_me(api_client, raw, device, key.proof("GET", htu, raw)).status_code == 200


def test_htu_behind_a_tls_proxy(api_client, bound, key, settings):
    """The URL as the site sees it: Django's SECURE_PROXY_SSL_HEADER decides the scheme."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    raw, device = bound
    https = key.proof("GET", "https://testserver/accounts/api/me/", raw)
    proxied = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "testserver"}
    response = get_me(api_client, raw, device, https, **proxied)
    assert response.status_code == 200, response.content
    http = key.proof("GET", "http://testserver/accounts/api/me/", raw)
    assert_refused(get_me(api_client, raw, device, http, **proxied))


def test_refused_wrong_ath(api_client, bound, key):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, "another-token")))
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME)))  # no ath at all


def _unsigned(header: dict, claims: dict) -> str:
    part = lambda d: dpop.b64url(json.dumps(d).encode())  # noqa: E731
    return f"{part(header)}.{part(claims)}."


def _claims(raw: str) -> dict:
    return {"jti": "j-1", "htm": "GET", "htu": f"http://testserver{ME}", "iat": int(time.time()),
            "ath": ath(raw)}  # fmt: skip


def test_refused_alg_none(api_client, bound, key):
    raw, device = bound
    proof = _unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}, _claims(raw))
    assert_refused(get_me(api_client, raw, device, proof))


def test_refused_hs256_with_the_public_key_as_secret(api_client, bound, key):
    """The classic algorithm confusion: an HMAC "signed" with the public key's bytes."""
    raw, device = bound
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk}
    signing_input = f"{dpop.b64url(json.dumps(header).encode())}." + dpop.b64url(
        json.dumps(_claims(raw)).encode()
    )
    public = key.private.public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, json.dumps(key.jwk).encode(), ECAlgorithm.to_jwk(public).encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_refused(get_me(api_client, raw, device, f"{signing_input}.{dpop.b64url(mac)}"))


@pytest.mark.parametrize(
    "proof",
    ["not-a-jwt", "a.b.c", "e30.e30.", "x" * 5000, "eyJhbGciOiJFUzI1NiJ9..sig", "..."],
    ids=["garbage", "bad-base64", "empty-json", "too-long", "empty-payload", "dots"],
)
def test_refused_malformed_jwt(api_client, bound, proof):
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, proof))


def test_refused_non_object_payload(api_client, bound, key):
    raw, device = bound
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk}
    proof = jwt.api_jws.encode(b"[1, 2]", key.private, algorithm="ES256", headers=header)
    assert_refused(get_me(api_client, raw, device, proof))


DEEP = "[" * 1000 + "]" * 1000  # json raises RecursionError here; still under the 4 KiB cap


@pytest.mark.parametrize("part", ["header", "payload"])
def test_refused_proof_nested_too_deep_over_http(api_client, bound, key, user, part):
    """A proof is a header, which the body parsers never see: dpop refuses it itself."""
    if part == "payload":
        header = {"typ": "dpop+jwt", "jwk": key.jwk}
        proof = jwt.api_jws.encode(DEEP.encode(), key.private, algorithm="ES256", headers=header)
    else:
        proof = f"{dpop.b64url(DEEP.encode())}.e30."
    raw, device = bound
    assert_refused(get_me(api_client, raw, device, proof))
    assert_refused(login(api_client, user, key, HTTP_DPOP=proof), status=400)


def test_a_body_nested_too_deep_is_a_400_and_spends_no_proof(api_client, user, key):
    proof = key.proof("POST", LOGIN_PATH, jti="once")
    response = api_client.post(LOGIN_PATH, DEEP, content_type="application/json", HTTP_DPOP=proof)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert login(api_client, user, key, HTTP_DPOP=proof).status_code == 201


def test_refused_proof_without_jwk(api_client, bound, key):
    raw, device = bound
    proof = jwt.encode(_claims(raw), key.private, algorithm="ES256", headers={"typ": "dpop+jwt"})
    assert_refused(get_me(api_client, raw, device, proof))


def test_refused_private_key_in_jwk(api_client, bound, key):
    raw, device = bound
    private_jwk = ECAlgorithm.to_jwk(key.private, as_dict=True)
    assert "d" in private_jwk
    proof = key.proof("GET", ME, raw, header={"jwk": private_jwk})
    assert_refused(get_me(api_client, raw, device, proof))


def test_refused_wrong_typ(api_client, bound, key):
    raw, device = bound
    assert_refused(
        get_me(api_client, raw, device, key.proof("GET", ME, raw, header={"typ": "JWT"}))
    )


def test_refused_key_of_another_curve_than_alg(api_client, bound, key):
    raw, device = bound
    ed = DeviceKey("ed25519")
    # An ES256 signature by the right key, but the header names an Ed25519 jwk: refused
    # before any signature check, whatever the signature says.
    head, body, sig = key.proof("GET", ME, raw).split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["jwk"] = ed.jwk
    forged = dpop.b64url(json.dumps(header).encode())
    assert_refused(get_me(api_client, raw, device, f"{forged}.{body}.{sig}"))


def test_refused_bad_signature(api_client, bound, key):
    raw, device = bound
    head, body, sig = key.proof("GET", ME, raw).split(".")
    other = key.proof("GET", ME, raw, claims={"htm": "GET", "extra": 1}).split(".")[2]
    assert_refused(get_me(api_client, raw, device, f"{head}.{body}.{other}"))
    assert sig != other


def test_refused_unbound_token_under_dpop_scheme(api_client, issued, device, key):
    _token, raw = issued
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw)))


def test_refused_missing_jti(api_client, bound, key):
    raw, device = bound
    claims = _claims(raw)
    del claims["jti"]
    proof = jwt.encode(claims, key.private, "ES256", headers={"typ": "dpop+jwt", "jwk": key.jwk})
    assert_refused(get_me(api_client, raw, device, proof))


def test_other_token_errors_still_come_first(api_client, bound, key):
    raw, device = bound
    DeviceToken.objects.update(revoked_at="2020-01-01T00:00:00Z")
    response = get_me(api_client, raw, device, key.proof("GET", ME, raw))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_stolen_token_cannot_approve_anything(api_client, bound, key):
    """A token copied without the key: refused on the phone's scan too (qrlogin's views)."""
    raw, device = bound
    response = api_client.post(
        "/qrlogin/api/scan/",
        {"qr": "x" * 32},
        format="json",
        HTTP_AUTHORIZATION=f"Token {raw}",
        HTTP_X_DEVICE_ID=device.device_id,
    )
    assert_refused(response)
    stolen = DeviceKey().proof("POST", "/qrlogin/api/scan/", raw)
    response = api_client.post(
        "/qrlogin/api/scan/",
        {"qr": "x" * 32},
        format="json",
        HTTP_AUTHORIZATION=f"DPoP {raw}",
        HTTP_DPOP=stolen,
        HTTP_X_DEVICE_ID=device.device_id,
    )
    assert_refused(response)


# The replay store ----------------------------------------------------------------------


@pytest.mark.parametrize("store", ["cache", "database"])
def test_replay_store_has_one_winner(store):
    iat = int(time.time())
    assert dpop.first_use("jkt", "jti-1", iat, store=store) is True
    assert dpop.first_use("jkt", "jti-1", iat, store=store) is False
    assert dpop.first_use("jkt", "jti-2", iat, store=store) is True
    assert dpop.first_use("other-key", "jti-1", iat, store=store) is True


def test_database_store_forgets_expired_entries():
    iat = int(time.time())
    assert dpop.first_use("jkt", "old", iat, store="database")
    with time_machine.travel(time.time() + 2 * dpop.IAT_WINDOW + 5, tick=False):
        assert dpop.first_use("jkt", "new", int(time.time()), store="database")
        assert list(DPoPProofUse.objects.values_list("key", flat=True)) == [
            dpop.replay_key("jkt", "new")
        ]


def test_auto_store_follows_the_cache_backend():
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    redis = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://x"}}
    with override_settings(CACHES=locmem):
        assert dpop.replay_store() == "database"
    with override_settings(CACHES=redis):
        assert dpop.replay_store() == "cache"
        with override_settings(ACCOUNTS={"DPOP_REPLAY_STORE": "database"}):
            assert dpop.replay_store() == "database"


def test_cache_unavailable_falls_back_to_the_database(monkeypatch):
    monkeypatch.setattr(dpop.cache, "add", lambda *a, **kw: None)  # django-redis, Redis away
    iat = int(time.time())
    assert dpop.first_use("jkt", "jti", iat, store="cache") is True
    assert dpop.first_use("jkt", "jti", iat, store="cache") is False
    assert DPoPProofUse.objects.count() == 1


# ACCOUNTS["DPOP"] modes ----------------------------------------------------------------


def test_required_mode_refuses_a_login_without_proof(api_client, user, settings):
    settings.ACCOUNTS = {"DPOP": "required"}
    assert_refused(login(api_client, user), code="dpop_required", status=400, challenge=None)
    assert not DeviceToken.objects.exists()
    assert login(api_client, user, DeviceKey()).json()["token_type"] == DPOP_SCHEME


def test_required_mode_refuses_unbound_tokens_issued_earlier(api_client, issued, device, settings):
    settings.ACCOUNTS = {"DPOP": "required"}
    _token, raw = issued
    response = api_client.get(ME, **auth_headers(raw, device))
    assert_refused(response, code="dpop_required", challenge='DPoP algs="ES256 EdDSA"')


def test_required_mode_accepts_bound_tokens(api_client, bound, key, settings):
    settings.ACCOUNTS = {"DPOP": "required"}
    raw, device = bound
    assert get_me(api_client, raw, device, key.proof("GET", ME, raw)).status_code == 200


def test_off_mode_binds_nothing_but_keeps_earlier_bindings(api_client, user, bound, key, settings):
    settings.ACCOUNTS = {"DPOP": "off"}
    body = login(api_client, user, DeviceKey(), HTTP_DPOP="not even a proof").json()
    assert body["token_type"] == BEARER_SCHEME
    raw, device = bound
    assert_refused(api_client.get(ME, **auth_headers(raw, device)))
    assert get_me(api_client, raw, device, key.proof("GET", ME, raw)).status_code == 200


def test_off_mode_is_a_deploy_warning(settings):
    settings.ACCOUNTS = {"DPOP": "off"}
    ids = [m.id for m in checks.run_checks(include_deployment_checks=True)]
    assert "qrlogin_accounts.W002" in ids
    settings.ACCOUNTS = {"DPOP": "optional"}
    ids = [m.id for m in checks.run_checks(include_deployment_checks=True)]
    assert "qrlogin_accounts.W002" not in ids


@pytest.mark.parametrize(
    ("accounts", "error"),
    [
        ({"DPOP": "sometimes"}, "qrlogin_accounts.E007"),
        ({"DPOP_NONCE": -1}, "qrlogin_accounts.E008"),
        ({"DPOP_NONCE": "yes"}, "qrlogin_accounts.E008"),
        ({"DPOP_REPLAY_STORE": "memory"}, "qrlogin_accounts.E009"),
    ],
)
def test_bad_dpop_settings_are_errors(settings, accounts, error):
    settings.ACCOUNTS = accounts
    assert error in [m.id for m in checks.run_checks()]


# Server nonces (RFC 9449 section 8) ------------------------------------------------------


def test_nonce_at_login_is_a_400_with_a_fresh_nonce(api_client, user, key, settings):
    settings.ACCOUNTS = {"DPOP_NONCE": True}
    response = login(api_client, user, key)
    assert_refused(response, code="use_dpop_nonce", status=400,
                   challenge='DPoP error="use_dpop_nonce"')  # fmt: skip
    nonce = response["DPoP-Nonce"]
    assert nonce and not DeviceToken.objects.exists()
    again = login(api_client, user, key, HTTP_DPOP=key.proof("POST", LOGIN_PATH, nonce=nonce))
    assert again.status_code == 201, again.content
    assert again.json()["token_type"] == DPOP_SCHEME


def test_a_refused_proof_or_a_nonce_round_trip_spends_no_device_budget(
    api_client, user, key, settings
):
    # The proof is checked before the new-device budget: a client following the nonce
    # dance (or fixing its clock) must not pay two or three devices for one.
    settings.ACCOUNTS = {
        "DPOP_NONCE": True,
        "THROTTLE_RATES": {"token_login_ip": None, "token_login_username": None,
                           "device_create": "1/day"},
    }  # fmt: skip
    stale = key.proof("POST", LOGIN_PATH, iat=time.time() - 3600)
    assert_refused(login(api_client, user, key, HTTP_DPOP=stale), status=400)
    response = login(api_client, user, key)
    assert_refused(response, code="use_dpop_nonce", status=400,
                   challenge='DPoP error="use_dpop_nonce"')  # fmt: skip
    proof = key.proof("POST", LOGIN_PATH, nonce=response["DPoP-Nonce"])
    assert login(api_client, user, key, HTTP_DPOP=proof).status_code == 201
    # The budget still holds: a second new device today is one too many.
    other = {"username": user.username, "password": DEFAULT_PASSWORD, "device_id": "phone-2",
             "device_type": "ios"}  # fmt: skip
    proof = key.proof("POST", LOGIN_PATH, nonce=response["DPoP-Nonce"])
    refused = api_client.post(LOGIN_PATH, other, format="json", HTTP_DPOP=proof)
    assert refused.status_code == 429, refused.content


def test_nonce_on_requests_is_a_401(api_client, bound, key, settings):
    settings.ACCOUNTS = {"DPOP_NONCE": 300}
    raw, device = bound
    response = get_me(api_client, raw, device, key.proof("GET", ME, raw))
    assert_refused(response, code="use_dpop_nonce", challenge='DPoP error="use_dpop_nonce"')
    nonce = response["DPoP-Nonce"]
    ok = get_me(api_client, raw, device, key.proof("GET", ME, raw, nonce=nonce))
    assert ok.status_code == 200, ok.content


def test_nonce_expires_and_is_unforgeable(api_client, bound, key, settings):
    settings.ACCOUNTS = {"DPOP_NONCE": 300}
    raw, device = bound
    nonce = dpop.new_nonce()
    forged = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB")
    assert_refused(get_me(api_client, raw, device, key.proof("GET", ME, raw, nonce=forged)),
                   code="use_dpop_nonce", challenge='DPoP error="use_dpop_nonce"')  # fmt: skip
    with time_machine.travel(time.time() + 301, tick=False):
        response = get_me(api_client, raw, device, key.proof("GET", ME, raw, nonce=nonce))
        assert response.json()["code"] == "use_dpop_nonce"


def test_nonces_are_off_by_default(api_client, bound, key):
    raw, device = bound
    response = get_me(api_client, raw, device, key.proof("GET", ME, raw))
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response


# Devices list and admin ------------------------------------------------------------------


def test_devices_list_shows_key_bound_devices(api_client, bound, key, user):
    raw, device = bound
    plain = DeviceFactory(user=user)
    make_device_token(plain)
    response = api_client.get(DEVICES, **dpop_headers(key, "GET", DEVICES, raw, device.device_id))
    assert response.status_code == 200, response.content
    flags = {item["id"]: item["dpop"] for item in response.json()}
    assert flags == {device.pk: True, plain.pk: False}


def test_admin_shows_key_bound(admin_client, bound):
    _raw, device = bound
    response = admin_client.get("/admin/qrlogin_accounts/device/")
    assert response.status_code == 200
    assert "Key-bound (DPoP)" in response.content.decode()
    token = DeviceToken.objects.get(device=device)
    page = admin_client.get(f"/admin/qrlogin_accounts/devicetoken/{token.pk}/change/")
    assert token.jkt in page.content.decode()


def test_b64url_helper_matches_stdlib():
    assert dpop.b64url(b"\xff\xfe") == base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=")


# OpenAPI ---------------------------------------------------------------------------------


def test_schema_declares_the_dpop_scheme_and_header(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["dpop"] == {**schemes["dpop"], "type": "http", "scheme": "DPoP"}
    me = schema["paths"][ME]["get"]
    assert {"deviceToken": []} in me["security"] and {"dpop": []} in me["security"]
    for path, method in [
        (LOGIN_PATH, "post"),
        (ME, "get"),
        ("/qrlogin/api/sessions/{public_id}/complete/", "post"),
        ("/qrlogin/api/scan/", "post"),
    ]:
        headers = {p["name"] for p in schema["paths"][path][method].get("parameters", [])}
        assert "DPoP" in headers, path
    assert schema["components"]["schemas"]["TokenTypeEnum"]["enum"] == ["Token", "DPoP"]
