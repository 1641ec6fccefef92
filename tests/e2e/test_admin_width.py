"""The admin's lists fit a 1,400 px window: no horizontal scrolling with long values in them."""

import pytest

from qrlogin.actors import Actor
from qrlogin.models import QRLoginSession
from tests.factories import DEFAULT_PASSWORD, DeviceFactory, UserFactory, make_device_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
LONG_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36"
)
LISTS = [
    "/admin/qrlogin/qrloginsession/",
    "/admin/qrlogin_accounts/device/",
    "/admin/qrlogin_accounts/devicetoken/",
]


@pytest.fixture
def crowded_admin():
    """An admin, and rows with the widest values each column can hold."""
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    user = UserFactory(username="a-rather-long-user.name@example.com")
    for i in range(5):
        device = DeviceFactory(user=user, name=f"Alexandra's Samsung Galaxy S23 Ultra {i}")
        make_device_token(device)
        session = QRLoginSession.objects.start(
            pc_ip="2001:db8:85a3:1234:5678:8a2e:370:7334", pc_user_agent=LONG_UA
        ).session
        session.scan(
            Actor(
                user=user,
                device_key=f"device:{device.pk}:{'x' * 40}",
                device_name=device.name,
                ip="2001:db8:85a3:1234:5678:8a2e:370:7335",
                user_agent=LONG_UA,
            )
        )
    return admin


@pytest.mark.parametrize("path", LISTS)
def test_the_list_fits_a_1400_px_window(live_server, new_context, crowded_admin, path):
    page = new_context(viewport={"width": WIDTH, "height": 900}).new_page()
    page.goto(f"{live_server.url}/admin/login/?next={path}")
    page.fill("#id_username", crowded_admin.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")
    assert page.locator("#result_list tbody tr").count() >= 5
    # Django's admin puts the table in a box that scrolls sideways: the table must fit in it,
    # and the page in the window.
    table, box, page_width = page.evaluate(
        "[document.querySelector('#result_list').scrollWidth,"
        " document.querySelector('#changelist .results').clientWidth,"
        " document.documentElement.scrollWidth]"
    )
    assert table <= box and page_width <= WIDTH, f"{path}: a {table} px table in {box} px"
