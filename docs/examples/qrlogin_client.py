"""A reference client for django-qrlogin, both sides, standard library only.

- ``PhoneClient``: the site's mobile app. It logs in with a password once (``PhoneClient.login``)
  and keeps the device token; then it scans a QR (or takes a pairing code), shows the user who
  is asking, and confirms or denies.
- ``DesktopClient``: a desktop/API client that wants to be logged in (a CLI, an Electron app).
  It creates a QR session, waits for the phone (long poll), and completes, getting its own
  device token.
- ``AccountClient``: any holder of a device token (``/accounts/api/me/`` and friends).
- ``DPoPKey``: a device key kept in a file; given to any client as ``dpop=``, it binds the
  tokens the client gets to the key (RFC 9449), and signs a proof for every request, so a copy
  of the token is useless without the file. Needs ``cryptography`` (``pip install
  cryptography``); everything else is the standard library.

Every error answer becomes a ``QRLoginError(status, code, detail)``; see docs/mobile.md for what
an app should do with each code. Network failures are raised as they come (``OSError``, of which
``urllib.error.URLError`` and ``TimeoutError`` are kinds).

Run ``python qrlogin_client.py --help`` for a demo against a running site (``make demo``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

__all__ = ["AccountClient", "DPoPKey", "DesktopClient", "PhoneClient", "QRLoginError"]

TERMINAL = frozenset({"completed", "denied", "cancelled", "expired"})
"""States a session never leaves."""

MAX_WAIT = 30
"""The longest hold the status endpoint accepts (``?wait=0..30``)."""

POLL_AFTER_HEADER = "X-QRLogin-Poll-After"
# The authorization schemes of a device token (the server's ``token_type``).
BEARER_SCHEME, DPOP_SCHEME = "Token", "DPoP"
FALLBACK_POLL_SECONDS = 1.5
"""Pause when a server answered a wait at once without saying when to ask again."""

DEFAULT_USER_AGENT = (
    f"qrlogin-reference-client/0.1 ({platform.system()} {platform.release()}) "
    f"Python/{platform.python_version()}"
)


class QRLoginError(Exception):
    """An error answer: ``{"detail": <sentence>, "code": <machine code>}`` and its status.

    ``retry_after`` is the ``Retry-After`` header in seconds (429 answers), ``data`` the whole
    body (for ``invalid``, ``data["errors"]`` holds the field errors).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        retry_after: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.data = data or {}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DPoPKey:
    """A P-256 device key (ES256) that signs DPoP proofs (RFC 9449).

    On a phone the key lives in the Secure Enclave or the Android Keystore (see
    docs/mobile.md); a desktop keeps it in a file only its user can read. Whoever copies the
    token but not this file cannot use the token.
    """

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise ValueError("a DPoP key here is a P-256 private key")
        self._key = private_key
        numbers = private_key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }

    @classmethod
    def generate(cls) -> Self:
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> Self:
        """The key in ``path`` (PEM, PKCS #8), or a new one written there with mode 0600."""
        from cryptography.hazmat.primitives import serialization

        try:
            with open(path, "rb") as file:
                return cls(serialization.load_pem_private_key(file.read(), password=None))
        except FileNotFoundError:
            pass
        key = cls.generate()
        pem = key._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        return key

    @property
    def thumbprint(self) -> str:
        """RFC 7638: what the server binds the token to."""
        canonical = json.dumps(self.jwk, separators=(",", ":"), sort_keys=True)
        return _b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self, method: str, url: str, token: str | None = None, nonce: str | None = None
    ) -> str:
        """A fresh proof for one request: ``htu`` is the URL without query or fragment."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": int(time.time()),
        }
        if token is not None:
            claims["ath"] = _b64url(hashlib.sha256(token.encode("ascii")).digest())
        if nonce is not None:
            claims["nonce"] = nonce
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)  # JWS wants the raw 64 bytes r || s, not DER
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Response(NamedTuple):
    """An answer: its status, its headers and its JSON body (``{}`` when empty)."""

    status: int
    headers: dict[str, str]
    data: Any


class _Client:
    """JSON over HTTP to one site. Paths are where the demo mounts the apps; pass others."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        user_agent: str = DEFAULT_USER_AGENT,
        qrlogin_path: str = "/qrlogin/",
        accounts_path: str = "/accounts/",
        opener: urllib.request.OpenerDirector | None = None,
        dpop: DPoPKey | None = None,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.user_agent = user_agent
        self.qrlogin_path = "/" + qrlogin_path.strip("/") + "/"
        self.accounts_path = "/" + accounts_path.strip("/") + "/"
        self.opener = opener or urllib.request.build_opener()
        self.dpop = dpop
        self.dpop_nonce: str | None = None

    def _options(self) -> dict[str, Any]:
        """Keyword arguments that make another client talk to the same site the same way."""
        return {
            "timeout": self.timeout,
            "user_agent": self.user_agent,
            "qrlogin_path": self.qrlogin_path,
            "accounts_path": self.accounts_path,
            "opener": self.opener,
            "dpop": self.dpop,
        }

    def _headers(self) -> dict[str, str]:
        return {}

    def _proof_token(self) -> str | None:
        """The token a proof must be bound to (``ath``), if this client sends one."""
        return None

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Response:
        try:
            return self._send(method, path, body, timeout)
        except QRLoginError as error:
            # RFC 9449 section 8: the server wants a nonce in the proof; retry once with it.
            if error.code != "use_dpop_nonce" or self.dpop is None or not self.dpop_nonce:
                raise
        return self._send(method, path, body, timeout)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None
    ) -> Response:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        headers.update(self._headers())
        if self.dpop is not None:
            url = self.base_url + path
            headers["DPoP"] = self.dpop.proof(method, url, self._proof_token(), self.dpop_nonce)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310  (base_url is checked to be http(s))
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with self.opener.open(request, timeout=timeout or self.timeout) as answer:
                self._keep_nonce(answer.headers)
                return Response(answer.status, dict(answer.headers), _json(answer.read()))
        except urllib.error.HTTPError as error:
            self._keep_nonce(error.headers)
            try:
                raw = error.read()
            finally:
                error.close()
            raise _error(error.code, dict(error.headers), raw) from None

    def _keep_nonce(self, headers: Any) -> None:
        nonce = headers.get("DPoP-Nonce") if headers is not None else None
        if nonce:
            self.dpop_nonce = nonce


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else {}


