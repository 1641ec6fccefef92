import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import DeviceFactory, UserFactory, auth_headers, make_device_token


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle history lives in the cache; start and end every test with it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def device(user):
    return DeviceFactory(user=user)


@pytest.fixture
def issued(device):
    """(token, raw) for ``device``."""
    return make_device_token(device)


@pytest.fixture
def authed_client(api_client, device, issued):
    """An APIClient authenticated as ``device`` with a live token."""
    _token, raw = issued
    api_client.credentials(**auth_headers(raw, device))
    return api_client
