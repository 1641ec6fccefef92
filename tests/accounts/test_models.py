from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from qrlogin_accounts import tokens
from qrlogin_accounts.models import Device, DeviceToken, DeviceType
from tests.factories import DeviceFactory, UserFactory, make_device_token

pytestmark = pytest.mark.django_db


def test_issue_returns_raw_token_once_and_stores_only_digest(device):
    token, raw = DeviceToken.objects.issue(device)
    assert len(raw) >= 43  # 32 random bytes, URL-safe base64
    row = DeviceToken.objects.filter(pk=token.pk).values().get()
    for value in row.values():
        assert raw not in str(value)
    assert row["digest"] == tokens.token_digest(raw)
    assert row["prefix"] == raw[: tokens.PREFIX_LENGTH]
    assert len(row["digest"]) == 64


def test_issue_sets_expiry_from_settings(device, settings):
    settings.ACCOUNTS = {"TOKEN_TTL": 3600}
    token, _raw = DeviceToken.objects.issue(device)
    assert token.expires_at - token.created_at == timedelta(hours=1)


def test_default_ttl_is_30_days(device):
    token, _raw = DeviceToken.objects.issue(device)
    assert token.expires_at - token.created_at == timedelta(days=30)


def test_tokens_are_unique(device):
    raws = {DeviceToken.objects.issue(device)[1] for _ in range(5)}
    assert len(raws) == 5


def test_lookup_finds_token_by_raw_secret(device):
    token, raw = DeviceToken.objects.issue(device)
    assert DeviceToken.objects.lookup(raw) == token


@pytest.mark.parametrize("bad", ["", "short", "x" * 500, "abc\x00def" * 5, "é" * 43])
def test_lookup_rejects_junk(device, bad):
    DeviceToken.objects.issue(device)
    assert DeviceToken.objects.lookup(bad) is None


def test_lookup_same_prefix_wrong_secret(device):
    _token, raw = DeviceToken.objects.issue(device)
    forged = raw[: tokens.PREFIX_LENGTH] + ("A" if raw[-1] != "A" else "B") * (
        len(raw) - tokens.PREFIX_LENGTH
    )
    assert DeviceToken.objects.lookup(forged) is None


def test_issue_refuses_revoked_device(device):
    device.revoke()
    with pytest.raises(ValueError):
        DeviceToken.objects.issue(device)


def test_register_creates_then_reuses_live_device(user):
    first = Device.objects.register(user, "abc", DeviceType.IOS, "My phone")
    again = Device.objects.register(user, "abc", DeviceType.ANDROID, "")
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.device_type == DeviceType.ANDROID
    assert again.name == "My phone"  # kept when no new name is given
    renamed = Device.objects.register(user, "abc", DeviceType.ANDROID, "New name")
    assert renamed.pk == first.pk and renamed.name == "New name"


def test_register_after_revoke_creates_new_device(user):
    first = Device.objects.register(user, "abc", DeviceType.IOS)
    first.revoke()
    second = Device.objects.register(user, "abc", DeviceType.IOS)
    assert second.pk != first.pk
    assert second.is_active


def test_same_device_id_for_different_users_is_separate():
    a = Device.objects.register(UserFactory(), "shared", DeviceType.PC)
    b = Device.objects.register(UserFactory(), "shared", DeviceType.PC)
    assert a.pk != b.pk


def test_only_one_live_device_per_user_and_device_id(user):
    DeviceFactory(user=user, device_id="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceFactory(user=user, device_id="dup")
    # A revoked duplicate is fine.
    DeviceFactory(user=user, device_id="dup", revoked_at=timezone.now())


def test_device_revoke_revokes_all_tokens(device):
    t1, _ = make_device_token(device)
    make_device_token(device)
    other, _ = make_device_token()
    assert device.revoke() is True
    assert not device.is_active
    assert DeviceToken.objects.filter(device=device, revoked_at__isnull=True).count() == 0
    other.refresh_from_db()
    assert other.revoked_at is None
    assert device.revoke() is False  # idempotent
    t1.refresh_from_db()
    assert not t1.is_active


def test_token_revoke_is_idempotent(issued):
    token, _raw = issued
    assert token.revoke() is True
    first = token.revoked_at
    assert token.revoke() is False
    token.refresh_from_db()
    assert token.revoked_at == first


def test_live_queryset(device):
    live, _ = make_device_token(device)
    revoked, _ = make_device_token(device)
    revoked.revoke()
    expired, _ = make_device_token(device)
    DeviceToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert list(DeviceToken.objects.live()) == [live]
    device.revoke()
    assert not DeviceToken.objects.live().exists()


def test_str():
    device = DeviceFactory.build(name="", device_id="xyz", device_type=DeviceType.PC)
    assert str(device) == "xyz (PC)"
