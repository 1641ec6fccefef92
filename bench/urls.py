"""The demo's URLs plus the bare view the status endpoint is compared with."""

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

BARE_KEY = "bench:bare"


def bare(request: HttpRequest) -> JsonResponse:
    """The least a Django status view can do: one cache read, a JSON answer."""
    return JsonResponse({"status": cache.get(BARE_KEY, "pending")})


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("config.urls")),
]
