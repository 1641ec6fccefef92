"""One ASGI request driven by hand (no server, no sleeps): the suite's only scope builder."""

import asyncio
import json
from functools import cache

from django.core.asgi import get_asgi_application

from qrlogin.asgi import QRLoginASGIMiddleware


@cache
def site_app() -> QRLoginASGIMiddleware:
    """The site as ``config/asgi.py`` serves it: qrlogin's middleware around Django."""
    return QRLoginASGIMiddleware(get_asgi_application())


class ASGIRequest:
    """One HTTP request to an ASGI app; the client hangs up only when ``disconnect`` is set."""

    def __init__(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        client: tuple[str, int] = ("127.0.0.1", 5000),
        body: bytes = b"",
    ) -> None:
        path, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [
                (k.lower().encode(), v.encode())
                for k, v in {
                    "Host": "testserver",
                    **({"Content-Length": str(len(body))} if body else {}),
                    **(headers or {}),
                }.items()
            ],
            "client": client,
            "server": ("testserver", 80),
        }
        self.request_body = body
        self.disconnect = asyncio.Event()
        self.body_sent = False
        self.messages: list[dict] = []

    async def receive(self) -> dict:
        if not self.body_sent:  # the request body first, as a server sends it
            self.body_sent = True
            return {"type": "http.request", "body": self.request_body, "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.messages.append(message)

    async def run(self, app=None) -> "ASGIRequest":
        await (app or site_app())(self.scope, self.receive, self.send)
        return self

    def run_sync(self, app=None) -> "ASGIRequest":
        return asyncio.run(self.run(app))

    @property
    def status(self) -> int:
        return self.messages[0]["status"]

    @property
    def headers(self) -> dict[str, str]:
        raw = self.messages[0].get("headers", [])
        return {k.decode().lower(): v.decode() for k, v in raw}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])

    @property
    def json(self) -> dict:
        return json.loads(self.body)
