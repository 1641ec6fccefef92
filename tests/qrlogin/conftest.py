"""Fixtures of the qrlogin app's own tests."""

import pytest

from qrlogin.actors import Actor
from tests.factories import UserFactory


@pytest.fixture
def actor():
    """A phone: a user and a stable device key."""
    user = UserFactory()
    return Actor(user=user, device_key=f"device:{user.pk}", device_name="Phone", ip="10.0.0.2")
