"""Proxies on 127.0.0.1 for tests: a forward HTTP proxy (absolute-form GET and CONNECT
tunnels) and, with ``socks=True``, a SOCKS5 proxy (no authentication, CONNECT only).

Every request it is asked to forward is logged (``seen``: the absolute URL, or
``CONNECT host:port``), with the ``Proxy-Authorization`` header it came with, so tests
can assert that a fetch went through it (``SOCKS host:port`` for a SOCKS5 connection).
Runs in its own thread with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, *, socks: bool = False) -> None:
        self.socks = socks
        self.seen: list[str] = []
        self.auth: list[str | None] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"{'socks5' if self.socks else 'http'}://127.0.0.1:{self.port}"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.socks:
            await self._socks(reader, writer)
            return
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines if line)}
            self.auth.append(headers.get("proxy-authorization"))
            if method == "CONNECT":
                self.seen.append(f"CONNECT {target}")
                await self._tunnel(target, reader, writer)
            else:
                self.seen.append(target)
                await self._forward(method, target, lines, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _socks(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, n = await reader.readexactly(2)
            await reader.readexactly(n)
            writer.write(b"\x05\x00")  # no authentication
            _, _, _, atyp = await reader.readexactly(4)
            if atyp == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                raw = await reader.readexactly(4 if atyp == 1 else 16)
                host = str(ipaddress.ip_address(raw))
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.seen.append(f"SOCKS {host}:{port}")
            up_r, up_w = await asyncio.open_connection(host, port)
            writer.write(b"\x05\x00\x00\x01" + bytes(6))
            await writer.drain()
            await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _forward(self, method: str, target: str, lines: list[str],
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = urlsplit(target)
        up_r, up_w = await asyncio.open_connection(parts.hostname, parts.port or 80)
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        kept = [line for line in lines if line and not line.lower().startswith(
            ("proxy-", "connection:"))]
        request = f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(kept)
        up_w.write((request + "\r\nConnection: close\r\n\r\n").encode("latin-1"))
        await up_w.drain()
        await _pipe(up_r, writer)
        up_w.close()

    async def _tunnel(self, target: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        host, _, port = target.rpartition(":")
        up_r, up_w = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(OSError):
        dst.close()
