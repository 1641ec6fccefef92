"""Threat 4: temp-token replay and cross-device use.

The temp token is what a scan hands to the phone. An attacker who steals it (a log, a proxy,
malware on another device, a leaked form) tries to confirm with it from elsewhere, replays it
after use, or uses it on another session.

Defence: single use (cleared by confirm, deny, cancel and expiry; replaced by a re-scan), bound
to the scanning device (device token's device, or the phone browser's session) and to its
session; compared as a digest in constant time.
"""

import pytest

from tests.security.support import PhoneBrowser, assert_error, session_row, unchanged

pytestmark = pytest.mark.django_db


def scan(pc, phone) -> str:
    response = phone.scan(pc.id)
    assert response.status_code == 200, response.content
    return response.json()["temp_token"]


class TestCrossDevice:
    def test_another_device_of_the_same_user(self, pc, phone, make_phone):
        temp = scan(pc, phone)
        second = make_phone(user=phone.user)
        with unchanged():
            confirm = second.confirm(pc.id, temp)
            deny = second.deny(pc.id, temp)
        assert_error(confirm, 403, "wrong_device")
        assert_error(deny, 403, "wrong_device")

    def test_another_users_device(self, pc, phone, make_phone):
        temp = scan(pc, phone)
        stranger = make_phone()
        with unchanged():
            response = stranger.confirm(pc.id, temp)
        assert_error(response, 403, "wrong_device")

    def test_the_same_users_phone_browser(self, pc, phone):
        temp = scan(pc, phone)
        browser = PhoneBrowser(phone.user)
        with unchanged():
            api = browser.client.post(
                "/qrlogin/api/confirm/",
                {"session": pc.id, "temp_token": temp},
                content_type="application/json",
                HTTP_X_CSRFTOKEN=browser.csrf_token(pc.id),
            )
            page = browser.post(pc.id, {"action": "confirm", "temp_token": temp})
        assert_error(api, 403, "wrong_device")
        assert page.status_code == 403

    def test_a_token_scanned_by_a_phone_browser_is_useless_to_the_app(self, pc, phone):
        browser = PhoneBrowser(phone.user)
        step = browser.client.post(
            "/qrlogin/api/scan/",
            {"qr": pc.id},
            content_type="application/json",
            HTTP_X_CSRFTOKEN=browser.csrf_token(pc.id),
        )
        temp = step.json()["temp_token"]
        with unchanged():
            response = phone.confirm(pc.id, temp)
        assert_error(response, 403, "wrong_device")

    def test_the_same_token_with_a_forged_device_header(self, pc, phone, make_phone):
        """Device token A with X-Device-ID of device B: authentication itself refuses it."""
        temp = scan(pc, phone)
        other = make_phone(user=phone.user)
        forged = other.client.__class__()
        forged.credentials(
            HTTP_AUTHORIZATION=f"Token {other.token}", HTTP_X_DEVICE_ID=phone.device.device_id
        )
        with unchanged():
            response = forged.post(
                "/qrlogin/api/confirm/", {"session": pc.id, "temp_token": temp}, format="json"
            )
        assert_error(response, 401, "device_mismatch")


class TestReplay:
    def test_after_confirm(self, pc, phone):
        temp = scan(pc, phone)
        assert phone.confirm(pc.id, temp).status_code == 200
        assert not session_row(pc.id).temp_token_digest
        with unchanged():
            confirm = phone.confirm(pc.id, temp)
            deny = phone.deny(pc.id, temp)
        assert_error(confirm, 409, "invalid_state")
        assert_error(deny, 409, "invalid_state")

    def test_after_deny(self, pc, phone):
        temp = scan(pc, phone)
        assert phone.deny(pc.id, temp).status_code == 200
        with unchanged():
            response = phone.confirm(pc.id, temp)
        assert_error(response, 409, "invalid_state")

    def test_after_the_pc_cancelled(self, pc, phone):
        temp = scan(pc, phone)
        assert pc.cancel().status_code == 200
        assert not session_row(pc.id).temp_token_digest
        with unchanged():
            response = phone.confirm(pc.id, temp)
        assert_error(response, 409, "invalid_state")

    def test_after_expiry(self, clock, pc, phone):
        temp = scan(pc, phone)
        clock.shift(60)  # CONFIRM_TTL
        assert_error(phone.confirm(pc.id, temp), 410, "expired")
        row = session_row(pc.id)
        assert row.status == "expired" and not row.temp_token_digest

    def test_a_rescan_retires_the_old_token(self, pc, phone):
        old = scan(pc, phone)
        new = scan(pc, phone)
        with unchanged():
            response = phone.confirm(pc.id, old)
        assert_error(response, 403, "invalid_temp_token")
        assert phone.confirm(pc.id, new).status_code == 200


class TestWrongSession:
    def test_a_token_is_bound_to_its_session(self, make_pc, phone):
        first, second = make_pc(), make_pc()
        temp_first = scan(first, phone)
        scan(second, phone)
        with unchanged():
            response = phone.confirm(second.id, temp_first)
        assert_error(response, 403, "invalid_temp_token")

    @pytest.mark.parametrize(
        "forged", ["", " ", "x" * 43, "x" * 129, "null", "\x00" * 10, "é" * 43]
    )
    def test_forged_tokens(self, pc, phone, forged):
        scan(pc, phone)
        with unchanged():
            response = phone.confirm(pc.id, forged)
        assert response.status_code in (400, 403), response.content
        assert response.json()["code"] in ("invalid", "invalid_temp_token")

    def test_the_token_is_not_a_password_for_the_pc(self, pc, phone):
        """A temp token is not a PC secret: it opens neither the status nor the completion."""
        temp = scan(pc, phone)
        with unchanged():
            status = pc.status(secret=temp)
            complete = pc.complete({"device_id": "x"}, secret=temp)
        assert status.status_code == 404 and complete.status_code == 404
