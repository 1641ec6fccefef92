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
