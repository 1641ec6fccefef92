"""``/.well-known/`` files for universal links and App Links: include at the site's root,
``path("", include("qrlogin.app_links_urls"))`` (see qrlogin.app_links)."""

from django.urls import path

from . import app_links

urlpatterns = [
    path(
        ".well-known/apple-app-site-association",
        app_links.apple_app_site_association,
        name="qrlogin-apple-app-site-association",
    ),
    path(".well-known/assetlinks.json", app_links.assetlinks, name="qrlogin-assetlinks"),
]
