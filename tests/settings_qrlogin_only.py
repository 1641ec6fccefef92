"""The suite's settings with ``qrlogin`` installed alone: no ``qrlogin_accounts``.

A site that has its own ``accounts`` app (or its own phone tokens) installs only ``qrlogin``;
this variant keeps that working on every run, not only in the packaging test. Phones
authenticate with DRF's ``TokenAuthentication``, a site's own choice, and no token issuer is
configured: an API client that asks for a device token on completion gets a clear 400.
It runs ``tests/qrlogin_only/`` and nothing else (``tests/conftest.py``).
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "qrlogin_accounts"] + [
    "rest_framework.authtoken"
]

ROOT_URLCONF = "tests.qrlogin_only.urls"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

QRLOGIN = {
    "MOBILE_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
