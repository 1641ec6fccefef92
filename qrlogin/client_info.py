"""Who is asking: the client's IP address, browser and OS, and the same-network test."""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.http import HttpRequest
from ua_parser import parse as parse_user_agent

from .conf import qrlogin_settings
from .local_network import server_addresses

MAX_USER_AGENT = 512


def _trusted_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p, strict=False) for p in qrlogin_settings.TRUSTED_PROXIES]


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or, behind trusted proxies only, the nearest untrusted X-Forwarded-For hop.

    Taking the left-most X-Forwarded-For entry would let any client choose its own address;
    walking from the right and stopping at the first address we do not trust cannot be forged.
    """
    return address_behind_proxies(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def address_behind_proxies(remote_addr: str, forwarded_for: str) -> str | None:
    """:func:`client_ip` from the raw values (the ASGI status path has no HttpRequest)."""
    remote = _parse_ip(remote_addr)
    trusted = _trusted_networks()
    if remote is None or not trusted:
        return str(remote) if remote else None
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    current = remote
    for hop in reversed(hops):
        if not any(current in net for net in trusted):
            break
        parsed = _parse_ip(hop)
        if parsed is None:
            break
        current = parsed
    return str(current)


def network_key(ip: str | None) -> str | None:
    """What a per-IP budget counts: an IPv4 address, or an IPv6 address's /64.

    One IPv6 /64 is what a single home line or server gets, 2**64 addresses to rotate
    through: counted per address, it would be an unlimited supply of fresh budgets. An
    IPv4-mapped IPv6 address counts as the IPv4 address it carries.
    """
    parsed = _parse_ip(ip or "")
    if parsed is None:
        return None
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.version == 4:
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def client_network_key(request: HttpRequest) -> str | None:
    """:func:`network_key` of :func:`client_ip`: the identity of every per-IP limit."""
    return network_key(client_ip(request))


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT]


@dataclass(frozen=True)
class BrowserInfo:
    browser: str
    os: str


@lru_cache(maxsize=1024)
def describe_user_agent(ua: str) -> BrowserInfo:
    """Human names of the browser and OS ("Chrome 120", "Windows 10")."""
    if not ua:
        return BrowserInfo(browser="", os="")
    parsed = parse_user_agent(ua)
    browser = os_name = ""
    if parsed.user_agent and parsed.user_agent.family != "Other":
        browser = " ".join(p for p in (parsed.user_agent.family, parsed.user_agent.major) if p)
    if parsed.os and parsed.os.family != "Other":
        os_name = " ".join(p for p in (parsed.os.family, parsed.os.major) if p)
    return BrowserInfo(browser=browser, os=os_name)


def same_network(a: str | None, b: str | None) -> bool:
    """True when both addresses share an IPv4 /24 or an IPv6 /64.

    A loopback address is a client on this machine, so it also stands for the machine's own
    LAN addresses (:mod:`.local_network`): a PC on ``127.0.0.1`` and a phone on the server's
    Wi-Fi are one network. This widens nothing an outsider can use: to be seen on loopback,
    a client must already be on the server (or behind a proxy not in ``TRUSTED_PROXIES``, where
    every client is loopback and the test never meant anything).
    """
    ip_a, ip_b = _unmapped(_parse_ip(a or "")), _unmapped(_parse_ip(b or ""))
    if ip_a is None or ip_b is None:
        return False
    if ip_a.is_loopback and ip_b.is_loopback:
        return True
    return any(_same_prefix(x, y) for x in _seen_as(ip_a) for y in _seen_as(ip_b))


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unmapped(ip: IPAddress | None) -> IPAddress | None:
    """An IPv4-mapped IPv6 address (a dual-stack socket's view) as the IPv4 address it is."""
    if ip is not None and ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _seen_as(ip: IPAddress) -> tuple[IPAddress, ...]:
    """The addresses ``ip`` counts as: itself, and for loopback this machine's LAN addresses."""
    return (ip, *server_addresses()) if ip.is_loopback else (ip,)


def _same_prefix(x: IPAddress, y: IPAddress) -> bool:
    if x.version != y.version:
        return False
    prefix = 24 if x.version == 4 else 64
    return y in ipaddress.ip_network(f"{x}/{prefix}", strict=False)
