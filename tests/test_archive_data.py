"""An archive built through ``Store.commit_check`` (as the pipeline writes it), shared by
the archive, export and web tests, and the read-side queries over it.

``build_archive`` stores four sources: a plan revised twice, a reply that gained an
answer, a page that keeps failing, and a hostile page whose text, title, metadata and
raw body carry script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import SourceConfig
from monitor.types import AttachmentFile, ChangeDecision, ChangeKind
from storage import Store
from storage.archive import Archive
from storage.records import CheckRecord, NewVersion

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HOSTILE = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=1">'

PLAN = SourceConfig(name="hb-ai-plan", url="http://127.0.0.1:9/plan.html",
                    tags=("hubei", "plan"))
REPLY = SourceConfig(name="hn-reply", url="http://127.0.0.1:9/reply.html",
                     tags=("hunan", "reply"))
FAILING = SourceConfig(name="bj-housing", url="http://127.0.0.1:9/housing.html",
                       tags=("beijing",))
EVIL = SourceConfig(name="evil-page", url="http://127.0.0.1:9/evil.html", tags=("test",))

PLAN_TITLE = "湖北省人工智能产业发展规划（2026—2030年）"
PLAN_V1 = ("第一章 总体要求\n到2030年，全省人工智能产业核心规模达到1000亿元。\n"
           "第二章 重点任务\n建设算力基础设施，推动数据要素流通。")
PLAN_V2 = ("第一章 总体要求\n到2030年，全省人工智能产业核心规模达到1200亿元。\n"
           "第二章 重点任务\n建设算力基础设施，推动数据要素流通。\n"
           "第三章 保障措施\n加强财政资金支持。")
REPLY_V1 = "关于加快发展新能源汽车产业的建议\n办理中。"
REPLY_V2 = "关于加快发展新能源汽车产业的建议\n答复：我厅将会同有关部门加大充电设施建设力度。"


def html_page(title: str, text: str) -> bytes:
    paras = "".join(f"<p>{line}</p>" for line in text.splitlines())
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"</head><body><h1>{title}</h1>{paras}<!-- 点击：42 --></body></html>").encode()


@dataclass
class Built:
    """Version ids by source name, oldest first; change ids in creation order."""

    versions: dict[str, list[int]] = field(default_factory=dict)
    changes: list[int] = field(default_factory=list)
    raw: dict[int, bytes] = field(default_factory=dict)
    fetched: dict[int, datetime] = field(default_factory=dict)


def store_version(store: Store, src: SourceConfig, title: str, text: str, at: datetime,
                  built: Built, *, raw: bytes | None = None, meta: dict[str, str] | None = None,
                  changes: tuple[ChangeDecision, ...] = (),
                  files: tuple[AttachmentFile, ...] = ()) -> int:
    state = store.page_state(src)
    raw = raw if raw is not None else html_page(title, text)
    version = NewVersion(
        content_hash=hashlib.sha256((title + text + str(meta)).encode()).hexdigest(),
        title=title, text=text, metadata=meta or {}, raw=raw,
        raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
        headers={"content-type": "text/html; charset=utf-8", "content-encoding": "gzip",
                 "content-length": "17", "server": "nginx", "last-modified": "x"},
        url=src.url, charset="utf-8", fetched_at=at, files=files)
    rec = CheckRecord(page_id=state.page_id,
                      expected_last_version_id=state.last.id if state.last else None,
                      expected_revision=state.revision,
                      started_at=at, duration=0.2, outcome="changed" if changes else "new",
                      http_status=200, bytes=len(raw), version=version, changes=changes)
    result = store.commit_check(rec)
    vid = result.version_id or 0
    built.versions.setdefault(src.name, []).append(vid)
    built.changes.extend(result.change_ids)
    built.raw[vid], built.fetched[vid] = raw, at
    return vid


def one_reply_archive(db_url: str, folder: Path, monkeypatch: pytest.MonkeyPatch,
                      text: str = "办理中。") -> Path:
    """A database (the environment's, as a read-only command finds it) holding REPLY
    with one version of ``text``; the empty sources file of such a command."""
    from tests.conftest import write_sources

    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    store = Store(db_url)
    try:
        store.sync_sources([REPLY])
        store_version(store, REPLY, "答复", text, T0, Built())
    finally:
        store.close()
    return write_sources(folder / "sources.toml", "")


def store_failure(store: Store, src: SourceConfig, at: datetime, streak: int) -> None:
    state = store.page_state(src)
    store.commit_check(CheckRecord(
        page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
        expected_revision=state.revision, started_at=at, duration=20.0, outcome="error",
        error_kind="timeout",
        error="读取超时 (20s)", failure_streak=streak, page_status="failing"))


def change(kind: ChangeKind, summary: str, added: int = 0, removed: int = 0) -> ChangeDecision:
    return ChangeDecision(kind, summary, stats={"added": added, "removed": removed})


def build_archive(store: Store) -> Built:
    built = Built()
    store.sync_sources([PLAN, REPLY, FAILING, EVIL])
    meta = {"文号": "鄂政发〔2026〕5号", "发文日期": "2026-05-01"}
    store_version(store, PLAN, PLAN_TITLE, PLAN_V1, T0, built, meta=meta)
    store_version(store, PLAN, PLAN_TITLE, PLAN_V2, T0 + timedelta(days=9), built, meta=meta,
                  changes=(change(ChangeKind.CHANGED, "第2段修改; 新增2段", 14, 1),))
    meta2 = {**meta, "发文日期": "2026-05-20"}
    store_version(store, PLAN, PLAN_TITLE, PLAN_V2, T0 + timedelta(days=19), built, meta=meta2,
                  changes=(change(ChangeKind.METADATA_CHANGED, "发文日期: 2026-05-01 → "
                                  "2026-05-20"),))
    store_version(store, REPLY, "答复", REPLY_V1, T0 + timedelta(days=2), built)
    store_version(store, REPLY, "答复", REPLY_V2, T0 + timedelta(days=12), built,
                  changes=(change(ChangeKind.REPLY_ADDED, "新增答复", 22, 3),))
    store_version(store, FAILING, "住房公告", "住房公积金缴存比例调整。", T0, built)
    store_failure(store, FAILING, T0 + timedelta(days=1), 1)
    store_failure(store, FAILING, T0 + timedelta(days=2), 2)
    evil_text = f"正常段落。\n{HOSTILE}\n结尾。"
    store_version(store, EVIL, f"恶意{HOSTILE}", evil_text, T0 + timedelta(days=3), built,
                  raw=html_page("恶意", "x").replace(b"x</p>", HOSTILE.encode() + b"</p>"),
                  meta={HOSTILE: HOSTILE})
    store_version(store, EVIL, f"恶意{HOSTILE}", evil_text + "\n追加" + HOSTILE,
                  T0 + timedelta(days=4), built, meta={HOSTILE: HOSTILE},
                  changes=(change(ChangeKind.CHANGED, f"新增{HOSTILE}", 5, 0),))
    return built


def test_sources_overview_has_state_of_each_main_page(store: Store) -> None:
    build_archive(store)
    by_name = {s.name: s for s in Archive(store).sources()}
    assert list(by_name) == ["bj-housing", "evil-page", "hb-ai-plan", "hn-reply"]
    plan = by_name["hb-ai-plan"]
    assert plan.title == PLAN_TITLE and plan.versions == 3 and plan.tags == ["hubei", "plan"]
    assert plan.last_change_kind == "metadata_changed" and plan.last_outcome == "changed"
    assert plan.last_change_at == T0 + timedelta(days=19)  # when that change was found
    failing = by_name["bj-housing"]
    assert failing.failure_streak == 2 and failing.last_outcome == "error"
    assert failing.status == "failing" and failing.last_error == "读取超时 (20s)"
    assert [s.name for s in Archive(store).sources(tag="hunan")] == ["hn-reply"]
    assert "plan" in Archive(store).tags()


def test_timeline_lists_versions_with_their_changes_and_sizes(store: Store) -> None:
    built = build_archive(store)
    archive = Archive(store)
    page_id = archive.pages("hb-ai-plan")[0].id
    timeline = archive.timeline(page_id)
    assert [e.id for e in timeline] == built.versions["hb-ai-plan"]
    assert [e.previous_id for e in timeline] == [None, *built.versions["hb-ai-plan"][:2]]
    assert [[c.kind for c in e.changes] for e in timeline] == [
        [], ["changed"], ["metadata_changed"]]
    assert timeline[1].size == len(PLAN_V2) and timeline[1].changes[0].stats["added"] == 14
    assert timeline[0].raw_size == len(built.raw[timeline[0].id])


def test_recent_changes_by_source_and_tag_and_last_change(store: Store) -> None:
    built = build_archive(store)
    archive = Archive(store)
    everything = archive.changes()
    assert len(everything) == 4 and everything[0].source == "evil-page"
    assert [c.kind for c in archive.changes(source="hb-ai-plan")] == [
        "metadata_changed", "changed"]
    assert [c.source for c in archive.changes(tag="hunan")] == ["hn-reply"]
    assert archive.changes(tag="hunan")[0].title == "答复"
    plan = built.versions["hb-ai-plan"]
    assert archive.last_change("hb-ai-plan") == (plan[1], plan[2])
    with pytest.raises(KeyError):
        archive.last_change("bj-housing")  # one version: nothing to compare
