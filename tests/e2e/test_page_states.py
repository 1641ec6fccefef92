# ruff: noqa: RUF001  (full-width punctuation is correct Chinese)
"""Every state of the PC page and every end of the phone page, in a real Chromium, at a phone's
width (390 px) and a laptop's (1,280 px), each saved as a screenshot for a person to look at
(the folder is printed at the end of the run; see the ``screenshots`` fixture).

Each test waits on what the page shows (Playwright's ``expect``), never on time. The expiry
tests use a QR_TTL of a few seconds: waiting for a real deadline is waiting on the event.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from qrlogin.models import QRLoginSession
from qrlogin.payloads import mask_name
from tests.e2e.conftest import log_in, read_qr, session_id_of
from tests.e2e.test_browser_login import PhoneApp
from tests.factories import DeviceFactory, UserFactory, make_device_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}
COUNTDOWN = re.compile(r"^Expires in \d+:\d\d$")


@pytest.fixture(params=sorted(WIDTHS), ids=lambda w: f"{w}px")
def width(request) -> str:
    return request.param


@pytest.fixture
def shoot(screenshots, width):
    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=screenshots / f"{name}-{width}.png", full_page=True)

    return shoot


@pytest.fixture
def pc_page(new_context, live_server, width) -> Page:
    page = new_context(viewport=WIDTHS[width]).new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    expect(state_of(page)).to_have_text("Scan with your phone")
    return page


@pytest.fixture
def app(live_server):
    """The mobile app of a user called dario, on a device with a token."""
    device = DeviceFactory(user=UserFactory(username="dario"))
    _token, raw = make_device_token(device)
    return PhoneApp(live_server.url, raw, device.device_id)


def state_of(page: Page):
    return page.locator("[data-qrlogin-state]")


def status_of(page: Page):
    return page.locator("[data-qrlogin]")


def scan(app: PhoneApp, page: Page) -> dict:
    return app.post("/qrlogin/api/scan/", {"qr": read_qr(page)})


def test_pending_counts_down(pc_page, shoot, live_server):
    countdown = pc_page.locator("[data-qrlogin-countdown]")
    expect(countdown).to_have_text(COUNTDOWN)
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first)  # it moves
    expect(pc_page.locator(".qrlogin-steps")).to_contain_text("Open localhost")
    expect(pc_page.locator(".qrlogin-code-url")).to_have_text(f"at {live_server.url}/qrlogin/code/")
    expect(pc_page.get_by_role("button", name="Get a new code")).to_be_hidden()
    shoot(pc_page, "pc-1-pending")


@pytest.mark.parametrize("edge", [320, 1920])
def test_the_page_fits_from_320_to_1920_px(new_context, live_server, screenshots, edge):
    page = new_context(viewport={"width": edge, "height": 900}).new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    expect(page.locator("[data-qrlogin-countdown]")).to_have_text(COUNTDOWN)
    assert page.evaluate("document.documentElement.scrollWidth") <= edge, "scrolls sideways"
    read_qr(page)
    page.screenshot(path=screenshots / f"pc-1-pending-{edge}.png", full_page=True)


def test_scanned_in_chinese(new_context, live_server, app, screenshots, width):
    page = new_context(viewport=WIDTHS[width], locale="zh-CN").new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    expect(page.locator("[data-qrlogin-countdown]")).to_have_text(re.compile(r"^\d+:\d\d 后过期$"))
    page.screenshot(path=screenshots / f"pc-1-pending-zh-{width}.png", full_page=True)
    scan(app, page)
    expect(state_of(page)).to_have_text(f"{mask_name('dario')} 已扫码，请在手机上确认")
    expect(page.get_by_role("button", name="不是你？重新开始")).to_be_visible()
    page.screenshot(path=screenshots / f"pc-2-scanned-zh-{width}.png", full_page=True)


def test_pending_in_the_dark(new_context, live_server, screenshots, width):
    page = new_context(viewport=WIDTHS[width], color_scheme="dark").new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    expect(page.locator("[data-qrlogin-countdown]")).to_have_text(COUNTDOWN)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"
    read_qr(page)  # still a dark-on-light code a camera reads
    page.screenshot(path=screenshots / f"pc-1-pending-dark-{width}.png", full_page=True)


def test_scanned_shows_the_name_and_start_over_cancels(pc_page, app, shoot):
    scanned = scan(app, pc_page)
    expect(state_of(pc_page)).to_have_text(
        f"Scanned by {mask_name('dario')}: confirm on your phone"
    )
    expect(pc_page.locator("[data-qrlogin-avatar]")).to_have_text("D")
    expect(pc_page.locator("[data-qrlogin-svg] svg")).to_be_hidden()  # no code to rescan
    expect(pc_page.locator("[data-qrlogin-countdown]")).to_be_hidden()
    shoot(pc_page, "pc-2-scanned")

    pc_page.get_by_role("button", name="Not you? Start over").click()
    expect(state_of(pc_page)).to_have_text("Scan with your phone")
    assert QRLoginSession.objects.get(public_id=scanned["session"]).status == "cancelled"
    assert session_id_of(read_qr(pc_page), app.base_url) != scanned["session"]
    expect(state_of(pc_page)).to_be_focused()  # the keyboard stays in the box


def test_scanned_with_number_matching_and_the_sites_name(
    pc_page, app, shoot, settings, new_context, live_server, width
):
    settings.QRLOGIN = {
        "VERIFICATION": "number",
        "DISPLAY_NAME": "tests.qrlogin.test_pc_page_parts.full_name",
    }
    user = app_user(app)
    user.first_name, user.last_name = "Dario", "Rossi"
    user.save()
    page = new_context(viewport=WIDTHS[width]).new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    scanned = scan(app, page)
    number = QRLoginSession.objects.get(public_id=scanned["session"]).verification_code
    expect(page.locator("[data-qrlogin-number]")).to_have_text(number)
    expect(state_of(page)).to_contain_text("Scanned by Dario Rossi")
    expect(state_of(page)).to_contain_text(f"enter the number {number}")
    font_px = page.locator("[data-qrlogin-number]").evaluate("e => getComputedStyle(e).fontSize")
    assert float(font_px.removesuffix("px")) >= 48, "the number is shown large"
    shoot(page, "pc-3-scanned-number")


def app_user(app: PhoneApp):
    from qrlogin_accounts.models import Device

    return Device.objects.get(device_id=app.headers["X-Device-ID"]).user


def test_confirmed_then_logged_in(pc_page, app, shoot, live_server):
    held = []

    def hold(route):  # hold the completion, to see "confirmed"
        held.append(route)

    pc_page.route("**/complete/", hold)
    scanned = scan(app, pc_page)
    app.post(
        "/qrlogin/api/confirm/",
        {"session": scanned["session"], "temp_token": scanned["temp_token"]},
    )
    expect(state_of(pc_page)).to_have_text("Logging you in…")
    expect(pc_page.get_by_role("button", name="Not you? Start over")).to_be_hidden()
    shoot(pc_page, "pc-4-confirmed")
    avatar = pc_page.locator("[data-qrlogin-avatar]")
    assert avatar.evaluate("e => getComputedStyle(e).animationName") == "qrlogin-pulse"
    pc_page.emulate_media(reduced_motion="reduce")
    assert avatar.evaluate("e => getComputedStyle(e).animationName") == "none"
    held[0].continue_()
    pc_page.wait_for_url(f"{live_server.url}/")


def test_denied_offers_a_new_code(pc_page, app, shoot):
    scanned = scan(app, pc_page)
    app.post(
        "/qrlogin/api/deny/", {"session": scanned["session"], "temp_token": scanned["temp_token"]}
    )
    expect(state_of(pc_page)).to_have_text("Denied on the phone")
    again = pc_page.get_by_role("button", name="Get a new code")
    expect(again).to_be_focused()
    expect(pc_page.locator("[data-qrlogin-svg] svg")).to_be_hidden()
    shoot(pc_page, "pc-5-denied")
    again.press("Enter")  # the keyboard alone starts over
    expect(state_of(pc_page)).to_have_text("Scan with your phone")
    expect(pc_page.locator("[data-qrlogin-countdown]")).to_have_text(COUNTDOWN)


def test_expired_is_renewed_silently(new_context, live_server, settings, shoot, width):
    settings.QRLOGIN = {"QR_TTL": 2}
    page = new_context(viewport=WIDTHS[width]).new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    first = session_id_of(read_qr(page), live_server.url)
    settings.QRLOGIN = {}  # the renewed code lasts the usual two minutes
    expect(state_of(page)).to_have_text("Expired: here is a new code")
    expect(page.locator("[data-qrlogin-countdown]")).to_have_text(
        re.compile(r"^Expires in [12]:\d\d$")
    )
    assert session_id_of(read_qr(page), live_server.url) != first
    assert QRLoginSession.objects.get(public_id=first).refresh_status() == "expired"
    # The next status answers (at once on this WSGI server) change nothing: the words stay.
    page.wait_for_event("response", lambda r: "/api/sessions/" in r.url and r.status == 200)
    expect(state_of(page)).to_have_text("Expired: here is a new code")
    shoot(page, "pc-6-expired-renewed")


def test_stopped_after_the_renewals_offers_one_button(
    new_context, live_server, settings, shoot, width
):
    settings.QRLOGIN = {"QR_TTL": 2}
    page = new_context(viewport=WIDTHS[width]).new_page()
    page.goto(f"{live_server.url}/qrlogin/")
    page.evaluate("document.querySelector('[data-qrlogin]').qrlogin.renewals = 10")
    expect(status_of(page)).to_have_attribute("data-status", "stopped")
    expect(state_of(page)).to_have_text("The code has expired. Get a new one when you are ready.")
    expect(page.locator("[data-qrlogin-svg] svg")).to_be_hidden()  # no dead code
    expect(page.locator("[data-qrlogin-user-code]")).to_be_hidden()
    again = page.get_by_role("button", name="Get a new code")
    expect(again).to_be_focused()
    shoot(page, "pc-7-stopped")
    settings.QRLOGIN = {}
    again.click()
    expect(state_of(page)).to_have_text("Scan with your phone")
    read_qr(page)


# The phone page ------------------------------------------------------------------------


@pytest.fixture
def phone_browser(new_context, live_server, width):
    """A phone's browser, logged in as a user called dario."""

    def open_as(username: str = "dario") -> Page:
        user = UserFactory(username=username)
        viewport = WIDTHS[width]
        page = new_context(viewport=viewport, is_mobile=width == "390").new_page()
        log_in(page, live_server.url, user)
        return page

    return open_as


