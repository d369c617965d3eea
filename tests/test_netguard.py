"""The SSRF guard's address decision, without traffic: DNS is simulated by a resolver double.

Nothing here connects anywhere; the only real lookup is of ``localhost``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence

import httpcore
import pytest

from monitor.errors import BlockedURLError, NetworkError
from monitor.fetch.netguard import (
    DNS_TTL,
    PIN,
    Guard,
    Pin,
    PinnedBackend,
    ensure_allowed,
    ensure_peer_allowed,
    is_forbidden_ip,
)


class FakeDNS:
    """Answers from a table; unknown names fail like a real NXDOMAIN.  Records questions."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


async def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"looked up {host} although no lookup was needed")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.1.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "::7f00:1",  # deprecated IPv4-compatible form of 127.0.0.1
])
def test_private_loopback_and_special_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "8.8.8.8", "114.114.114.114", "203.119.26.1", "172.32.0.1", "100.128.0.1",
    "2400:3200::1", "::ffff:114.114.114.114", "64:ff9b::7272:7272",
])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://ftp.example.gov.cn/notice.txt", "gopher://127.0.0.1:70/",
    "javascript:alert(1)", "data:text/html,hi",
])
@pytest.mark.parametrize("allow_private", [False, True])
async def test_only_http_and_https_are_fetched(url: str, allow_private: bool) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        await ensure_allowed(url, allow_private=allow_private, resolver=no_dns)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/", "http://[::1]/", "https://169.254.169.254/latest/meta-data/",
    "http://10.0.0.7/admin", "http://[::ffff:127.0.0.1]/",
])
async def test_ip_literals_are_judged_without_a_lookup(url: str) -> None:
    with pytest.raises(BlockedURLError, match="allow_private_network"):
        await ensure_allowed(url, allow_private=False, resolver=no_dns)


async def test_public_ip_literal_passes_without_a_lookup() -> None:
    await ensure_allowed("http://203.119.26.1/x", allow_private=False, resolver=no_dns)


async def test_name_resolving_to_a_public_address_is_allowed() -> None:
    dns = FakeDNS({"www.gov.cn": ["203.0.113.7"]})
    await ensure_allowed("https://www.gov.cn/zhengce/", allow_private=False, resolver=dns)
    assert dns.asked == [("www.gov.cn", 443)]


async def test_name_with_one_private_address_among_public_ones_is_refused() -> None:
    dns = FakeDNS({"mixed.gov.cn": ["203.0.113.7", "10.0.0.5"]})
    with pytest.raises(BlockedURLError, match=re.escape("10.0.0.5")):
        await ensure_allowed("http://mixed.gov.cn:8080/", allow_private=False, resolver=dns)
    assert dns.asked == [("mixed.gov.cn", 8080)]


async def test_name_pointing_at_the_metadata_service_is_refused() -> None:
    dns = FakeDNS({"meta.gov.cn": ["169.254.169.254"]})
    with pytest.raises(BlockedURLError, match=re.escape("169.254.169.254")):
        await ensure_allowed("http://meta.gov.cn/", allow_private=False, resolver=dns)


async def test_allow_private_skips_the_address_check() -> None:
    await ensure_allowed("http://10.0.0.7/intranet", allow_private=True, resolver=no_dns)
    await ensure_allowed("http://intranet.local/", allow_private=True, resolver=no_dns)


async def test_dns_failure_is_a_network_error() -> None:
    dns = FakeDNS({})
    with pytest.raises(NetworkError, match=re.escape("cannot resolve gone.gov.cn")):
        await ensure_allowed("http://gone.gov.cn/", allow_private=False, resolver=dns)


async def test_empty_dns_answer_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="no address"):
        await ensure_allowed("http://empty.gov.cn/", allow_private=False,
                             resolver=FakeDNS({"empty.gov.cn": []}))


async def test_internationalised_names_are_checked_in_their_ascii_form() -> None:
    dns = FakeDNS({"xn--mxtq1m.cn": ["203.0.113.9"]})  # 政府.cn
    await ensure_allowed("http://政府.cn/", allow_private=False, resolver=dns)
    assert dns.asked == [("xn--mxtq1m.cn", 80)]


@pytest.mark.parametrize("url", ["http:///nohost", "http://[::1/", "http://host:99999/"])
async def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedURLError):
        await ensure_allowed(url, allow_private=False, resolver=no_dns)


