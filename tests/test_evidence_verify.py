"""Verifiable history: each version's hashes and chain, ``monitor verify`` catching a
changed body, a changed text and a deleted version (SQLite and PostgreSQL), and
migration 0007 sealing versions stored before it."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from sqlalchemy import text

from storage import Store, db, paragraphs, rawcodec
from storage.verify import canonical_time, verify
from tests.conftest import write_sources
from tests.test_archive_data import PLAN, REPLY, T0, Built, build_archive, store_version


def documented_record_hash(url: str, number: int, fetched_at: str, raw_sha256: str,
                           text_sha256: str, meta: dict[str, str], previous: str,
                           title: str | None = None,
                           attachments: list[dict[str, object]] | None = None) -> str:
    """The record hash exactly as README's procedure tells a third party to compute it:
    format 2 (new versions) with the title and attachment list, else format 1."""
    record: dict[str, object] = {
        "format": "monitor-record-1", "url": url, "version": number,
        "fetched_at": fetched_at, "raw_sha256": raw_sha256, "text_sha256": text_sha256,
        "meta": meta, "previous": previous}
    if title is not None:
        record.update(format="monitor-record-2", title=title, attachments=[
            {"name": a["name"], "url": a["url"], "sha256": a["sha256"] or None}
            for a in attachments or []])
    data = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def test_each_version_records_its_hashes_numbered_and_chained(store: Store) -> None:
    built = build_archive(store)
    previous = ""
    for number, vid in enumerate(built.versions[PLAN.name], 1):
        v = store.version(vid)
        assert v.number == number
        assert v.raw_sha256 == hashlib.sha256(built.raw[vid]).hexdigest()
        assert v.text_sha256 == hashlib.sha256(v.text.encode("utf-8")).hexdigest()
        at = built.fetched[vid].strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        assert v.record_hash == documented_record_hash(
            v.url, number, at, v.raw_sha256, v.text_sha256, v.metadata, previous,
            v.title, list(v.attachments))
        previous = v.record_hash
    assert [v.number for v in store.history(REPLY.name)] == [1, 2]
    report = verify(store)
    assert report.ok, report.problems
    assert (report.pages, report.versions) == (4, sum(len(v) for v in built.versions.values()))


def _exec(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def change_body(store: Store, built: Built, vid: int) -> None:
    """One byte of the stored body changed, stored the way the Store stores it."""
    with store.engine.connect() as conn:
        codec, base = conn.execute(text("SELECT raw_codec, raw_base_id FROM versions "
                                        "WHERE id = :v"), {"v": vid}).one()
    raw = bytearray(built.raw[vid])
    raw[raw.index(b"<h1>") + 1] ^= 0x01
    blob = rawcodec.compress(bytes(raw), built.raw[base] if codec == "zstd-delta" else None)
    _exec(store, "UPDATE versions SET raw_body = :b WHERE id = :v", b=blob, v=vid)


def change_text(store: Store, built: Built, vid: int) -> None:
    """The version's stored text changed: one of its paragraphs left out of its list."""
    with store.engine.connect() as conn:
        blob = conn.execute(text("SELECT line_ids FROM versions WHERE id = :v"),
                            {"v": vid}).scalar_one()
    ids = paragraphs.decode(bytes(blob))
    _exec(store, "UPDATE versions SET line_ids = :b WHERE id = :v",
          b=paragraphs.encode(ids[:-1]), v=vid)


def change_paragraph(store: Store, built: Built, vid: int) -> None:
    """A stored paragraph's own text changed: every version listing it no longer matches."""
    with store.engine.connect() as conn:
        blob = conn.execute(text("SELECT line_ids FROM versions WHERE id = :v"),
                            {"v": vid}).scalar_one()
    ids = paragraphs.decode(bytes(blob))
    _exec(store, "UPDATE paragraphs SET text = text || '。' WHERE id = :p", p=ids[0])


def delete_version(store: Store, built: Built, vid: int) -> None:
    _exec(store, "DELETE FROM versions WHERE id = :v", v=vid)


@pytest.mark.parametrize("tamper", [change_body, change_text, delete_version])
def test_verify_names_the_version_that_no_longer_matches(store: Store, tamper) -> None:  # type: ignore[no-untyped-def]
    built = build_archive(store)
    first, middle, last = built.versions[PLAN.name]
    assert verify(store).ok
    tamper(store, built, middle)
    report = verify(store)
    assert not report.ok
    assert {p.source for p in report.problems} == {PLAN.name}  # other pages still match
    assert first not in {p.version_id for p in report.problems}
    whats = {(p.number, p.what) for p in report.problems}
    if tamper is change_body:
        assert whats == {(2, "原始内容与记录的 SHA-256 不符"),  # v3 is a delta against v2:
                         (3, "原始内容无法还原：它的差分基础第2版已不符")}
    elif tamper is change_text:
        assert whats == {(2, "正文与记录的 SHA-256 不符")}
    else:
        assert (2, "第2版缺失（已被删除）") in whats
        assert (3, f"原始内容无法还原：它的差分基础（version {middle}）已不存在") in whats
        assert any(p.version_id == middle for p in report.problems)  # its check names it
        # the next version's chain names the deleted one's hash: broken there
        assert any(p.version_id == last and "哈希链" in p.what for p in report.problems)
    assert verify(store, [REPLY.name]).ok  # NAME: only that source's pages


