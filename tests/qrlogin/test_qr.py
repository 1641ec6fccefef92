"""The login QR, read back by a real decoder (zxing-cpp) as a phone's camera would.

The QR is made with one fixed data mask (qrlogin/qr.py: scoring all 8 was most of the create
path's CPU), so that mask must decode for every length of login URL a site produces: the
session URL under SITE_URLs from a bare host to a long host with a path prefix, which moves
the symbol through several versions.
"""

import io

import pytest
import zxingcpp
from PIL import Image, ImageFilter
from rest_framework.test import APIClient

from qrlogin.qr import QR_MASK, qr_code, qr_svg

SITE_URLS = [
    None,  # from the request: http://testserver
    "http://a.io",
    "https://example.com",
    "https://login.example.co.uk:8443",
    "https://accounts.a-rather-long-company-name.example.com",
    "https://sso.eu-west-1.accounts.a-rather-long-company-name.example.com/identity/v2",
    "https://" + "x" * 60 + ".example.com/" + "p" * 40,
]
SESSIONS_PER_SITE = 4


def decode(image: Image.Image) -> str:
    (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found.text


def as_rendered(url: str) -> Image.Image:
    """The symbol at the page's scale (6 px a module, 4 modules of quiet zone)."""
    return Image.open(io.BytesIO(_png(url, scale=6)))


def as_photographed(url: str) -> Image.Image:
    """A poorer copy: 2 px a module, resampled off the module grid, then blurred."""
    small = Image.open(io.BytesIO(_png(url, scale=2))).convert("L")
    width, height = small.size
    return small.resize((int(width * 1.7), int(height * 1.7)), Image.BILINEAR).filter(
        ImageFilter.GaussianBlur(0.8)
    )


def _png(url: str, scale: int) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("site_url", SITE_URLS)
def test_every_login_qr_decodes_with_the_fixed_mask(settings, site_url):
    settings.QRLOGIN = {"SITE_URL": site_url, "THROTTLE_RATES": None}
    client = APIClient()
    for _ in range(SESSIONS_PER_SITE):
        data = client.post("/qrlogin/api/sessions/", {}, format="json").json()
        url = data["qr_url"]
        assert url.startswith(site_url or "http://testserver")
        # The SVG served is this symbol: decoding the symbol decodes what the page shows.
        assert data["qr_svg"] == qr_svg(url)
        qr = qr_code(url)
        assert qr.mask == QR_MASK
        assert not qr.is_micro
        assert decode(as_rendered(url)) == url
        assert decode(as_photographed(url)) == url


def test_the_site_urls_cover_several_symbol_versions():
    """The range above is not one size: short and long SITE_URLs give different versions."""
    versions = {
        qr_code(f"{base or 'http://testserver'}/qrlogin/s/{'A' * 32}/").version
        for base in SITE_URLS
    }
    assert len(versions) >= 4, versions
