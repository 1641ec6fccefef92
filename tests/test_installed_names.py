"""The distribution lives beside a host site's apps: nothing of ours is a bare ``accounts``."""

import sys

from django.apps import apps


def test_device_token_app_is_installed_as_qrlogin_accounts():
    config = apps.get_app_config("qrlogin_accounts")
    assert config.name == "qrlogin_accounts"
    assert not apps.is_installed("accounts")


def test_no_module_is_imported_under_the_bare_name_accounts():
    """accounts/ in the repo is imported only as qrlogin_accounts, never twice."""
    assert not [name for name in sys.modules if name == "accounts" or name.startswith("accounts.")]
