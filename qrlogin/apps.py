from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QRLoginConfig(AppConfig):
    name = "qrlogin"
    verbose_name = _("QR login")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps

        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import ACCOUNTS_APP

        if apps.is_installed(ACCOUNTS_APP):
            # A revoked phone must not finish the logins it scanned or approved.
            from qrlogin_accounts.signals import device_revoked

            from .receivers import cancel_logins_of_revoked_device

            device_revoked.connect(cancel_logins_of_revoked_device, dispatch_uid="qrlogin")
