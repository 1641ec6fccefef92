# ruff: noqa: RUF001  (full-width punctuation is correct Chinese)
"""English and Simplified Chinese, chosen by the browser's Accept-Language.

The pages, the widget, the admin and the API errors' ``detail`` follow the request's language;
the error ``code`` never changes. The shipped catalogs are complete and compiled.
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.template import RequestContext, Template
from django.test import Client
from django.utils import translation

from qrlogin.models import QRLoginSession
from tests.asgi import ASGIRequest
from tests.conftest import PC_UA
from tests.factories import DEFAULT_PASSWORD, UserFactory

APPS = ["qrlogin", "qrlogin_accounts"]
# The demo project's own catalog (locale/ at the top, LOCALE_PATHS): templates/ and config/.
DEMO = "demo"
DEMO_SOURCES = ["templates", "config"]
CATALOGS = [*APPS, DEMO]
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
UNKNOWN_ID = "A" * 32
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _restore_language():
    """LocaleMiddleware leaves a request's language active in the test's thread: undo it."""
    language = translation.get_language()
    yield
    translation.activate(language)


def app_dir(app: str) -> Path:
    if app == DEMO:
        return Path(settings.BASE_DIR)
    return Path(django_apps.get_app_config(app).path)


def catalog(app: str, ext: str = "po") -> Path:
    return app_dir(app) / "locale" / "zh_Hans" / "LC_MESSAGES" / f"django.{ext}"


# Pages ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pc_page_in_chinese():
    html = Client(HTTP_USER_AGENT=PC_UA).get("/qrlogin/", **ZH).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<title>使用手机扫码登录</title>" in html
    assert "<h1>使用手机扫码登录</h1>" in html
    assert 'data-text-pending="请使用手机扫码"' in html
    # The script's texts keep their placeholders (qrlogin.js fills them in).
    assert 'data-text-scanned="%(name)s 已扫码，请在手机上确认"' in html
    assert 'data-text-verify="请在手机上输入数字 %(code)s"' in html
    assert "或在手机上输入配对码：" in html
    assert "<title>登录二维码</title>" in html  # the QR's accessible name
    assert "Scan with your phone" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [EN, {}], ids=["accept-language-en", "no-accept-language"])
def test_pc_page_in_english(headers):
    response = Client(HTTP_USER_AGENT=PC_UA).get("/qrlogin/", **headers)
    html = response.content.decode()
    assert re.search(r'<html lang="en(-us)?">', html)
    assert "<h1>Log in with your phone</h1>" in html
    assert 'data-text-pending="Scan with your phone"' in html
    assert 'data-text-scanned="Scanned by %(name)s: confirm on your phone"' in html
    assert "<title>Login QR code</title>" in html
    assert not CJK.search(html)


@pytest.mark.django_db
def test_the_language_cookie_wins_over_accept_language():
    client = Client(HTTP_USER_AGENT=PC_UA)
    client.cookies["django_language"] = "zh-hans"
    assert "使用手机扫码登录" in client.get("/qrlogin/", **EN).content.decode()


@pytest.fixture
def phone_browser(db):
    """A phone's browser, logged in with a Django session."""
    client = Client(REMOTE_ADDR="203.0.113.77")
    client.force_login(UserFactory(username="alice"))
    return client


def test_phone_page_in_chinese(phone_browser, pc):
    page = phone_browser.get(f"/qrlogin/s/{pc.id}/", **ZH)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="zh-hans">' in html
    assert "<h1>确认在电脑上登录？</h1>" in html
    assert "一台电脑正请求以 <strong>alice</strong> 的身份登录：" in html
    assert "<dt>浏览器</dt><dd>Chrome 120</dd>" in html
    assert "<dt>操作系统</dt>" in html and "<dt>请求时间</dt>" in html
    assert ">确认登录</button>" in html and ">拒绝</button>" in html

    denied = phone_browser.post(f"/qrlogin/s/{pc.id}/", {"action": "deny"}, **ZH)
    assert "<h1>已拒绝</h1>" in denied.content.decode()
    assert "电脑未登录。" in denied.content.decode()