async def test_default_resolver_really_resolves_localhost_to_loopback() -> None:
    with pytest.raises(BlockedURLError, match=re.escape("localhost is 127.0.0.1")):
        await ensure_allowed("http://localhost:9/", allow_private=False)


def test_peer_check_refuses_a_connection_that_landed_on_loopback() -> None:
    with pytest.raises(BlockedURLError, match="DNS rebinding"):
        ensure_peer_allowed("http://www.gov.cn/", "127.0.0.1", allow_private=False)
    with pytest.raises(BlockedURLError, match="cannot tell"):
        ensure_peer_allowed("http://www.gov.cn/", None, allow_private=False)
    ensure_peer_allowed("http://www.gov.cn/", "203.119.26.1", allow_private=False)
    ensure_peer_allowed("http://localhost/", "127.0.0.1", allow_private=True)


# --- answers kept, and pinned ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_name_is_looked_up_once_within_the_ttl_and_again_after() -> None:
    dns, clock = FakeDNS({"www.gov.cn": ["203.119.26.1"]}), Clock()
    guard = Guard(dns, clock=clock)
    for path in ("/a", "/b", "/c"):
        pin = await guard.check(f"http://www.gov.cn{path}", allow_private=False)
    assert pin == Pin("www.gov.cn", ("203.119.26.1",))
    assert dns.asked == [("www.gov.cn", 80)]
    clock.now += DNS_TTL + 1
    await guard.check("https://www.gov.cn/d", allow_private=False)
    assert len(dns.asked) == 2


async def test_a_name_that_rebinds_to_a_private_address_is_refused_at_its_next_lookup() -> None:
    dns, clock = FakeDNS({"evil.example": ["203.0.113.5"]}), Clock()
    guard = Guard(dns, clock=clock)
    first = await guard.check("http://evil.example/", allow_private=False)
    dns.table["evil.example"] = ["169.254.169.254"]
    # within the TTL the judged answer stands: the connection goes where it was judged
    assert await guard.check("http://evil.example/", allow_private=False) == first
    clock.now += DNS_TTL + 1
    with pytest.raises(BlockedURLError, match=re.escape("evil.example is 169.254.169.254")):
        await guard.check("http://evil.example/", allow_private=False)
    with pytest.raises(BlockedURLError):  # and so it stays, without asking again
        await guard.check("http://evil.example/", allow_private=False)
    assert len(dns.asked) == 2


async def test_failed_lookups_are_not_kept_and_fail_as_before() -> None:
    dns = FakeDNS({})
    guard = Guard(dns)
    for _ in range(2):
        with pytest.raises(NetworkError, match=re.escape("cannot resolve gone.gov.cn")):
            await guard.check("http://gone.gov.cn/", allow_private=False)
    assert len(dns.asked) == 2


async def test_a_forgotten_host_is_looked_up_again() -> None:
    dns = FakeDNS({"www.gov.cn": ["203.119.26.1"]})
    guard = Guard(dns)
    await guard.check("http://www.gov.cn/", allow_private=False)
    guard.forget("www.gov.cn")
    await guard.check("http://www.gov.cn/", allow_private=False)
    assert len(dns.asked) == 2


@pytest.mark.parametrize("pin", [None, Pin("other.gov.cn", ("127.0.0.1",))])
async def test_a_connection_without_the_guards_pin_is_refused(pin: Pin | None) -> None:
    backend = PinnedBackend(Guard(no_dns))
    token = PIN.set(pin)
    try:
        with pytest.raises(httpcore.ConnectError, match="no address checked"):
            await backend.connect_tcp("www.gov.cn", 80)
    finally:
        PIN.reset(token)


async def test_addresses_that_take_no_connection_are_forgotten() -> None:
    dns = FakeDNS({"www.gov.cn": ["127.0.0.1"]})
    guard = Guard(dns)
    with socket.socket() as unused:  # a loopback port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    pin = await guard.check(f"http://www.gov.cn:{port}/", allow_private=True)
    token = PIN.set(pin)
    try:
        with pytest.raises(httpcore.ConnectError):
            await PinnedBackend(guard).connect_tcp("www.gov.cn", port, timeout=5)
    finally:
        PIN.reset(token)
    await guard.check(f"http://www.gov.cn:{port}/", allow_private=True)
    assert len(dns.asked) == 2  # the retry asks DNS again
