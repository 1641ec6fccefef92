from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    # Browsers ask every page's site for /favicon.ico (the admin, the API's browsable pages).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("qrlogin/favicon.svg"))),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("qrlogin_accounts.urls")),
    path("qrlogin/", include("qrlogin.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # /.well-known/ files for the phone apps (universal links, App Links): docs/mobile.md.
    path("", include("qrlogin.app_links_urls")),
]