def test_opening_the_qr_on_a_phone_shows_scanned_on_the_pc(pc_page, phone_browser, shoot):
    """Before anyone presses Confirm: the phone page scans itself once shown."""
    phone = phone_browser()
    phone.goto(read_qr(pc_page))
    expect(phone.get_by_role("heading")).to_have_text("Log in on a computer?")
    expect(phone.locator(".qrlogin-facts")).to_contain_text("just now")
    expect(state_of(pc_page)).to_have_text(
        f"Scanned by {mask_name('dario')}: confirm on your phone"
    )
    expect(phone.get_by_role("button", name="Confirm login")).to_be_enabled()
    shoot(phone, "phone-1-ask")
    shoot(pc_page, "pc-2-scanned-by-the-phone-page")


def test_phone_page_confirmed(pc_page, phone_browser, shoot, live_server):
    phone = phone_browser()
    phone.goto(read_qr(pc_page))
    expect(state_of(pc_page)).to_contain_text("Scanned by")
    phone.get_by_role("button", name="Confirm login").click()
    expect(phone.get_by_role("heading")).to_have_text("Confirmed")
    shoot(phone, "phone-2-confirmed")
    pc_page.wait_for_url(f"{live_server.url}/")


def test_phone_page_denied(pc_page, phone_browser, shoot):
    phone = phone_browser()
    phone.goto(read_qr(pc_page))
    expect(state_of(pc_page)).to_contain_text("Scanned by")
    phone.get_by_role("button", name="Deny").click()
    expect(phone.get_by_role("heading")).to_have_text("Denied")
    expect(state_of(pc_page)).to_have_text("Denied on the phone")
    shoot(phone, "phone-3-denied")


def test_phone_page_expired(pc_page, phone_browser, shoot):
    qr_text = read_qr(pc_page)
    session_id = session_id_of(qr_text, pc_page.url.split("/qrlogin/")[0])
    pc_page.close()  # nobody renews it
    # Past its deadline, as if the person waited too long (no waiting in the test).
    QRLoginSession.objects.filter(public_id=session_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    phone = phone_browser()
    phone.goto(qr_text)
    expect(phone.get_by_role("heading")).to_have_text("This login request is over")
    expect(phone.locator("main")).not_to_contain_text("IP address")
    expect(phone.get_by_role("button", name="Confirm login")).to_have_count(0)
    shoot(phone, "phone-4-expired")


def test_phone_page_taken_by_another_phone(pc_page, app, phone_browser, shoot):
    qr_text = read_qr(pc_page)
    app.post("/qrlogin/api/scan/", {"qr": qr_text})
    phone = phone_browser("mallory")
    phone.goto(qr_text)
    expect(phone.get_by_role("heading")).to_have_text("Already scanned")
    expect(phone.locator("main")).not_to_contain_text("IP address")
    expect(phone.get_by_role("button", name="Confirm login")).to_have_count(0)
    shoot(phone, "phone-5-taken")
