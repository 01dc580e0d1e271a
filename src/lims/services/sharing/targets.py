"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses (no SSRF).

A receiver on a private, loopback or link-local address (a database, the cloud's metadata service at
169.254.169.254, the server itself) is refused unless `LIMS_WEBHOOK_ALLOW_PRIVATE_TARGETS` is set (a
provincial platform inside a government network, and the tests). The check is made when the subscription is
saved and again at every delivery, on the addresses the name resolves to then, and the connection goes to the
address that was checked (a name that changes its answer in between cannot redirect it).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lims.i18n import _N
from lims.models.sharing import MAX_URL
from lims.services.core.errors import Invalid
from lims.settings import get_settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_ADDRESSES = 16


@dataclass(frozen=True)
class Target:
    """A checked URL: scheme, host as written, port, the path with its query, and the address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def _refused(url: str, message: str, **params: Any) -> Invalid:
    return Invalid("webhooks.bad_url", message, url=url[:200], **params)


def parse(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an http(s) URL without credentials or fragment, or Invalid with the reason."""
    text = url.strip()
    if len(text) > MAX_URL or any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise _refused(url, _N("{url!r} is not a webhook URL: too long or contains spaces"))
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _refused(url, _N("{url!r} is not a URL")) from None
    if parts.scheme not in ("http", "https"):
        raise _refused(url, _N("a webhook URL starts with https:// or http://, not {url!r}"))
    if not parts.hostname:
        raise _refused(url, _N("{url!r} names no host"))
    if parts.username is not None or parts.password is not None:
        raise _refused(url, _N("{url!r} carries a user name or password; the signature authenticates instead"))
    if parts.fragment:
        raise _refused(url, _N("{url!r} has a fragment (#…), which is never sent"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def _address_problem(address: IpAddress, allow_private: bool) -> str | None:
    """Why a receiver on `address` is refused, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        return "unusable"
    if not address.is_global and not allow_private:
        return "private"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (an IP literal is its own), at most a few, or Invalid."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Invalid("webhooks.unresolved", _N("the host {host!r} cannot be resolved"), host=host[:200]) from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses[:MAX_ADDRESSES]


def check(url: str, *, allow_private: bool | None = None) -> Target:
    """`url` as a target whose every address may receive webhooks, or Invalid naming the reason."""
    allow = get_settings().webhook_allow_private_targets if allow_private is None else allow_private
    scheme, host, port, path = parse(url)
    addresses = resolve(host, port)
    if not addresses:
        raise Invalid("webhooks.unresolved", _N("the host {host!r} cannot be resolved"), host=host[:200])
    for address in addresses:
        problem = _address_problem(ipaddress.ip_address(address), allow)
        if problem == "private":
            raise _refused(
                url,
                _N(
                    "{url!r} leads to the private or local address {address}; webhooks go to public addresses "
                    "(an administrator of the server may allow private ones)"
                ),
                address=address,
            )
        if problem:
            raise _refused(url, _N("{url!r} leads to the unusable address {address}"), address=address)
    return Target(scheme, host, port, path, addresses[0])
