"""The qrlogin API against the contract: every transition and every error row."""

import pytest
from django.test import override_settings

from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.models import DeviceToken
from tests.conftest import FAR_IP, PC_IP

pytestmark = pytest.mark.django_db


def error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]


def scanned(pc, phone):
    response = phone.scan(pc.data["qr_url"])
    assert response.status_code == 200, response.content
    return response.json()["temp_token"]


def confirmed(pc, phone):
    temp = scanned(pc, phone)
    assert phone.confirm(pc.id, temp).status_code == 200
    return temp


def state(pc) -> str:
    return QRLoginSession.objects.get(public_id=pc.id).status


def test_create_answers_the_contract_fields(pc):
    data = pc.data
    assert set(data) == {"id", "status", "qr_url", "qr_svg", "user_code", "expires_at", "secret"}
    assert data["status"] == "pending"
    assert data["qr_url"] == f"http://testserver/qrlogin/s/{data['id']}/"
    assert data["qr_svg"].startswith("<svg")
    assert len(data["id"]) >= 22 and len(data["secret"]) >= 22
    assert len(data["user_code"].replace("-", "")) == 8
    row = QRLoginSession.objects.get(public_id=data["id"])
    assert data["secret"] not in {row.secret_digest, row.user_code_digest}
    assert row.pc_ip == PC_IP


def test_create_sets_no_store(client):
    response = client.post("/qrlogin/api/sessions/", {}, content_type="application/json")
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]


def test_full_api_client_login(pc, phone):
    status = pc.status()
    assert status.status_code == 200
    assert status.json()["status"] == "pending"
    assert "no-store" in status["Cache-Control"]

    scan = phone.scan(pc.data["qr_url"])
    assert scan.status_code == 200
    body = scan.json()
    assert body["session"] == pc.id
    assert body["pc"]["browser"] == "Chrome 120"
    assert body["pc"]["os"] == "Windows 10"
    assert body["pc"]["ip"] == PC_IP
    assert body["pc"]["same_network"] is True
    assert "no-store" in scan["Cache-Control"]

    seen = pc.status().json()
    assert seen["status"] == "scanned"
    name = phone.user.get_username()
    assert seen["scanned_by"] == {"display_name": f"{name[0]}***{name[-1]}"}

    confirm = phone.confirm(pc.id, body["temp_token"])
    assert confirm.json() == {"status": "confirmed"}

    done = pc.complete({"device_id": "laptop-1", "device_type": "pc", "device_name": "Laptop"})
    assert done.status_code == 200, done.content
    result = done.json()
    assert result["status"] == "completed"
    assert result["user"]["id"] == phone.user.pk
    assert result["device"]["device_id"] == "laptop-1"
    assert "no-store" in done["Cache-Control"]
    # The issued token works, with its own device id only.
    me = pc.client.get(
        "/accounts/api/me/",
        HTTP_AUTHORIZATION=f"Token {result['token']}",
        HTTP_X_DEVICE_ID="laptop-1",
    )
    assert me.status_code == 200
    assert [e.kind for e in QRLoginEvent.objects.filter(session__public_id=pc.id)] == [
        "scanned",
        "confirmed",
        "completed",
    ]


def test_scan_accepts_bare_id_and_user_code(make_pc, phone):
    first, second = make_pc(), make_pc()
    assert phone.scan(first.id).status_code == 200
    code = second.data["user_code"].lower().replace("-", " ")
    response = phone.post("/qrlogin/api/scan/", {"code": code})
    assert response.status_code == 200, response.content
    assert response.json()["session"] == second.id


@pytest.mark.parametrize(
    "body",
    [{}, {"qr": "https://evil.example/nothing"}, {"qr": ""}, {"qr": "x", "code": "y"}, {"qr": 5}],
)
def test_scan_malformed_is_400(phone, body):
    error(phone.post("/qrlogin/api/scan/", body), 400, "invalid")


