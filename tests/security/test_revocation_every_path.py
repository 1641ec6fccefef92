"""Issue 10, rows 5 and 7: revocation reaches every login.

The attack: a phone approves a QR login (by mistake, or a thief holds it), then its owner or
an admin cuts the phone off by any path but one (logout, the token admin, the device admin's
delete, a password change). Before, the PC's completion still answered 200 on all of those
except ``DELETE /accounts/api/devices/<id>/``. Now every path cancels the live sessions the
device scanned or confirmed, says why in the session's trail, and the PC's completion gets 409
``invalid_state`` (protocol.md, "Revocation").
"""

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.urls import reverse
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.authentication import DeviceTokenAuthentication
from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import DEFAULT_PASSWORD
from tests.security.support import assert_error

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a different horse, battery staple"  # noqa: S105  (a test password)


class FewIterationsPBKDF2(PBKDF2PasswordHasher):
    """A site's new default hasher, cheap enough for a test."""

    iterations = 1000


def logout(phone, admin_client):
    assert phone.client.delete("/accounts/api/token/").status_code == 204


def token_admin_revoke(phone, admin_client):
    token = DeviceToken.objects.get(device=phone.device)
    response = admin_client.post(
        reverse("admin:qrlogin_accounts_devicetoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "Revoked 1 token." in response.content.decode()


def token_admin_delete(phone, admin_client):
    token = DeviceToken.objects.get(device=phone.device)
    response = admin_client.post(
        reverse("admin:qrlogin_accounts_devicetoken_changelist"),
        {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not DeviceToken.objects.filter(pk=token.pk).exists()


def token_orm_delete(phone, admin_client):
    DeviceToken.objects.filter(device=phone.device).delete()


def api_device_revoke(phone, admin_client):
    assert phone.client.delete(f"/accounts/api/devices/{phone.device.pk}/").status_code == 204


def device_admin_revoke(phone, admin_client):
    response = admin_client.post(
        reverse("admin:qrlogin_accounts_device_changelist"),
        {"action": "revoke_devices", "_selected_action": [phone.device.pk]},
        follow=True,
    )
    assert "Revoked 1 device." in response.content.decode()


def device_admin_delete(phone, admin_client):
    url = reverse("admin:qrlogin_accounts_device_delete", args=[phone.device.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Device.objects.filter(pk=phone.device.pk).exists()


def device_admin_bulk_delete(phone, admin_client):
    """Django's own "Delete selected" action: one queryset delete, no model method."""
    response = admin_client.post(
        reverse("admin:qrlogin_accounts_device_changelist"),
        {"action": "delete_selected", "_selected_action": [phone.device.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Device.objects.filter(pk=phone.device.pk).exists()


def orm_delete(phone, admin_client):
    Device.objects.get(pk=phone.device.pk).delete()


def orm_bulk_delete(phone, admin_client):
    Device.objects.filter(user=phone.user).delete()


def set_password_and_save(phone, admin_client):
    user = get_user_model().objects.get(pk=phone.user.pk)
    user.set_password(NEW_PASSWORD)
    user.save()


def password_change_form(phone, admin_client):
    user = get_user_model().objects.get(pk=phone.user.pk)
    form = PasswordChangeForm(
        user,
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert form.is_valid(), form.errors
    form.save()


def admin_password_form(phone, admin_client):
    url = reverse("admin:auth_user_password_change", args=[phone.user.pk])
    response = admin_client.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302, response.content.decode()


def hash_assigned_directly(phone, admin_client):
    user = get_user_model().objects.get(pk=phone.user.pk)
    user.password = make_password(NEW_PASSWORD)
    user.save(update_fields=["password"])


def password_disabled(phone, admin_client):
    user = get_user_model().objects.get(pk=phone.user.pk)
    user.set_unusable_password()
    user.save()


PATHS: dict[str, tuple[Callable, str]] = {
    "logout": (logout, "token revoked"),
    "token admin": (token_admin_revoke, "token revoked"),
    "token admin delete": (token_admin_delete, "token deleted"),
    "token ORM delete": (token_orm_delete, "token deleted"),
    "device API": (api_device_revoke, "device revoked"),
    "device admin action": (device_admin_revoke, "device revoked"),
    "device admin delete": (device_admin_delete, "device deleted"),
    "device admin bulk delete": (device_admin_bulk_delete, "device deleted"),
    "ORM delete": (orm_delete, "device deleted"),
    "ORM bulk delete": (orm_bulk_delete, "device deleted"),
    "set_password": (set_password_and_save, "password changed"),
    "PasswordChangeForm": (password_change_form, "password changed"),
    "admin password form": (admin_password_form, "password changed"),
    "hash assigned": (hash_assigned_directly, "password changed"),
    "unusable password": (password_disabled, "password changed"),
}


def approve(phone, pc) -> None:
    temp = phone.scan(pc.id).json()["temp_token"]
    assert phone.confirm(pc.id, temp).status_code == 200


@pytest.mark.parametrize("path", PATHS, ids=list(PATHS))
def test_every_revocation_cancels_the_logins_the_device_set_in_motion(
    path, make_phone, make_pc, admin_client
):
    revoke, why = PATHS[path]
    phone = make_phone(device_type="ios")
    other_user = make_phone()
    confirmed, scanned, pending, by_someone_else = (make_pc() for _ in range(4))
    approve(phone, confirmed)
    assert phone.scan(scanned.id).status_code == 200
    approve(other_user, by_someone_else)

    revoke(phone, admin_client)

    key = f"device:{phone.device.pk}"
    for pc in (confirmed, scanned):
        session = QRLoginSession.objects.get(public_id=pc.id)
        assert session.status == "cancelled"
        last = session.events.last()
        assert (last.kind, last.device_key, last.device_name) == (
            "cancelled",
            key,
            f"revoked: {why}",
        )
        assert last.user_id == phone.user.pk
        assert pc.status().json()["status"] == "cancelled"
    assert_error(confirmed.complete({"device_id": "thief-laptop", "device_type": "pc"}), 409,
                 "invalid_state")  # fmt: skip
    assert not Device.objects.filter(device_id="thief-laptop").exists()
    # What the device did not touch goes on.
    assert QRLoginSession.objects.get(public_id=pending.id).status == "pending"
    assert QRLoginSession.objects.get(public_id=by_someone_else.id).status == "confirmed"
    assert by_someone_else.complete({"device_id": "laptop", "device_type": "pc"}).status_code == 200
    # The phone itself is out.
    assert_error(phone.client.get("/accounts/api/me/"), 401, "authentication_failed")


def test_a_password_change_revokes_every_device_token_of_the_user(make_phone, make_pc):
    phone = make_phone()
    tablet = make_phone(user=phone.user, device_type="android")
    pc_app = make_phone(user=phone.user, device_type="pc")
    sessions = [make_pc() for _ in range(2)]
    approve(phone, sessions[0])
    approve(tablet, sessions[1])
    set_password_and_save(phone, None)
    for device in (phone, tablet, pc_app):
        assert_error(device.client.get("/accounts/api/me/"), 401, "authentication_failed")
    assert {QRLoginSession.objects.get(public_id=pc.id).status for pc in sessions} == {"cancelled"}
    # The devices stay listed, and log in again with the new password under the same id.
    assert Device.objects.active().filter(user=phone.user).count() == 3
    relogin = phone.client.post(
        "/accounts/api/token/",
        {
            "username": phone.user.username,
            "password": NEW_PASSWORD,
            "device_id": phone.device.device_id,
            "device_type": "ios",
        },
        format="json",
        HTTP_AUTHORIZATION="",
    )
    assert relogin.status_code == 201, relogin.content
    assert relogin.json()["device"]["id"] == phone.device.pk


class TestWhatIsNoPasswordChange:
    def test_django_rehashing_the_same_password_at_login(self, make_phone, settings):
        """A new hasher (or more iterations) re-hashes at login; that is no change."""
        phone = make_phone()
        settings.PASSWORD_HASHERS = [
            f"{__name__}.FewIterationsPBKDF2",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
        user = get_user_model().objects.get(pk=phone.user.pk)
        old_hash = user.password
        assert user.check_password(DEFAULT_PASSWORD)
        assert get_user_model().objects.get(pk=user.pk).password != old_hash  # re-hashed
        assert phone.client.get("/accounts/api/me/").status_code == 200

    def test_other_saves_of_the_user(self, make_phone, client):
        phone = make_phone()
        user = get_user_model().objects.get(pk=phone.user.pk)
        user.first_name = "Dario"
        user.save()
        client.force_login(user)  # update_last_login: save(update_fields=["last_login"])
        get_user_model().objects.create_user("newcomer", password=NEW_PASSWORD)
        assert phone.client.get("/accounts/api/me/").status_code == 200

    def test_the_setting_turns_it_off(self, make_phone, make_pc, settings):
        settings.ACCOUNTS = {"REVOKE_ON_PASSWORD_CHANGE": False}
        phone = make_phone()
        pc = make_pc()
        approve(phone, pc)
        set_password_and_save(phone, None)
        assert phone.client.get("/accounts/api/me/").status_code == 200
        assert QRLoginSession.objects.get(public_id=pc.id).status == "confirmed"


@pytest.mark.django_db(transaction=True)  # PostgreSQL checks deferred foreign keys at commit
def test_deleting_the_user_deletes_their_logins_without_a_fuss(make_phone, make_pc):
    """The user's sessions go with the user (cascade): nothing is cancelled, nothing breaks."""
    phone = make_phone()
    pc = make_pc()
    approve(phone, pc)
    get_user_model().objects.get(pk=phone.user.pk).delete()
    assert not QRLoginSession.objects.filter(public_id=pc.id).exists()
    assert not QRLoginEvent.objects.filter(device_key=f"device:{phone.device.pk}").exists()
    assert_error(pc.complete({"device_id": "laptop", "device_type": "pc"}), 404, "not_found")


def test_a_revocation_that_cannot_cancel_is_rolled_back(make_phone, make_pc, monkeypatch):
    """Cancelling is part of revoking: if it fails, the token is not revoked either."""
    phone = make_phone()
    pc = make_pc()
    approve(phone, pc)

    def broken(self, device_key, actor):
        raise RuntimeError("database went away")

    monkeypatch.setattr(type(QRLoginSession.objects), "cancel_for_device", broken)
    with pytest.raises(RuntimeError):
        DeviceToken.objects.get(device=phone.device).revoke()
    assert DeviceToken.objects.get(device=phone.device).revoked_at is None
    assert QRLoginSession.objects.get(public_id=pc.id).status == "confirmed"


def test_the_request_that_changes_the_password_finishes_normally(make_phone):
    """As Django keeps the session that changed the password, the token's own request ends
    well (a site's "change password" API answers 200); the next one is refused."""

    class ChangePassword(APIView):
        authentication_classes = [DeviceTokenAuthentication]

        def post(self, request):
            request.user.set_password(NEW_PASSWORD)
            request.user.save()
            return Response({"changed": True, "device": request.auth.device.device_id})

    phone = make_phone()
    request = APIRequestFactory().post(
        "/password/",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Token {phone.token}",
        HTTP_X_DEVICE_ID=phone.device.device_id,
    )
    response = ChangePassword.as_view()(request)
    assert response.status_code == 200
    assert response.data == {"changed": True, "device": phone.device.device_id}
    assert_error(phone.client.get("/accounts/api/me/"), 401, "authentication_failed")
