"""Model factories shared by the test suites."""

from __future__ import annotations

from typing import Any

import factory
from django.conf import settings
from factory.django import DjangoModelFactory, Password

from qrlogin_accounts.models import Device, DeviceToken, DeviceType

DEFAULT_PASSWORD = "correct horse battery staple"  # noqa: S105  (test users' password)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = Password(DEFAULT_PASSWORD)
    is_active = True


class DeviceFactory(DjangoModelFactory):
    class Meta:
        model = Device

    user = factory.SubFactory(UserFactory)
    device_id = factory.Sequence(lambda n: f"device-{n:04d}")
    device_type = DeviceType.IOS
    name = factory.Sequence(lambda n: f"Phone {n}")


def make_device_token(
    device: Device | None = None, **device_kwargs: Any
) -> tuple[DeviceToken, str]:
    """Issue a token for ``device`` (or a new DeviceFactory device); return (token, raw token)."""
    if device is None:
        device = DeviceFactory(**device_kwargs)
    return DeviceToken.objects.issue(device)


def auth_headers(raw_token: str, device: Device | str) -> dict[str, str]:
    """Headers for Django's test client / DRF's APIClient to authenticate as a device."""
    device_id = device if isinstance(device, str) else device.device_id
    return {"HTTP_AUTHORIZATION": f"Token {raw_token}", "HTTP_X_DEVICE_ID": device_id}
