"""Reading the client's address from a trusted proxy's header, right to left (the server-level
tests are in tests/hardening/test_limits_by_address.py)."""

from __future__ import annotations

import pytest

from app.core.clients import client_of, forwarded
from app.runner.ratelimit import address_key


def trusted(address: str) -> bool:
    return address.startswith("10.0.0.")


@pytest.mark.parametrize(
    ("peer", "hops", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer: its header ignored
        ("10.0.0.1", [], "10.0.0.1"),  # a proxy's own request
        ("10.0.0.1", ["1.1.1.1", "198.51.100.7"], "198.51.100.7"),  # forged entries are left
        ("10.0.0.1", ["198.51.100.7", "10.0.0.2"], "198.51.100.7"),  # two proxies
        ("10.0.0.1", ["198.51.100.7", "garbage"], "10.0.0.1"),  # stops where it cannot read
        ("10.0.0.1", ["[2001:db8::7]:4711"], "2001:db8::7"),
        ("10.0.0.1", ["198.51.100.7:5555"], "198.51.100.7"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, hops: list[str], client: str
) -> None:
    assert client_of(peer, hops, trusted) == client


def test_forwarded_gives_each_elements_for_and_the_nearest_proxys_proto() -> None:
    header = [
        'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"',
        "For=10.0.0.2;PROTO=https",
    ]
    assert forwarded(header) == (["192.0.2.60", "[2001:db8:cafe::17]:4711", "10.0.0.2"], "https")


def test_an_ipv6_client_is_limited_by_its_64_and_a_mapped_ipv4_as_ipv4() -> None:
    assert (
        address_key("2001:db8:1:2::5") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key("testclient") == "testclient"
