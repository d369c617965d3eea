"""Markup is never a change (issue 11, item 1).

A version is identified by the canonical form of its title, text and metadata
(``monitor.canon``) and stored with the page's own characters.  Property tests over every
page of tests/fixtures/corpus/cn-gov and the seed pages: each markup-only rewrite of
tests/retemplate.py (metadata list ↔ table, indents, full ↔ half-width punctuation,
wrapper elements, attributes and classes, nav and footer) hashes the same, and a
one-character edit of the text never does.  Then the re-templated reply page end to
end through the pipeline, on SQLite and PostgreSQL, and a version stored before the
upgrade (old hash, old normalization) that must stay unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from sqlmodel import select

from monitor.canon import canonical_text
from monitor.detect import detect_change, snapshot
from monitor.extract import extract
from monitor.types import Outcome, Snapshot
from storage import paragraphs
from storage.models import Version
from tests.pages import seed_page
from tests.retemplate import REWRITES, edits, reply_page
from tests.test_pipeline import ANALYST, Env, html, make_env  # noqa: F401 (fixture)

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
# A challenge page (no content: the pipeline refuses it before extraction).
NOT_CONTENT = {"bjjs-zjw-beijing__antibot-redirect-gbk__20190524.html"}
# Pages without an article: their content is the whole body, nav and footer included,
# so a new nav or footer is a change of the content (a source sets `content` for them).
WHOLE_BODY = {"bjjs-zjw-beijing__fwjy-stats__20200326.html",
              "bjjs-zjw-beijing__fwjy-stats__20200327.html"}


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


PAGES: dict[str, Callable[[], str]] = {
    **{p.name: (lambda p=p: _decode(p.read_bytes()))
       for p in sorted(CORPUS.iterdir()) if p.name not in NOT_CONTENT},
    **{f"seed-{n}": (lambda n=n: seed_page(n).decode("utf-8")) for n in range(4)},
    "reply-template-1": lambda: reply_page(1), "reply-template-2": lambda: reply_page(2),
}


def snap(page: str) -> Snapshot:
    got = extract(page)
    return snapshot(got.title, got.text, got.metadata)


@cache
def base(name: str) -> tuple[str, Snapshot]:
    page = PAGES[name]()
    return page, snap(page)


def everything(page: str) -> str:
    """Every rewrite at once (full-width punctuation, not both widths)."""
    for name in ("full-width", "indent-ideographic", "wrappers", "attributes",
                 "nav-footer", "table-to-list"):
        page = REWRITES[name](page)
    return page


@pytest.mark.parametrize("name", PAGES)
def test_markup_only_rewrites_never_change_a_version(name: str) -> None:
    page, before = base(name)
    rewrites = {**REWRITES, "everything": everything}
    if name in WHOLE_BODY:
        del rewrites["nav-footer"], rewrites["everything"]
    changed = {}
    for label, rewrite in rewrites.items():
        after = snap(rewrite(page))
        if after.content_hash != before.content_hash:
            decision = detect_change(before, after)
            changed[label] = decision.summary if decision else "hash only"
    assert changed == {}


@pytest.mark.parametrize("name", PAGES)
def test_a_one_character_edit_always_changes_a_version(name: str) -> None:
    page, before = base(name)
    found = edits(page, before.text)
    assert found, "no character of the text found in the page to edit"
    for old, new in found:
        for edited in (page.replace(old, new), everything(page.replace(old, new))):
            if name in WHOLE_BODY and edited != page.replace(old, new):
                continue
            after = snap(edited)
            assert after.content_hash != before.content_hash, (old, new)
            decision = detect_change(before, after)
            assert decision is not None, (old, new)
            # told in the text's diff, or in the title or metadata the character was in
            told = decision.patch + json.dumps(decision.details, ensure_ascii=False)
            assert new[2] in told, (old, new)


# --- the canonical form ------------------------------------------------------------------


@pytest.mark.parametrize("layout", [
    "索引号：430S00/2021-08026431",  # <li>
    "索引号:430S00/2021-08026431",  # half-width
    "索引号： | 430S00/2021-08026431",  # table row
    "索引号 | 430S00/2021-08026431",  # th without colon
    "索引号\n430S00/2021-08026431",  # dl
    "索引号430S00/2021-08026431",  # <span>索引号</span>430S00…
    "索 引 号 ： 430S00/2021-08026431",
])
def test_a_key_value_pair_has_one_canonical_form_whatever_its_markup(layout: str) -> None:
    assert canonical_text(layout) == "索引号:430S00/2021-08026431"


def test_two_pairs_a_row_are_the_pairs_of_a_list() -> None:
    row = "索引号： | 430S00/2021-08026431 | 发布机构： | 湖南省工业和信息化厅"
    listed = "索引号:430S00/2021-08026431\n发布机构：湖南省工业和信息化厅"
    assert canonical_text(row) == canonical_text(listed)


def test_the_canonical_form_keeps_every_word_and_number() -> None:
    assert canonical_text("预计总投资66.622亿元") != canonical_text("预计总投资68.622亿元")
    assert canonical_text("（一）加强领导，") == canonical_text("(一)加强领导,")
    assert canonical_text("共１２３项") == canonical_text("共123项")
    assert canonical_text("张猛 三级主任科员") == canonical_text("张猛三级主任科员")
    assert canonical_text("and more") != canonical_text("andmore")  # Latin words stay apart
    assert canonical_text("第一段\n第二段") != canonical_text("第一段第二段")


# --- the re-templated reply page, end to end -------------------------------------------------

EDIT = ("头雁效应", "引领效应")


def test_the_retemplated_reply_page_differs_in_its_characters_not_its_words() -> None:
    one, two = extract(reply_page(1)), extract(reply_page(2))
    assert "索引号: 430S00/2021-08026431" in one.text
    assert "索引号： | 430S00/2021-08026431" in two.text  # shown as the page has it
    assert one.text != two.text and canonical_text(one.text) == canonical_text(two.text)
    assert one.metadata == two.metadata


async def test_a_retemplated_page_is_unchanged_and_a_real_edit_is_one_paragraph(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(reply_page(1)))
    assert (await env.check()).outcome is Outcome.NEW

    env.serve(html(reply_page(2)))
    result = await env.check()
    assert result.outcome is Outcome.UNCHANGED, result.summary
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []

    env.serve(html(reply_page(2, edit=EDIT)))
    result = await env.check()
    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    [change] = env.changes()
    # Every paragraph changed its punctuation and the metadata became a table: only the
    # edited paragraph is told, with the page's own characters in the stored version.
    assert re.fullmatch(r"第\d+段修改", change.summary), change.summary
    assert change.stats["paragraphs"] == 1 and len(change.details["paragraphs"]) == 1
    assert "引领" in change.patch and "头雁" in change.patch
    stored = env.store.version(env.versions()[-1].id).text
    assert "引领效应" in stored and "索引号： | 430S00/2021-08026431" in stored
    assert [a.recipient for a in env.alerts()] == [ANALYST]


def _legacy_hash(title: str, text: str, metadata: dict[str, str]) -> str:
    """content_hash as releases before monitor.canon made it: the characters as stored."""
    data = json.dumps({"title": title, "text": text, "metadata": metadata},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _legacy_text(text: str) -> str:
    """The text as the old normalization stored it: no gap between CJK characters."""
    return re.sub(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])[ \u3000]"
                  r"(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])", "", text)


async def test_a_version_stored_before_the_upgrade_is_unchanged_by_the_same_page(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    with env.store.session() as s:
        version = s.exec(select(Version)).one()
        stored = paragraphs.text_of(s, version.id or 0, version.line_ids)
        assert "张猛 三级主任科员" in stored  # kept now, closed up before
        legacy = _legacy_text(stored)
        assert "张猛三级主任科员" in legacy
        version.line_ids = paragraphs.encode(
            paragraphs.store(s, version.page_id, paragraphs.lines_of(legacy)))
        version.content_hash = _legacy_hash(version.title, legacy, dict(version.meta))
        s.add(version)
        s.commit()
    assert env.store.version_text(version.id or 0) == legacy

    result = await env.check()

    assert result.outcome is Outcome.UNCHANGED, result.summary
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []
    env.serve(html(seed_page(0, edit=EDIT)))
    assert (await env.check()).outcome is Outcome.CHANGED  # and an edit still is one
    assert len(env.alerts()) == 1
