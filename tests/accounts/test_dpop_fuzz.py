"""Whatever a proof holds, verification refuses it with InvalidDPoPProof: never another error.

A real signature over hostile headers and claims (the key signs whatever it is given), and
hostile bytes where the JWT should be.
"""

import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrlogin_accounts import dpop
from tests.dpop import DeviceKey

URL = "https://example.com/accounts/api/me/"
KEY = DeviceKey()

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=6,
)


def verify(proof):
    return dpop.verify_proof(proof, method="GET", url=URL, access_token="tok")  # noqa: S106  (a test value)


@FUZZ
@given(
    claims=st.dictionaries(
        st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce", "x"]), json_values
    ),
    jwk=st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "d", "n", "e"]), json_values, max_size=5
    ),
)
def test_signed_hostile_content_is_refused_cleanly(claims, jwk):
    header = {"typ": "dpop+jwt", "jwk": jwk or KEY.jwk}
    try:
        proof = jwt.encode(claims, KEY.private, algorithm="ES256", headers=header)
    except (TypeError, ValueError):  # not even JSON: nothing a client could send
        return
    with pytest.raises(dpop.InvalidDPoPProof):
        verify(proof)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_hostile_bytes_are_refused_cleanly(value):
    with pytest.raises(dpop.InvalidDPoPProof):
        verify(value)


@pytest.mark.parametrize("iat", ["NaN", "Infinity", "-Infinity", "1" + "0" * 400, "1e400"])
def test_a_non_finite_iat_is_refused(iat):
    body = json.dumps({"jti": "j", "htm": "GET", "htu": URL, "ath": dpop.access_token_hash("tok")})
    payload = body[:-1] + f', "iat": {iat}}}'
    header = {"typ": "dpop+jwt", "jwk": KEY.jwk}
    proof = jwt.api_jws.encode(payload.encode(), KEY.private, algorithm="ES256", headers=header)
    with pytest.raises(dpop.InvalidDPoPProof):
        verify(proof)


@pytest.mark.parametrize("part", ["header", "payload"])
def test_json_nested_too_deep_is_refused(part):
    """Python's json raises RecursionError past ~1,000 levels: a signed proof can hold that."""
    deep = "[" * 1000 + "]" * 1000
    if part == "payload":
        header = {"typ": "dpop+jwt", "jwk": KEY.jwk}
        proof = jwt.api_jws.encode(deep.encode(), KEY.private, algorithm="ES256", headers=header)
    else:
        proof = f"{dpop.b64url(deep.encode())}.e30."
    with pytest.raises(dpop.InvalidDPoPProof):
        verify(proof)


def test_a_good_proof_still_passes():
    proof = KEY.proof("GET", URL, "tok", iat=time.time())
    assert verify(proof).jkt == KEY.thumbprint
