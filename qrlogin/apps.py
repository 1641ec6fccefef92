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
            # A phone that was cut off (logged out, revoked, deleted, its user's password
            # changed) must not finish the logins it scanned or approved.
            from qrlogin_accounts.signals import device_signed_out

            from .receivers import cancel_logins_of_signed_out_device

            device_signed_out.connect(cancel_logins_of_signed_out_device, dispatch_uid="qrlogin")
