from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QRLoginConfig(AppConfig):
    name = "qrlogin"
    verbose_name = _("QR login")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
