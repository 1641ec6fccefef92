from django.urls import path

from . import api, views

app_name = "qrlogin"

urlpatterns = [
    path("", views.pc_login, name="login"),
    path("s/<str:public_id>/", views.phone_confirm, name="phone"),
    path("code/", views.phone_code, name="code"),
    path("api/sessions/", api.SessionCreateView.as_view(), name="api-sessions"),
    path("api/sessions/<str:public_id>/", api.SessionDetailView.as_view(), name="api-session"),
    path(
        "api/sessions/<str:public_id>/complete/",
        api.SessionCompleteView.as_view(),
        name="api-complete",
    ),
    path("api/scan/", api.ScanView.as_view(), name="api-scan"),
    path("api/confirm/", api.ConfirmView.as_view(), name="api-confirm"),
    path("api/deny/", api.DenyView.as_view(), name="api-deny"),
]
