"""Settings of the test suite (pyproject's ``DJANGO_SETTINGS_MODULE``).

The suite owns its settings instead of borrowing the demo's ``config.settings``: a change to
the demo (its connection pool, the HTTPS settings it reads from the environment, DEBUG) must not
change what the tests run against. What the tests do share with the demo on purpose is its
shape, the URLconf (``config.urls``) and the templates of ``templates/``, so the demo's pages
stay tested as a site would use them.

DATABASE_URL and REDIS_URL pick the services, as in the demo: unset, the embedded default
(SQLite + local-memory cache); set, PostgreSQL and Redis. ``tests/settings_qrlogin_only.py``
is the variant without ``qrlogin_accounts``.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = False
SECRET_KEY = "test-suite-key-not-a-secret"  # noqa: S105  (the test suite's own)
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "qrlogin_accounts",
    "qrlogin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# No persistent connections and no pool: every test thread opens and closes its own, which is
# what pytest-django's transactional and live-server tests expect.
DATABASES = {"default": dj_database_url.config(default="sqlite:///:memory:", conn_max_age=0)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # pytest-django hands every live-server thread the test thread's one in-memory connection,
    # so a PC's long poll reading while the phone writes fails with "database table is locked".
    # A file lets each server thread open its own connection (one per test process).
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"qrlogin-test-{os.getpid()}.sqlite3")
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # The degraded-Redis tests stop Redis under a running site: it must degrade
                # (throttles open, polls fall back to the database), as the demo does.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Real hashing costs ~0.3 s a user by design; tests only need it to be correct. PBKDF2 stays
# second so a stored default-hasher password still verifies.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The demo's own catalog (its templates/ are the suite's templates too).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "qrlogin_accounts.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "django-qrlogin API",
    "DESCRIPTION": "Scan with your phone to log in.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The apps' defaults: a test that needs another value overrides it (``settings`` fixture).
QRLOGIN: dict = {}
ACCOUNTS: dict = {}
