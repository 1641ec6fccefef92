"""Static files under ASGI: streamed asynchronously, without Django's synchronous-iterator warning.

The demo serves its static files with WhiteNoise in both servers (``config/static.py``). These
drive the demo's ASGI application (``config.asgi``) by hand, as uvicorn would.
"""

import asyncio
import warnings
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from config.asgi import application

STATIC_FILES = ["qrlogin/qrlogin.css", "qrlogin/qrlogin.js", "qrlogin/favicon.svg"]


def asgi_get(path: str, headers: dict[str, str] | None = None) -> list[dict]:
    """The messages the application sends for one GET (the request has no body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"Host": "testserver", **(headers or {})}.items()
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    messages: list[dict] = []
    request_sent = False

    async def receive() -> dict:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected: no disconnect
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)

    asyncio.run(application(scope, receive, send))
    return messages


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_file_is_streamed_without_the_synchronous_iterator_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = asgi_get(f"/static/{name}")

    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    start, *body = messages
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    assert b"".join(m.get("body", b"") for m in body) == Path(finders.find(name)).read_bytes()
    assert body[-1].get("more_body", False) is False


def test_not_modified_answer_has_no_body_and_no_warning():
    headers = asgi_get("/static/qrlogin/qrlogin.css")[0]["headers"]
    etag = {name.lower(): value for name, value in headers}[b"etag"].decode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start, *body = asgi_get("/static/qrlogin/qrlogin.css", {"If-None-Match": etag})
    assert start["status"] == 304
    assert b"".join(m.get("body", b"") for m in body) == b""
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]


def test_wsgi_keeps_whitenoise_synchronous_response(client):
    response = client.get("/static/qrlogin/qrlogin.css")
    assert response.status_code == 200
    assert not response.is_async
    assert (
        b"".join(response.streaming_content)
        == Path(finders.find("qrlogin/qrlogin.css")).read_bytes()
    )