def test_phone_page_errors_in_chinese(phone_browser, pc):
    missing = phone_browser.get(f"/qrlogin/s/{UNKNOWN_ID}/", **ZH)
    assert missing.status_code == 404
    assert "<h1>找不到该登录请求</h1>" in missing.content.decode()
    wrong = phone_browser.post(f"/qrlogin/s/{pc.id}/", {"action": "other"}, **ZH)
    assert wrong.status_code == 400
    assert "请选择“确认登录”或“拒绝”。" in wrong.content.decode()


def test_phone_page_in_english(phone_browser, pc):
    html = phone_browser.get(f"/qrlogin/s/{pc.id}/", **EN).content.decode()
    assert "<h1>Log in on a computer?</h1>" in html
    assert ">Confirm login</button>" in html and ">Deny</button>" in html


@pytest.mark.django_db
def test_demo_pages_in_chinese():
    home = Client().get("/", **ZH).content.decode()
    assert '<html lang="zh-hans">' in home
    assert "<title>django-qrlogin 演示</title>" in home
    assert "你尚未登录。" in home and "使用手机扫码登录（二维码）" in home
    login = Client().get("/accounts/login/", **ZH).content.decode()
    assert "<h1>登录</h1>" in login and "改用手机扫码登录" in login
    assert "用户名" in login  # the form's labels: Django's own catalog
    assert not re.search(r">\s*(Log in|You are not)", home + login)


@pytest.mark.django_db
def test_demo_home_logged_in_in_both_languages():
    client = Client()
    client.force_login(UserFactory(username="mei"))
    zh = client.get("/", **ZH).content.decode()
    assert '已登录为 <strong data-testid="username">mei</strong>。' in zh
    assert ">退出登录</button>" in zh
    en = client.get("/", **EN).content.decode()
    assert '<html lang="en">' in en
    assert 'Logged in as <strong data-testid="username">mei</strong>.' in en
    assert not CJK.search(en)


# The widget ----------------------------------------------------------------------------

HOST_TEMPLATE = Template('{% load qrlogin %}{% qrlogin_widget next="/after/" %}')


@pytest.mark.django_db
def test_widget_in_chinese(rf):
    # The host page's LocaleMiddleware has activated the browser's language.
    request = rf.get("/login/", REMOTE_ADDR="198.51.100.9")
    request.session = SessionStore()
    with translation.override("zh-hans"):
        html = HOST_TEMPLATE.render(RequestContext(request, {}))
    assert 'data-text-pending="请使用手机扫码"' in html
    assert ">请使用手机扫码</p>" in html
    assert 'data-text-denied="已在手机上拒绝"' in html
    assert ">获取新的二维码</button>" in html


@pytest.mark.django_db
def test_throttled_widget_in_chinese(rf, settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "0/min"}}
    request = rf.get("/login/", REMOTE_ADDR="198.51.100.9")
    request.session = SessionStore()
    with translation.override("zh-hans"):
        html = HOST_TEMPLATE.render(RequestContext(request, {}))
    assert "你所在的网络请求登录二维码过于频繁" in html


# API errors: the detail is translated, the code is not -----------------------------------


def error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    return body["detail"]


def test_qrlogin_not_found_in_chinese_and_english(phone):
    assert error(phone.scan(UNKNOWN_ID, **ZH), 404, "not_found") == "登录请求不存在。"
    assert error(phone.scan(UNKNOWN_ID, **EN), 404, "not_found") == "No such login request."
    assert error(phone.scan(UNKNOWN_ID), 404, "not_found") == "No such login request."


