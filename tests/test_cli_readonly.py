"""Read-only commands and what they show of the configuration: a paused source stays
in ``monitor status`` and the web index, marked 已暂停; a broken sources.toml does not
blind them (they warn and read the database); the refusals of ``sources add`` and
``diff --html``."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from monitor.config import load_config
from tests.conftest import write_sources
from tests.sites import Site

BODY = "<html><body><p>" + "关于印发实施方案的通知。" * 20 + "</p></body></html>"


def run(*args: str) -> Result:
    from monitor.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def two(tmp_path: Path, site: Site, *, b_paused: bool = False) -> Path:
    for n in ("a", "b"):
        site.route(f"/{n}.html", BODY)
    body = "".join(f'[[sources]]\nname = "{n}"\nurl = "{site.url(f"/{n}.html")}"\n'
                   + ('enabled = false\n' if n == "b" and b_paused else "") for n in "ab")
    return write_sources(tmp_path / "sources.toml", body)


async def _index(path: Path) -> str:
    import httpx

    from monitor.web.app import create_app
    from storage import Store

    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        app = create_app(load_config(path, env={}), store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as web:
            return (await web.get("/")).text
    finally:
        store.close()


def test_a_paused_source_stays_in_status_and_the_web_index_marked_paused(
        tmp_path: Path, site: Site) -> None:
    path = two(tmp_path, site)
    assert run("check", "--sources", str(path)).exit_code == 0
    two(tmp_path, site, b_paused=True)
    assert run("check", "--sources", str(path)).exit_code == 0  # syncs enabled = false
    out = run("status", "--sources", str(path))
    assert out.exit_code == 0, out.output
    [row] = [line for line in out.stdout.splitlines() if line.startswith("│ b ")]
    assert "已暂停" in row, out.stdout
    [other] = [line for line in out.stdout.splitlines() if line.startswith("│ a ")]
    assert "已暂停" not in other
    got = json.loads(run("status", "--json", "--sources", str(path)).stdout)
    by_name = {r["source"]: r for r in got["sources"]}
    assert by_name["b"]["paused"] is True and by_name["a"]["paused"] is False
    assert got["backlog"] is None  # a paused source is due for nothing
    page = asyncio.run(_index(path))
    row_b = page.split('href="/sources/b"')[1].split("</tr>")[0]
    assert "已暂停" in row_b and "已暂停" not in page.split('href="/sources/a"')[1].split(
        "</tr>")[0]
