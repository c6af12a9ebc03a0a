"""Who is asking: the client's network address, which the per-address limits count.

It is the socket's peer, unless that peer is a trusted proxy (TORCHQUIZ_TRUSTED_PROXIES). Then
the proxy's forwarded header (X-Forwarded-For, or Forwarded) is read from the right, skipping
trusted proxies' own hops: the first hop that is not one is the client. A client can write
anything into the header; what a proxy appends is always to the right of it, so reading from
the left would let any client choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"  # no peer at all (a Unix socket without a proxy in front)
SCHEMES = {"http", "https"}


def client_address(connection: HTTPConnection) -> str:
    """The address ClientAddressMiddleware settled on (the socket's peer without it)."""
    return connection.client.host if connection.client else UNKNOWN


class ClientAddressMiddleware:
    """Put the client's address in `scope["client"]` (and the scheme the client used in
    `scope["scheme"]`) when a trusted proxy says what they are; otherwise leave the socket's
    peer, whatever the headers say. `header`: "x-forwarded-for" or "forwarded"."""

    def __init__(self, app: ASGIApp, *, trusted: list[str], header: str) -> None:
        self.app = app
        self.trusted: list[Network] = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and self.trusted and peer and self.is_trusted(peer[0]):
            headers = HTTPConnection(scope).headers
            if self.header == "forwarded":
                hops, scheme = forwarded(headers.getlist("forwarded"))
            else:
                hops = _split(headers.getlist("x-forwarded-for"))
                schemes = _split(headers.getlist("x-forwarded-proto"))
                scheme = schemes[-1] if schemes else None
            scope["client"] = (client_of(peer[0], hops, self.is_trusted), 0)
            if scheme and scheme.lower() in SCHEMES:
                scope["scheme"] = scheme.lower()
        await self.app(scope, receive, send)

    def is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted)


def client_of(peer: str, hops: list[str], trusted: Callable[[str], bool]) -> str:
    """From the peer leftwards through the hops, while the one reached is a trusted proxy. A
    hop that is no address (garbage, "unknown") stops the walk at the proxy that passed it on."""
    address = peer
    for hop in reversed(hops):
        if not trusted(address):
            break
        ip = _ip(hop)
        if ip is None:
            break
        address = str(ip)
    return address


def forwarded(values: list[str]) -> tuple[list[str], str | None]:
    """The `for` of each element of RFC 7239 Forwarded headers, and the last element's `proto`
    (the one the nearest proxy wrote)."""
    hops, scheme = [], None
    for element in _split(values):
        pairs = (pair.partition("=") for pair in element.split(";"))
        params = {key.strip().lower(): value.strip().strip('"') for key, _, value in pairs}
        hops.append(params.get("for", ""))
        scheme = params.get("proto")
    return hops, scheme


def _split(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a header writes it: bare, "[v6]" or "[v6]:port", "v4:port", quoted."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None
