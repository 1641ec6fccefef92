"""Whatever the input, the API answers with the contract's statuses and error shape, never 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = ["username", "password", "device_id", "device_type", "device_name"]
# What a WSGI server can put in a header: latin-1 decoded bytes, no line breaks.
header_text = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=120)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_user(settings):
    settings.ACCOUNTS = {"THROTTLE_RATES": None}
    return UserFactory(username="fuzz")


@FUZZ
@given(body=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5))
def test_token_login_any_json(fuzz_user, body):
    body = {"username": "fuzz", "password": DEFAULT_PASSWORD, **body}
    response = APIClient().post("/accounts/api/token/", body, format="json")
    assert response.status_code in {201, 400, 401}, response.content
    if response.status_code != 201:
        assert set(response.json()) >= {"detail", "code"}


@FUZZ
@given(raw=st.binary(max_size=300))
def test_token_login_any_bytes(fuzz_user, raw):
    response = APIClient().post("/accounts/api/token/", raw, content_type="application/json")
    assert response.status_code in {400, 401}, response.content
    assert response.json()["code"] in {"invalid", "invalid_credentials"}


@FUZZ
@given(authorization=header_text, device_id=header_text)
def test_any_headers(authorization, device_id):
    response = APIClient().get(
        "/accounts/api/me/", HTTP_AUTHORIZATION=authorization, HTTP_X_DEVICE_ID=device_id
    )
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
