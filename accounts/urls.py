from django.urls import path

from . import views

app_name = "qrlogin_accounts"

urlpatterns = [
    path("api/token/", views.TokenView.as_view(), name="api-token"),
    path("api/me/", views.MeView.as_view(), name="api-me"),
    path("api/devices/", views.DeviceListView.as_view(), name="api-devices"),
    path("api/devices/<str:pk>/", views.DeviceDetailView.as_view(), name="api-device-detail"),
]
