"""ASGI entry point: ``uvicorn config.asgi:application``, the one server the demo needs.

qrlogin's status endpoint is answered on the event loop (``QRLoginASGIMiddleware``): a PC's
long poll holds no thread while it waits. Every other request runs on Django's WSGI handler in
a fixed pool of threads (a2wsgi). Django's ASGI handler would serve them too, but it costs a
short request about four times the CPU (a thread hop per synchronous middleware, a new thread
per request: docs/benchmarks.md) and buys nothing here, where no view is async. A site with
async views or Channels wraps ``get_asgi_application()`` instead (docs/deploy.md).
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from qrlogin.asgi import QRLoginASGIMiddleware  # noqa: E402  (needs the app registry)

# Each thread holds at most one database connection at a time: fewer threads than the pool
# (DATABASE_POOL, 10) leaves connections for the status endpoint's occasional short reads
# (on the event loop's executor; one finding the pool empty waits DATABASE_POOL_TIMEOUT).
# A thread also reads its request's body: behind a proxy that buffers bodies (nginx does by
# default), a slow client cannot hold one (docs/deploy.md).
DJANGO_THREADS = int(os.environ.get("DJANGO_THREADS", "8"))

application = QRLoginASGIMiddleware(WSGIMiddleware(django_application, workers=DJANGO_THREADS))
