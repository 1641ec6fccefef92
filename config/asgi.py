"""ASGI entry point: ``uvicorn config.asgi:application`` (the long poll wants ASGI)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

from qrlogin.asgi import QRLoginASGIMiddleware  # noqa: E402  (needs the app registry)

# The status endpoint's long polls are answered without a thread each; the rest is Django.
application = QRLoginASGIMiddleware(django_application)
