"""Threat 11: a stolen or lost phone.

Whoever holds the unlocked phone can approve QR logins as its owner: the thief opens the login
page on their own computer and approves it with the stolen phone.

Defences: the owner (from another device) or an admin revokes the device and every token it
holds, at once; from then on the phone is refused (401) everywhere. Every login the device
approved is on record (``QRLoginEvent``, ``device_key = "device:<pk>"``, linked from the
device's admin page), so the owner can find and revoke what it let in. Every transition sends
a ``qrlogin.signals.session_*`` signal for notifications ("new login from Firefox on Linux").
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from qrlogin import signals
from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import make_device_token
from tests.security.support import ATTACKER_IP, assert_error, session_row, unchanged

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_phones(make_phone):
    """The stolen phone and another device of the same owner."""
    stolen = make_phone()
    spare = make_phone(user=stolen.user)
    return stolen, spare


def thiefs_pc() -> dict:
    client = APIClient(REMOTE_ADDR=ATTACKER_IP)
    data = client.post("/qrlogin/api/sessions/", {}, format="json").json()
    data["client"] = client
    return data


def complete(pc: dict, device_id: str = "thief-laptop"):
    return pc["client"].post(
        f"/qrlogin/api/sessions/{pc['id']}/complete/",
        {"device_id": device_id},
        format="json",
        HTTP_X_QRLOGIN_SECRET=pc["secret"],
    )


class TestRevocation:
    def test_the_owner_revokes_the_stolen_phone_from_another_device(self, owner_phones):
        stolen, spare = owner_phones
        _extra_token, extra_raw = make_device_token(stolen.device)  # the phone had two tokens
        scanned_before = thiefs_pc()
        temp = stolen.scan(scanned_before["id"]).json()["temp_token"]
        revoke = spare.client.delete(f"/accounts/api/devices/{stolen.device.pk}/")
        assert revoke.status_code == 204
        assert not DeviceToken.objects.live().filter(device=stolen.device).exists()
        new_qr = thiefs_pc()
        other_token = APIClient()
        other_token.credentials(
            HTTP_AUTHORIZATION=f"Token {extra_raw}", HTTP_X_DEVICE_ID=stolen.device.device_id
        )
        with unchanged():
            scan = stolen.scan(new_qr["id"])
            confirm = stolen.confirm(scanned_before["id"], temp)
            with_the_other_token = other_token.post(
                "/qrlogin/api/scan/", {"qr": new_qr["id"]}, format="json"
            )
            me = stolen.client.get("/accounts/api/me/")
            list_devices = stolen.client.get("/accounts/api/devices/")
            revoke_back = stolen.client.delete(f"/accounts/api/devices/{spare.device.pk}/")
        for response in (scan, confirm, with_the_other_token, me, list_devices, revoke_back):
            assert_error(response, 401, "authentication_failed")
        assert_error(complete(scanned_before), 409, "invalid_state")
        assert spare.client.get("/accounts/api/me/").status_code == 200

    def test_an_admin_revokes_it(self, owner_phones, admin_client):
        stolen, _spare = owner_phones
        response = admin_client.post(
            reverse("admin:qrlogin_accounts_device_changelist"),
            {"action": "revoke_devices", "_selected_action": [stolen.device.pk]},
            follow=True,
        )
        assert response.status_code == 200
        assert "Revoked 1 device." in response.content.decode()
        pc = thiefs_pc()
        with unchanged():
            refused = stolen.scan(pc["id"])
        assert_error(refused, 401, "authentication_failed")

    def test_the_thief_cannot_revoke_someone_elses_device(self, owner_phones, make_phone):
        stolen, _spare = owner_phones
        stranger = make_phone()
        with unchanged():
            response = stolen.client.delete(f"/accounts/api/devices/{stranger.device.pk}/")
        assert_error(response, 404, "not_found")

    def test_deactivating_the_account_stops_everything(self, owner_phones):
        stolen, _spare = owner_phones
        pc = thiefs_pc()
        temp = stolen.scan(pc["id"]).json()["temp_token"]
        assert stolen.confirm(pc["id"], temp).status_code == 200
        get_user_model().objects.filter(pk=stolen.user.pk).update(is_active=False)
        with unchanged():
            refused = complete(pc)
            me = stolen.client.get("/accounts/api/me/")
        assert_error(refused, 403, "permission_denied")
        assert_error(me, 401, "authentication_failed")

    def test_a_login_approved_just_before_the_revocation_does_not_complete(
        self, owner_phones, django_capture_on_commit_callbacks
    ):
        stolen, spare = owner_phones
        pc = thiefs_pc()
        temp = stolen.scan(pc["id"]).json()["temp_token"]
        assert stolen.confirm(pc["id"], temp).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):  # the revocation commits
            revoked = spare.client.delete(f"/accounts/api/devices/{stolen.device.pk}/")
        assert revoked.status_code == 204
        response = complete(pc)
        assert response.status_code in (403, 409, 410), response.content
        assert not Device.objects.filter(device_id="thief-laptop").exists()


class TestTrail:
    def test_every_login_the_device_approved_is_on_record(self, owner_phones, admin_client):
        stolen, spare = owner_phones
        approved = []
        for laptop in ("thief-laptop-1", "thief-laptop-2"):
            pc = thiefs_pc()
            temp = stolen.scan(pc["id"]).json()["temp_token"]
            stolen.confirm(pc["id"], temp)
            assert complete(pc, laptop).status_code == 200
            approved.append(pc["id"])
        by_spare = thiefs_pc()
        spare.confirm(by_spare["id"], spare.scan(by_spare["id"]).json()["temp_token"])

        key = stolen.device.persistent_id
        confirmed = QRLoginEvent.objects.filter(device_key=key, kind="confirmed")
        assert sorted(e.session.public_id for e in confirmed) == sorted(approved)
        for event in confirmed:
            assert event.user == stolen.user and event.ip and event.created_at
            # ... and what each approval let in, to revoke it too.
            assert event.session.pc_ip == ATTACKER_IP
            assert event.session.pc_device_id.startswith("thief-laptop-")

        # The admin reaches the same list from the device's page.
        device_page = admin_client.get(
            reverse("admin:qrlogin_accounts_device_changelist"), {"q": stolen.device.device_id}
        )
        assert f"phone_device_key=device%3A{stolen.device.pk}" in device_page.content.decode()
        listed = admin_client.get(
            reverse("admin:qrlogin_qrloginsession_changelist"), {"phone_device_key": key}
        ).content.decode()
        for public_id in approved:
            assert public_id[:10] in listed
        assert by_spare["id"][:10] not in listed


class TestSignals:
    NAMES = ("scanned", "confirmed", "denied", "cancelled", "completed", "expired")

    def test_one_signal_per_transition(
        self, clock, phone, make_pc, django_capture_on_commit_callbacks
    ):
        received: list[tuple[str, str, str, str]] = []

        def receiver(signal, sender, session, event, **kwargs):
            assert sender is QRLoginSession
            received.append((event.kind, session.public_id, event.device_key, session.status))

        for name in self.NAMES:
            getattr(signals, f"session_{name}").connect(receiver, dispatch_uid=f"sec-{name}")
        try:
            with django_capture_on_commit_callbacks(execute=True):
                completed, denied, cancelled, expired = (make_pc() for _ in range(4))
                temp = phone.scan(completed.id).json()["temp_token"]
                phone.confirm(completed.id, temp)
                completed.complete({"device_id": "laptop"})
                phone.deny(denied.id, phone.scan(denied.id).json()["temp_token"])
                cancelled.cancel()
                clock.shift(120)
                expired.status()
        finally:
            for name in self.NAMES:
                getattr(signals, f"session_{name}").disconnect(dispatch_uid=f"sec-{name}")
        device = phone.device.persistent_id
        assert received == [
            ("scanned", completed.id, device, "scanned"),
            ("confirmed", completed.id, device, "confirmed"),
            ("completed", completed.id, "pc", "completed"),
            ("scanned", denied.id, device, "scanned"),
            ("denied", denied.id, device, "denied"),
            ("cancelled", cancelled.id, "pc", "cancelled"),
            ("expired", expired.id, "system", "expired"),
        ]
        assert session_row(expired.id).status == "expired"
