"""What the attack tests share: a snapshot of everything an attack could change, a PC browser
and a phone browser that speak to the site the way real ones do, and a recorder of every raw
secret the site generates (so dumps and logs can be searched for them).

Everything here goes through HTTP (Django's test client) except the snapshot, which reads the
database the way an auditor would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.models import Device, DeviceToken
from tests.conftest import PC_IP, PC_UA, PHONE_IP
from tests.factories import DEFAULT_PASSWORD, UserFactory

ATTACKER_IP = "192.0.2.66"  # TEST-NET-1: another network than the PC and the phone
PROXY_IP = "10.0.0.1"
NOT_FOUND = {"detail": "No such login request.", "code": "not_found"}


def snapshot() -> dict:
    """Every row an attack on a login could change, in comparable form.

    Deliberately left out: ``DeviceToken.last_used_at`` and ``Device.last_seen_at`` (a valid
    token's use is recorded, whatever the request then does).
    """
    sessions = {
        row["public_id"]: row
        for row in QRLoginSession.objects.values(
            "public_id",
            "status",
            "expires_at",
            "user_id",
            "phone_device_key",
            "temp_token_digest",
            "verification_code",
            "scanned_at",
            "confirmed_at",
            "finished_at",
            "pc_device_id",
            "next_url",
        )
    }
    return {
        "sessions": sessions,
        "events": list(QRLoginEvent.objects.order_by("pk").values_list("session_id", "kind")),
        "devices": sorted(Device.objects.values_list("pk", "revoked_at")),
        "tokens": sorted(DeviceToken.objects.values_list("pk", "revoked_at")),
        "logged_in": logged_in_sessions(),
    }


def logged_in_sessions() -> list[str]:
    """User ids of every Django session that is logged in (database session backend)."""
    users = []
    for row in Session.objects.all():
        user = row.get_decoded().get(SESSION_KEY)
        if user is not None:
            users.append(user)
    return sorted(users)


@contextmanager
def unchanged() -> Iterator[None]:
    """Assert that nothing in :func:`snapshot` changes inside the block."""
    before = snapshot()
    yield
    after = snapshot()
    assert after == before, _diff(before, after)


def _diff(before: dict, after: dict) -> str:
    lines = ["the attack changed the database:"]
    for key in before:
        if before[key] != after[key]:
            lines.append(f"  {key}: {before[key]!r}\n    -> {after[key]!r}")
    return "\n".join(lines)


def session_row(public_id: str) -> QRLoginSession:
    return QRLoginSession.objects.get(public_id=public_id)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code, body
    return body


class PCBrowser:
    """A PC browser on the QR page; its script's requests carry the CSRF token."""

    def __init__(
        self, next_url: str = "", ip: str = PC_IP, secure: bool = False, **client_kwargs
    ) -> None:
        self.ip, self.secure = ip, secure
        self.client = Client(
            enforce_csrf_checks=True, HTTP_USER_AGENT=PC_UA, REMOTE_ADDR=ip, **client_kwargs
        )
        path = "/qrlogin/" + (f"?{urlencode({'next': next_url})}" if next_url else "")
        self.page = self.client.get(path, secure=secure)
        assert self.page.status_code == 200, self.page.status_code
        html = self.page.content.decode()
        self.status_url = re.search(r'data-status-url="([^"]+)"', html)[1]
        self.complete_url = re.search(r'data-complete-url="([^"]+)"', html)[1]
        self.csrf = re.search(r'data-csrf-token="([^"]+)"', html)[1]
        self.user_code = re.search(r"data-qrlogin-user-code>([A-Z2-9-]+)<", html)[1]
        self.id = self.status_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def session_key(self) -> str | None:
        return (
            self.client.cookies["sessionid"].value if "sessionid" in self.client.cookies else None
        )

    def status(self):
        return self.client.get(self.status_url)

    def complete(self, csrf: bool = True):
        headers = {"HTTP_X_CSRFTOKEN": self.csrf} if csrf else {}
        return self.client.post(
            self.complete_url,
            {},
            content_type="application/json",
            secure=self.secure,
            **headers,
        )


class PhoneBrowser:
    """A phone browser logged in with a Django session (no device token)."""

    def __init__(self, user, ip: str = PHONE_IP, csrf_checks: bool = True) -> None:
        self.user = user
        self.client = Client(
            enforce_csrf_checks=csrf_checks,
            HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile Safari",
            REMOTE_ADDR=ip,
        )
        self.client.force_login(user)

    def page(self, public_id: str):
        return self.client.get(f"/qrlogin/s/{public_id}/")

    def csrf_token(self, public_id: str) -> str:
        """This browser's CSRF token, as a form of the site gives it.

        Read from the pairing-code page, which always has a form: the confirm page has none
        once another phone scanned or the request is over (it shows nothing to act on).
        """
        html = self.client.get("/qrlogin/code/").content.decode()
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]

    def post(self, public_id: str, data: dict, csrf: bool = True):
        if csrf:
            data = {**data, "csrfmiddlewaretoken": self.csrf_token(public_id)}
        return self.client.post(f"/qrlogin/s/{public_id}/", data)


