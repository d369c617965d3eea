"""Changed checks committed in groups (``Store.commit_checks``, ``monitor.batch``): a
group stores exactly the rows its records store committed one by one, a conflicting
record writes nothing and leaves the rest stored, a failing record fails alone, and two
processes group-committing changed pages at once keep every check and a sound history.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.batch import GroupCommit
from monitor.config import SourceConfig
from monitor.errors import StorageError
from monitor.types import AttachmentFile, ChangeDecision, ChangeKind
from storage import Store, outbox, repository
from storage import rows as commit_rows
from storage.records import AlertDraft, CheckRecord, LeaseEnd, NewVersion, PageState
from storage.schedule import Schedule
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, monitor_cmd
from tests.test_fast_paths import _second_database

AT = datetime(2026, 12, 1, tzinfo=UTC)
PAGES = 4
TABLES = ["pages", "checks", "changes", "versions", "paragraphs", "paragraph_spans", "alerts",
          "files"]


def _version(i: int, n: int, url: str) -> NewVersion:
    text = f"第{i}号通知第{n}版。\n各地要落实第{n % 3}项措施。\n" + "附：说明。" * (n + i)
    raw = f"<html><body>{text}</body></html>".encode()
    pdf = b"%PDF-1.4 shared attachment"  # two pages attach the same file: one row
    files = (AttachmentFile(url="http://www.example.gov.cn/a.pdf", name="a.pdf",
                            sha256=hashlib.sha256(pdf).hexdigest(), fmt="pdf", size=len(pdf),
                            body=pdf, text="附件正文"),) if i < 2 and n == 1 else ()
    return NewVersion(
        content_hash=hashlib.sha256(text.encode()).hexdigest(), title=f"通知{i}", text=text,
        metadata={"发布机构": "本厅", "文号": f"〔2026〕{n}号"}, raw=raw,
        raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200, headers={}, url=url,
        charset="utf-8", fetched_at=AT + timedelta(hours=n), files=files)


def _record(state: PageState, i: int, n: int, url: str, **kw: Any) -> CheckRecord:
    """Page ``i``'s ``n``-th version (changed after its first), with a change alert and,
    for pages 0 and 1, a shared trouble alert (one key: queued once) and a condensed
    alert that moves to the newest change."""
    when = AT + timedelta(hours=n, minutes=i)
    changes = () if state.last is None else (ChangeDecision(
        kind=ChangeKind.CHANGED, summary=f"第{n}段修改", stats={"added": n},
        details={"文号": [f"〔2026〕{n - 1}号", f"〔2026〕{n}号"]}, patch=f"@@ +1 @@\n+第{n}版"),)
    alerts = () if not changes else (
        AlertDraft("change:{change_id}:email:a@x", "change", "email", "a@x", watcher="a",
                   change_index=0, payload={"n": n}, hold_until=when),
        AlertDraft(f"digest:{i}:a@x", "digest", "email", "a@x", watcher="a", change_index=0,
                   replace_pending=True, hold_until=when),
        *((AlertDraft(f"trouble:{n}", "trouble", "email", "b@x", hold_until=when),)
          if i < 2 else ()))
    fields: dict[str, Any] = dict(
        page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
        expected_revision=state.revision, started_at=when, duration=0.5,
        outcome="changed" if state.last else "new", http_status=200, worker="h:1",
        observed_at=when, version=_version(i, n, url), changes=changes, alerts=alerts,
        page_status="ok", etag=f'"e{n}"')
    return CheckRecord(**{**fields, **kw})


def _round(store: Store, sources: list[SourceConfig], n: int) -> list[CheckRecord]:
    """Round ``n``'s records, made from the states read at its start: first versions;
    changed versions; changed and unchanged ones, a stale fetch of page 1 after its
    change (superseded), page 0 twice (its second record conflicts), an error of page 3
    with its lease ended."""
    states = [store.page_state(s) for s in sources]
    recs = [_record(st, i, n, sources[i].url) for i, st in enumerate(states)]
    if n < 2:
        return recs
    stale = _record(states[1], 1, n, sources[1].url, observed_at=AT - timedelta(days=1))
    error = CheckRecord(
        page_id=states[3].page_id, expected_last_version_id=states[3].last.id
        if states[3].last else None, expected_revision=states[3].revision,
        started_at=AT, duration=3.0, outcome="error", error_kind="timeout", error="读取超时",
        failure_streak=1, observed_at=AT + timedelta(days=1), lease=LeaseEnd("h:1"))
    unchanged = CheckRecord(
        page_id=states[2].page_id, expected_last_version_id=states[2].last.id
        if states[2].last else None, expected_revision=states[2].revision,
        started_at=AT, duration=0.1, outcome="unchanged", http_status=304,
        observed_at=AT + timedelta(days=1))
    return [recs[0], unchanged, recs[1], stale, _record(states[0], 0, 9, sources[0].url),
            error]


def _stored(url: str, grouped: bool) -> tuple[list[list[Any]], dict[str, list[Any]]]:
    """The results and every row of the rounds' records, committed in one group a round
    or one by one in the same order."""
    store = Store(url)
    sources = [SourceConfig(name=f"p{i}", url=f"http://www.example.gov.cn/p{i}.html")
               for i in range(PAGES)]
    try:
        store.sync_sources(sources)
        Schedule(store, "h:1", 600).ensure_pages(sources)
        results = []
        for n in range(3):
            recs = _round(store, sources, n)
            Schedule(store, "h:1", 600).take_many([r.page_id for r in recs], AT)
            results.append(store.commit_checks(recs) if grouped
                           else [store.commit_check(r) for r in recs])
        with store.engine.connect() as c:
            return results, {t: [{k: v for k, v in r._mapping.items()
                                  if k not in ("created_at", "first_seen", "lease_expires")}
                                 for r in c.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))]
                             for t in TABLES}
    finally:
        store.close()


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (repository, commit_rows, outbox):
        monkeypatch.setattr(module, "utcnow", lambda: AT + timedelta(days=2))


def test_a_group_of_changed_records_stores_the_rows_single_commits_store(
        db_url: str, tmp_path: Path, fixed_clock: None) -> None:
    """Versions (raw deltas, seals and record hashes), paragraphs, spans, changes, alerts
    (a shared key queued once, a condensed one moved), files, checks and pages: the
    same rows and ids, and the same results, as one commit a record; a record of a page
    made from the state an earlier record of the group moved on conflicts, as it does
    committed after it."""
    grouped, rows = _stored(db_url, grouped=True)
    other = _second_database(db_url, tmp_path)
    single, rows_single = _stored(other, grouped=False)
    assert grouped == single
    assert rows == rows_single
    assert [r.outcome for r in grouped[2]] == ["changed", "unchanged", "changed",
                                               "superseded", "conflict", "error"]
    assert [r.released for r in grouped[2]] == [None, None, None, None, None, True]
    assert len(rows["versions"]) == 2 * PAGES + 2 and len(rows["changes"]) == PAGES + 2
    assert len(rows["files"]) == 1
    assert Counter(a["event"] for a in rows["alerts"]) == Counter(
        {"change": PAGES + 2, "digest": PAGES, "trouble": 2})


def test_core_alert_rows_are_those_the_orm_writes(db_url: str, tmp_path: Path) -> None:
    """``outbox.insert_alerts`` on a connection (a group commit, Core statements) writes
    the rows an ORM ``Alert`` wrote (the function as it was, a session's objects)."""
    from sqlmodel import Session, select

    from storage.models import Alert

    def orm(s: Session, page_id: int, drafts: list[AlertDraft], change_ids: list[int]
            ) -> list[int]:
        ids = []
        for d in drafts:
            change_id = change_ids[d.change_index] if d.change_index is not None else None
            key = d.dedupe_key.format(change_id=change_id)
            existing = s.exec(select(Alert).where(Alert.dedupe_key == key)).first()
            if existing is not None:
                if d.replace_pending and existing.status == "pending":
                    existing.change_id = change_id
                    s.add(existing)
                continue
            row = Alert(dedupe_key=key, event=d.event, change_id=change_id,
                        page_id=page_id, watcher=d.watcher, channel=d.channel,
                        recipient=d.recipient, payload=dict(d.payload),
                        next_attempt_at=d.hold_until or AT)
            s.add(row)
            s.flush()
            ids.append(row.id or 0)
        return ids

    drafts = [AlertDraft("k:{change_id}", "change", "email", "a@x", watcher="a",
                         change_index=0, payload={"摘要": "第3段", "n": [1, 2]}, hold_until=AT),
              AlertDraft("k:None", "trouble", "webhook", "http://h", replace_pending=True,
                         hold_until=AT + timedelta(hours=1)),
              AlertDraft("d", "digest", "email", "b@x", replace_pending=True, hold_until=AT)]

    def rows(url: str, write: Any) -> list[tuple[Any, ...]]:
        store = Store(url)
        try:
            with store.session() as s:
                got = [write(s, None, drafts, [None]), write(s, None, drafts, [None])]
                s.commit()
            with store.engine.connect() as c:
                return [got, *c.execute(sa.text(
                    "SELECT id, dedupe_key, event, change_id, page_id, watcher, channel, "
                    "recipient, status, attempts, next_attempt_at, last_error, message_id, "
                    "payload, sent_at FROM alerts ORDER BY id"))]
        finally:
            store.close()

    core = rows(db_url, lambda s, *a: outbox.insert_alerts(s.connection(), *a))
    assert core == rows(_second_database(db_url, tmp_path), orm)
    assert core[0] == [[1, 2], []]  # "k:None" is the first draft's key too: not twice


async def test_a_failing_changed_record_is_stored_alone_and_the_rest_of_its_group(
        store: Store) -> None:
    """A changed record that cannot be stored (two change rows of one kind for its
    version: a unique key) fails alone; the records of its group are stored, versions
    and changes, one by one."""
    sources = [SourceConfig(name=f"p{i}", url=f"http://www.example.gov.cn/p{i}.html")
               for i in range(3)]
    store.sync_sources(sources)
    firsts = [_record(store.page_state(s), i, 0, s.url) for i, s in enumerate(sources)]
    store.commit_checks(firsts)
    states = [store.page_state(s) for s in sources]
    recs = [_record(st, i, 1, sources[i].url) for i, st in enumerate(states)]
    bad = CheckRecord(**{**recs[1].__dict__, "changes": recs[1].changes * 2})
    group = GroupCommit(store, 3)
    got = await asyncio.gather(*(group.commit(r) for r in (recs[0], bad, recs[2])),
                               return_exceptions=True)
    assert isinstance(got[1], StorageError)
    assert [getattr(r, "outcome", None) for r in got] == ["changed", None, "changed"]
    assert [len(store.history(s.name)) for s in sources] == [2, 1, 2]
    assert store.page_state(sources[1]).revision == states[1].revision  # untouched


def test_commit_checks_refuses_a_listings_record(store: Store) -> None:
    src = SourceConfig(name="p", url="http://www.example.gov.cn/p.html")
    store.sync_sources([src])
    rec = _record(store.page_state(src), 0, 0, src.url, documents=())
    with pytest.raises(ValueError):
        store.commit_checks([rec])


N = 30


def test_two_monitor_checks_over_the_same_changing_pages_keep_every_check_and_history(
        tmp_path: Path, site: Site, db_url: str) -> None:
    """Two ``monitor check`` processes at once over the same pages, which change at every
    fetch: their changed records are committed in groups over the same pages.  Every
    check is stored; each page's versions chain (numbers, record hashes: ``verify``),
    each change row's old version is the version before its new one, and no error."""
    fetches: Counter[str] = Counter()

    def changing(req: Request) -> Response:
        fetches[req.path] += 1
        body = "".join(f"<p>第{i}段：办理情况如下，第{fetches[req.path]}次答复。</p>"
                       for i in range(8))
        return Response(f"<html><head><title>答复</title></head><body><div>{body}</div>"
                        "</body></html>", delay=0.005,
                        headers={"Content-Type": "text/html; charset=utf-8"})

    for i in range(N):
        site.route(f"/p{i}.html", changing)
    path = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n\n'
        for i in range(N)) + '[[watchers]]\nname = "a"\nemail = "a@x.cn"\nsources = ["*"]\n',
        settings=f'concurrency = 6\noutbox_dir = "{tmp_path / "outbox"}"\n')
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url)
    cmd = monitor_cmd("check", "--sources", str(path), "--json", "--no-deliver")
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    outcomes = Counter(r["outcome"] for out, _ in outs for r in json.loads(out)["results"])
    assert set(outcomes) <= {"changed", "superseded"} and outcomes["changed"] >= N
    assert sum(outcomes.values()) == 2 * N

    from storage import verify

    store = Store(db_url, migrate=False)
    try:
        assert verify.verify(store).ok
        with store.engine.connect() as c:
            checks = Counter(r[0] for r in c.execute(sa.text("SELECT page_id FROM checks")))
            versions = {}
            for vid, page_id, number in c.execute(sa.text(
                    "SELECT id, page_id, number FROM versions ORDER BY id")):
                versions.setdefault(page_id, []).append((vid, number))
            changes = list(c.execute(sa.text(
                "SELECT id, old_version_id, new_version_id FROM changes")))
            alerts = Counter(r[0] for r in c.execute(sa.text("SELECT change_id FROM alerts")))
        assert set(checks.values()) == {3} and len(checks) == N
        for vs in versions.values():
            assert [n for _, n in vs] == list(range(1, len(vs) + 1))
        before = {new: old for page in versions.values()
                  for (old, _), (new, _) in itertools.pairwise(page)}
        assert len(changes) == outcomes["changed"]
        assert all(before[new] == old for _, old, new in changes)
        assert alerts == Counter({i: 1 for i, _, _ in changes})  # an alert a change
    finally:
        store.close()
