"""A paragraph added or removed right beside a changed table row is its own paragraph.

The page is a real reply (tests/fixtures/corpus: the gov.cn reply to CPPCC proposal
4626, its 信息公开 table and body) with a small 办理情况 table in its body, as reply
pages carry.  A row's number changes and, in the same edit, a paragraph is inserted
right after the row (or removed, or a row inserted right before it): a watcher must be
told "第N段 修改" for the row and "第N+1段 新增" for the paragraph, in the change's
summary, its counts, the alert and ``monitor diff`` — not one modified paragraph that
hides the new one.  Checks run against a real HTTP server on 127.0.0.1 into a real
store (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.compose import Composer
from monitor.cli.diff import show
from monitor.compare import compare
from monitor.diff import diff_texts
from monitor.extract import extract
from monitor.render import render_text
from monitor.settings import Settings
from monitor.types import Outcome
from storage.alerts_repo import AlertsRepo
from tests.test_pipeline import ANALYST, Env, html, make_env  # noqa: F401 (fixture)

FRAGMENT = (Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
            / "sql-fragment__www-gov-cn__tian-dafu-4626__metadata-table.fragment.html")
TITLE = "国务院办公厅对全国政协十届四次会议第4626号提案的答复"
ANCHOR = "经研究，答复如下：</p>"  # the body's first paragraph; the table follows it
ATTACHMENT = "附件：办理情况统计表.ofd"


def reply(*rows: tuple[str, str], after: str = "") -> str:
    """The real reply page with a table of ``rows`` after its first paragraph and the
    paragraph ``after`` (if any) right after the table."""
    page = FRAGMENT.read_text(encoding="utf-8")
    assert ANCHOR in page
    cells = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    inserted = f"<table>{cells}</table>" + (f"<p>{after}</p>" if after else "")
    return (f'<html><head><meta charset="utf-8"><title>{TITLE}</title></head><body>'
            + page.replace(ANCHOR, ANCHOR + inserted, 1) + "</body></html>")


BEFORE = reply(("建议", "45"), ("提案", "38"))
AFTER = reply(("建议", "45"), ("提案", "39"), after=ATTACHMENT)


def text_of(page: str) -> str:
    return extract(page, url="http://127.0.0.1/reply.html").text


def number_of(text: str, line: str) -> int:
    """The paragraph number a reader is shown for ``line`` (non-blank lines from 1)."""
    lines = [s.strip() for s in text.split("\n") if s.strip()]
    return lines.index(line) + 1


def told(old_page: str, new_page: str) -> tuple[str, dict[str, int]]:
    d = diff_texts(text_of(old_page), text_of(new_page), timeout=10.0)
    assert d.exact
    return render_text(d, context=0), d.stats


# --- the tester's case, end to end -------------------------------------------------------


async def test_a_paragraph_inserted_after_a_changed_row_is_told_as_added(
        make_env: Callable[..., Env], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(BEFORE))
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(AFTER))

    result = await env.check()

    assert result.outcome is Outcome.CHANGED, result.summary
    row = number_of(text_of(AFTER), "提案 | 39")
    assert number_of(text_of(AFTER), ATTACHMENT) == row + 1
    [change] = env.changes()
    assert f"第{row}段修改，第{row + 1}段新增" in change.summary, change.summary
    assert (change.stats["paragraphs_modified"], change.stats["paragraphs_added"],
            change.stats["paragraphs"]) == (1, 1, 2), change.stats
    assert (change.stats["added"], change.stats["removed"]) == (len(ATTACHMENT) + 1, 1)
    body = Composer(Settings()).change(AlertsRepo(env.store).change_view(change.id or 0),
                                       ANALYST).text
    assert f"~ 第{row}段 修改: 提案 | [-38-]{{+39+}}" in body, body
    assert f"+ 第{row + 1}段 新增: {{+{ATTACHMENT}+}}" in body, body
    old, new = (v.id for v in env.versions())
    show(compare(env.store, old, new, timeout=5), "Asia/Shanghai", color=False)
    shown = capsys.readouterr().out
    assert f"~ 第{row}段 修改: 提案 | [-38-]{{+39+}}" in shown, shown
    assert f"+ 第{row + 1}段 新增: {{+{ATTACHMENT}+}}" in shown, shown


# --- its mirror and its neighbour ------------------------------------------------------


def test_a_paragraph_removed_after_a_changed_row_is_told_as_removed() -> None:
    old = reply(("建议", "45"), ("提案", "38"), after=ATTACHMENT)
    new = reply(("建议", "45"), ("提案", "39"))
    shown, stats = told(old, new)
    row = number_of(text_of(new), "提案 | 39")
    gone = number_of(text_of(old), ATTACHMENT)
    assert f"~ 第{row}段 修改: 提案 | [-38-]{{+39+}}" in shown, shown
    assert f"- 第{gone}段 删除: [-{ATTACHMENT}-]" in shown, shown
    assert (stats["paragraphs_modified"], stats["paragraphs_removed"],
            stats["paragraphs"]) == (1, 1, 2), stats


def test_a_row_inserted_before_a_changed_row_is_told_as_added() -> None:
    # the count first: the edit starts its line, the new row is the line before it
    old = reply(("件数", "类别"), ("45", "建议"), ("38", "提案"))
    new = reply(("件数", "类别"), ("45", "建议"), ("2", "议案"), ("39", "提案"))
    shown, stats = told(old, new)
    row = number_of(text_of(new), "39 | 提案")
    assert f"+ 第{row - 1}段 新增: {{+2 | 议案+}}" in shown, shown
    assert f"~ 第{row}段（原第{row - 1}段） 修改: [-38-]{{+39+}} | 提案" in shown, shown
    assert (stats["paragraphs_modified"], stats["paragraphs_added"],
            stats["paragraphs"]) == (1, 1, 2), stats
