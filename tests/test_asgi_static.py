"""Static files through the demo's ASGI application, as uvicorn serves them.

``config.asgi`` runs Django on WSGI threads (a2wsgi), so WhiteNoise answers as under gunicorn:
a file streamed from disk, without Django's ASGI warning about synchronous iterators.
"""

import warnings
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from config.asgi import application
from tests.asgi import ASGIRequest

STATIC_FILES = ["qrlogin/qrlogin.css", "qrlogin/qrlogin.js", "qrlogin/favicon.svg"]


def asgi_get(path: str, headers: dict[str, str] | None = None) -> ASGIRequest:
    return ASGIRequest(path, headers).run_sync(application)


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_file_is_streamed_without_the_synchronous_iterator_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = asgi_get(f"/static/{name}")

    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert answer.status == 200
    assert answer.body == Path(finders.find(name)).read_bytes()
    assert answer.messages[-1].get("more_body", False) is False


def test_not_modified_answer_has_no_body_and_no_warning():
    etag = asgi_get("/static/qrlogin/qrlogin.css").headers["etag"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = asgi_get("/static/qrlogin/qrlogin.css", {"If-None-Match": etag})
    assert answer.status == 304
    assert answer.body == b""
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]


def test_wsgi_keeps_whitenoise_synchronous_response(client):
    response = client.get("/static/qrlogin/qrlogin.css")
    assert response.status_code == 200
    assert not response.is_async
    assert (
        b"".join(response.streaming_content)
        == Path(finders.find("qrlogin/qrlogin.css")).read_bytes()
    )
