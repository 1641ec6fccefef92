"""The QR image: an inline SVG from segno, with no image files and no JavaScript library."""

import segno
from django.utils.translation import gettext as _

# Unless told which data mask to use, segno builds and scores all 8 by the standard's penalty
# rules: on a login URL ~3.6 ms of CPU against ~0.8 ms with the mask given (docs/benchmarks.md),
# paid on every session created. Every mask gives a valid symbol that any decoder reads; the
# scoring only avoids patterns (large blocks of one colour, finder-like runs) that make a poor
# photo harder to read. Mask 2 is the one whose penalty came closest to the best mask's over
# 300 of this product's login URLs (mean excess 69 points; the worst fixed mask, 0: 187), and
# tests/qrlogin/test_qr.py decodes it with zxing-cpp over the URL lengths SITE_URLs produce.
QR_MASK = 2


def qr_code(url: str) -> segno.QRCode:
    """``url`` as a QR code (not a Micro QR): medium error correction, the fixed mask."""
    return segno.make_qr(url, error="m", mask=QR_MASK)


def qr_svg(url: str) -> str:
    """An accessible, scalable inline SVG of ``url``."""
    return qr_code(url).svg_inline(
        scale=6, border=4, dark="#000", light="#fff", title=_("Login QR code"), omitsize=True
    )