def full_logins(clock) -> dict:
    """Every way in, end to end, through HTTP; returns what the clients hold."""
    user = UserFactory()
    phone = APIClient()
    login = phone.post(
        "/accounts/api/token/",
        {
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "device_id": "phone-1",
            "device_type": "ios",
        },
        format="json",
    )
    assert login.status_code == 201
    phone.credentials(
        HTTP_AUTHORIZATION=f"Token {login.json()['token']}", HTTP_X_DEVICE_ID="phone-1"
    )

    def approve(scan_body: dict) -> str:
        scan = phone.post("/qrlogin/api/scan/", scan_body, format="json")
        assert scan.status_code == 200, scan.content
        session, temp = scan.json()["session"], scan.json()["temp_token"]
        assert (
            phone.post(
                "/qrlogin/api/confirm/", {"session": session, "temp_token": temp}, format="json"
            ).status_code
            == 200
        )
        return session

    # 1. A desktop client, paired by typing the code.
    desktop = APIClient()
    created = desktop.post("/qrlogin/api/sessions/", {}, format="json").json()
    approve({"code": created["user_code"]})
    done = desktop.post(
        f"/qrlogin/api/sessions/{created['id']}/complete/",
        {"device_id": "laptop-1", "device_type": "pc"},
        format="json",
        HTTP_X_QRLOGIN_SECRET=created["secret"],
    )
    assert done.status_code == 200
    # 2. A browser whose first QR expired and was renewed by the page.
    browser = PCBrowser()
    clock.shift(120)
    renewed = browser.client.post(
        "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
    ).json()
    approve({"qr": renewed["qr_url"]})
    completed = browser.client.post(
        renewed["complete_url"], {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
    )
    assert completed.status_code == 200
    # 3. Sessions left in every other state: scanned (a live temp token), denied, pending.
    scanned = desktop.post("/qrlogin/api/sessions/", {}, format="json").json()
    assert phone.post("/qrlogin/api/scan/", {"qr": scanned["id"]}, format="json").status_code == 200
    denied = desktop.post("/qrlogin/api/sessions/", {}, format="json").json()
    temp = phone.post("/qrlogin/api/scan/", {"qr": denied["id"]}, format="json").json()
    deny = {"session": denied["id"], "temp_token": temp["temp_token"]}
    phone.post("/qrlogin/api/deny/", deny, format="json")
    desktop.post("/qrlogin/api/sessions/", {}, format="json")
    return {"user": user, "phone_token": login.json()["token"], "desktop": done.json()}


@dataclass
class SecretRecorder:
    """Every raw secret the site generates while it is installed (see the ``secrets`` fixture)."""

    pc_secrets_and_temp_tokens: list[str] = field(default_factory=list)
    user_codes: list[str] = field(default_factory=list)
    device_tokens: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        codes = [f"{c[:4]}-{c[4:]}" for c in self.user_codes] + self.user_codes
        return [*self.pc_secrets_and_temp_tokens, *codes, *self.device_tokens, *self.extra]

    def found_in(self, text: str) -> list[str]:
        return [secret for secret in self.all() if secret in text]
