"""The shortcuts of a changed check give exactly what the long way gives: the text,
metadata and notes of real pages, the challenge verdicts, the diff's paragraphs and the
numbers an edit is widened to."""

from __future__ import annotations

import random
from bisect import bisect_left
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor import challenge, noise
from monitor.diff import _NUMBER, _Numbers
from monitor.extract import extract
from monitor.extract.metadata import extract_metadata
from monitor.fetch.encoding import decode_html
from monitor.paragraphs import DELETE, EQUAL, INSERT, paragraphs_of
from tests.pages import seed_page

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
PAGES = sorted(CORPUS.glob("*.html"))


def _html(path: Path) -> str:
    return decode_html(path.read_bytes(), None)[0]


def _extracted(html: str) -> object:
    try:
        return extract(html, url="http://www.example.gov.cn/a/b.html")
    except Exception as exc:  # a page that is refused is refused the same way
        return repr(exc)


def _seed_pages() -> list[str]:
    """Generated pages: CMS chrome with a view counter (filled in or empty), share and
    print bars, the widgets the rules remove."""
    spaced = ("<html><body><div class='byline'><span>来源：本厅</span> "
              "<span>点&nbsp;击：<b>123</b></span> <span>浏\u200b览 ： 45</span></div>"
              "<div class='content'><p>为进一步加强全省工业设计中心建设，现将有关事项通知如下。</p>"
              "<p>一、各地要高度重视，认真组织申报工作，确保按时完成。</p></div></body></html>")
    return [spaced] + [seed_page(n, counter=counter, fullwidth=wide).decode()
                       for n in range(4) for counter in (1234, None) for wide in (False, True)]


def test_widget_holders_skipped_unread_change_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    htmls = [_html(p) for p in PAGES] + _seed_pages()
    fast = [_extracted(h) for h in htmls]
    monkeypatch.setattr(noise, "_surely_not_widget", lambda plain: False)
    monkeypatch.setattr(noise, "_mark_long", lambda node, long: None)  # every text read
    slow = [_extracted(h) for h in htmls]
    assert fast == slow
    assert any(not isinstance(e, str) and any("view counter" in n for n in e.removed)
               for e in fast)


def test_metadata_of_a_body_is_that_of_its_copy_and_leaves_it_as_it_was() -> None:
    for path in PAGES:
        tree = LexborHTMLParser(_html(path))
        if tree.body is None:
            continue
        for body in (tree.body, _without_scripts(tree)):
            before = body.html
            assert extract_metadata(body) == extract_metadata(body.clone()), path.name
            assert body.html == before, path.name


def _without_scripts(tree: LexborHTMLParser) -> object:
    copy = LexborHTMLParser(tree.html or "")
    noise.drop_non_content(copy.root)
    return copy.body


def test_one_reading_answers_both_challenge_questions() -> None:
    for path in PAGES:
        html = _html(path)
        for content in ((), ("div.content",)):
            challenge._last = None
            alone = challenge.detect_challenge(html, status=200, headers={}, content=content)
            challenge.detect_soft_404(html)  # the pipeline asks this first
            shared = challenge.detect_challenge(html, status=200, headers={},
                                                content=content)
            assert shared == alone, path.name
        challenge._last = None
        assert challenge.detect_soft_404(html) == challenge.detect_soft_404(html + " ")


def _numbers_around(text: str, p: int) -> tuple[int, int] | None:
    """The reference: every number of the text, then the one at ``p``."""
    spans = [m.span() for m in _NUMBER.finditer(text)]
    i = bisect_left([s for s, _ in spans], p) - 1
    return spans[i] if i >= 0 and spans[i][1] > p else None


def test_numbers_found_where_asked_are_the_numbers_of_the_whole_text() -> None:
    rng = random.Random(12)
    alphabet = "0123456789０９.,．%％ 年月日a第-"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        found = _Numbers(text)
        for p in range(len(text) + 1):
            assert found.around(p) == _numbers_around(text, p), (text, p)


