"""The PC's and the phone's side of the protocol, over real HTTP (aiohttp), as a client would.

Every answer's status code is tallied, so a table can say how many requests failed and how.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

# A desktop browser's user agent, so the server parses one as it would in production.
PC_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
PHONE_USER_AGENT = "QRLoginBench/1.0 (iPhone; iOS 17.0)"


class ApiError(Exception):
    """An answer other than the one the protocol promises for this step."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


@dataclass(frozen=True)
class Phone:
    """A logged-in phone: its device token only works with its device id."""

    username: str
    device_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Token {self.token}",
            "X-Device-ID": self.device_id,
            "User-Agent": PHONE_USER_AGENT,
        }


@dataclass(frozen=True)
class QR:
    """A QR session as its PC knows it."""

    id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-QRLogin-Secret": self.secret, "User-Agent": PC_USER_AGENT}


def new_session(connections: int = 0) -> aiohttp.ClientSession:
    """A client without a connection cap (0) or with one; no cookies (API clients have none)."""
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=3)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=60),
    )


class Api:
    """The protocol's calls against one server, with a tally of answers by status code."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base = base_url
        self.codes: Counter[int | str] = Counter()

    async def _call(
        self, method: str, path: str, expect: int, *, timeout: float = 30, **kwargs: Any
    ) -> dict:
        try:
            async with self.http.request(
                method,
                f"{self.base}{path}",
                timeout=aiohttp.ClientTimeout(total=timeout),
                **kwargs,
            ) as answer:
                body = await answer.read()
                self.codes[answer.status] += 1
                if answer.status != expect:
                    raise ApiError(answer.status, body.decode(errors="replace"))
                return await answer.json(content_type=None) if body else {}
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.codes[type(exc).__name__] += 1
            raise

    def errors(self) -> int:
        """Answers that were not 2xx, and requests that got no answer."""
        return sum(
            n for code, n in self.codes.items() if not (isinstance(code, int) and code < 400)
        )

    def server_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if isinstance(code, int) and code >= 500)

    async def token(self, username: str, password: str, device_id: str) -> Phone:
        data = await self._call(
            "POST",
            "/accounts/api/token/",
            201,
            json={
                "username": username,
                "password": password,
                "device_id": device_id,
                "device_type": "ios",
                "device_name": f"Bench phone {device_id}",
            },
            headers={"User-Agent": PHONE_USER_AGENT},
        )
        return Phone(username=username, device_id=device_id, token=data["token"])

    async def create(self) -> QR:
        data = await self._call(
            "POST",
            "/qrlogin/api/sessions/",
            201,
            json={"next": "/"},
            headers={"User-Agent": PC_USER_AGENT},
        )
        return QR(id=data["id"], secret=data["secret"])

    async def status(self, qr: QR, wait: int = 0, since: str | None = None) -> str:
        query = f"?wait={wait}&since={since}" if wait else ""
        data = await self._call(
            "GET", f"/qrlogin/api/sessions/{qr.id}/{query}", 200, headers=qr.headers,
            timeout=wait + 15,
        )  # fmt: skip
        return data["status"]

    async def scan(self, phone: Phone, qr: QR) -> str:
        data = await self._call(
            "POST", "/qrlogin/api/scan/", 200, json={"qr": qr.id}, headers=phone.headers
        )
        return data["temp_token"]

    async def confirm(self, phone: Phone, qr: QR, temp_token: str) -> None:
        await self._call(
            "POST",
            "/qrlogin/api/confirm/",
            200,
            json={"session": qr.id, "temp_token": temp_token},
            headers=phone.headers,
        )

    async def complete(self, qr: QR, device_id: str) -> str:
        data = await self._call(
            "POST",
            f"/qrlogin/api/sessions/{qr.id}/complete/",
            200,
            json={"device_id": device_id, "device_type": "pc", "device_name": "Bench PC"},
            headers=qr.headers,
        )
        return data["token"]