def test_scan_non_json_is_400(phone):
    response = phone.client.post(
        "/qrlogin/api/scan/", b"{not json", content_type="application/json"
    )
    error(response, 400, "invalid")


def test_scan_unknown_is_404(phone):
    error(phone.scan("A" * 32), 404, "not_found")
    error(phone.post("/qrlogin/api/scan/", {"code": "ABCD-EFGH"}), 404, "not_found")


def test_phone_side_needs_authentication(pc, phone):
    anonymous = phone.client.__class__()
    error(
        anonymous.post("/qrlogin/api/scan/", {"qr": pc.id}, format="json"), 401, "not_authenticated"
    )
    bad = phone.client.__class__()
    bad.credentials(HTTP_AUTHORIZATION="Token nope", HTTP_X_DEVICE_ID=phone.device.device_id)
    error(
        bad.post("/qrlogin/api/scan/", {"qr": pc.id}, format="json"), 401, "authentication_failed"
    )
    other_device = phone.client.__class__()
    other_device.credentials(HTTP_AUTHORIZATION=f"Token {phone.token}", HTTP_X_DEVICE_ID="other")
    error(
        other_device.post("/qrlogin/api/scan/", {"qr": pc.id}, format="json"),
        401,
        "device_mismatch",
    )
    assert state(pc) == "pending"


def test_second_scan_by_same_phone_is_idempotent(pc, phone):
    first = scanned(pc, phone)
    second = scanned(pc, phone)
    assert first != second
    # Only the newest temp token works.
    error(phone.confirm(pc.id, first), 403, "invalid_temp_token")
    assert phone.confirm(pc.id, second).status_code == 200


def test_second_phone_cannot_scan(pc, make_phone):
    first, second = make_phone(), make_phone()
    scanned(pc, first)
    error(second.scan(pc.id), 409, "invalid_state")
    assert QRLoginSession.objects.get(public_id=pc.id).phone_device_key.endswith(
        str(first.device.pk)
    )


def test_wrong_device_cannot_confirm(pc, phone, make_phone):
    temp = scanned(pc, phone)
    same_user_other_phone = make_phone(user=phone.user)
    error(same_user_other_phone.confirm(pc.id, temp), 403, "wrong_device")
    error(make_phone().deny(pc.id, temp), 403, "wrong_device")
    assert state(pc) == "scanned"


def test_wrong_temp_token(pc, phone):
    scanned(pc, phone)
    error(phone.confirm(pc.id, "x" * 43), 403, "invalid_temp_token")
    error(phone.deny(pc.id, "x" * 43), 403, "invalid_temp_token")
    assert state(pc) == "scanned"


def test_temp_token_replay(pc, phone):
    temp = confirmed(pc, phone)
    error(phone.confirm(pc.id, temp), 409, "invalid_state")
    error(phone.deny(pc.id, temp), 409, "invalid_state")
    assert state(pc) == "confirmed"


def test_confirm_before_scan_is_409(pc, phone):
    error(phone.confirm(pc.id, "x" * 43), 409, "invalid_state")


def test_deny(pc, phone):
    temp = scanned(pc, phone)
    assert phone.deny(pc.id, temp).json() == {"status": "denied"}
    assert pc.status().json()["status"] == "denied"
    error(pc.complete(), 409, "invalid_state")


def test_missing_or_wrong_pc_secret_is_404(pc, phone):
    confirmed(pc, phone)
    anonymous = pc.client.__class__()
    error(anonymous.get(pc.url), 404, "not_found")
    error(pc.status(secret="wrong"), 404, "not_found")  # noqa: S106  (a wrong secret)
    error(pc.complete(secret="wrong"), 404, "not_found")  # noqa: S106  (a wrong secret)
    error(pc.cancel(secret="wrong"), 404, "not_found")  # noqa: S106  (a wrong secret)
    error(anonymous.post(f"{pc.url}complete/", {}, format="json"), 404, "not_found")
    # The secret is never taken from the query string or the body.
    error(anonymous.get(f"{pc.url}?secret={pc.data['secret']}"), 404, "not_found")
    error(
        anonymous.post(f"{pc.url}complete/", {"secret": pc.data["secret"]}, format="json"),
        404,
        "not_found",
    )
    assert state(pc) == "confirmed"
    assert pc.client.get("/qrlogin/api/sessions/short/").status_code == 404


