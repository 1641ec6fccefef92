"""Concurrent logins of one device (real row locks: PostgreSQL only)."""

import threading

import pytest
from django.db import connection, connections

from qrlogin_accounts.exceptions import DeviceConflict
from qrlogin_accounts.issuers import issue_device_token
from qrlogin_accounts.models import Device, DeviceManager, DeviceToken
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


def test_concurrent_first_logins_share_one_device(monkeypatch):
    user = UserFactory()
    barrier = threading.Barrier(2, timeout=10)
    real_create = DeviceManager.create

    def create_after_both_looked(self, **kwargs):
        # Both threads have found no live device; now both try to insert it.
        barrier.wait()
        return real_create(self, **kwargs)

    monkeypatch.setattr(DeviceManager, "create", create_after_both_looked)
    results, errors = [], []

    def login():
        try:
            results.append(
                issue_device_token(
                    user=user, device_id="same", device_type="pc", reuse_live_device=True
                )
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=login) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert len(results) == 2
    assert results[0]["device"]["id"] == results[1]["device"]["id"]
    assert Device.objects.filter(user=user, device_id="same").count() == 1
    assert DeviceToken.objects.filter(device__user=user).count() == 2


def test_concurrent_completions_onto_one_new_device_id_give_it_one_token(monkeypatch):
    """Two approved logins racing for one new device id: one gets it, the other a 409."""
    user = UserFactory()
    barrier = threading.Barrier(2, timeout=10)
    real_create = DeviceManager.create

    def create_after_both_looked(self, **kwargs):
        barrier.wait()
        return real_create(self, **kwargs)

    monkeypatch.setattr(DeviceManager, "create", create_after_both_looked)
    results, errors = [], []

    def complete():
        try:
            results.append(issue_device_token(user=user, device_id="same", device_type="pc"))
        except DeviceConflict as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 1 and len(errors) == 1
    assert DeviceToken.objects.filter(device__user=user).count() == 1
