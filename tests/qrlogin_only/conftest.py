"""Fixtures for qrlogin installed alone: phones hold a DRF token, the site's own choice."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PC_IP, PC_UA, PHONE_IP
from tests.e2e.conftest import _allow_async_unsafe, browser, new_context  # noqa: F401

PASSWORD = "pw-4-dora!"  # noqa: S105  (a test user's password)


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("dora", password=PASSWORD)


@pytest.fixture
def phone_token(user) -> str:
    return Token.objects.create(user=user).key


@pytest.fixture
def phone(phone_token) -> APIClient:
    client = APIClient(REMOTE_ADDR=PHONE_IP)
    client.credentials(HTTP_AUTHORIZATION=f"Token {phone_token}")
    return client


@pytest.fixture
def pc() -> APIClient:
    return APIClient(REMOTE_ADDR=PC_IP, HTTP_USER_AGENT=PC_UA)
