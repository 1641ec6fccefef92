"""Who the waiting PC says scanned its code: the site's choice of name and picture.

The PC's screen may not be the person's own (QR-jacking: an attacker shows a victim its QR and
watches), so whatever these hooks return is shown to whoever displays the code, before the
phone confirms. The default is therefore the masked username; a site that shows full names
or photos trades that privacy for recognisability.
"""

from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from .conf import qrlogin_settings


def masked_username(user: Any) -> str:
    """The default ``DISPLAY_NAME``: ``d***o``, from ``user.get_username()``."""
    from .payloads import mask_name  # payloads imports this module

    return mask_name(user.get_username())


@lru_cache(maxsize=8)
def _hook(path: str) -> Any:
    return import_string(path)


def scanned_by(user: Any) -> dict[str, str]:
    """``{"display_name": ..., "avatar_url"?: ...}`` from the ``DISPLAY_NAME`` and ``AVATAR_URL``
    hooks (dotted paths to ``function(user) -> str``; the avatar's may return None or "")."""
    data = {"display_name": str(_hook(qrlogin_settings.DISPLAY_NAME)(user))}
    if qrlogin_settings.AVATAR_URL and (url := _hook(qrlogin_settings.AVATAR_URL)(user)):
        data["avatar_url"] = str(url)
    return data
