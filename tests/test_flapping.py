"""A page alternating between two versions, through ``Checker.check`` and the database.

``monitor.detect`` decides flapping from what the store knows (the versions before the
last one, the kind of the last change); here the store supplies it, as in production:
a real page on 127.0.0.1 goes A→B→A→B→A, then to a new text C, and we look at what the
watcher is told (the outbox rows, then the delivered mail).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerts.delivery import Deliverer
from monitor.config import load_config
from monitor.types import Outcome
from storage import Store
from storage.instant import utcnow
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Site
from tests.test_pipeline import ANALYST, EDIT, NAME, PATH, Env, html

OTHER_EDIT = ("头雁效应", "示范效应")  # a third text, neither A nor B


@pytest.fixture
def env(tmp_path: Path, store: Store, site: Site) -> Iterator[Env]:
    """Seed 0 on the test site, one watcher (the analyst), mail as .eml in tmp_path."""
    body = "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url(PATH)}"', 'tags = ["hunan"]',
        "", "[[watchers]]", f'email = "{ANALYST}"', 'sources = ["hn-*"]', ""])
    path = write_sources(tmp_path / "sources.toml", body,
                         settings=f'outbox_dir = "{tmp_path / "outbox"}"\n')
    yield Env(load_config(path, env={}), store, site)


def a_page(counter: int) -> bytes:
    return seed_page(0, counter=counter)  # the view counter differs at every fetch


def b_page(counter: int) -> bytes:
    return seed_page(0, edit=EDIT, counter=counter)


def mails(outbox: Path) -> list[EmailMessage]:
    files = sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for f in files]


async def test_a_page_flapping_is_said_at_once_then_condensed_never_silent(
        env: Env, tmp_path: Path) -> None:
    got = []
    for i, page in enumerate([a_page, b_page, a_page, b_page, a_page, b_page]):
        env.serve(html(page(100 + i)))
        got.append(await env.check())

    assert [r.outcome for r in got] == [Outcome.NEW] + [Outcome.CHANGED] * 5
    assert [r.change_kind for r in got] == [None, "changed", "flapping", "flapping",
                                            "flapping", "flapping"]
    # The first change, one flapping notice at once, then ONE held alert for the later
    # flips (each newer flip takes the pending row over: it tells the newest state).
    assert [r.alerts for r in got] == [0, 1, 1, 1, 0, 0]
    changes = env.changes()
    assert [c.kind for c in changes] == ["changed"] + ["flapping"] * 4
    assert "内容来回变化" in changes[1].summary
    assert "内容仍在来回变化，当前为此版本" in changes[4].summary
    rows = env.alerts()
    assert [(a.event, a.recipient, a.change_id) for a in rows] == [
        ("change", ANALYST, changes[0].id), ("change", ANALYST, changes[1].id),
        ("change", ANALYST, changes[4].id)]  # the page is now B: the last flip's state
    versions = env.versions()
    assert len(versions) == 6  # every flip is on record
    a1, b1, a2 = (env.store.version(v.id) for v in versions[:3])
    assert a1.text == a2.text != b1.text and "引领效应" in b1.text

    # Now: two mails; the condensed one waits for the end of its flap_hold window.
    report = await Deliverer(env.config, env.store, env={}).deliver_due()
    assert report.sent == 2 and not report.errors
    later = Deliverer(env.config, env.store, env={},
                      clock=lambda: utcnow() + timedelta(seconds=3601))
    assert (await later.deliver_due()).sent == 1
    sent = mails(tmp_path / "outbox")
    assert [m["To"] for m in sent] == [ANALYST] * 3
    last = sent[-1]
    assert "内容来回变化" in str(last["Subject"])
    body = last.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "内容仍在来回变化，当前为此版本" in body and "{+引领+}效应" in body  # B, as it is now
    assert (await later.deliver_due()).sent == 0


async def test_a_new_version_after_flapping_is_a_change_alerted_at_once(
        env: Env, tmp_path: Path) -> None:
    for i, page in enumerate([a_page, b_page, a_page, b_page]):
        env.serve(html(page(100 + i)))
        await env.check()
    env.serve(html(seed_page(0, edit=OTHER_EDIT, counter=200)))
    c = await env.check()
    assert (c.outcome, c.change_kind, c.alerts) == (Outcome.CHANGED, "changed", 1)
    last = env.changes()[-1]
    assert last.kind == "changed" and "示范" in last.patch
    report = await Deliverer(env.config, env.store, env={}).deliver_due()
    assert report.sent == 3  # changed, flapping, and C; the held flip waits for its window
