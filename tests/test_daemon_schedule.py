"""Scheduling state without a daemon: the grid of slots, claims, leases, the SQLite guard,
the sources-file watcher.  On SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import SourceConfig
from monitor.errors import AlreadyRunningError
from monitor.scheduler import plan_for
from monitor.settings import Settings
from monitor.watch import SourcesWatcher
from storage import Store
from storage.instant import utcnow
from storage.records import CheckRecord, LeaseEnd, NewVersion
from storage.schedule import Schedule, single_daemon


def _source(name: str, interval: str = "6h") -> SourceConfig:
    from monitor.config import parse_interval

    return SourceConfig(name=name, url=f"https://example.gov.cn/{name}",
                        interval=parse_interval(interval))


def test_500_sources_with_the_same_interval_are_spread_and_every_replica_agrees() -> None:
    settings = Settings()
    now = utcnow()
    slots = [plan_for(_source(f"s{i}"), settings).next_after(now) for i in range(500)]
    per_second = Counter(s.replace(microsecond=0) for s in slots)
    assert max(per_second.values()) <= 5  # random spread over 6 h: a few share one
    assert max(slots) - min(slots) > timedelta(hours=5)  # jitter 1: over all of 6 h
    # and evenly: each hour of the interval has about a sixth of them
    per_hour = Counter(int((s - min(slots)).total_seconds() // 3600) for s in slots)
    assert min(per_hour[h] for h in range(6)) > 50, per_hour
    again = [plan_for(_source(f"s{i}"), settings).next_after(now) for i in range(500)]
    assert again == slots  # another process computes the same grid


def test_slots_follow_the_interval_and_cron_uses_the_time_zone() -> None:
    plan = plan_for(_source("a", "2s"), Settings())
    first = plan.next_after(utcnow())
    assert plan.next_after(first) - first == timedelta(seconds=2)
    cron = plan_for(SourceConfig(name="c", url="https://x.gov.cn/", cron="0 8 * * *"),
                    Settings(timezone="Asia/Shanghai"))
    at = cron.next_after(utcnow())
    assert (at.hour, at.minute) == (8, 0) and at.utcoffset() == timedelta(hours=8)


@pytest.fixture
def two(store: Store) -> tuple[Schedule, Schedule, int]:
    src = _source("one", "1h")
    store.sync_sources([src])
    a, b = Schedule(store, "a:1", 60), Schedule(store, "b:2", 60)
    page_id = a.ensure_pages([src])["one"].page_id
    assert b.ensure_pages([src])["one"].page_id == page_id  # idempotent
    return a, b, page_id


def test_one_replica_wins_a_claim_and_the_next_slot_is_respected(two) -> None:  # type: ignore[no-untyped-def]
    a, b, page = two
    now = utcnow()
    assert a.claim(page, now) is not None
    assert b.claim(page, now) is None  # leased
    assert a.claim(page, now) is None  # not twice by the same replica either
    assert a.release(page, now + timedelta(hours=1))
    assert b.claim(page, now + timedelta(seconds=1)) is None  # not due before its slot
    claim = b.claim(page, now + timedelta(hours=1))
    assert claim is not None and claim.due_at == now + timedelta(hours=1)


def test_an_expired_lease_is_taken_over_and_the_late_release_changes_nothing(two) -> None:  # type: ignore[no-untyped-def]
    a, b, page = two
    now = utcnow()
    assert a.claim(page, now) is not None  # then "a" dies
    assert b.claim(page, now + timedelta(seconds=30)) is None
    assert b.due([page], now + timedelta(seconds=61)) == [page]
    assert b.claim(page, now + timedelta(seconds=61)) is not None
    assert not a.release(page, now + timedelta(hours=5))  # a's lease is gone
    assert b.renew([page], now + timedelta(seconds=62)) == 1
    assert b.release_all() == 1


def test_an_ended_holders_lease_is_claimed_from_it_by_one_daemon_only(two, store: Store) -> None:  # type: ignore[no-untyped-def]
    """The daemon's look sees a due page leased on its own host (``held_on``), and its
    claim from a holder that has ended wins once: not from a holder that renewed or
    gave the page back meanwhile, not before the slot, not for a second daemon."""
    a, b, page = two
    now = utcnow()
    assert a.claim(page, now) is not None  # "a" (host a) is killed holding it
    assert b.due_pages(now) == [] and b.due_pages(now, held_on="b") == []
    assert [i for i, _ in b.due_pages(now, held_on="a")] == [page]
    assert b.claim(page, now) is None  # the lease runs for a minute yet
    c = Schedule(store, "a:3", 60)
    claim = b.claim_from(page, "a:1", now)
    assert claim is not None and claim.page_id == page
    assert c.claim_from(page, "a:1", now) is None  # "b" has it now: nobody else wins
    assert a.renew([page], now) == 0 and not a.release(page, now)  # nor "a", if it woke
    assert b.release(page, now + timedelta(hours=1))
    assert a.claim(page, now + timedelta(hours=1)) is not None
    assert b.claim_from(page, "a:1", now) is None  # not due yet: the slot is kept
    assert b.claim_from(page, "x:9", now + timedelta(hours=1)) is None  # not x's


def test_align_brings_a_slot_forward_but_never_back(two, store: Store) -> None:  # type: ignore[no-untyped-def]
    a, _, page = two
    now = utcnow()
    a.claim(page, now)
    a.release(page, now + timedelta(days=1))
    from storage.models import Page

    with store.session() as s:  # a page checked once (align needs a last check)
        row = s.get(Page, page)
        row.last_check_at = now
        s.add(row)
        s.commit()
    a.align({page: now + timedelta(hours=1)})
    a.align({page: now + timedelta(hours=3)})
    assert a.status([_source("one")])[0].next_check_at == now + timedelta(hours=1)


def test_a_second_daemon_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with single_daemon(url):
        with pytest.raises(AlreadyRunningError, match=r"already running .*m\.db\.lock"):
            with single_daemon(url):
                pass
    with single_daemon(url):  # released when the first one ended
        pass
    with single_daemon("postgresql://x@127.0.0.1/db"), single_daemon("postgresql://x@h/db"):
        pass  # no file lock for PostgreSQL: replicas are allowed


def test_the_watcher_sees_a_settled_edit_once_and_ignores_touch(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text("a = 1\n", encoding="utf-8")
    w = SourcesWatcher(path)
    assert w.initial == b"a = 1\n" and w.poll() is None
    path.write_text("a = 2\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert w.poll() is None  # just changed: let it settle
    edit = w.poll()
    assert edit is not None and edit.data == b"a = 2\n"
    assert w.poll() is None
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000))  # touch: same content
    assert w.poll() is None and w.poll() is None


def test_settings_that_need_a_restart_exist_and_are_reported() -> None:
    from monitor.reload import RESTART_SETTINGS, restart_needed

    assert set(Settings.model_fields) >= RESTART_SETTINGS
    old = Settings()
    new = Settings(concurrency=2, timezone="UTC", admin_email="a@example.org")
    assert restart_needed(old, new) == ["concurrency"]  # the others apply at once


def _record(store: Store, outcome: str, lease: LeaseEnd, text: str | None = None,
            ) -> CheckRecord:
    state = store.page_state(_source("one", "1h"))
    at = utcnow()
    version = None
    if text is not None:
        raw = f"<p>{text}</p>".encode()
        version = NewVersion(content_hash=hashlib.sha256(text.encode()).hexdigest(),
                             title="答复", text=text, metadata={}, raw=raw,
                             raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                             headers={}, url=state.url, charset="utf-8", fetched_at=at)
    return CheckRecord(page_id=state.page_id, expected_revision=state.revision,
                       expected_last_version_id=state.last.id if state.last else None,
                       started_at=at, duration=0.1, outcome=outcome, version=version,
                       observed_at=at, lease=lease)


def test_a_checks_commit_ends_its_lease_unless_another_replica_took_the_page(
        two, store: Store) -> None:  # type: ignore[no-untyped-def]
    a, b, page = two
    now = utcnow()
    for outcome, text in (("new", "第一版"), ("unchanged", None), ("changed", "第二版")):
        assert a.claim(page, now) is not None
        slot = now + timedelta(hours=1)
        res = store.commit_check(_record(store, outcome, LeaseEnd("a:1", slot), text))
        assert res.released is True and (res.version_id is not None) == (text is not None)
        assert a.holder(page) == (None, None)  # free at once, no release of its own
        assert b.claim(page, now) is None  # and due at its next slot only
        assert a.status([_source("one")])[0].next_check_at == slot
        now = slot
    # a's lease ran out during its check and b took the page: a's commit leaves it alone
    assert a.claim(page, now) is not None
    assert b.claim(page, now + timedelta(seconds=61)) is not None
    res = store.commit_check(_record(store, "unchanged", LeaseEnd("a:1", now + timedelta(
        hours=9))))
    assert res.released is False and res.check_id
    assert a.holder(page)[0] == "b:2"
    assert a.status([_source("one")])[0].next_check_at == now  # b's slot, untouched
    assert b.release(page, now + timedelta(hours=1))
