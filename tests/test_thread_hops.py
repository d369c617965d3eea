"""A check's thread hops (``monitor.pipeline._page_read``): a changed page is read, and
diffed against its last version, in one hop, with the very change the long way
stores.  Real HTTP server on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import monitor.diff
from monitor.detect import detect_change, snapshot
from monitor.types import Outcome
from tests.pages import seed_page
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
