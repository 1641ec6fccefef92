"""A host site's URLs with qrlogin alone: its own login pages, qrlogin, a private page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.html import format_html


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(format_html("<p data-testid='username'>{}</p>", request.user.username))


urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("qrlogin/", include("qrlogin.urls")),
    path("", private, name="home"),
]