def test_qrlogin_invalid_state_in_chinese_and_english(pc, phone, make_phone):
    temp = phone.scan(pc.id).json()["temp_token"]
    other = make_phone()
    assert error(other.scan(pc.id, **ZH), 409, "invalid_state") == "该二维码已被其他设备扫描。"
    assert error(other.scan(pc.id, **EN), 409, "invalid_state") == (
        "Another device has already scanned this code."
    )
    assert phone.confirm(pc.id, temp).status_code == 200
    again = phone.post("/qrlogin/api/confirm/", {"session": pc.id, "temp_token": temp}, **ZH)
    assert error(again, 409, "invalid_state") == "该登录请求在当前状态下无法执行此操作。"


def test_qrlogin_validation_error_in_chinese(phone):
    response = phone.post("/qrlogin/api/scan/", {"qr": "https://example.com/"}, **ZH)
    assert error(response, 400, "invalid") == "qr: 这不是登录二维码。"


def test_qrlogin_device_id_error_in_chinese(pc, phone):
    temp = phone.scan(pc.id).json()["temp_token"]
    phone.confirm(pc.id, temp)
    body = {"device_id": "我的电脑", "device_type": "pc"}
    response = pc.client.post(f"{pc.url}complete/", body, format="json", **pc.headers(), **ZH)
    assert "只能包含可打印的 ASCII 字符" in error(response, 400, "invalid")
    assert QRLoginSession.objects.get(public_id=pc.id).status == "confirmed"


@pytest.mark.django_db
def test_accounts_invalid_credentials_in_chinese_and_english(client):
    user = UserFactory()
    body = {
        "username": user.username,
        "password": DEFAULT_PASSWORD + "x",
        "device_id": "phone-1",
        "device_type": "ios",
    }
    zh = client.post("/accounts/api/token/", body, content_type="application/json", **ZH)
    assert error(zh, 401, "invalid_credentials") == "无法使用提供的凭据登录。"
    en = client.post("/accounts/api/token/", body, content_type="application/json", **EN)
    assert error(en, 401, "invalid_credentials") == (
        "Unable to log in with the provided credentials."
    )


@pytest.mark.django_db
def test_accounts_and_drf_messages_in_chinese(client, phone):
    # DRF's own messages come from DRF's zh_Hans catalog.
    detail = error(client.get("/accounts/api/me/", **ZH), 401, "not_authenticated")
    assert CJK.search(detail), detail
    mismatch = client.get("/accounts/api/me/", HTTP_AUTHORIZATION=f"Token {phone.token}", **ZH)
    assert error(mismatch, 401, "device_mismatch") == "使用设备令牌时必须提供 X-Device-ID 请求头。"
    gone = phone.client.delete("/accounts/api/devices/999/", **ZH)
    assert error(gone, 404, "not_found") == "设备不存在。"


# The status endpoint under ASGI (answered outside Django's middleware) -------------------


