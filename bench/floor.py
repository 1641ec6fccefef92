"""The floor for a status poll in Django: ``uvicorn bench.floor:application``.

Bare Django as issue 9 defines it: no installed apps, no middleware, one cache GET (the demo's
cache, django-redis on REDIS_URL) and a ``JsonResponse``. Settings, URLconf and the ASGI
application are this one module.
"""

import os

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.urls import path

DEBUG = False
SECRET_KEY = "bench-floor-only"  # no sessions, no signing: nothing to protect
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor"
DATABASES: dict = {}
USE_TZ = True
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}
FLOOR_KEY = "bench:floor"


def status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": cache.get(FLOOR_KEY, "pending")})


urlpatterns = [path("", status)]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor")
if os.environ["DJANGO_SETTINGS_MODULE"] == "bench.floor":
    from django.core.asgi import get_asgi_application

    application = get_asgi_application()
