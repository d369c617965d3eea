"""Version text stored as shared paragraphs (migration 0006): exact round trips, each
distinct line stored once per page, an existing database converted, 文号 in any form."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from storage import Store, db, paragraphs
from storage.models import Paragraph, Version
from storage.search import Search
from tests.test_archive_data import REPLY, Built, store_version

T0 = datetime(2026, 5, 1, tzinfo=UTC)
WENHAO = "湘工信提案函〔2021〕254号"
TEXTS = [
    f"关于省政协提案的答复\n\n{WENHAO}\n一、加快推进制造业数字化转型。\n\n二、加强财政资金支持。\n",
    f"关于省政协提案的答复\n\n{WENHAO}\n一、加快推进制造业数字化转型。\n\n二、加强财政资金支持。\n"
    "三、新增一段：到2025年培育100家示范企业。",
    "",
    "只有一行",
    "重复\n重复\n重复\n\n\n",
]


def test_id_lists_round_trip_compactly() -> None:
    rng = random.Random(7)
    for _ in range(200):
        ids = [rng.randrange(1, 10**9) for _ in range(rng.randrange(0, 30))]
        assert paragraphs.decode(paragraphs.encode(ids)) == ids
    run = list(range(5_000_000, 5_000_120))
    edited = [*run[:60], 5_000_500, *run[61:]]
    assert paragraphs.decode(paragraphs.encode(edited)) == edited
    assert len(paragraphs.encode(run)) <= 5 and len(paragraphs.encode(edited)) <= 16


def test_texts_come_back_exactly_and_each_line_is_stored_once(store: Store) -> None:
    built = Built()
    store.sync_sources([REPLY])
    ids = [store_version(store, REPLY, "答复", text, T0 + timedelta(days=i), built,
                         meta={"文号": WENHAO})
           for i, text in enumerate(TEXTS)]
    for vid, text in zip(ids, TEXTS, strict=True):
        assert store.version_text(vid) == text
        assert store.version(vid).text == text
    assert [v.size for v in store.history(REPLY.name)] == [len(t) for t in TEXTS]
    with store.session() as s:
        body = s.exec(sa.select(Paragraph.text).where(Paragraph.field == "")).all()
    distinct = {line for text in TEXTS for line in text.split("\n")}
    assert sorted(t for (t,) in body) == sorted(distinct)  # once each, however repeated
    with pytest.raises(KeyError):
        store.version_text(10**6)


def test_wenhao_is_found_in_every_form_people_type(store: Store) -> None:
    built = Built()
    store.sync_sources([REPLY])
    vid = store_version(store, REPLY, "答复", TEXTS[0], T0, built, meta={"文号": WENHAO})
    search = Search(store)
    for query in ("湘工信提案函[2021]254号", "湘工信提案函（2021）254号", "湘工信提案函(2021)254号",
                  "湘工信提案函［2021］254号", "湘工信提案函〔2021〕２５４号", "提案函【2021】254",
                  WENHAO):
        found = search.search(query)
        assert [h.version_id for h in found.hits] == [vid], query
        hit = found.hits[0]
        marked = [t for t, is_hit in hit.passage.segments() if is_hit]
        # the stored text is marked, as stored: its own brackets and digits
        assert marked and marked[0] in WENHAO and "〔2021〕254" in marked[0], (query, marked)
    assert search.search("湘工信提案函〔2022〕254号").total == 0


def test_a_hit_only_in_metadata_names_its_field(store: Store) -> None:
    built = Built()
    store.sync_sources([REPLY])
    vid = store_version(store, REPLY, "答复", "正文没有编号。", T0, built,
                        meta={"文号": WENHAO, "发布机构": "湖南省工业和信息化厅"})
    hit = Search(store).search("湘工信提案函(2021)254号").hits[0]
    assert hit.version_id == vid and hit.field == "文号"
    assert hit.passage.html() == f"文号：<mark>{WENHAO[:6]}〔2021〕254号</mark>"
    assert Search(store).search("工业和信息化厅").hits[0].field == "发布机构"
    assert Search(store).search("正文没有").hits[0].field == "text"


# --- migration 0006 on a database made at 0005 ----------------------------------------

def _at(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _insert(conn: sa.Connection, table_name: str, **values: Any) -> int:
    """A row with ``values``; other required columns get a plain value of their type."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    for c in table.columns:
        if c.name in values or c.nullable or c.primary_key or c.server_default is not None:
            continue
        kind = c.type.python_type if not isinstance(c.type, sa.JSON) else dict
        values[c.name] = {int: 0, bool: False, str: "", bytes: b"", float: 0.0, dict: {},
                          datetime: T0}.get(kind, "")
    return int(conn.execute(table.insert().values(**values)).inserted_primary_key[0])


def test_a_database_at_0005_is_converted_and_reads_back_identical(db_url: str) -> None:
    engine = db.create(db_url)
    _at(engine, "0005")
    with engine.begin() as conn:
        src = _insert(conn, "sources", name="hn", url="http://127.0.0.2/a", tags=["hunan"],
                      config={}, active=True)
        page = _insert(conn, "pages", source_id=src, url="http://127.0.0.2/a", kind="page",
                       status="ok", listed=True, announce=False)
        vids = [_insert(conn, "versions", page_id=page, fetched_at=T0 + timedelta(days=i),
                        content_hash=f"{i:064d}", title="答复", text=text,
                        meta={"文号": WENHAO}, raw_codec="zstd", url="http://127.0.0.2/a")
                for i, text in enumerate(TEXTS)]
        conn.execute(sa.text("UPDATE pages SET last_version_id = :v"), {"v": vids[-1]})
    engine.dispose()
    store = Store(db_url)  # upgrades to head
    try:
        assert [store.version_text(v) for v in vids] == TEXTS
        assert store.latest_version("hn").text == TEXTS[-1]
        found = Search(store).search("湘工信提案函[2021]254号")
        assert sorted(h.version_id for h in found.hits) == vids  # its metadata has it
        assert Search(store).search("示范企业").total == 1
        with store.session() as s:
            lines = sum(len(paragraphs.decode(v.line_ids)) for v in s.exec(sa.select(Version)
                                                                            ).scalars())
            stored = s.exec(sa.select(sa.func.count()).select_from(Paragraph)
                            .where(Paragraph.field == "")).one()[0]
        assert lines == sum(len(t.split("\n")) for t in TEXTS) and stored < lines
    finally:
        store.close()


def test_downgrading_0006_puts_the_text_back(db_url: str) -> None:
    store = Store(db_url)
    built = Built()
    store.sync_sources([REPLY])
    ids = [store_version(store, REPLY, "答复", text, T0 + timedelta(days=i), built)
           for i, text in enumerate(TEXTS)]
    store.close()
    engine = db.create(db_url)
    _at(engine, "0005", down=True)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, text FROM versions")).all())
    engine.dispose()
    assert [rows[i] for i in ids] == TEXTS
