"""The reference client of docs/mobile.md (docs/examples/qrlogin_client.py), over real HTTP.

Both sides of a login run against pytest-django's live server: the phone logs in with a
password, the desktop client starts a QR session, waits, completes, and uses its new token.

The live server is WSGI, so a status request that asks to wait is answered at once with
``X-QRLogin-Poll-After: 2``. The desktop client sleeps through the ``sleep`` it was given: the
tests pass one that records the pause and lets the phone act instead of sleeping, which is what
happens in real life while a PC waits, without a thread or a two-second wait.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qrlogin.payloads import mask_name
from qrlogin_accounts.tokens import DPOP_SCHEME
from tests.factories import DEFAULT_PASSWORD, UserFactory

CLIENT_PATH = Path(__file__).resolve().parents[1] / "docs" / "examples" / "qrlogin_client.py"


def load_client():
    spec = importlib.util.spec_from_file_location("qrlogin_reference_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


client = load_client()


pytestmark = pytest.mark.django_db(transaction=True)

# Straight to the loopback server, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PC_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


class Pauses:
    """The desktop client's ``sleep``: records each pause, and runs the next phone action
    instead of sleeping (or, with none left, really sleeps)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.actions: list = []
        self.results: list = []

    def then(self, action) -> "Pauses":
        self.actions.append(action)
        return self

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.actions:
            self.results.append(self.actions.pop(0)())
        else:
            time.sleep(seconds)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def phone(live_server, user):
    return client.PhoneClient.login(
        live_server.url,
        user.get_username(),
        DEFAULT_PASSWORD,
        device_id="phone-1",
        device_type="android",
        device_name="Test phone",
        opener=DIRECT,
    )


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
def desktop(live_server, pauses):
    return client.DesktopClient(live_server.url, sleep=pauses, user_agent=PC_UA, opener=DIRECT)


def test_a_desktop_client_logs_in_with_the_phone(live_server, user, phone, desktop, pauses):
    assert phone.login_info["device"]["device_id"] == "phone-1"

    created = desktop.start(next_url="/")
    assert created["status"] == "pending"
    assert created["qr_url"] == f"{live_server.url}/qrlogin/s/{created['id']}/"
    assert desktop.secret == created["secret"]

    # The desktop waits; the WSGI server says "ask again in 2 s"; meanwhile the phone scans.
    pauses.then(lambda: phone.scan(created["qr_url"]))
    seen = desktop.wait("pending", timeout=10)
    assert pauses.seconds == [2.0]
    assert seen["status"] == "scanned"
    assert seen["scanned_by"] == {"display_name": mask_name(user.get_username())}
    assert "verification_code" not in seen

    (scan,) = pauses.results
    assert scan["session"] == created["id"]
    assert scan["temp_token"]
    assert scan["pc"]["browser"] == "Chrome 120"
    assert scan["pc"]["os"] == "Windows 10"
    assert scan["pc"]["same_network"] is True

    assert phone.confirm(scan["session"], scan["temp_token"]) == {"status": "confirmed"}
    seen = desktop.wait("scanned", timeout=10)
    assert seen["status"] == "confirmed"
    assert pauses.seconds == [2.0], "a changed status is returned without a pause"

    result = desktop.complete("laptop-1", "Test laptop")
    assert result["status"] == "completed"
    assert result["user"]["username"] == user.get_username()
    assert result["device"]["device_id"] == "laptop-1"
    assert result["device"]["device_type"] == "pc"

    me = desktop.account(result).me()
    assert me["user"] == {"id": user.pk, "username": user.get_username()}
    assert me["device"]["device_id"] == "laptop-1"
    assert me["device"]["name"] == "Test laptop"

    with pytest.raises(client.QRLoginError) as error:
        client.AccountClient(live_server.url, result["token"], "phone-1", opener=DIRECT).me()
    assert (error.value.status, error.value.code) == (401, "device_mismatch")

    with pytest.raises(client.QRLoginError) as error:
        desktop.complete("laptop-1")
    assert (error.value.status, error.value.code) == (409, "invalid_state")


def test_a_wait_with_no_change_ends_at_its_timeout(desktop, pauses):
    desktop.start()
    started = time.monotonic()
    seen = desktop.wait(timeout=1.2)
    assert seen["status"] == "pending"
    # The server said 2 s; the client slept only what was left of its timeout.
    assert len(pauses.seconds) == 1 and 1 < pauses.seconds[0] <= 1.2
    assert 1.2 <= time.monotonic() - started < 3


def test_a_wrong_temp_token_is_refused_and_the_pc_can_cancel(phone, desktop):
    created = desktop.start()
    scan = phone.scan(created["id"])  # the bare id works as well as the URL

    with pytest.raises(client.QRLoginError) as error:
        phone.confirm(scan["session"], "not-the-temp-token")
    assert (error.value.status, error.value.code) == (403, "invalid_temp_token")
    assert error.value.detail

    assert desktop.cancel() == {"status": "cancelled"}
    assert desktop.wait("scanned", timeout=5)["status"] == "cancelled"
    with pytest.raises(client.QRLoginError) as error:
        phone.confirm(scan["session"], scan["temp_token"])
    assert (error.value.status, error.value.code) == (409, "invalid_state")


def test_the_pairing_code_and_deny(phone, desktop):
    created = desktop.start()
    typed = created["user_code"].lower().replace("-", " ")  # as a person might type it
    scan = phone.scan_code(typed)
    assert scan["session"] == created["id"]

    assert phone.deny(scan["session"], scan["temp_token"]) == {"status": "denied"}
    assert desktop.wait("pending", timeout=5)["status"] == "denied"
    with pytest.raises(client.QRLoginError) as error:
        desktop.complete("laptop-1")
    assert (error.value.status, error.value.code) == (409, "invalid_state")


