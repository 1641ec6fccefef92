"""The status path is ready before its first poll: a restarted process meets its waiting PCs'
polls all at once, and none of them should pay the one-time costs."""

import pytest
from django.core.asgi import get_asgi_application
from django.test import override_settings

from qrlogin import asgi, conf, snapshot
from qrlogin.notify import RedisBackend, notifier


def test_building_the_middleware_loads_the_urlconf_and_subscribes():
    asgi._status_url_shape.cache_clear()
    asgi.QRLoginASGIMiddleware(get_asgi_application())
    assert asgi._status_url_shape.cache_info().currsize == 1
    backend = notifier.backend
    if isinstance(backend, RedisBackend):
        assert backend._thread is not None and backend._thread.is_alive()


def test_the_notify_backend_is_worked_out_once_and_again_when_settings_change():
    wanted = conf.notify_backend()
    assert conf.notify_backend.cache_info().currsize == 1
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        assert conf.notify_backend() == "inprocess"
        assert isinstance(snapshot.store(), snapshot.LocalStore)
    with override_settings(QRLOGIN={"NOTIFY_BACKEND": "inprocess"}):
        assert conf.notify_backend() == "inprocess"
    assert conf.notify_backend() == wanted


@pytest.mark.django_db
def test_prepare_survives_an_unreachable_redis():
    redis = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with override_settings(CACHES=redis):
        asgi.prepare()  # no exception: the first poll meets the outage, and copes
        assert conf.notify_backend() == "redis"
        notifier.backend.stop()
