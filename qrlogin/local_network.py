"""This machine's own LAN addresses: what a loopback client stands for in the same-network test.

A computer that opens the login page on ``127.0.0.1`` (the demo, a developer's machine) sits
on the server's own networks: a phone on the server's Wi-Fi is on "the same network" as it.
Without this, a PC on loopback and a phone on ``192.168.1.20`` always read as two networks
and the phone page warns for nothing.

The addresses are found without a network call: ``connect()`` on a UDP socket sends no
packet, it only asks the kernel which local address would route to a private destination.
"""

import ipaddress
import socket
from functools import lru_cache

# Destinations in private ranges (RFC 1918, RFC 4193): the route the kernel picks for them is
# the LAN interface. Nothing is sent to them.
_PROBES: tuple[tuple[socket.AddressFamily, str], ...] = (
    (socket.AF_INET, "10.255.255.255"),
    (socket.AF_INET, "192.168.255.255"),
    (socket.AF_INET6, "fd00::1"),
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _route_source(family: socket.AddressFamily, destination: str) -> IPAddress | None:
    """The local address the kernel would send from to ``destination`` (no packet leaves)."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((destination, 9))  # port 9 ("discard"); UDP connect only routes
            address = ipaddress.ip_address(sock.getsockname()[0].split("%")[0])
    except (OSError, ValueError):  # no such route, no IPv6, a sandbox without sockets
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return None
    return address


@lru_cache(maxsize=1)
def server_addresses() -> tuple[IPAddress, ...]:
    """This machine's LAN addresses (IPv4 first), computed once per process."""
    found: list[IPAddress] = []
    for family, destination in _PROBES:
        address = _route_source(family, destination)
        if address is not None and address not in found:
            found.append(address)
    return tuple(found)


def lan_ipv4() -> str | None:
    """The address a phone on the same Wi-Fi reaches this machine at, or None (offline)."""
    return next((str(a) for a in server_addresses() if a.version == 4), None)
