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
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerts.delivery import Deliverer
from monitor.config import load_config
from monitor.types import Outcome
from storage import Store
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


async def test_a_page_flapping_between_two_versions_is_said_once_and_c_alerts_again(
        env: Env, tmp_path: Path) -> None:
    got = []
    for i, page in enumerate([a_page, b_page, a_page, b_page, a_page]):
        env.serve(html(page(100 + i)))
        got.append(await env.check())

    assert [r.outcome for r in got] == [Outcome.NEW] + [Outcome.CHANGED] * 4
    assert [r.change_kind for r in got] == [None, "changed", "flapping", "flapping",
                                            "flapping"]
    # Alerts: the first change, then one flapping notice, then silence at every flip.
    assert [r.alerts for r in got] == [0, 1, 1, 0, 0]
    changes = env.changes()
    assert [c.kind for c in changes] == ["changed", "flapping", "flapping", "flapping"]
    assert "内容来回变化" in changes[1].summary
    assert [(a.event, a.recipient, a.change_id) for a in env.alerts()] == [
        ("change", ANALYST, changes[0].id), ("change", ANALYST, changes[1].id)]
    versions = env.versions()
    assert len(versions) == 5  # every flip is on record
    a1, b1, a2 = (env.store.version(v.id) for v in versions[:3])
    assert a1.text == a2.text != b1.text and "引领效应" in b1.text

    # A genuinely new text after the flapping: a change, alerted again.
    env.serve(html(seed_page(0, edit=OTHER_EDIT, counter=200)))
    c = await env.check()
    assert (c.outcome, c.change_kind, c.alerts) == (Outcome.CHANGED, "changed", 1)
    last = env.changes()[-1]
    assert last.kind == "changed" and "示范" in last.patch
    assert [a.change_id for a in env.alerts()] == [changes[0].id, changes[1].id, last.id]

    # What the analyst receives: three mails, the flapping one said as such.
    report = await Deliverer(env.config, env.store, env={}).deliver_due()
    assert report.sent == 3 and not report.errors
    sent = mails(tmp_path / "outbox")
    assert [m["To"] for m in sent] == [ANALYST] * 3
    subjects = sorted(str(m["Subject"]) for m in sent)
    assert sum("内容来回变化" in s for s in subjects) == 1, subjects
    assert sum("正文修改" in s for s in subjects) == 2, subjects
    assert (await Deliverer(env.config, env.store, env={}).deliver_due()).sent == 0
