"""Brackets fold to a separator, not to nothing (``storage/fold.py``): a 文号's year and
number never join, so 第1204号 does not find 湘工信提案函〔2021〕204号 (in a page's
metadata, its text or an attachment), while every bracket form of that 文号 still finds
it, the highlight covering it as printed; and a database indexed by the old folding is
refolded by migration 0016 (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner

from monitor.config import SourceConfig
from monitor.types import AttachmentFile
from storage import Store, db
from storage.fold import FOLD_REVISION, MAPPING, fold, folding, mapping_of
from storage.search import Search
from tests.conftest import write_sources
from tests.test_archive_data import T0, Built, store_version

WENHAO = "湘工信提案函〔2021〕204号"
A = SourceConfig(name="reply-204", url="http://127.0.0.1:9/a.html")
B = SourceConfig(name="reply-1204", url="http://127.0.0.1:9/b.html")
C = SourceConfig(name="file-204", url="http://127.0.0.1:9/c.html")
FORMS = ["湘工信提案函〔2021〕204号", "湘工信提案函[2021]204号", "湘工信提案函(2021)204号",
         "湘工信提案函【2021】204号", "湘工信提案函（2021）２０４号", "〔2021〕204号"]


def _build(store: Store) -> None:
    store.sync_sources([A, B, C])
    built = Built()
    store_version(store, A, "提案答复", f"关于第204号提案的答复。\n文号：{WENHAO}", T0, built,
                  meta={"文号": WENHAO})
    store_version(store, B, "第1204号建议的答复", "关于第1204号建议的答复。", T0, built)
    body = b"%PDF-1.4 204"
    pdf = AttachmentFile(url="http://127.0.0.1:9/files/c.pdf", name="答复.pdf",
                         sha256=hashlib.sha256(body).hexdigest(), fmt="pdf", size=len(body),
                         body=body, title="答复", text=f"湖南省工业和信息化厅\n{WENHAO}\n答复。")
    store_version(store, C, "附件", "附件：答复", T0 + timedelta(days=1), built, files=(pdf,))


def _sources(store: Store, query: str) -> list[str]:
    return sorted({h.source for h in Search(store).search(query, group=True).hits})


# the folding each FOLD_REVISION stands for: a change of storage/fold.py's mapping that
# does not bump it (and add a migration refolding the indexes, as 0016, 0018) fails here
MAPPINGS = {2: "444948915bbb25e5", 3: "6aa5ca3e787c8f22"}


def _digest(mapping: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(mapping.items()), ensure_ascii=False)
                          .encode()).hexdigest()[:16]


def test_a_changed_folding_has_a_new_revision() -> None:
    assert MAPPINGS.get(FOLD_REVISION) == _digest(MAPPING), (
        "storage/fold.py's mapping changed: bump FOLD_REVISION and add a migration that "
        "refolds the stored search indexes (as 0016 does)")


def test_an_older_revision_folds_as_it_did() -> None:
    """A migration folds with the mapping of its own revision (0016's upgrade, 0018's
    downgrade: 2), whatever the folding is now."""
    assert _digest(mapping_of(2)) == MAPPINGS[2]
    assert fold("〔2021〕－２０２５") == "(2021(-2025"
    assert folding(2)("〔2021〕－～—") == "(2021(-~—"
    assert folding(1)("〔2021〕204") == "2021204"


def test_brackets_fold_to_a_separator() -> None:
    assert fold(WENHAO) == fold("湘工信提案函[2021]204号") == fold("湘工信提案函【2021】２０４号")
    assert "1204" not in fold(WENHAO) and "2021204" not in fold(WENHAO)
    assert fold("（2021）") == fold("〔2021〕") == fold("(2021)")


def test_the_number_is_not_the_year_run_into_it(store: Store) -> None:
    _build(store)
    assert _sources(store, "1204号") == ["reply-1204"]
    assert _sources(store, "第1204号") == ["reply-1204"]
    assert _sources(store, "2021204") == []
    for query in FORMS:  # every bracket form: the metadata, the text and the attachment
        assert _sources(store, query) == ["file-204", "reply-204"], query
    assert _sources(store, "《第1204号》") == ["reply-1204"]  # brackets at a term's ends
    [hit] = Search(store).search("湘工信提案函[2021]204号", source="reply-204").hits
    assert f"<mark>{WENHAO}</mark>" in hit.passage.html()
    [hit] = Search(store).search("湘工信提案函[2021]204号", source="file-204").hits
    assert hit.field == "attachment" and f"<mark>{WENHAO}</mark>" in hit.passage.html()


def test_the_json_offsets_cover_the_number_as_printed(store: Store, tmp_path,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli import cli

    _build(store)
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    sources = str(write_sources(tmp_path / "sources.toml", ""))
    out = CliRunner().invoke(cli, ["search", "1204号", "--json", "--sources", sources])
    assert out.exit_code == 0, out.output
    assert [h["source"] for h in json.loads(out.output)["hits"]] == ["reply-1204"]
    out = CliRunner().invoke(cli, ["search", "函[2021]204号", "--source", "reply-204", "--json",
                                   "--sources", sources])
    assert out.exit_code == 0, out.output
    [hit] = json.loads(out.output)["hits"]
    passage = hit["passage"]
    marked = [passage["text"][a:b] for a, b in passage["spans"]]
    assert marked == ["函〔2021〕204号"], passage


def _downgrade(store: Store, to: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, to)
    store.close()


def test_migration_0016_refolds_what_is_stored(db_url: str) -> None:
    store = Store(db_url)
    _build(store)
    _downgrade(store, "0015")  # indexed as the releases before folded: brackets deleted
    old = Store(db_url, migrate=False)
    try:  # the new folding looks a bracketed number up in an index that lacks brackets
        assert _sources(old, "湘工信提案函[2021]204号") == []
    finally:
        old.close()
    store = Store(db_url)  # migrates to head: 0016 folds the stored text again
    try:
        for query in FORMS:
            assert _sources(store, query) == ["file-204", "reply-204"], query
        assert _sources(store, "1204号") == ["reply-1204"]
        assert _sources(store, "答复") == ["file-204", "reply-1204", "reply-204"]  # pairs
    finally:
        store.close()