async def asgi_get(path: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = await ASGIRequest(path, headers).run()
    return request.status, request.json


@pytest.mark.django_db(transaction=True)
def test_asgi_status_errors_follow_accept_language():
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    url = f"/qrlogin/api/sessions/{started.session.public_id}/"
    secret = {"X-QRLogin-Secret": started.secret}
    before = translation.get_language()

    async def scenario():
        zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
        status, body = await asgi_get(f"/qrlogin/api/sessions/{UNKNOWN_ID}/", zh)
        assert (status, body) == (404, {"detail": "登录请求不存在。", "code": "not_found"})
        status, body = await asgi_get(f"/qrlogin/api/sessions/{UNKNOWN_ID}/", {})
        assert (status, body) == (404, {"detail": "No such login request.", "code": "not_found"})
        status, body = await asgi_get(f"{url}?wait=abc", {**secret, **zh})
        assert status == 400 and body["code"] == "invalid"
        assert body["detail"] == "wait: 输入整数。"  # Django's own translation
        status, body = await asgi_get(f"{url}?wait=abc", {**secret, "Accept-Language": "en"})
        assert body["detail"] == "wait: Enter a whole number."
        cookie = {"Cookie": "django_language=zh-hans", "Accept-Language": "en"}
        status, body = await asgi_get(f"/qrlogin/api/sessions/{UNKNOWN_ID}/", cookie)
        assert body["detail"] == "登录请求不存在。"
        status, body = await asgi_get(url, {**secret, **zh})
        assert status == 200 and body["status"] == "pending"

    asyncio.run(scenario())
    # The language was only switched for those requests.
    assert translation.get_language() == before


# The admin -----------------------------------------------------------------------------


def test_admin_in_chinese(admin_client, pc, phone):
    phone.scan(pc.id)
    changelist = admin_client.get("/admin/qrlogin/qrloginsession/", **ZH).content.decode()
    assert "各状态的扫码登录数" in changelist and "等待扫码" in changelist
    assert "取消（撤销）所选的进行中会话" in changelist
    session = QRLoginSession.objects.get(public_id=pc.id)
    detail = admin_client.get(f"/admin/qrlogin/qrloginsession/{session.pk}/change/", **ZH)
    assert "扫码登录事件" in detail.content.decode()
    # The event's "<time> <kind>" (its __str__, shown in the inline).
    assert re.search(r"\d\d:\d\d:\d\d 已扫码，等待确认", detail.content.decode())
    devices = admin_client.get("/admin/qrlogin_accounts/device/", **ZH).content.decode()
    assert "撤销所选设备（及其全部令牌）" in devices and "已确认的登录" in devices


# The catalogs --------------------------------------------------------------------------


def entry_key(entry: polib.POEntry | polib.MOEntry) -> tuple:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


def entry_text(entry: polib.POEntry | polib.MOEntry) -> tuple:
    if entry.msgid_plural:
        return tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
    return (entry.msgstr,)


@pytest.mark.parametrize("app", CATALOGS)
def test_catalog_is_complete(app):
    po = polib.pofile(str(catalog(app)))
    assert po.metadata["Language"] == "zh_Hans"
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;"
    assert not po.metadata_is_fuzzy
    assert len(po) > (5 if app == DEMO else 20)
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert po.obsolete_entries() == []
    for entry in po:
        assert all(entry_text(entry)), entry.msgid
        if entry.msgid_plural:
            assert len(entry.msgstr_plural) == 1, entry.msgid  # nplurals=1


@pytest.mark.parametrize("app", CATALOGS)
def test_compiled_catalog_matches_the_po(app):
    """The committed .mo holds exactly the .po's translations (run compilemessages)."""
    po = polib.pofile(str(catalog(app)))
    mo = polib.mofile(str(catalog(app, "mo")))
    assert {entry_key(e): entry_text(e) for e in mo} == {
        entry_key(e): entry_text(e) for e in po.translated_entries()
    }
    assert mo.metadata["Plural-Forms"] == po.metadata["Plural-Forms"]


@pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgmerge"))
    and not os.environ.get("QRLOGIN_REQUIRE_GETTEXT"),
    reason="needs GNU gettext (apt-get install gettext)",
)
@pytest.mark.parametrize("app", CATALOGS)
def test_catalog_has_every_string_of_the_source(app, tmp_path):
    """makemessages on a copy of the app (the demo: its templates and config) finds no string
    missing from the shipped catalog."""
    copy = tmp_path / app
    ignore = shutil.ignore_patterns("__pycache__")
    if app == DEMO:
        for part in [*DEMO_SOURCES, "locale"]:
            shutil.copytree(app_dir(app) / part, copy / part, ignore=ignore)
    else:
        shutil.copytree(app_dir(app), copy, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    shipped = polib.pofile(str(catalog(app)))
    assert {entry_key(e) for e in fresh} == {entry_key(e) for e in shipped}
    assert fresh.fuzzy_entries() == [] and fresh.untranslated_entries() == []
