from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Devices and device-bound API tokens for native and desktop clients."""

    name = "qrlogin_accounts"
    verbose_name = _("Accounts and devices")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks that validate settings.ACCOUNTS.
        from . import (
            checks,  # noqa: F401
            schema,  # noqa: F401  (the OpenAPI description of the token authentication)
        )

        self.connect_revocation()

    def connect_revocation(self) -> None:
        """Deleting a device or a token and changing a password revoke too (see ``revocation``)."""
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save, pre_save

        from . import revocation
        from .models import Device, DeviceToken

        post_delete.connect(revocation.device_deleted, sender=Device, dispatch_uid=self.name)
        post_delete.connect(revocation.token_deleted, sender=DeviceToken, dispatch_uid=self.name)
        user_model = settings.AUTH_USER_MODEL
        pre_save.connect(
            revocation.remember_password_change, sender=user_model, dispatch_uid=self.name
        )
        post_save.connect(
            revocation.revoke_on_password_change, sender=user_model, dispatch_uid=self.name
        )