def test_unchanged_lines_make_the_paragraphs_a_character_diff_makes() -> None:
    rng = random.Random(5)
    words = ["一、总体要求", "第2条 2026年", "", "  ", "补充说明：已完成1000项。", "abc"]
    for _ in range(300):
        ops: list[tuple[int, str]] = []
        for _ in range(rng.randrange(1, 8)):
            op = rng.choice((EQUAL, EQUAL, DELETE, INSERT))
            text = "\n".join(rng.choice(words) for _ in range(rng.randrange(1, 4)))
            ops.append((op, text + rng.choice(("\n", "", "\n\n"))))
        ops = [(op, t) for op, t in ops if t]
        old_len = sum(len(t) for op, t in ops if op != INSERT)
        new_len = sum(len(t) for op, t in ops if op != DELETE)
        # one character per op: never a whole unchanged line, always the general path
        chars = [(op, c) for op, t in ops for c in t]
        assert paragraphs_of(ops, old_len, new_len) == \
            paragraphs_of(chars, old_len, new_len), ops



def _walk_node_by_node(root: object) -> list[object]:
    """metadata._walk as it was: every element's children split, one selector query
    per inline element with children."""
    from monitor.extract.metadata import _BLOCK_SELECTOR, _BLOCKS, _line

    def holds_blocks(node: object) -> bool:
        return next(node.iter(), None) is not None \
            and node.css_first(_BLOCK_SELECTOR) is not None

    def split(node: object) -> list[object]:
        parts: list[object] = []
        run: list[str] = []
        for child in node.iter(include_text=True):
            if child.is_comment_node:
                continue
            if child.is_text_node or (child.tag not in _BLOCKS and not holds_blocks(child)):
                run.append(child.text_content if child.is_text_node else child.text())
                continue
            parts.append(_line("".join(run)))
            run = []
            if child.tag != "br":
                parts.append(child)
        parts.append(_line("".join(run)))
        return [p for p in parts if not isinstance(p, str) or p]

    out: list[object] = []
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif item.tag == "tr" and item.css_first("table") is None:
            out.append([_line(c.text()) for c in item.iter() if c.tag in ("td", "th")])
        else:
            stack.extend(reversed(split(item)))
    return out