def _error(status: int, headers: dict[str, str], raw: bytes) -> QRLoginError:
    retry_after = None
    with contextlib.suppress(ValueError):
        retry_after = float(headers.get("Retry-After", ""))
    try:
        data = json.loads(raw)
        return QRLoginError(
            status, data["code"], data["detail"], retry_after=retry_after, data=data
        )
    except (ValueError, KeyError, TypeError):  # not our JSON: a proxy's error page, say
        text = raw.decode(errors="replace").strip()[:200]
        return QRLoginError(status, "http_error", text, retry_after=retry_after)


class AccountClient(_Client):
    """A client holding a device token: ``Authorization: Token`` plus ``X-Device-ID``.

    A token bound to a key (``token_type="DPoP"``) goes as ``Authorization: DPoP`` with a proof
    signed by ``dpop``, the key it was bound to.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        device_id: str,
        token_type: str = BEARER_SCHEME,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self.token = token
        self.device_id = device_id
        self.token_type = token_type
        if token_type == DPOP_SCHEME and self.dpop is None:
            raise ValueError("a DPoP-bound token needs its key: pass dpop=")
        self.login_info: dict[str, Any] | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.token_type} {self.token}", "X-Device-ID": self.device_id}

    def _proof_token(self) -> str | None:
        return self.token

    @classmethod
    def login(
        cls,
        base_url: str,
        username: str,
        password: str,
        device_id: str,
        device_type: str = "ios",
        device_name: str = "",
        **options: Any,
    ) -> Self:
        """Exchange a password for a token bound to ``device_id`` (``POST /accounts/api/token/``).

        ``device_id`` must be stable for this installation (generate it once, store it), and
        ``device_type`` one of ``ios``, ``android``, ``pc``, ``web``, ``other``. The answer
        (``{token, token_type, expires_at, user, device}``) is kept as ``client.login_info``.
        With ``dpop=DPoPKey(...)`` in ``options`` the token is bound to that key.
        """
        anonymous = _Client(base_url, **options)
        body = {
            "username": username,
            "password": password,
            "device_id": device_id,
            "device_type": device_type,
            "device_name": device_name,
        }
        info = anonymous._request("POST", f"{anonymous.accounts_path}api/token/", body).data
        token_type = info.get("token_type", BEARER_SCHEME)
        client = cls(base_url, info["token"], device_id, token_type, **options)
        client.dpop_nonce = anonymous.dpop_nonce
        client.login_info = info
        return client

    def me(self) -> dict[str, Any]:
        """``{user: {id, username}, device: {id, device_id, device_type, name}}``."""
        return self._request("GET", f"{self.accounts_path}api/me/").data

    def devices(self) -> list[dict[str, Any]]:
        """The user's devices, revoked ones included (``current`` marks this one)."""
        return self._request("GET", f"{self.accounts_path}api/devices/").data

    def revoke_device(self, device_pk: int) -> None:
        """Revoke one of the user's devices (its ``id``, not its ``device_id``) and its tokens."""
        self._request("DELETE", f"{self.accounts_path}api/devices/{device_pk}/")

    def logout(self) -> None:
        """Revoke this token."""
        self._request("DELETE", f"{self.accounts_path}api/token/")