def test_a_wrong_password_is_an_error_with_the_contract_shape(live_server, user):
    with pytest.raises(client.QRLoginError) as error:
        client.PhoneClient.login(
            live_server.url, user.get_username(), "wrong", "phone-1", opener=DIRECT
        )
    assert error.value.status in (400, 401)
    assert error.value.code == "invalid_credentials"


# --dpop: key-bound tokens ------------------------------------------------------------------


def test_dpop_mode_binds_both_tokens_and_a_copied_token_is_useless(
    live_server, user, pauses, tmp_path
):
    phone_key = client.DPoPKey.load_or_create(tmp_path / "phone.pem")
    assert (tmp_path / "phone.pem").stat().st_mode & 0o077 == 0  # only its user reads it
    again = client.DPoPKey.load_or_create(tmp_path / "phone.pem")
    assert again.thumbprint == phone_key.thumbprint  # kept in the file, not made anew

    phone = client.PhoneClient.login(
        live_server.url, user.get_username(), DEFAULT_PASSWORD, "phone-k", "ios",
        opener=DIRECT, dpop=phone_key,
    )  # fmt: skip
    assert phone.token_type == DPOP_SCHEME
    desktop_key = client.DPoPKey.load_or_create(tmp_path / "desktop.pem")
    desktop = client.DesktopClient(
        live_server.url, sleep=pauses, user_agent=PC_UA, opener=DIRECT, dpop=desktop_key
    )
    created = desktop.start()
    scan = phone.scan(created["qr_url"])
    assert phone.confirm(scan["session"], scan["temp_token"]) == {"status": "confirmed"}
    result = desktop.complete("laptop-k", "Key laptop")
    assert result["token_type"] == DPOP_SCHEME
    account = desktop.account(result)
    assert account.me()["device"]["device_id"] == "laptop-k"
    assert account.me()["device"]["device_id"] == "laptop-k"  # a fresh proof each time
    assert {d["device_id"]: d["dpop"] for d in account.devices()} == {
        "laptop-k": True,
        "phone-k": True,
    }

    # The token copied off the desktop, without its key file: refused, as bearer or with a key.
    thief = client.AccountClient(live_server.url, result["token"], "laptop-k", opener=DIRECT)
    with pytest.raises(client.QRLoginError) as error:
        thief.me()
    assert (error.value.status, error.value.code) == (401, "invalid_dpop_proof")
    thief = client.AccountClient(
        live_server.url, result["token"], "laptop-k", "DPoP", opener=DIRECT,
        dpop=client.DPoPKey.generate(),
    )  # fmt: skip
    with pytest.raises(client.QRLoginError) as error:
        thief.me()
    assert (error.value.status, error.value.code) == (401, "invalid_dpop_proof")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_copied_bound_token_is_refused_to_curl(live_server, user, tmp_path):
    phone = client.PhoneClient.login(
        live_server.url, user.get_username(), DEFAULT_PASSWORD, "phone-c", "android",
        opener=DIRECT, dpop=client.DPoPKey.generate(),
    )  # fmt: skip
    for scheme in ("Token", "DPoP"):
        answer = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "-D", "-", f"{live_server.url}/accounts/api/me/",
             "-H", f"Authorization: {scheme} {phone.token}", "-H", "X-Device-ID: phone-c"],
            capture_output=True, text=True, check=True, timeout=30,
        )  # fmt: skip
        head, _, body = answer.stdout.partition("\n\n")  # text mode: CRLF read as LF
        assert head.startswith("HTTP/1.1 401"), answer.stdout
        assert 'www-authenticate: dpop error="invalid_dpop_proof"' in head.lower()
        assert json.loads(body)["code"] == "invalid_dpop_proof"


def test_dpop_mode_follows_a_server_nonce(live_server, user, settings):
    settings.ACCOUNTS = {"DPOP_NONCE": True}
    key = client.DPoPKey.generate()
    phone = client.PhoneClient.login(
        live_server.url, user.get_username(), DEFAULT_PASSWORD, "phone-n", "ios",
        opener=DIRECT, dpop=key,
    )  # fmt: skip
    assert phone.token_type == DPOP_SCHEME and phone.dpop_nonce
    assert phone.me()["device"]["device_id"] == "phone-n"


def test_dpop_cli_keeps_its_key_in_a_file(live_server, user, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "build_opener", lambda *h: DIRECT)
    key_file = tmp_path / "desktop.pem"
    argv = ["--base-url", live_server.url, "--dpop", str(key_file), "demo",
            "--username", user.get_username(), "--password", DEFAULT_PASSWORD]  # fmt: skip
    client.main(argv)
    out = capsys.readouterr().out
    assert "token type DPoP" in out
    assert "a DPoP token for device" in out
    assert key_file.exists() and (tmp_path / "desktop.pem.phone").exists()


def test_the_phone_demo_asks_for_a_number_only_when_the_scan_says_so():
    """Issue 12, row 12: no number prompt without number matching; with it, until one is typed."""
    asked: list[str] = []

    def never(prompt: str) -> str:
        asked.append(prompt)
        return "99"

    assert client.ask_number({"verification": "none"}, never) is None
    assert client.ask_number({}, never) is None
    assert asked == []
    answers = iter(["", " 42 "])
    assert client.ask_number({"verification": "number"}, lambda _prompt: next(answers)) == "42"
