"""The PC page's parts that the server decides: the name and picture shown after a scan, where
to type the pairing code, the seconds left; and the phone page's "just now"."""

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from tests.conftest import PC_UA
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def full_name(user) -> str:
    return f"{user.first_name} {user.last_name}"


def avatar(user) -> str | None:
    return f"https://cdn.example/{user.pk}.png" if user.first_name else None


def scanned(pc, make_phone, **user):
    phone = make_phone(user=UserFactory(username="dario", **user))
    assert phone.scan(pc.data["qr_url"]).status_code == 200
    return pc.status().json()["scanned_by"]


def test_the_default_name_is_masked_and_there_is_no_avatar(pc, make_phone):
    assert scanned(pc, make_phone) == {"display_name": "d***o"}


def test_the_site_chooses_the_name_and_the_avatar(pc, make_phone, settings):
    settings.QRLOGIN = {
        "DISPLAY_NAME": f"{__name__}.full_name",
        "AVATAR_URL": f"{__name__}.avatar",
    }
    seen = scanned(pc, make_phone, first_name="Dario", last_name="Rossi")
    assert seen == {"display_name": "Dario Rossi", "avatar_url": seen["avatar_url"]}
    assert seen["avatar_url"].startswith("https://cdn.example/")


def test_an_avatar_hook_may_have_nothing(pc, make_phone, settings):
    settings.QRLOGIN = {"AVATAR_URL": f"{__name__}.avatar"}
    assert scanned(pc, make_phone) == {"display_name": "d***o"}


@pytest.mark.parametrize("key", ["DISPLAY_NAME", "AVATAR_URL"])
def test_a_hook_that_does_not_import_is_reported(settings, key):
    settings.QRLOGIN = {key: "nowhere.at_all"}
    assert "qrlogin.E010" in {m.id for m in run_checks()}


def test_the_page_says_where_to_type_the_code_and_how_long_is_left(settings):
    settings.QRLOGIN = {"SITE_URL": "https://login.example.com", "QR_TTL": 90}
    html = Client(HTTP_USER_AGENT=PC_UA).get("/qrlogin/").content.decode()
    assert "at login.example.com/qrlogin/code/" in html
    assert "Open <strong>login.example.com</strong> on your phone" in html
    assert 'data-expires-in="90"' in html
    assert "data-qrlogin-cancel" in html and "Not you? Start over" in html


def test_on_plain_http_the_scheme_stays_in_the_code_url():
    html = Client(HTTP_USER_AGENT=PC_UA).get("/qrlogin/").content.decode()
    assert "at http://testserver/qrlogin/code/" in html


def test_a_renewal_says_how_long_the_new_code_lasts(settings):
    settings.QRLOGIN = {"QR_TTL": 45}
    client = Client(HTTP_USER_AGENT=PC_UA, enforce_csrf_checks=False)
    body = client.post("/qrlogin/", content_type="application/json").json()
    assert body["expires_in"] == 45
    assert body["code_url"] == "http://testserver/qrlogin/code/"


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [(5, "just now", "刚刚"), (59, "just now", "刚刚"), (125, "2 minutes ago", "2 分钟前")],
)
def test_times_read_as_a_person_says_them(seconds, english, chinese):
    template = Template("{% load qrlogin %}{{ when|qrlogin_ago }}")
    when = timezone.now() - timedelta(seconds=seconds)
    # timesince keeps number and unit together with a no-break space.
    with translation.override("en"):
        assert template.render(Context({"when": when})).replace("\xa0", " ") == english
    with translation.override("zh-hans"):
        assert template.render(Context({"when": when})).replace("\xa0", " ") == chinese