class PhoneClient(AccountClient):
    """The phone side of a QR login, for the site's mobile app."""

    def scan(self, qr_text: str) -> dict[str, Any]:
        """Send the text read from the QR (the full ``qr_url``, or a bare session id).

        Returns ``{session, temp_token, expires_at, pc: {ip, user_agent, browser, os,
        created_at, same_network}}``: show ``pc`` to the user, keep ``session`` and
        ``temp_token`` in memory only, and confirm or deny before ``expires_at``.
        """
        return self._request("POST", f"{self.qrlogin_path}api/scan/", {"qr": qr_text}).data

    def scan_code(self, code: str) -> dict[str, Any]:
        """Like ``scan``, with the pairing code shown under the QR (``ABCD-EFGH``; case, spaces
        and the dash do not matter). Throttled hard: do not retry on your own."""
        return self._request("POST", f"{self.qrlogin_path}api/scan/", {"code": code}).data

    def confirm(
        self, session: str, temp_token: str, verification_code: str | None = None
    ) -> dict[str, Any]:
        """Approve the login: ``{"status": "confirmed"}``.

        With number matching on (the PC shows two digits), pass the digits the user typed; a
        wrong number denies the session (403 ``wrong_verification_code``).
        """
        body = {"session": session, "temp_token": temp_token}
        if verification_code is not None:
            body["verification_code"] = verification_code
        return self._request("POST", f"{self.qrlogin_path}api/confirm/", body).data

    def deny(self, session: str, temp_token: str) -> dict[str, Any]:
        """Refuse the login: ``{"status": "denied"}``."""
        body = {"session": session, "temp_token": temp_token}
        return self._request("POST", f"{self.qrlogin_path}api/deny/", body).data


