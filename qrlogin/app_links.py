"""The two files that let a phone's camera open the site's app on the QR's URL.

Scanned with the camera app, the QR (``https://<site>/qrlogin/s/<id>/``) opens the phone's
browser, unless the operating system knows an app that claims that URL: iOS reads
``/.well-known/apple-app-site-association`` (universal links), Android
``/.well-known/assetlinks.json`` (App Links, with ``autoVerify``). Both must be on the QR's
host, over HTTPS, without redirects. With ``APPLE_APP_IDS`` / ``ANDROID_APPS`` unset, they are
404 (a site may serve them itself). docs/mobile.md says what the apps declare on their side.
"""

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from .conf import qrlogin_settings

# Any valid session id: the QR's URLs are the phone page's path with the id left out.
_SAMPLE_ID = "A" * 22


def phone_page_prefix() -> str:
    """The path every QR's URL starts with (``/qrlogin/s/``, wherever the app is mounted)."""
    return reverse("qrlogin:phone", args=[_SAMPLE_ID]).removesuffix(f"{_SAMPLE_ID}/")


def apple_association() -> dict[str, Any]:
    """Universal links: the apps that open the QR's URLs (and only those)."""
    prefix = phone_page_prefix()
    return {
        "applinks": {
            "details": [
                {
                    "appIDs": list(qrlogin_settings.APPLE_APP_IDS),
                    "components": [{"/": f"{prefix}*", "comment": "QR login"}],
                    # iOS 12 and older read "paths" (newer ones read "components").
                    "paths": [f"{prefix}*"],
                }
            ]
        }
    }


def android_asset_links() -> list[dict[str, Any]]:
    """App Links: each app (package and signing certificate) may handle this site's URLs."""
    return [
        {
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": app["package_name"],
                "sha256_cert_fingerprints": list(app["sha256_cert_fingerprints"]),
            },
        }
        for app in qrlogin_settings.ANDROID_APPS
    ]


@require_GET
@cache_control(public=True, max_age=3600)
def apple_app_site_association(request: HttpRequest) -> JsonResponse:
    if not qrlogin_settings.APPLE_APP_IDS:
        raise Http404("No APPLE_APP_IDS")
    return JsonResponse(apple_association())


@require_GET
@cache_control(public=True, max_age=3600)
def assetlinks(request: HttpRequest) -> JsonResponse:
    if not qrlogin_settings.ANDROID_APPS:
        raise Http404("No ANDROID_APPS")
    return JsonResponse(android_asset_links(), safe=False)
