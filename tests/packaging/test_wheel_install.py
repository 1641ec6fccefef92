"""The wheel, installed into a brand-new site, as a site owner would: the five-minute job.

Builds the wheel, installs it into a fresh virtualenv, makes a new ``django-admin
startproject`` site with a custom user model (logging in by email, no ``username`` field) and
DRF ``TokenAuthentication`` for phones (``qrlogin`` alone) and an ``accounts`` app of its own
(``startapp accounts``, as most sites have), embeds the widget in the site's own login template,
and logs in through a real headless Chromium. A second site keeps its own ``accounts`` app and
installs ``qrlogin_accounts`` too, and logs a desktop client in with device tokens.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.packaging]

SETTINGS_TAIL = """
INSTALLED_APPS += ["rest_framework", "rest_framework.authtoken", "qrlogin", "users", "accounts"]
AUTH_USER_MODEL = "users.User"
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
LOGIN_REDIRECT_URL = "/private/"
ALLOWED_HOSTS = ["127.0.0.1"]
QRLOGIN = {
    "MOBILE_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
"""

URLS = """
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path


@login_required
def private(request):
    return HttpResponse(f"<p id='who'>Hello {request.user.email}</p>")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("qr/", include("qrlogin.urls")),
    path("private/", private),
]
"""

USER_MODELS = """
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save()
        return user


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    USERNAME_FIELD = "email"
    objects = UserManager()
"""

LOGIN_TEMPLATE = """
{% load qrlogin %}<!doctype html>
<html><body>
<h1>Our own login page</h1>
<form method="post">{% csrf_token %}{{ form.as_p }}<button>Log in</button></form>
<section id="qr">{% qrlogin_widget next="/private/" %}</section>
</body></html>
"""


def run(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def new_site_with_its_own_accounts_app(wheel: Path, tmp_path: Path, name: str) -> tuple:
    """A new virtualenv with the wheel, and a ``startproject`` site with its own ``accounts``."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel)
    site = tmp_path / name
    site.mkdir()
    run(env_dir / "bin" / "django-admin", "startproject", name, site)
    run(env_dir / "bin" / "django-admin", "startapp", "accounts", cwd=site)
    return python, site


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT)
    (built,) = out.glob("django_qrlogin-*.whl")
    return built


def test_wheel_holds_the_apps_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("django_qrlogin-")}
    assert tops == {"qrlogin", "qrlogin_accounts"}
    for needed in (
        "qrlogin/templates/qrlogin/login.html",
        "qrlogin/templates/qrlogin/widget.html",
        "qrlogin/static/qrlogin/qrlogin.js",
        "qrlogin/migrations/0001_initial.py",
        "qrlogin_accounts/migrations/0001_initial.py",
        "qrlogin/py.typed",
        "qrlogin_accounts/py.typed",
    ):
        assert needed in names, needed
    assert any(n.startswith("qrlogin/locale/zh_Hans/") and n.endswith(".mo") for n in names)


