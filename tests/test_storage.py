"""The Store on SQLite and PostgreSQL: versions, checks, compression, idempotence."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import SourceConfig
from monitor.errors import StorageError
from monitor.types import ChangeDecision, ChangeKind
from storage import Store, rawcodec
from storage.models import Alert, Check, Version
from storage.records import AlertDraft, CheckRecord, NewVersion
from tests.pages import seed, seed_page

SRC = SourceConfig(name="hn-0192", url="http://127.0.0.1:1/a.html", tags=("hunan",))
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def page(i: int) -> bytes:
    rows = "".join(f"<tr><td>第{n}行</td><td>{n * 7}</td></tr>" for n in range(400))
    return f"<html><body><p>点击：{i}</p><table>{rows}</table></body></html>".encode()


def new_version(raw: bytes, text: str, at: datetime) -> NewVersion:
    return NewVersion(content_hash=hashlib.sha256(text.encode()).hexdigest(), title="答复",
                      text=text, metadata={"文号": "湘工信提案函〔2021〕254号"}, raw=raw,
                      raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                      headers={"content-type": "text/html"}, url=SRC.url, charset="utf-8",
                      fetched_at=at)


def commit(store: Store, raw: bytes, text: str, at: datetime, **kw: object) -> int | None:
    state = store.page_state(SRC)
    rec = CheckRecord(page_id=state.page_id,
                      expected_last_version_id=state.last.id if state.last else None,
                      expected_revision=state.revision,
                      started_at=at, duration=0.1, outcome="changed",
                      version=new_version(raw, text, at), **kw)  # type: ignore[arg-type]
    return store.commit_check(rec).version_id


def test_versions_round_trip_with_raw_bytes_and_point_in_time(store: Store) -> None:
    ids = [commit(store, page(i), f"正文第{i}版", T0 + timedelta(days=i)) for i in range(3)]
    history = store.history("hn-0192")
    assert [v.id for v in history] == ids
    assert store.raw_body(ids[2]) == page(2)
    assert store.version(ids[0]).metadata == {"文号": "湘工信提案函〔2021〕254号"}
    at = store.version_at("hn-0192", T0 + timedelta(days=1, hours=5))
    assert at.text == "正文第1版"
    assert store.version_at(SRC.url, T0 + timedelta(days=9)).id == ids[2]


def test_a_damaged_raw_body_is_a_storage_error_not_a_crash(store: Store) -> None:
    vid = commit(store, page(0), "正文", T0)
    with store.session() as s:
        row = s.get(Version, vid)
        assert row is not None
        row.raw_body = row.raw_body[:10] + b"\x00" * 8  # a damaged disk block
        s.add(row)
        s.commit()
    with pytest.raises(StorageError, match="cannot be decompressed"):
        store.raw_body(vid or 0)
    assert store.version(vid or 0).text == "正文"  # the text is still readable


def test_each_version_is_stored_as_a_small_delta_of_the_previous(store: Store) -> None:
    ids = [commit(store, page(i), f"v{i}", T0 + timedelta(hours=i)) for i in range(20)]
    with store.session() as s:
        rows = [s.get(Version, i) for i in ids]
    deltas = [r for r in rows if r is not None and r.raw_codec == "zstd-delta"]
    assert len(deltas) >= 17  # the chain is restarted with a full copy now and then
    assert all(len(r.raw_body) < 0.05 * r.raw_size for r in deltas)
    assert all(store.raw_body(i) == page(n) for n, i in enumerate(ids))


def _racing(stale: object, text: str, at: datetime) -> CheckRecord:
    """A record made from ``stale`` (a state another process has moved on from)."""
    return CheckRecord(page_id=stale.page_id, expected_last_version_id=stale.last.id,  # type: ignore[attr-defined]
                       expected_revision=stale.revision, started_at=at,  # type: ignore[attr-defined]
                       duration=0.1, outcome="changed", observed_at=at,
                       version=new_version(page(1), text, at),
                       changes=(ChangeDecision(ChangeKind.CHANGED, "第1段修改"),),
                       alerts=(AlertDraft("change:{change_id}:email:a@x", "change", "email",
                                          "a@x", change_index=0),))


def test_a_commit_made_from_a_state_another_check_moved_on_writes_nothing(
        store: Store) -> None:
    commit(store, page(0), "原文", T0)
    stale = store.page_state(SRC)  # two processes read the same state...
    first = store.commit_check(_racing(stale, "新文", T0 + timedelta(seconds=1)))
    # ...the second fetched later, so it must be compared with what the first stored
    second = store.commit_check(_racing(stale, "新文", T0 + timedelta(seconds=2)))
    assert first.outcome == "changed" and not first.conflict
    assert second.conflict and second.version_id is None
    assert store.count(Version) == 2 and store.count(Alert) == 1 and store.count(Check) == 2
    assert store.page_state(SRC).revision == stale.revision + 1


def test_a_fetch_older_than_the_stored_one_is_superseded_never_the_newest_version(
        store: Store) -> None:
    commit(store, page(0), "第41版", T0)
    stale = store.page_state(SRC)
    newer = store.commit_check(_racing(stale, "第43版", T0 + timedelta(seconds=2)))
    older = store.commit_check(_racing(stale, "第42版", T0 + timedelta(seconds=1)))
    assert newer.outcome == "changed" and older.outcome == "superseded"
    assert [v.title for v in store.history("hn-0192")] == ["答复", "答复"]
    assert store.latest_version("hn-0192").text == "第43版"
    assert store.count(Alert) == 1
    assert store.count(Check, outcome="superseded") == 1  # the fetch is on record


def test_sources_and_pages_made_by_a_check_pass_and_by_page_state_are_alike(
        store: Store) -> None:
    """``monitor check`` makes its sources and pages with column statements
    (``sync_sources``, ``Schedule.ensure_pages``: ``storage.tables``' defaults), a first
    ``page_state`` through the models (their fields' defaults): the rows come out the
    same, and a source whose file entry changed is updated, one that left deactivated."""
    from sqlalchemy import select

    from storage import tables
    from storage.schedule import Schedule

    a = SourceConfig(name="a", url="http://127.0.0.1:1/a.html", tags=("湖南",))
    b = SourceConfig(name="b", url="http://127.0.0.1:1/b.html", tags=("湖南",))
    assert store.sync_sources([a]) == {"added": ["a"], "updated": [], "deactivated": []}
    Schedule(store, "me", 60).ensure_pages([a])
    store.page_state(b)  # neither its source nor its page exists yet: the ORM makes both
    with store.reading() as c:
        rows = {t.name: {r.id: r._asdict() for r in c.execute(select(t))}
                for t in (tables.sources, tables.pages)}
    made = {"id", "name", "url", "source_id", "created_at", "updated_at", "config"}
    for table in rows.values():
        first, second = ({k: v for k, v in row.items() if k not in made}
                         for row in table.values())
        assert first == second and first
    for row in rows["sources"].values():
        assert row["created_at"].tzinfo is not None and row["active"] is True
    edited = replace(a, url="http://127.0.0.1:1/a2.html")
    assert store.sync_sources([edited]) == {"added": [], "updated": ["a"],
                                            "deactivated": ["b"]}
    assert store.sync_sources([edited]) == {"added": [], "updated": [], "deactivated": []}


def test_sources_removed_from_the_file_keep_their_history(store: Store) -> None:
    commit(store, page(0), "原文", T0)
    report = store.sync_sources([])
    assert report["deactivated"] == ["hn-0192"]
    assert [v.title for v in store.history("hn-0192")] == ["答复"]
    assert store.latest_version("hn-0192").text == "原文"


def _long_page(n: int, rev: int) -> bytes:
    """A long government page (seed ``n``'s body repeated, each copy marked, as a 续 page
    is), at revision ``rev``: a sentence more and the view counter moved each time."""
    paras = list(seed(n).paragraphs)

    def edit(ps: list[str]) -> list[str]:
        body = list(ps)
        for k in range(1, 6):
            body += [f"（续{k}）{p}" if p.strip() else p for p in paras]
        return body + [f"第{r}次补充说明：本项工作已按计划推进，累计完成{1000 + r * 7}项。"
                       for r in range(1, rev + 1)]

    return seed_page(n, counter=1000 + 37 * rev, edit=edit)


@pytest.mark.parametrize("n", range(4))
def test_a_sentence_added_to_a_long_page_stores_a_raw_delta_of_a_few_hundred_bytes(
        n: int) -> None:
    """The raw body of a typical edit costs the database a few hundred bytes, not a
    kilobyte: 50–250 KB pages, a sentence added and the counter moved (47–62 bytes;
    363 and more with long-distance matching, which ignores the previous body)."""
    old, new = _long_page(n, 1), _long_page(n, 2)
    blob = rawcodec.compress(new, old)
    assert rawcodec.decompress(blob, old) == new
    assert len(new) > 50_000
    assert len(blob) < 300, (len(blob), len(new))


def test_raw_bodies_read_back_through_chains_longer_than_one_query_reads(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delta chain is read in one query of up to ``CHAIN_READ`` links; a longer one
    (never written today: a chain restarts every ``DELTA_CHAIN_MAX`` versions) is read
    link by link, to the same bytes."""
    from storage import repository

    ids = [commit(store, page(i), f"v{i}", T0 + timedelta(hours=i)) for i in range(12)]
    assert all(store.raw_body(i) == page(n) for n, i in enumerate(ids))
    monkeypatch.setattr(repository, "CHAIN_READ", 3)
    assert all(store.raw_body(i) == page(n) for n, i in enumerate(ids))
    after = commit(store, page(12), "v12", T0 + timedelta(hours=12))  # a delta of ids[-1]
    assert store.raw_body(after) == page(12)