def test_metadata_lines_of_whole_paragraphs_are_those_of_their_children() -> None:
    from monitor.extract.metadata import _walk

    tricky = ("<html><body><p>索引号<!-- x -->：<span>430S00</span><br>发布机构：本厅</p>"
              "<div>文号<span><b>湘工信〔2021〕</b>254号</span><p>成文日期：2021年</p>末</div>"
              "<span>标题：<div>块</div>尾</span><table><tr><td>分类</td><td>通知</td></tr>"
              "</table><pre>a\n b</pre></body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]
    lines = 0
    for html in htmls:
        tree = LexborHTMLParser(html)
        if tree.body is None:
            continue
        noise.drop_non_content(tree.root)
        walked = _walk(tree.body)
        assert walked == _walk_node_by_node(tree.body)
        lines += len(walked)
    assert lines > 1000


def test_elements_read_whole_lay_out_as_their_nodes_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import layout

    tricky = ("<html><body><div><p>人工\n  智能<!-- x --><span>a<b>b</b></span></p>"
              "<p><span>一<br>二</span><img alt='x'>三</p><pre>a\n b<span>c\nd</span></pre>"
              "<table><tr><td><span>名称</span></td><td>值<p>段</p></td></tr>"
              "<tr><td>甲</td><td><i>乙</i></td></tr></table><font><font>深</font></font>"
              "<p></p><span></span>尾</div></body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]

    def rendered() -> list[object]:
        out: list[object] = [_extracted(h) for h in htmls]
        for html in htmls:
            body = LexborHTMLParser(html).body
            out.append(layout.render(body) if body is not None else None)
        return out

    fast = rendered()
    monkeypatch.setattr(layout, "_holding_special",
                        lambda root: {n.mem_id for n in root.traverse()})  # none read whole
    assert fast == rendered()
    assert "人工智能ab" in fast[-1] and "一\n二三\na\n b" in fast[-1]


def test_blank_bodies_and_placeholders_are_told_as_the_patterns_tell_them() -> None:
    bodies = ["", " \n\t\u3000\x1c\x85\u2028", "  İ  ", "\u00a0" * 10 + "x", " " * 200_001 + "x",
              "${page.title}", "$!{a.b(1)}", "<%= title %>", "<% x %>", "costs $5 and <b>",
              "{{a}} {{ b }} {{c.d}}", "< % not one", "$ {a.b}"]
    made = len(bodies)
    bodies += [_html(p) for p in PAGES] + _seed_pages()
    told = 0
    for i, body in enumerate(bodies):
        page = challenge._Page(title="", text=body, links="", status=200, headers={}, html=body)
        blank = not body[:challenge._SCAN].lower().strip()
        assert (challenge._empty(page) == "empty body") == blank
        found = challenge._PLACEHOLDER.search(body)
        assert (challenge._placeholder(body, "") is None) == (
            found is None and len(challenge._MUSTACHE.findall(body)) < 3)
        told += (blank + (found is not None)) * (i < made)
    assert told == 7  # 3 blank, 4 placeholders among the made-up bodies


def _store_history(url: str, texts: list[str], *, read_first: bool) -> dict[str, list]:
    """The rows of a page whose versions are ``texts``, stored as a check stores them:
    the old text read first (the diff's read, which ``Store`` remembers) or not."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from monitor.config import SourceConfig
    from storage import Store
    from storage.records import CheckRecord, NewVersion

    store = Store(url)
    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for n, text in enumerate(texts):
            state = store.page_state(src)
            if read_first and state.last is not None:
                assert state.last.text == texts[n - 1]
            raw = f"<html><body>{text}</body></html>".encode()
            when = at + timedelta(hours=n)
            version = NewVersion(
                content_hash=hashlib.sha256(text.encode()).hexdigest(), title="通知",
                text=text, metadata={"发布机构": "本厅"}, raw=raw,
                raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200, headers={},
                url=src.url, charset="utf-8", fetched_at=when)
            store.commit_check(CheckRecord(
                page_id=state.page_id,
                expected_last_version_id=state.last.id if state.last else None,
                expected_revision=state.revision, started_at=when, duration=0.1,
                outcome="changed" if state.last else "new", version=version))
        with store.engine.connect() as c:
            return {table: [tuple(r) for r in c.execute(sa.text(
                f"SELECT {cols} FROM {table} ORDER BY 1, 2"))] for table, cols in (
                ("paragraphs", "id, page_id, digest, field, text"),
                ("paragraph_spans", "paragraph_id, first_number, page_id, last_number"),
                ("versions", "id, number, line_ids, field_ids, text_sha256, record_hash"))}
    finally:
        store.close()


def test_lines_known_from_the_diffs_read_store_the_rows_the_lookup_stores(
        db_url: str, tmp_path: Path) -> None:
    """A changed version's lines found among those of the old text the diff read
    (``paragraphs.LinesRead``) get the ids, spans and seals that digests and a lookup
    give: lines kept, moved, repeated, removed, new, blank, and a line that comes back
    from an older version (known to the page, not to the last version)."""
    rng = random.Random(7)
    base = [f"第{i}条　各市州人民政府要落实第{i % 5}项措施。" for i in range(40)]
    texts = ["\n".join(base)]
    for n in range(8):
        lines = texts[-1].split("\n")
        lines.insert(rng.randrange(len(lines)), f"新增第{n}段：补充说明。")
        lines.pop(rng.randrange(len(lines)))
        lines.insert(rng.randrange(len(lines)), "")
        lines.append(lines[rng.randrange(len(lines))])  # a repeat
        if n == 5:
            lines.insert(3, base[0])  # back from the first version
        texts.append("\n".join(lines))
    if db_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'other.db'}"
    else:  # a second database on the same server
        other = db_url  # read_first=False below runs after a fresh schema
    fast = _store_history(db_url, texts, read_first=True)
    if other == db_url:
        import sqlalchemy as sa

        from storage import Store

        s = Store(db_url, migrate=False)
        with s.engine.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE"))
            c.execute(sa.text("CREATE SCHEMA public"))
        s.close()
    slow = _store_history(other, texts, read_first=False)
    assert fast == slow
    assert len(fast["versions"]) == len(texts)