def test_a_changed_shared_paragraph_is_caught_in_every_version_listing_it(
        store: Store) -> None:
    built = build_archive(store)
    middle = built.versions[PLAN.name][1]
    with store.engine.connect() as conn:
        listing = {vid: paragraphs.decode(bytes(blob)) for vid, blob in conn.execute(
            text("SELECT id, line_ids FROM versions"))}
    first_line = listing[middle][0]  # the paragraph change_paragraph alters
    change_paragraph(store, built, middle)
    report = verify(store)
    texts = {p.version_id for p in report.problems if p.what == "正文与记录的 SHA-256 不符"}
    assert middle in texts
    assert texts == {vid for vid, ids in listing.items() if first_line in ids}


def test_a_damaged_compressed_body_is_reported_not_a_crash(store: Store) -> None:
    built = build_archive(store)
    vid = built.versions[REPLY.name][0]
    with store.engine.connect() as conn:
        blob = bytearray(conn.execute(text("SELECT raw_body FROM versions WHERE id = :v"),
                                      {"v": vid}).scalar_one())
    blob[len(blob) // 2] ^= 0xFF
    _exec(store, "UPDATE versions SET raw_body = :b WHERE id = :v", b=bytes(blob), v=vid)
    report = verify(store)
    assert [p.version_id for p in report.problems if p.number == 1] == [vid]


def test_monitor_verify_exits_1_and_says_which_version(tmp_path: Path) -> None:
    from monitor.cli import cli

    store = Store(os.environ["MONITOR_DATABASE_URL"])
    built = build_archive(store)
    sources = write_sources(tmp_path / "sources.toml", "")
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", "--sources", str(sources)])
    assert ok.exit_code == 0, ok.output
    assert "已核验 4 个页面、8 个版本" in ok.output and "全部一致" in ok.output
    change_text(store, built, built.versions[PLAN.name][1])
    store.close()
    bad = runner.invoke(cli, ["verify", "--sources", str(sources)])
    assert bad.exit_code == 1
    assert f"hb-ai-plan · 第2版 (version {built.versions[PLAN.name][1]})" in bad.output
    assert "正文与记录的 SHA-256 不符" in bad.output
    assert runner.invoke(cli, ["verify", REPLY.name, "--sources", str(sources)]).exit_code == 0
    found = json.loads(runner.invoke(cli, ["verify", "--json", "--sources",
                                           str(sources)]).output)
    assert found["ok"] is False and found["problems"][0]["number"] == 2
    missing = runner.invoke(cli, ["verify", "nope", "--sources", str(sources)])
    assert missing.exit_code == 3 and "nope" in missing.output
    by_url = runner.invoke(cli, ["verify", PLAN.url, "--sources", str(sources)])  # as history
    assert by_url.exit_code == 1 and "已核验 1 个页面、3 个版本" in by_url.output
    assert runner.invoke(cli, ["verify", REPLY.url, "--sources", str(sources)]).exit_code == 0


def test_migration_seals_versions_stored_before_it(db_url: str) -> None:
    store = Store(db_url)
    built = build_archive(store)
    sealed = {vid: store.version(vid) for vids in built.versions.values() for vid in vids}
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    store.close()
    store = Store(db_url)  # migrates to head again: 0007 seals what is there
    try:
        previous: dict[int, str] = {}
        for vid, before in sealed.items():
            after = store.version(vid)
            assert (after.number, after.text_sha256) == (before.number, before.text_sha256)
            # sealed by the migration in format 1 (what versions before it had)
            assert after.record_hash == documented_record_hash(
                after.url, after.number, canonical_time(after.fetched_at), after.raw_sha256,
                after.text_sha256, after.metadata, previous.get(after.page_id, ""))
            previous[after.page_id] = after.record_hash
            assert after.record_format == "monitor-record-1"
        assert verify(store).ok
        # a version stored now is format 2, chained to the format-1 one before it
        newer = store_version(store, PLAN, "规划（修订）", "新的正文", T0 + timedelta(days=40),
                              built)
        assert store.version(newer).record_format == "monitor-record-2"
        assert verify(store).ok
        _exec(store, "UPDATE versions SET title = 'x' WHERE id = :v", v=newer)
        assert [p.version_id for p in verify(store).problems] == [newer]
    finally:
        store.close()


def body_as_text(store: Store, built: Built, vid: int) -> None:
    """The raw body column overwritten with TEXT (SQLite stores it as TEXT; PostgreSQL
    casts the literal to a bytea holding those three bytes)."""
    _exec(store, "UPDATE versions SET raw_body = 'abc' WHERE id = :v", v=vid)


def lines_as_text(store: Store, built: Built, vid: int) -> None:
    _exec(store, "UPDATE versions SET line_ids = 'abc' WHERE id = :v", v=vid)


@pytest.mark.parametrize("tamper", [body_as_text, lines_as_text])
def test_a_column_overwritten_with_text_is_reported_and_the_rest_still_checked(
        store: Store, tamper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from monitor.cli import cli

    built = build_archive(store)
    middle = built.versions[PLAN.name][1]
    tamper(store, built, middle)
    report = verify(store)
    assert (report.pages, report.versions) == (4, 8)  # carried on past it
    assert {p.source for p in report.problems} == {PLAN.name}
    mine = [p for p in report.problems if p.version_id == middle]
    assert [p.number for p in mine] == [2]
    expected = "原始内容" if tamper is body_as_text else "正文"
    assert mine[0].what.startswith(expected), mine
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    out = CliRunner().invoke(cli, ["verify", "--sources",
                                   str(write_sources(tmp_path / "sources.toml", ""))])
    assert out.exit_code == 1, out.output
    assert f"hb-ai-plan · 第2版 (version {middle})" in out.output
    assert "Traceback" not in out.output and "已核验 4 个页面、8 个版本" in out.output


def test_a_null_body_cannot_be_stored(store: Store) -> None:
    """NULL instead of a body: both databases refuse it (raw_body is NOT NULL), so a
    version can lose its body only to other bytes, which verify reports above."""
    from sqlalchemy.exc import IntegrityError

    built = build_archive(store)
    with pytest.raises(IntegrityError):
        _exec(store, "UPDATE versions SET raw_body = NULL WHERE id = :v",
              v=built.versions[PLAN.name][1])
    assert verify(store).ok


def _sqlite_only(store: Store) -> None:
    if not store.url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses these bytes in a text or json column")


def paragraph_as_bytes(store: Store, built: Built, vid: int) -> None:
    """A paragraph's text overwritten with non-UTF-8 bytes (SQLite keeps a BLOB there)."""
    _sqlite_only(store)
    with store.engine.connect() as conn:
        blob = conn.execute(text("SELECT line_ids FROM versions WHERE id = :v"),
                            {"v": vid}).scalar_one()
    _exec(store, "UPDATE paragraphs SET text = X'FF00FE' WHERE id = :p",
          p=paragraphs.decode(bytes(blob))[-1])


def meta_null(store: Store, built: Built, vid: int) -> None:
    _exec(store, "UPDATE versions SET meta = 'null' WHERE id = :v", v=vid)  # JSON null


def meta_a_list(store: Store, built: Built, vid: int) -> None:
    _exec(store, "UPDATE versions SET meta = '[1,2]' WHERE id = :v", v=vid)


def meta_not_json(store: Store, built: Built, vid: int) -> None:
    _sqlite_only(store)
    _exec(store, "UPDATE versions SET meta = 'not json' WHERE id = :v", v=vid)


def body_not_utf8_text(store: Store, built: Built, vid: int) -> None:
    """SQLite: ``||`` turns the body into TEXT holding a NUL and non-UTF-8 bytes, which
    the driver cannot even read as a string."""
    _sqlite_only(store)
    _exec(store, "UPDATE versions SET raw_body = substr(raw_body,1,40)||X'00'||"
          "substr(raw_body,42) WHERE id = :v", v=vid)


@pytest.mark.parametrize("tamper", [paragraph_as_bytes, meta_null, meta_a_list,
                                    meta_not_json, body_not_utf8_text])
def test_unreadable_columns_name_the_version_and_the_rest_is_checked(
        store: Store, tamper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from monitor.cli import cli

    built = build_archive(store)
    first, middle, _last = built.versions[PLAN.name]
    tamper(store, built, middle)
    report = verify(store)
    assert (report.pages, report.versions) == (4, 8)
    assert {p.source for p in report.problems} == {PLAN.name}
    assert middle in {p.version_id for p in report.problems}
    assert first not in {p.version_id for p in report.problems}
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    sources = str(write_sources(tmp_path / "sources.toml", ""))
    out = CliRunner().invoke(cli, ["verify", "--sources", sources])
    assert out.exit_code == 1, out.output
    assert f"hb-ai-plan · 第2版 (version {middle})" in out.output
    assert "Traceback" not in out.output and "已核验 4 个页面、8 个版本" in out.output
    as_json = CliRunner().invoke(cli, ["verify", "--json", "--sources", sources])
    assert as_json.exit_code == 1
    assert middle in {p["version_id"] for p in json.loads(as_json.output)["problems"]}


def test_a_broken_format_2_record_is_recomputed_in_format_2_too(store: Store) -> None:
    """A version sealed in monitor-record-2 whose title was changed: the detail gives the
    hash recomputed in format 2 (what it was sealed in), not only in format 1."""
    built = build_archive(store)
    vid = built.versions[PLAN.name][0]
    assert store.version(vid).record_format == "monitor-record-2"
    _exec(store, "UPDATE versions SET title = title || '（改）' WHERE id = :v", v=vid)
    [problem] = [p for p in verify(store).problems if p.version_id == vid]
    assert "哈希链" in problem.what
    assert "按格式 2（monitor-record-2）重算 " in problem.detail
    assert "按格式 1（monitor-record-1）重算 " in problem.detail
    assert "（格式 1）" not in problem.detail
