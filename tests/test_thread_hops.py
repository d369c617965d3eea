"""A check's thread hops (``monitor.pipeline._read``): a changed page is read, and
diffed against its last version, in one hop (none for a short page), with the very
change the long way stores; a long page is read off the event loop, which serves the
other checks meanwhile.  Real HTTP servers on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import monitor.diff
import monitor.pipeline
from monitor.config import load_config
from monitor.detect import detect_change, snapshot
from monitor.fetch import Fetcher
from monitor.pipeline import INLINE_READ_CHARS, Checker
from monitor.types import Outcome
from storage import Store
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Site
from tests.test_pipeline import EDIT, Env, html, make_env  # noqa: F401  (fixture)


async def test_a_changed_check_stores_the_change_its_own_diff_makes(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    asked: list[object] = []
    real = monitor.diff._quick

    def spied(*args: object) -> object:
        asked.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor.diff, "_quick", spied)
    # the read's pass has QUICK s of wall time: a loaded machine must not make it inexact
    monkeypatch.setattr(monitor.diff, "QUICK", 30.0)
    env.serve(html(seed_page(0, edit=EDIT)))
    assert (await env.check()).outcome is Outcome.CHANGED
    assert not asked  # diffed in the read's hop, not in a thread of the diff's own
    old, new = (env.store.version(v.id) for v in sorted(env.versions(), key=lambda v: v.id))
    own = detect_change(snapshot(old.title, old.text, old.metadata),
                        snapshot(new.title, new.text, new.metadata), diff_timeout=5.0)
    [change] = env.changes()
    assert own is not None and own.details["exact"]
    assert (change.kind, change.summary, change.stats, change.patch) == \
        (str(own.kind), own.summary, own.stats, own.patch)
    assert "+引领" in change.patch


def _long_page() -> str:
    line = "为进一步加强全省工业设计中心建设，现将有关事项通知如下，请认真贯彻执行。"
    paras = "".join(f"<p>第{i}段：{line}</p>" for i in range(1500))
    page = (f"<html><head><title>长页</title></head><body><div class='content'>{paras}"
            "</div></body></html>")
    assert len(page) > INLINE_READ_CHARS
    return page


async def test_the_loop_serves_another_check_while_a_long_page_is_read(
        tmp_path: Path, store: Store, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The long page's extraction waits until the other source's whole check (on
    another server) is done: it can be only if the long page is read off the loop."""
    other = Site()
    try:
        site.route("/long.html", html(_long_page()))
        other.route("/short.html", html(seed_page(1)))
        path = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "long"
            url = "{site.url('/long.html')}"
            content = ["div.content"]
            [[sources]]
            name = "short"
            url = "{other.url('/short.html')}"
            """)
        config = load_config(path, env={})
        reading, short_done = threading.Event(), threading.Event()
        real, waited = monitor.pipeline.extract, []

        def extract(html: str, **kw: object) -> object:
            if "长页" in html:
                reading.set()
                waited.append(short_done.wait(20))
            return real(html, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(monitor.pipeline, "extract", extract)
        async with Fetcher(config.settings) as fetcher:
            checker = Checker(config, store, fetcher)

            async def short() -> Outcome:
                assert await asyncio.to_thread(reading.wait, 20)
                result = await checker.check(config.source("short"))
                short_done.set()
                return result.outcome

            long, outcome = await asyncio.gather(checker.check(config.source("long")), short())
        assert waited == [True]  # the short page's check was made during the long read
        assert (long.outcome, outcome) == (Outcome.NEW, Outcome.NEW)
    finally:
        other.close()


async def test_an_unchanged_check_reads_no_stored_text(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The last version's text is read for the diff made with a page's read only when a
    page is read: a check answered by the very bytes of the last version loads no
    paragraphs (it did, for every check, when the text was handed over up front:
    ~0.5 ms of an unchanged check); a changed one reads it once."""
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    read: list[int] = []
    real = Store._text_of_lines

    def counted(self: Store, version_id: int, lines: bytes | None) -> str:
        read.append(version_id)
        return real(self, version_id, lines)

    monkeypatch.setattr(Store, "_text_of_lines", counted)
    assert (await env.check()).outcome is Outcome.UNCHANGED
    assert read == []
    env.serve(html(seed_page(0, edit=EDIT)))
    assert (await env.check()).outcome is Outcome.CHANGED
    assert len(read) == 1
