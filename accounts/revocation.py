"""Revocation paths that are not a method call: a deleted device, a changed password.

Every path ends in :func:`qrlogin_accounts.signals.end_device_logins`, so whatever cuts a
device off also cancels the QR logins it scanned or approved (qrlogin listens).

Why the password change is watched on the user model's save and not elsewhere:
``user_logged_in`` and friends say nothing about passwords; wrapping ``set_password`` would
revoke before anything is stored (a form that then fails to save would still log everyone
out) and misses custom user models that override it. The save is where a new password
becomes true, whoever wrote it (``PasswordChangeForm``, the admin's password form,
``changepassword``, ``set_unusable_password``, code assigning a hash), so ``pre_save`` reads
the stored hash and ``post_save`` revokes once the new one is written. One write is not a
change: Django re-hashing the same password at login (a new hasher, more iterations), which
``check_password`` saves without the ``_password`` marker that ``set_password`` leaves.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.db import models, transaction
from django.utils import timezone

from .conf import accounts_settings
from .models import Device, DeviceToken
from .signals import DEVICE_DELETED, PASSWORD_CHANGED, TOKEN_DELETED, end_device_logins

_CHANGED = "_qrlogin_accounts_password_changed"


def revoke_user_tokens(user: Any, reason: str = PASSWORD_CHANGED) -> int:
    """Revoke every live token of the user's devices; cancel the logins each device started.

    The devices stay (listed, and reusable by their next login with the same ``device_id``).
    Returns how many tokens were revoked.
    """
    now = timezone.now()
    with transaction.atomic():
        revoked = DeviceToken.objects.filter(device__user=user, revoked_at__isnull=True).update(
            revoked_at=now
        )
        for device in Device.objects.active().filter(user=user):
            end_device_logins(device, reason)
    return revoked


def device_deleted(sender: Any, instance: Device, origin: Any = None, **kwargs: Any) -> None:
    """``post_delete`` of a device, one by one or in bulk (the admin's delete action included).

    When the user is being deleted, their QR sessions go with them (cascade): nothing to
    cancel, and writing events for rows about to be deleted would break the delete.
    """
    if _is_user_deletion(origin):
        return
    end_device_logins(instance, DEVICE_DELETED)


def token_deleted(sender: Any, instance: DeviceToken, origin: Any = None, **kwargs: Any) -> None:
    """``post_delete`` of a token (the token admin's delete, bulk or not): a revocation too.

    A token deleted along with its device or its user is left to those (one signal each).
    """
    if _is_user_deletion(origin) or _is_deletion_of(origin, Device):
        return
    device = Device.objects.filter(pk=instance.device_id).first()
    if device is not None:
        end_device_logins(device, TOKEN_DELETED)


def _is_user_deletion(origin: Any) -> bool:
    return _is_deletion_of(origin, get_user_model())


def _is_deletion_of(origin: Any, model: type[models.Model]) -> bool:
    if isinstance(origin, models.QuerySet):
        return issubclass(origin.model, model)
    return isinstance(origin, model)


def remember_password_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """``pre_save`` of the user model: note whether this save stores a new password."""
    instance.__dict__.pop(_CHANGED, None)
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. update_last_login on every login: no read
    if not accounts_settings.REVOKE_ON_PASSWORD_CHANGE:
        return
    stored = (
        sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    )
    if stored is None or stored == instance.password:
        return
    if getattr(instance, "_password", None) is None and _is_hash_upgrade(stored):
        return
    instance.__dict__[_CHANGED] = True


def revoke_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_save`` of the user model: the new password is stored; revoke."""
    if instance.__dict__.pop(_CHANGED, False):
        revoke_user_tokens(instance, PASSWORD_CHANGED)


def _is_hash_upgrade(stored: str) -> bool:
    """Whether Django would re-hash ``stored`` at the next login (what check_password does)."""
    try:
        hasher = identify_hasher(stored)
    except ValueError:  # unusable or unknown: no upgrade ever replaces it
        return False
    preferred = get_hasher("default")
    return hasher.algorithm != preferred.algorithm or preferred.must_update(stored)
