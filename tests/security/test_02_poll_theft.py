"""Threat 2: poll and completion theft by someone who saw the QR.

The QR (and so the session id) is public: anyone behind the user, any camera, any screenshot
has it. The attacker waits for the victim to confirm on the phone, then polls the status and
completes the login from their own machine before the victim's PC does.

Defence: status, cancel and completion need the PC secret (``X-QRLogin-Secret``, or the
Django session of the browser that created the QR plus its CSRF token). Without it the answer
is the same 404 as for an unknown id, on WSGI and on the ASGI long-poll path alike.
"""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.asgi import ASGIRequest
from tests.security.support import (
    ATTACKER_IP,
    NOT_FOUND,
    PCBrowser,
    session_row,
    unchanged,
)

UNKNOWN_ID = "A" * 32


def confirmed(pc, phone) -> None:
    temp = phone.scan(pc.id).json()["temp_token"]
    assert phone.confirm(pc.id, temp).status_code == 200


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert response.json() == NOT_FOUND
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def attacker():
    return APIClient(REMOTE_ADDR=ATTACKER_IP)


@pytest.mark.django_db
class TestApiClientPC:
    """The victim's PC is a desktop client holding its secret; the attacker has only the id."""

    def test_unknown_and_unproven_ids_get_the_same_answer(self, attacker, pc, phone):
        confirmed(pc, phone)
        unknown = attacker.get(f"/qrlogin/api/sessions/{UNKNOWN_ID}/")
        malformed = attacker.get("/qrlogin/api/sessions/not-an-id/")
        with unchanged():
            known = attacker.get(pc.url)
        for response in (unknown, malformed, known):
            assert_not_found(response)
        assert known.content == unknown.content
        assert set(known.headers) == set(unknown.headers)

    @pytest.mark.parametrize(
        "how",
        [
            "no secret",
            "wrong secret",
            "empty header",
            "secret in query",
            "secret under header name in query",
            "another session's secret",
        ],
    )
    def test_status_without_proof(self, attacker, pc, make_pc, phone, how):
        confirmed(pc, phone)
        own = make_pc(ip=ATTACKER_IP)  # the attacker's own QR: a valid secret, for another id
        secret = pc.data["secret"]
        path, headers = pc.url, {}
        if how == "wrong secret":
            headers = {"HTTP_X_QRLOGIN_SECRET": secret[:-1] + ("A" if secret[-1] != "A" else "B")}
        elif how == "empty header":
            headers = {"HTTP_X_QRLOGIN_SECRET": ""}
        elif how == "secret in query":
            path += f"?secret={secret}"
        elif how == "secret under header name in query":
            path += f"?X-QRLogin-Secret={secret}"
        elif how == "another session's secret":
            headers = {"HTTP_X_QRLOGIN_SECRET": own.data["secret"]}
        with unchanged():
            response = attacker.get(path, **headers)
        assert_not_found(response)

    @pytest.mark.parametrize(
        "how", ["no secret", "json body", "form body", "query string", "another session's secret"]
    )
    def test_completion_without_proof(self, attacker, pc, make_pc, phone, how):
        confirmed(pc, phone)
        secret = pc.data["secret"]
        own = make_pc(ip=ATTACKER_IP)
        url = f"{pc.url}complete/"
        body = {"device_id": "attacker-laptop"}
        with unchanged():
            if how == "no secret":
                response = attacker.post(url, body, format="json")
            elif how == "json body":
                response = attacker.post(url, {**body, "secret": secret}, format="json")
            elif how == "form body":
                form = {**body, "secret": secret, "X-QRLogin-Secret": secret}
                response = attacker.post(url, form)  # multipart, as a form would send it
            elif how == "query string":
                response = attacker.post(f"{url}?secret={secret}", body, format="json")
            else:
                response = attacker.post(
                    url, body, format="json", HTTP_X_QRLOGIN_SECRET=own.data["secret"]
                )
        assert_not_found(response)
        assert session_row(pc.id).status == "confirmed"

    def test_cancel_without_proof(self, attacker, pc, phone):
        confirmed(pc, phone)
        with unchanged():
            response = attacker.delete(pc.url)
            wrong = attacker.delete(pc.url, HTTP_X_QRLOGIN_SECRET="x" * 43)
        assert_not_found(response)
        assert_not_found(wrong)

    def test_the_real_pc_still_completes_after_the_attempts(self, attacker, pc, phone):
        confirmed(pc, phone)
        attacker.get(pc.url)
        attacker.post(f"{pc.url}complete/", {"device_id": "x"}, format="json")
        done = pc.complete({"device_id": "victim-laptop"})
        assert done.status_code == 200
        assert done.json()["user"]["id"] == phone.user.pk


@pytest.mark.django_db
class TestBrowserPC:
    """The victim's PC is a browser: its proof is its Django session (the secret is never sent)."""

    def test_another_browser_cannot_poll_or_complete(self, phone):
        victim = PCBrowser()
        confirmed_via = phone.scan(victim.id).json()["temp_token"]
        phone.confirm(victim.id, confirmed_via)
        thief = PCBrowser(ip=ATTACKER_IP)  # has a session and a CSRF token of its own
        with unchanged():
            status = thief.client.get(victim.status_url)
            complete = thief.client.post(
                victim.complete_url,
                {},
                content_type="application/json",
                HTTP_X_CSRFTOKEN=thief.csrf,
            )
            anonymous = Client().post(victim.complete_url, {}, content_type="application/json")
        for response in (status, complete, anonymous):
            assert_not_found(response)
        assert victim.complete().json()["status"] == "completed"


@pytest.mark.django_db(transaction=True)
class TestAsgiLongPollPath:
    """Under ASGI the status GET never reaches the DRF view: attack the middleware too."""

    def get(self, path: str, headers: dict | None = None, method: str = "GET"):
        # The client never hangs up: every answer must be prompt.
        request = ASGIRequest(path, headers, method=method, client=(ATTACKER_IP, 50000))
        request.run_sync()
        return request.status, request.headers, request.body

    def test_no_proof_is_the_same_404_as_an_unknown_id(self, pc, phone):
        confirmed(pc, phone)
        victim_browser = PCBrowser()
        thief = PCBrowser(ip=ATTACKER_IP)
        unknown = self.get(f"/qrlogin/api/sessions/{UNKNOWN_ID}/")
        attempts = [
            self.get(pc.url),
            self.get(f"{pc.url}?secret={pc.data['secret']}"),
            self.get(f"{pc.url}?wait=30&since=pending&X-QRLogin-Secret={pc.data['secret']}"),
            self.get(pc.url, {"X-QRLogin-Secret": "x" * 43}),
            self.get(pc.url, {"Cookie": "sessionid=forged-session-key"}),
            self.get(victim_browser.status_url, {"Cookie": f"sessionid={thief.session_key}"}),
        ]
        for status, headers, body in [unknown, *attempts]:
            assert status == 404
            assert json.loads(body) == NOT_FOUND
            assert "no-store" in headers["cache-control"]
        assert all(body == unknown[2] for _, _, body in attempts)
        head = self.get(pc.url, method="HEAD")
        assert head[0] == 404 and head[2] == b""

    def test_the_proof_still_works(self, pc):
        status, headers, body = self.get(pc.url, {"X-QRLogin-Secret": pc.data["secret"]})
        assert status == 200 and json.loads(body)["status"] == "pending"
        assert "no-store" in headers["cache-control"]
