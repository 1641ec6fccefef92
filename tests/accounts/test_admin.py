import pytest
from django.urls import reverse

from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import DeviceFactory, UserFactory, make_device_token

pytestmark = pytest.mark.django_db


def device_changelist():
    return reverse("admin:qrlogin_accounts_device_changelist")


def token_changelist():
    return reverse("admin:qrlogin_accounts_devicetoken_changelist")


def test_device_changelist_and_search(admin_client):
    alice = UserFactory(username="alice")
    DeviceFactory(user=alice, device_id="alice-phone", name="Pixel")
    DeviceFactory(user=UserFactory(username="bob"), device_id="bob-phone", name="iPhone")
    response = admin_client.get(device_changelist())
    assert response.status_code == 200
    assert b"alice-phone" in response.content and b"bob-phone" in response.content

    for query in ["alice", "alice-phone", "Pixel"]:
        response = admin_client.get(device_changelist(), {"q": query})
        assert response.status_code == 200
        assert b"alice-phone" in response.content
        assert b"bob-phone" not in response.content


@pytest.mark.parametrize(
    "params", [{"revoked": "yes"}, {"revoked": "no"}, {"device_type__exact": "ios"}]
)
def test_device_filters(admin_client, params):
    DeviceFactory()
    assert admin_client.get(device_changelist(), params).status_code == 200


def test_device_change_page_shows_prefix_not_digest(admin_client):
    device = DeviceFactory()
    token, raw = make_device_token(device)
    response = admin_client.get(reverse("admin:qrlogin_accounts_device_change", args=[device.pk]))
    assert response.status_code == 200
    assert token.prefix.encode() in response.content
    assert token.digest.encode() not in response.content
    assert raw.encode() not in response.content


def test_token_pages_never_show_digest(admin_client):
    token, raw = make_device_token()
    for url in [
        token_changelist(),
        reverse("admin:qrlogin_accounts_devicetoken_change", args=[token.pk]),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200
        assert token.prefix.encode() in response.content
        assert token.digest.encode() not in response.content
        assert raw.encode() not in response.content


def test_no_add_in_admin(admin_client):
    assert admin_client.get(reverse("admin:qrlogin_accounts_device_add")).status_code == 403
    assert admin_client.get(reverse("admin:qrlogin_accounts_devicetoken_add")).status_code == 403


def test_token_search_and_filters(admin_client):
    # Queries with "." can't match a random token prefix ([A-Za-z0-9_-]).
    owner = UserFactory(username="zed.user")
    token, _ = make_device_token(DeviceFactory(user=owner, device_id="zz.phone", name="Z.name"))
    make_device_token()
    for query in [token.prefix, "zed.user", "zz.phone", "z.name"]:
        response = admin_client.get(token_changelist(), {"q": query})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [token]
    for state in ["active", "expired", "revoked"]:
        assert admin_client.get(token_changelist(), {"state": state}).status_code == 200


def test_revoke_devices_action(admin_client):
    d1, d2, keep = DeviceFactory(), DeviceFactory(), DeviceFactory()
    t1, _ = make_device_token(d1)
    response = admin_client.post(
        device_changelist(),
        {"action": "revoke_devices", "_selected_action": [d1.pk, d2.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Revoked 2 devices." in response.content
    assert set(Device.objects.filter(revoked_at__isnull=False)) == {d1, d2}
    keep.refresh_from_db()
    assert keep.revoked_at is None
    t1.refresh_from_db()
    assert t1.revoked_at is not None


def test_revoke_tokens_action(admin_client):
    t1, _ = make_device_token()
    t2, _ = make_device_token()
    response = admin_client.post(
        token_changelist(), {"action": "revoke_tokens", "_selected_action": [t1.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"Revoked 1 token." in response.content
    assert list(DeviceToken.objects.filter(revoked_at__isnull=False)) == [t1]
    t2.refresh_from_db()
    assert t2.revoked_at is None


def test_revoke_actions_say_what_they_skipped(admin_client):
    live, gone, also_gone = DeviceFactory(), DeviceFactory(), DeviceFactory()
    gone.revoke()
    also_gone.revoke()
    body = {"action": "revoke_devices", "_selected_action": [live.pk, gone.pk, also_gone.pk]}
    html = admin_client.post(device_changelist(), body, follow=True).content.decode()
    assert "Revoked 1 device; 2 were already revoked and were left as they were." in html
    again = {"action": "revoke_devices", "_selected_action": [live.pk]}
    html = admin_client.post(device_changelist(), again, follow=True).content.decode()
    assert "Revoked 0 devices; 1 was already revoked and was left as it was." in html
    assert 'class="warning"' in html

    t1, _ = make_device_token()
    t2, _ = make_device_token()
    t2.revoke()
    body = {"action": "revoke_tokens", "_selected_action": [t1.pk, t2.pk]}
    zh = admin_client.post(token_changelist(), body, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "已撤销 1 个令牌；1 个已被撤销，未作改动。" in zh.content.decode()  # noqa: RUF001
