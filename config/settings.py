"""Settings of the demo/host project.

The embedded default needs nothing running (SQLite + local-memory cache). Set DATABASE_URL and
REDIS_URL to run on PostgreSQL and Redis, as production and the full test suite do.
Another settings module may ``from config.settings import *`` and override ``QRLOGIN``.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-demo-key-change-me-in-production"
# The demo is opened from a phone on the LAN, so with DEBUG on any host name is accepted.
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "*" if DEBUG else "localhost,127.0.0.1,[::1]").split(
        ","
    )
    if h.strip()
]

# HTTPS, for a deployment behind TLS (docs/deploy.md). Each variable is the Django setting of
# the same name; unset, the local demo's plain-HTTP defaults (a phone on the LAN opens
# http://<lan-ip>:8000, where a secure-only cookie or a redirect to https would break the login).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy, the header it sets, e.g. "X-Forwarded-Proto: https". Only
# with a proxy that always sets it (and strips it from clients): otherwise a client could
# claim https.
if proxy_header := os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip():
    header, _, value = proxy_header.partition(":")
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + header.strip().upper().replace("-", "_"),
        value.strip() or "https",
    )
# Origins allowed to POST (the CSRF check), comma-separated: "https://example.com".
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
# PostgreSQL goes through psycopg's connection pool unless DATABASE_POOL=0 or CONN_MAX_AGE > 0.
# Without it a process opens and closes a PostgreSQL connection (a backend fork) per request,
# and persistent connections (CONN_MAX_AGE > 0) under ASGI pile up one per request thread until
# PostgreSQL refuses clients. With the pool a request borrows a connection at its first query
# and gives it back at request_finished (the status endpoint after each read), and a process
# never holds more than DATABASE_POOL of them; a request finding all taken waits at most
# DATABASE_POOL_TIMEOUT seconds, then fails. Sizing against max_connections: docs/deploy.md.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _pool_size = int(os.environ.get("DATABASE_POOL", "10"))
    if _pool_size > 0 and DATABASES["default"]["CONN_MAX_AGE"] == 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, _pool_size),
            "max_size": _pool_size,
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
        }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # With Redis gone, throttles and the cache degrade instead of failing requests;
                # waiting PCs fall back to reading the database (see qrlogin.notify).
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Chosen per request from the browser's Accept-Language (LocaleMiddleware).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The demo's own templates (templates/) are translated here; the apps carry their own.
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
# Serve app static files straight from their finders, so a fresh checkout needs no
# collectstatic, with DEBUG on or off.
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
    "DESCRIPTION": (
        "Scan with your phone to log in.\n\n"
        "**A computer** (a desktop or API client) creates a session, shows its QR code and "
        "pairing code, and polls the session's status until the phone has confirmed; then it "
        "completes the login and receives its device token.\n\n"
        "**A phone app** signs in once with a password (`/accounts/api/token/`) and sends "
        "`Authorization: Token <token>` with `X-Device-ID` on every call. It scans the QR "
        "(`/qrlogin/api/scan/` with the URL the camera read), shows the user which computer "
        "asks, and confirms or denies.\n\n"
        "A session goes `pending` → `scanned` → `confirmed` → `completed`, or ends `denied`, "
        "`cancelled` or `expired`; each state lasts until its `expires_at`.\n\n"
        'Every error is JSON `{"detail": <a sentence for people>, "code": <a code for '
        "programs>}` (plus `errors` for `invalid`): decide on `code`. On 429 and 503, wait "
        "`Retry-After` seconds; on 401, sign in again (`WWW-Authenticate` names the scheme)."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The site's public address, in the QR (qrlogin's SITE_URL). scripts/demo.sh sets it to
# http://<this machine's LAN address>:8000, so a phone on the same Wi-Fi can open the QR even
# when the PC page was opened on 127.0.0.1; its host is then an allowed host too.
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/")
QRLOGIN: dict = {"SITE_URL": SITE_URL} if SITE_URL else {}
if SITE_URL and "*" not in ALLOWED_HOSTS:
    _site_host = urlsplit(SITE_URL).hostname or ""
    ALLOWED_HOSTS.append(f"[{_site_host}]" if ":" in _site_host else _site_host)
ACCOUNTS: dict = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
