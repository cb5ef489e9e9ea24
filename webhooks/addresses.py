"""Which hosts a webhook may be sent to: public internet addresses only (server-side request
forgery, issue 20 item 6).

An endpoint's URL is chosen by a Manager, but the request is made from inside the network, where
the database, Redis, the cloud's metadata service (169.254.169.254) and the CRM itself answer. So
every address a URL's host stands for must be a public unicast one: not private (10/8, 172.16/12,
192.168/16, fc00::/7), loopback, link-local, multicast, unspecified (0.0.0.0, ::), reserved or
shared (100.64/10), and an IPv6 address that carries an IPv4 one (``::ffff:127.0.0.1``) is judged
by the IPv4 address. The check runs when the endpoint is saved and again at each attempt, on the
addresses just resolved, and the request then goes to the address that was checked (transport.py),
so a name that resolves to a public address first and a private one next (DNS rebinding) cannot
switch it. ``WEBHOOK_ALLOW_PRIVATE_HOSTS`` turns the check off for a receiver on the same network.
"""
from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that mean this machine whatever DNS says (RFC 6761 section 6.3).
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class HostRefused(Exception):
    """The host is, or resolves to, an address webhooks are not sent to."""

    def __init__(self, host: str, address: str | None = None):
        super().__init__(host if address is None else f"{host} -> {address}")
        self.host, self.address = host, address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:a.b.c.d (mapped) and 2002:a.b.c.d::/48 (6to4) reach the IPv4 address inside them.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified)


def is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for (as the operating system's resolver answers), in its
    order; raises ``socket.gaierror`` when it cannot be resolved. Numeric forms the resolver
    accepts (``2130706433``, ``0x7f.1``) come back as the addresses they mean."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


def public_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to for ``host``, all checked; raises HostRefused if any of them is
    not public (a name with one private address among public ones is refused as a whole: which
    one a client picks is not ours to predict) and ``socket.gaierror`` when it does not resolve."""
    if is_local_name(host):
        raise HostRefused(host)
    addresses = resolve(host, port)
    for address in addresses:
        if not is_public(address):
            raise HostRefused(host, str(address))
    return addresses


def check_host_for_registration(host: str) -> None:
    """Raise HostRefused for a host that is, or now resolves to, a non-public address.

    A name that does not resolve yet is accepted (DNS may be set up after the endpoint); each
    attempt checks again before it connects.
    """
    if is_local_name(host):
        raise HostRefused(host)
    address = literal_address(host)
    if address is not None:
        if not is_public(address):
            raise HostRefused(host, str(address))
        return
    try:
        public_addresses(host, 0)
    except (socket.gaierror, UnicodeError, ValueError):
        return  # unresolvable, or not a name at all (an embedded NUL): URLValidator speaks for it
