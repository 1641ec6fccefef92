"""WhiteNoise for both of the demo's servers: as is under WSGI, with an async body under ASGI.

WhiteNoise (6.x) answers a static file with a ``FileResponse``, whose body is a synchronous
iterator over the file. Django's ASGI handler streams only asynchronous iterators: handed a
synchronous one it warns "StreamingHttpResponse must consume synchronous iterators..." and
reads the whole file into memory in a thread first, on every static request (each page's CSS,
script and icon). Under ASGI this subclass gives the same response an asynchronous iterator
that reads the file chunk by chunk in a worker thread; under WSGI (``config/wsgi.py``) the
response is WhiteNoise's, unchanged. The file is still closed by the response (its closers).
"""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware as BaseWhiteNoiseMiddleware


async def read_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each chunk read off the event loop (a file read may block on a slow disk)."""
    next_chunk = sync_to_async(next, thread_sensitive=False)
    while (chunk := await next_chunk(chunks, None)) is not None:
        yield chunk


class WhiteNoiseMiddleware(BaseWhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file: object, request: HttpRequest) -> HttpResponseBase:
        response = BaseWhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = read_in_thread(iter(response.streaming_content))
        return response