def test_complete_only_once(pc, phone):
    confirmed(pc, phone)
    assert pc.complete({"device_id": "pc-1"}).status_code == 200
    error(pc.complete({"device_id": "pc-1"}), 409, "invalid_state")
    assert DeviceToken.objects.filter(device__device_id="pc-1").count() == 1


def test_complete_before_confirm_is_409(pc, phone):
    error(pc.complete({"device_id": "pc-1"}), 409, "invalid_state")
    scanned(pc, phone)
    error(pc.complete({"device_id": "pc-1"}), 409, "invalid_state")


def test_complete_bad_body_is_400_and_changes_nothing(pc, phone):
    confirmed(pc, phone)
    error(pc.complete({"device_id": "x" * 500}), 400, "invalid")
    error(pc.complete({"device_id": "pc", "device_type": "toaster"}), 400, "invalid")
    error(pc.complete({"device_id": "bad\nid"}), 400, "invalid")
    assert state(pc) == "confirmed"


@override_settings(QRLOGIN={"TOKEN_ISSUER": None})
def test_complete_without_token_issuer_is_clear_4xx(pc, phone):
    confirmed(pc, phone)
    error(pc.complete({"device_id": "pc-1"}), 400, "token_issuer_unavailable")
    assert state(pc) == "confirmed"


def test_cancel(pc, phone):
    assert pc.cancel().json() == {"status": "cancelled"}
    error(pc.cancel(), 409, "invalid_state")
    error(phone.scan(pc.id), 409, "invalid_state")


def test_cancel_after_scan(pc, phone):
    temp = scanned(pc, phone)
    assert pc.cancel().status_code == 200
    error(phone.confirm(pc.id, temp), 409, "invalid_state")


class TestDeadlines:
    def test_pending_expires(self, clock, pc, phone):
        clock.shift(119)
        assert pc.status().json()["status"] == "pending"
        clock.shift(1)
        assert pc.status().json()["status"] == "expired"
        error(phone.scan(pc.id), 410, "expired")
        assert QRLoginEvent.objects.filter(kind="expired").count() == 1

    def test_scan_after_deadline_is_410(self, clock, pc, phone):
        clock.shift(121)
        error(phone.scan(pc.id), 410, "expired")
        assert state(pc) == "expired"

    def test_confirm_deadline(self, clock, pc, phone):
        clock.shift(100)
        temp = scanned(pc, phone)  # the scan gives the phone CONFIRM_TTL from now
        clock.shift(59)
        assert pc.status().json()["status"] == "scanned"
        clock.shift(1)
        error(phone.confirm(pc.id, temp), 410, "expired")
        assert pc.status().json()["status"] == "expired"

    def test_complete_deadline(self, clock, pc, phone):
        confirmed(pc, phone)
        clock.shift(60)
        error(pc.complete({"device_id": "pc-1"}), 410, "expired")
        assert not DeviceToken.objects.filter(device__device_id="pc-1").exists()

    @override_settings(QRLOGIN={"QR_TTL": 5, "CONFIRM_TTL": 7, "COMPLETE_TTL": 9})
    def test_ttls_from_settings(self, clock, pc, phone):
        clock.shift(4)
        temp = scanned(pc, phone)
        clock.shift(6)
        assert phone.confirm(pc.id, temp).status_code == 200
        clock.shift(9)
        error(pc.complete({"device_id": "pc-1"}), 410, "expired")

    def test_terminal_states_do_not_expire(self, clock, pc, phone):
        temp = scanned(pc, phone)
        phone.deny(pc.id, temp)
        clock.shift(3600)
        assert pc.status().json()["status"] == "denied"


