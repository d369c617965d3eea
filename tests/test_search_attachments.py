"""Attachment text is folded for search as page text is (``storage/fold.py``): a 文号
typed in any bracket, width or punctuation form finds the attachment whose text has
another, the hit naming the attachment (SQLite and PostgreSQL), and files stored before
migration 0009 are found too."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner

from monitor.config import SourceConfig
from monitor.types import AttachmentFile
from storage import Store, db
from storage.search import Search
from tests.conftest import write_sources
from tests.test_archive_data import T0, Built, store_version

SRC = SourceConfig(name="hn-proposal", url="http://127.0.0.1:9/proposal.html")
NUMBER = "湘工信提案函〔2021〕２５４号"  # as the PDF prints it: 〔〕 and full-width digits
FORMS = ["湘工信提案函(2021)254号", "湘工信提案函〔2021〕254号", "湘工信提案函[2021]254号",
         "湘工信提案函（2021）254号", "湘工信提案函［2021］２５４号", "提案函 (2021) 254号",
         "湘工信提案函〔2021〕２５４号"]


def _with_attachment(store: Store) -> int:
    store.sync_sources([SRC])
    body = b"%PDF-1.4 reply"
    pdf = AttachmentFile(url="http://127.0.0.1:9/files/reply.pdf", name="答复函.pdf",
                         sha256=hashlib.sha256(body).hexdigest(), fmt="pdf",
                         size=len(body), body=body, title="关于第254号提案的答复",
                         text=f"湖南省工业和信息化厅\n{NUMBER}\n对省政协提案的答复。")
    built = Built()
    store_version(store, SRC, "提案答复", "提案答复公开。", T0, built)
    return store_version(store, SRC, "提案答复", "提案答复公开。附件：答复函", T0 +
                         timedelta(days=1), built, files=(pdf,))


def _found(store: Store, query: str) -> list[tuple[int, str, str]]:
    hits = Search(store).search(query, group=True).hits
    return [(h.version_id, h.field, (h.attachment or {}).get("name", "")) for h in hits]


def test_every_form_of_a_number_finds_the_attachment(store: Store) -> None:
    vid = _with_attachment(store)
    for query in FORMS:
        assert _found(store, query) == [(vid, "attachment", "答复函.pdf")], query
    [hit] = Search(store).search("湘工信提案函(2021)254号").hits
    assert "<mark>湘工信提案函〔2021〕２５４号</mark>" in hit.passage.html()
    assert _found(store, "湘工信提案函(2021)255号") == []
    assert _found(store, "提案函(2021") == [(vid, "attachment", "答复函.pdf")]
    assert _found(store, "提案函2021") == []  # a bracket keeps what it parts apart
    assert _found(store, "第254号提案") == [(vid, "attachment", "答复函.pdf")]  # its title
    assert _found(store, "工业") == [(vid, "attachment", "答复函.pdf")]  # short: as typed


def test_the_cli_names_the_attachment_of_a_folded_hit(store: Store, tmp_path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli import cli

    _with_attachment(store)
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    out = CliRunner().invoke(cli, ["search", "湘工信提案函(2021)254号", "--sources",
                                   str(write_sources(tmp_path / "sources.toml", ""))])
    assert out.exit_code == 0, out.output
    assert "附件「答复函.pdf」" in out.output and "hn-proposal · 第2版" in out.output


def test_files_stored_before_the_migration_are_found(db_url: str) -> None:
    store = Store(db_url)
    vid = _with_attachment(store)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    store.close()
    store = Store(db_url)  # migrates to head again: 0009 folds the stored files
    try:
        assert _found(store, "湘工信提案函(2021)254号") == [(vid, "attachment", "答复函.pdf")]
        assert _found(store, "第254号提案") == [(vid, "attachment", "答复函.pdf")]
    finally:
        store.close()
