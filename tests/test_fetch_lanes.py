"""Connections of the fetcher (``monitor.fetch.lanes``), counted at a real loopback server:
requests to one host reuse a handful of kept-alive connections, one per request in
flight; idle connections beyond the keep-alive count are closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from monitor.fetch import Fetcher
from monitor.fetch.lanes import Lanes
from monitor.settings import Settings

BODY = b"<html><body><p>" + "政府信息公开".encode() * 500 + b"</p></body></html>"


@dataclass
class Counted:
    """An HTTP/1.1 keep-alive server on some loopback addresses that counts connections."""

    opened: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: int = 0
    servers: list[asyncio.Server] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while (head := await reader.readuntil(b"\r\n\r\n")):
                self.requests += 1
                await asyncio.sleep(0.005)  # a little latency: requests overlap
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                             b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n"
                             + BODY)
                await writer.drain()
                del head
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def counted() -> AsyncIterator[tuple[Counted, int]]:
    c = Counted()
    first = await asyncio.start_server(c.serve, "127.0.0.1", 0)
    port = first.sockets[0].getsockname()[1]
    c.servers.append(first)
    for h in range(2, 31):  # the same port on 127.0.0.2 … 127.0.0.30: thirty origins
        c.servers.append(await asyncio.start_server(c.serve, f"127.0.0.{h}", port))
    yield c, port
    for s in c.servers:
        s.close()


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"allow_private_network": True, "host_delay": 0,
                                 "respect_robots": False, "retries": 0}
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


async def test_requests_to_one_host_share_few_kept_alive_connections(
        counted: tuple[Counted, int]) -> None:
    server, port = counted
    async with Fetcher(settings(concurrency=8, host_concurrency=8)) as f:
        results = await asyncio.gather(*(f.fetch(f"http://127.0.0.1:{port}/p/{i}.html")
                                         for i in range(80)))
    assert [r.status for r in results] == [200] * 80
    assert all("政府信息公开" in r.text for r in results)
    assert server.requests == 80
    # eight in flight at most: never more connections than that, and they were reused
    assert 2 <= server.opened <= 8
    assert server.most_open <= 8


async def test_idle_connections_beyond_the_keepalive_count_are_closed(
        counted: tuple[Counted, int]) -> None:
    server, port = counted
    lanes = Lanes(lambda proxy, limits: httpx.AsyncClient(limits=limits), max_idle=20)

    async def get(url: str) -> int:
        async with lanes.lend(httpx.URL(url), None) as client:
            return (await client.get(url)).status_code

    for h in range(1, 31):
        assert await get(f"http://127.0.0.{h}:{port}/") == 200
    await asyncio.sleep(0.05)
    assert server.opened == 30
    assert server.open_now == 20  # the ten least recently used were closed
    assert lanes.idle == 20
    # a host still kept is asked again on its open connection
    assert await get(f"http://127.0.0.30:{port}/again") == 200
    assert server.opened == 30
    await lanes.aclose()
    await asyncio.sleep(0.05)
    assert server.open_now == 0  # closing the lanes closes them all


async def test_a_fetcher_keeps_the_connections_of_thirty_hosts(
        counted: tuple[Counted, int]) -> None:
    server, port = counted
    async with Fetcher(settings(concurrency=4)) as f:
        for _ in range(3):  # the 30 hosts round-robin, as a schedule visits them
            for h in range(1, 31):
                assert (await f.fetch(f"http://127.0.0.{h}:{port}/")).status == 200
        assert server.opened == 30 and server.requests == 90
    await asyncio.sleep(0.05)
    assert server.open_now == 0  # closing the fetcher closes them all