class TestStatusQuery:
    @pytest.mark.parametrize("query", ["?wait=abc", "?wait=-1", "?wait=31", "?since=nonsense"])
    def test_bad_query_is_400(self, pc, query):
        error(pc.status(query), 400, "invalid")

    def test_wait_returns_at_once_when_status_differs_from_since(self, pc):
        response = pc.status("?wait=30&since=scanned")
        assert response.json()["status"] == "pending"

    def test_wait_returns_at_deadline(self, pc, clock):
        clock.shift(119.99)
        # The long poll gives up at the session's deadline, which has (almost) passed.
        assert pc.status("?wait=1&since=pending").json()["status"] in {"pending", "expired"}


class TestVerificationNumber:
    @pytest.fixture(autouse=True)
    def _number(self, settings):
        settings.QRLOGIN = {"VERIFICATION": "number"}

    def test_pc_shows_number_and_phone_must_send_it(self, pc, phone):
        temp = scanned(pc, phone)
        number = pc.status().json()["verification_code"]
        assert len(number) == 2 and number.isdigit()
        assert phone.confirm(pc.id, temp, verification_code=number).status_code == 200
        assert "verification_code" not in pc.status().json()

    def test_wrong_number_denies(self, pc, phone):
        temp = scanned(pc, phone)
        number = pc.status().json()["verification_code"]
        wrong = f"{(int(number) + 1) % 100:02d}"
        error(phone.confirm(pc.id, temp, verification_code=wrong), 403, "wrong_verification_code")
        assert state(pc) == "denied"

    def test_missing_number_denies(self, pc, phone):
        temp = scanned(pc, phone)
        error(phone.confirm(pc.id, temp), 403, "wrong_verification_code")
        assert state(pc) == "denied"


class TestSameNetwork:
    def test_far_phone_sees_it(self, pc, phone):
        body = phone.scan(pc.id, ip=FAR_IP).json()
        assert body["pc"]["same_network"] is False

    @override_settings(QRLOGIN={"REQUIRE_SAME_NETWORK": True})
    def test_required_refuses_far_scan(self, pc, phone):
        error(phone.scan(pc.id, ip=FAR_IP), 403, "different_network")
        assert state(pc) == "pending"
        assert phone.scan(pc.id).status_code == 200


class TestThrottles:
    @override_settings(QRLOGIN={"THROTTLE_RATES": {"create": "2/min"}})
    def test_create_per_ip(self, make_pc, client):
        make_pc(), make_pc()
        response = client.post("/qrlogin/api/sessions/", REMOTE_ADDR="203.0.113.10")
        error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert client.post("/qrlogin/api/sessions/", REMOTE_ADDR="203.0.113.11").status_code == 201

    @override_settings(QRLOGIN={"THROTTLE_RATES": {"user_code": "2/min"}})
    def test_user_code_per_phone(self, phone):
        for _ in range(2):
            error(phone.post("/qrlogin/api/scan/", {"code": "ABCD-EFGH"}), 404, "not_found")
        error(phone.post("/qrlogin/api/scan/", {"code": "ABCD-EFGH"}), 429, "throttled")

    @override_settings(QRLOGIN={"THROTTLE_RATES": None})
    def test_none_turns_throttling_off(self, make_pc):
        for _ in range(40):
            make_pc()


def test_scan_says_whether_number_matching_is_on(pc, make_pc, phone, settings):
    assert phone.scan(pc.id).json()["verification"] == "none"
    settings.QRLOGIN = {"VERIFICATION": "number"}
    assert phone.scan(make_pc().id).json()["verification"] == "number"


def test_session_only_phone_auth_still_answers_401(pc, settings):
    settings.QRLOGIN = {
        "MOBILE_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
    }
    response = pc.client.__class__().post("/qrlogin/api/scan/", {"qr": pc.id}, format="json")
    error(response, 401, "not_authenticated")
