"""The demo's settings read HTTPS from the environment, so ``check --deploy`` can come out clean.

These run the demo's own ``config.settings`` (not the suite's) in a fresh process, with the
environment a deployment would give it (docs/deploy.md).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd-hT3Pf6GjYr2WnE8tLxC5vB1mA7sD4qZ0uI",
    "ALLOWED_HOSTS": "login.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",  # only its backend is checked, not reached
}
HTTPS = {
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "CSRF_TRUSTED_ORIGINS": "https://login.example.com, https://www.example.com",
}


def demo(*args: str, env: dict) -> subprocess.CompletedProcess:
    """``manage.py`` of the demo, with only this environment on top of the basics."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**keep, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_when_the_environment_sets_https():
    result = demo("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION | HTTPS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_them_check_deploy_names_each_https_setting():
    """The local demo's defaults stay plain HTTP, and the check says what to set."""
    result = demo("check", "--deploy", env=PRODUCTION)
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


def test_the_environment_reaches_each_setting():
    names = list(HTTPS)
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = demo("shell", "-v", "0", "-c", code, env=PRODUCTION | HTTPS)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CSRF_TRUSTED_ORIGINS"] == [
        "https://login.example.com",
        "https://www.example.com",
    ]
