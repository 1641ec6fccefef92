"""No page asks for an icon that is not there (a 404 in every page's log, in every browser)."""

import re

import pytest

PAGES = ["/", "/accounts/login/", "/qrlogin/", "/qrlogin/code/", "/admin/login/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_each_page_links_an_icon_that_is_served(client, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    links = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    if path.startswith("/admin/"):  # Django's own template: the browser falls back to /favicon.ico
        assert links == []
        links = ["/favicon.ico"]
    assert len(links) == 1
    icon = client.get(links[0], follow=True)
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("/qrlogin/favicon.svg")
