"""Who caused a transition: the phone (user + device), the PC, an admin, or the clock.

The phone's device key is what makes a temp token useless on any other device: confirm and
deny require the key the scan recorded. Device-token apps own their key (qrlogin_accounts'
``Device.persistent_id``, as django-otp's devices do); qrlogin only reads it.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from .client_info import client_ip, describe_user_agent, user_agent
from .tokens import digest


@dataclass(frozen=True)
class Actor:
    """Who caused a transition, as recorded in the session's events.

    ``device_key`` identifies the phone's device stably across its requests: the device of a
    device token, the browser session, or another authenticator's user account.
    """

    user: Any = None
    device_key: str = ""
    device_name: str = ""
    ip: str | None = None
    user_agent: str = ""


SYSTEM = Actor(device_key="system", device_name="expiry")


def phone_actor(request: HttpRequest) -> Actor:
    """The phone behind an authenticated request, identified by its device.

    A device token's credential names its device (anything with a ``persistent_id``); a phone
    browser is its Django session; any other authenticator (DRF tokens, JWT, knox) falls back
    to the user account.
    """
    user = request.user
    auth = getattr(request, "auth", None)
    device = getattr(auth, "device", None)
    device_key = getattr(device, "persistent_id", None)
    if device_key:
        name = getattr(device, "name", "") or getattr(device, "device_type", "")
    elif (session_key := _session_key_digest(request)) and auth is None:
        device_key = f"session:{session_key}"
        name = describe_user_agent(user_agent(request)).browser
    else:
        device_key, name = f"user:{user.pk}", ""
    return Actor(
        user=user,
        device_key=device_key,
        device_name=name or "",
        ip=client_ip(request),
        user_agent=user_agent(request),
    )


def pc_actor(request: HttpRequest) -> Actor:
    return Actor(
        device_key="pc", device_name="PC", ip=client_ip(request), user_agent=user_agent(request)
    )


def _session_key_digest(request: HttpRequest) -> str | None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    return digest(key)[:40] if key else None