def test_wheel_metadata_names_the_license_and_the_project(wheel):
    """The SPDX license with its file, the project's URLs, the Django versions the suite runs."""
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    text = archive.read(metadata).decode()
    assert "License-Expression: BSD-3-Clause" in text
    assert "Classifier: License ::" not in text  # the SPDX expression says it, once
    assert "License-File: LICENSE" in text
    license_file = metadata.replace("METADATA", "licenses/LICENSE")
    assert archive.read(license_file).decode().startswith("BSD 3-Clause License")
    for line in (
        "Classifier: Framework :: Django :: 5.2",
        "Classifier: Framework :: Django :: 6.1",
        "Classifier: Development Status :: 3 - Alpha",
        "Project-URL: Documentation, ",
        "Project-URL: Changelog, ",
    ):
        assert line in text, line


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("QRLOGIN_REQUIRE_BROWSER"),
    reason="needs Debian's chromium",
)
def test_fresh_site_logs_in_with_the_widget(wheel, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    python, site = new_site_with_its_own_accounts_app(wheel, tmp_path, "shop")
    (site / "users" / "migrations").mkdir(parents=True)
    (site / "users" / "__init__.py").write_text("")
    (site / "users" / "migrations" / "__init__.py").write_text("")
    (site / "users" / "models.py").write_text(USER_MODELS)
    (site / "templates" / "registration").mkdir(parents=True)
    (site / "templates" / "registration" / "login.html").write_text(LOGIN_TEMPLATE)
    with open(site / "shop" / "settings.py", "a") as settings:
        settings.write(SETTINGS_TAIL)
    (site / "shop" / "urls.py").write_text(URLS)
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    manage = [python, site / "manage.py"]
    run(*manage, "makemigrations", "users", "-v", "0", cwd=site, env=clean_env)
    run(*manage, "migrate", "-v", "0", cwd=site, env=clean_env)
    run(*manage, "check", cwd=site, env=clean_env)
    token = run(
        *manage, "shell", "-v", "0", "-c", textwrap.dedent("""
            from rest_framework.authtoken.models import Token
            from users.models import User
            user = User.objects.create_user("dora@example.com", "pw-4-dora!")
            print(Token.objects.create(user=user).key)
        """), cwd=site, env=clean_env,
    ).strip()  # fmt: skip

    port = _free_port()
    server = subprocess.Popen(
        [*map(str, manage), "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=site, env=clean_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/accounts/login/")
            expect(page.locator("h1")).to_have_text("Our own login page")
            qr_text = decode_qr(page)
            assert qr_text.startswith(f"{base}/qr/s/")

            phone = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
            scan = _post(f"{base}/qr/api/scan/", {"qr": qr_text}, phone)
            expect(page.locator("[data-qrlogin-state]")).to_contain_text("d***m", timeout=15000)
            _post(
                f"{base}/qr/api/confirm/",
                {"session": scan["session"], "temp_token": scan["temp_token"]},
                phone,
            )
            page.wait_for_url(f"{base}/private/", timeout=15000)
            expect(page.locator("#who")).to_have_text("Hello dora@example.com")
            page.screenshot(path=str(tmp_path / "fresh-site.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


def decode_qr(page) -> str:
    """Read the rendered QR the way a phone camera does."""
    import io

    import zxingcpp
    from PIL import Image

    png = page.locator("[data-qrlogin-svg] svg").screenshot()
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found.text


def _post(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    """Until the new site's server answers (a process starting up; bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"runserver exited: {server.stderr.read()}")
        try:
            urllib.request.urlopen(f"{base}/accounts/login/", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the new site did not start")


WITH_DEVICE_TOKENS_SETTINGS = """
INSTALLED_APPS += ["rest_framework", "qrlogin", "qrlogin_accounts", "accounts"]
ALLOWED_HOSTS = ["testserver"]
"""

WITH_DEVICE_TOKENS_URLS = """
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("device-accounts/", include("qrlogin_accounts.urls")),
    path("qr/", include("qrlogin.urls")),
]
"""

DEVICE_TOKEN_LOGIN = """
import json
from django.contrib.auth import get_user_model
from django.test import Client

get_user_model().objects.create_user("dora", password="pw-4-dora!")
api = Client()
def post(path, body, **headers):
    response = api.post(path, json.dumps(body), content_type="application/json", **headers)
    assert response.status_code in (200, 201), (path, response.status_code, response.content)
    return response.json()

phone = post("/device-accounts/api/token/", {"username": "dora", "password": "pw-4-dora!",
             "device_id": "phone-1", "device_type": "ios"})
as_phone = {"HTTP_AUTHORIZATION": f"Token {phone['token']}", "HTTP_X_DEVICE_ID": "phone-1"}
created = post("/qr/api/sessions/", {})
scan = post("/qr/api/scan/", {"qr": created["qr_url"]}, **as_phone)
post("/qr/api/confirm/", {"session": scan["session"], "temp_token": scan["temp_token"]}, **as_phone)
done = post(f"/qr/api/sessions/{created['id']}/complete/",
            {"device_id": "desktop-1", "device_type": "pc"},
            HTTP_X_QRLOGIN_SECRET=created["secret"])
assert done["status"] == "completed" and done["user"]["username"] == "dora", done
print("logged in", done["device"]["device_id"])
"""  # noqa: S105  (a script, not a token)


def test_site_with_its_own_accounts_app_installs_both_apps(wheel, tmp_path):
    """A site that already has an ``accounts`` app installs qrlogin and qrlogin_accounts."""
    python, site = new_site_with_its_own_accounts_app(wheel, tmp_path, "mysite")
    (site / "accounts" / "urls.py").write_text("urlpatterns = []\n")
    with open(site / "mysite" / "settings.py", "a") as settings:
        settings.write(WITH_DEVICE_TOKENS_SETTINGS)
    (site / "mysite" / "urls.py").write_text(WITH_DEVICE_TOKENS_URLS)
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    manage = [python, site / "manage.py"]
    run(*manage, "migrate", "-v", "0", cwd=site, env=clean_env)
    run(*manage, "check", cwd=site, env=clean_env)
    out = run(*manage, "shell", "-v", "0", "-c", DEVICE_TOKEN_LOGIN, cwd=site, env=clean_env)
    assert "logged in desktop-1" in out