class DesktopClient(_Client):
    """The PC side of a QR login, for a desktop/API client.

    ``start()`` creates a session and keeps its secret (it is never shown again); ``wait()``
    follows the status; ``complete()`` turns a confirmed session into this client's own device
    token. ``sleep`` is how the client pauses between short polls: a GUI can pass a function that
    keeps its event loop running.
    """

    def __init__(
        self,
        base_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self.sleep = sleep
        self.session: dict[str, Any] = {}
        self.secret = ""
        self.status = ""

    @property
    def session_id(self) -> str:
        return self.session["id"]

    def _headers(self) -> dict[str, str]:
        return {"X-QRLogin-Secret": self.secret} if self.secret else {}

    def _session_path(self) -> str:
        if not self.secret:
            raise RuntimeError("call start() first")
        return f"{self.qrlogin_path}api/sessions/{self.session_id}/"

    def start(self, next_url: str | None = None) -> dict[str, Any]:
        """Create a QR session: ``{id, status, qr_url, qr_svg, user_code, expires_at, secret}``.

        Show ``qr_svg`` (or draw ``qr_url`` as a QR yourself) and ``user_code``. Calling it again
        starts a new session (after an expiry, say) and forgets the old one.
        """
        self.secret = ""
        body = {"next": next_url} if next_url else {}
        created = self._request("POST", f"{self.qrlogin_path}api/sessions/", body).data
        self.session, self.secret, self.status = created, created["secret"], created["status"]
        return created

    def wait(self, since: str | None = None, timeout: float = 25) -> dict[str, Any]:
        """Wait until the status differs from ``since`` (default: the last one seen), or until
        ``timeout`` seconds have passed; return ``{id, status, expires_at, scanned_by?,
        verification_code?}`` (its ``status`` still ``since`` after a timeout).

        An ASGI server holds each request until something changes. A server that cannot (WSGI)
        answers at once with ``X-QRLogin-Poll-After: <seconds>``; the client sleeps that long
        (never past ``timeout``) and asks again.
        """
        since = since or self.status
        path = self._session_path()
        deadline = time.monotonic() + timeout
        while True:
            hold = max(0, min(MAX_WAIT, int(deadline - time.monotonic())))
            asked = time.monotonic()
            query = urlencode({"wait": hold, "since": since})
            answer = self._request("GET", f"{path}?{query}", timeout=hold + self.timeout)
            status = answer.data["status"]
            self.status = status
            left = deadline - time.monotonic()
            if status != since or status in TERMINAL or left <= 0:
                return answer.data
            pause = _poll_after(answer.headers)
            if pause is None:  # held as asked, or (if it came back at once) nothing said
                pause = FALLBACK_POLL_SECONDS if time.monotonic() - asked < 0.5 else 0.0
            if pause > 0:
                self.sleep(min(pause, left))

    def complete(
        self, device_id: str, device_name: str = "", device_type: str = "pc"
    ) -> dict[str, Any]:
        """From ``confirmed``, once: ``{status: "completed", token, token_type, expires_at,
        user, device}``.

        The token works with ``X-Device-ID: <device_id>`` (see ``AccountClient``). ``device_id``
        must be stable for this installation: completing again from the same installation
        reuses its device. A client made with ``dpop=`` gets a token bound to that key.
        """
        body = {"device_id": device_id, "device_type": device_type, "device_name": device_name}
        result = self._request("POST", f"{self._session_path()}complete/", body).data
        self.status = result["status"]
        return result

    def cancel(self) -> dict[str, Any]:
        """Give up (from ``pending``, ``scanned`` or ``confirmed``): ``{"status": "cancelled"}``."""
        result = self._request("DELETE", self._session_path()).data
        self.status = result["status"]
        return result

    def account(self, completed: dict[str, Any]) -> AccountClient:
        """An ``AccountClient`` using the token that ``complete()`` returned."""
        device_id = completed["device"]["device_id"]
        token_type = completed.get("token_type", BEARER_SCHEME)
        return AccountClient(
            self.base_url, completed["token"], device_id, token_type, **self._options()
        )


def _poll_after(headers: dict[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == POLL_AFTER_HEADER.lower():
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


# The demo ---------------------------------------------------------------------------------


def _demo_both(
    base_url: str, username: str, password: str, desktop_id: str, key_file: str | None
) -> None:
    """The whole flow in one process, step by step, as docs/mobile.md describes it."""
    phone_key = DPoPKey.load_or_create(f"{key_file}.phone") if key_file else None
    desktop_key = DPoPKey.load_or_create(key_file) if key_file else None
    phone = PhoneClient.login(
        base_url, username, password, "qrlogin-demo-phone", "ios", "Demo", dpop=phone_key
    )
    print(f"[phone]   logged in, token type {phone.token_type}")
    desktop = DesktopClient(base_url, dpop=desktop_key)
    created = desktop.start()
    print(f"[desktop] QR {created['qr_url']}, pairing code {created['user_code']}")
    scan = phone.scan(created["qr_url"])
    pc = scan["pc"]
    print(f"[phone]   asked by {pc['user_agent']!r} at {pc['ip']}, same network: "
          f"{pc['same_network']}")  # fmt: skip
    seen = desktop.wait("pending")
    print(f"[desktop] {seen['status']} by {seen['scanned_by']['display_name']}")
    number = seen.get("verification_code")  # with VERIFICATION = "number"; the user types it
    print(f"[phone]   {phone.confirm(scan['session'], scan['temp_token'], number)}")
    seen = desktop.wait("scanned")
    print(f"[desktop] {seen['status']}")
    result = desktop.complete(desktop_id, platform.node() or "Desktop")
    print(f"[desktop] {result['status']}: a {result.get('token_type', 'Token')} token for "
          f"device {result['device']}")  # fmt: skip
    print(f"[desktop] /accounts/api/me/ says {desktop.account(result).me()}")


def _demo_desktop(base_url: str, desktop_id: str, key_file: str | None) -> None:
    """Show the code, follow the session (renewing an expired QR a few times), complete."""
    desktop = DesktopClient(base_url, dpop=DPoPKey.load_or_create(key_file) if key_file else None)
    for _ in range(5):
        created = desktop.start()
        print(f"\nScan the QR holding {created['qr_url']}")
        print(f"or type the pairing code {created['user_code']} in the app.")
        while desktop.status not in TERMINAL:
            seen = desktop.wait(timeout=25)
            if seen["status"] == "scanned":
                print(f"Scanned by {seen['scanned_by']['display_name']}: confirm on the phone.")
                if seen.get("verification_code"):
                    print(f"On the phone, enter the number {seen['verification_code']}.")
            elif seen["status"] == "confirmed":
                result = desktop.complete(desktop_id, platform.node() or "Desktop")
                print(f"Logged in as {result['user']['username']}; the token is for {desktop_id}.")
                return
        print(f"The login request is {desktop.status}.")
        if desktop.status != "expired":
            return


def _demo_phone(
    base_url: str, username: str, password: str, qr_or_code: str, key_file: str | None
) -> None:
    """Scan a real PC's QR text (or pairing code), show who is asking, confirm or deny."""
    key = DPoPKey.load_or_create(key_file) if key_file else None
    phone = PhoneClient.login(base_url, username, password, "qrlogin-demo-phone", "other", dpop=key)
    is_code = len(qr_or_code.strip()) <= 12  # ABCD-EFGH; an id or a URL is longer
    scan = phone.scan_code(qr_or_code) if is_code else phone.scan(qr_or_code)
    pc = scan["pc"]
    print(f"Log in on {pc['browser'] or 'a program'} on {pc['os'] or 'an unknown system'}, "
          f"{pc['ip']}, asked at {pc['created_at']}?")  # fmt: skip
    if not pc["same_network"]:
        print("That computer is on another network. If someone sent you this code, deny.")
    if input("Confirm? [y/N] ").strip().lower() != "y":
        print(phone.deny(scan["session"], scan["temp_token"]))
        return
    print(phone.confirm(scan["session"], scan["temp_token"], ask_number(scan)))


def ask_number(scan: dict, ask: Callable[[str], str] = input) -> str | None:
    """The number the computer shows, asked only when the scan answer says number matching is
    on (``"verification": "number"``); otherwise the confirm carries none."""
    if scan.get("verification") != "number":
        return None
    while not (number := ask("The number shown on the computer: ").strip()):
        pass
    return number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="django-qrlogin reference client demo")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--dpop",
        metavar="KEY_FILE",
        help="bind the tokens to a P-256 key kept in KEY_FILE (created if missing, mode 0600) "
        "and sign a DPoP proof for every request; in 'demo' the phone's key is KEY_FILE.phone "
        "(needs the cryptography package)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    both = sub.add_parser("demo", help="play both the phone and the desktop")
    sub.add_parser("desktop", help="show a QR URL and pairing code; wait for a real phone")
    phone = sub.add_parser("phone", help="log a PC in: its QR text or pairing code")
    for command in (both, phone):
        command.add_argument("--username", required=True)
        command.add_argument("--password", required=True)
    phone.add_argument("qr_or_code", help="the text read from the QR, or the pairing code")
    args = parser.parse_args(argv)
    desktop_id = f"qrlogin-demo-desktop-{platform.node() or 'pc'}"[:128]
    try:
        if args.command == "demo":
            _demo_both(args.base_url, args.username, args.password, desktop_id, args.dpop)
        elif args.command == "desktop":
            _demo_desktop(args.base_url, desktop_id, args.dpop)
        else:
            _demo_phone(args.base_url, args.username, args.password, args.qr_or_code, args.dpop)
    except QRLoginError as error:
        raise SystemExit(f"Error: {error}") from None


if __name__ == "__main__":
    main()
