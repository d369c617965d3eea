"""Composing messages without a database: subjects, escaping, metadata, Message-IDs."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest

from alerts.chat_markdown import md_escape
from alerts.compose import Composer, message_id
from alerts.email_mime import build_email
from alerts.message import header_safe
from monitor.settings import Settings
from storage.alerts_repo import ChangeView, VersionText
from tests.test_alerts_support import NEW_TEXT, OLD_TEXT, TITLE, URL

AT = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
HOSTILE = ('<script>window.x=1;document.title="pwned"</script>'
           '<img src="http://evil.example/t.png" onerror="window.y=1">')


def version(vid: int, text: str, title: str = TITLE, **meta: str) -> VersionText:
    return VersionText(id=vid, title=title, text=text, metadata=meta, url=URL, fetched_at=AT)


def view(old: VersionText | None, new: VersionText | None, kind: str = "changed",
         summary: str = "第3段修改") -> ChangeView:
    return ChangeView(id=7, kind=kind, summary=summary, stats={}, details={}, created_at=AT,
                      source="hn-0192", source_title=None, page_url=URL, old=old, new=new)


@pytest.fixture
def composer() -> Composer:
    return Composer(Settings())


@pytest.mark.parametrize(("raw", "safe"), [
    ("a\r\nBcc: x@y", "a Bcc: x@y"),
    ("标题\u2028第二行\u2029第三段", "标题 第二行 第三段"),
    ("\x00\x07tab\there\x1b[0m  spaces ", "tab here [0m spaces"),
    ("right\u202eto-left", "right to-left"),
])
def test_header_safe_makes_one_clean_line(raw: str, safe: str) -> None:
    assert header_safe(raw) == safe


def test_header_safe_cuts_long_titles() -> None:
    cut = header_safe("长" * 500, limit=100)
    assert len(cut) == 100 and cut.endswith("…")


def test_message_ids_are_stable_per_change_and_recipient() -> None:
    a = message_id("change", 7, "a@example.cn")
    assert a == message_id("change", 7, "A@Example.cn ")
    assert a != message_id("change", 7, "b@example.cn") != message_id("change", 8, "a@x.cn")
    assert re.fullmatch(r"<change-7\.[0-9a-f]{12}@monitor>", a)


def test_subject_names_source_title_kind_and_size(composer: Composer) -> None:
    msg = composer.change(view(version(1, OLD_TEXT), version(2, NEW_TEXT)), "a@example.cn")
    assert msg.subject == f"[monitor] hn-0192 {TITLE} — 正文修改（+1 / −1 字）"
    assert msg.message_id == message_id("change", 7, "a@example.cn")


def test_page_text_is_escaped_and_nothing_remote_is_loaded(composer: Composer) -> None:
    msg = composer.change(view(version(1, OLD_TEXT), version(2, OLD_TEXT + "\n" + HOSTILE,
                                                          title=HOSTILE)), "a@example.cn")
    assert "<script" not in msg.html.lower() and "<img" not in msg.html.lower()
    assert "&lt;script&gt;" in msg.html
    # no element loads anything: every "src=" left is inside escaped text
    assert not re.search(r"<[a-z][^<>]*\ssrc=|url\(|@import|<link", msg.html)
    assert HOSTILE in msg.text  # the plain-text part shows the text as it is


def test_metadata_changes_show_old_and_new(composer: Composer) -> None:
    old = version(1, OLD_TEXT, 文号="湘工信提案函〔2021〕254号")
    new = version(2, OLD_TEXT, title="新标题", 文号="湘工信提案函〔2021〕255号",
                  发布日期="2026-11-01")
    msg = composer.change(view(old, new, kind="metadata_changed"), "a@example.cn")
    assert "— 元数据变更" in msg.subject and "字）" not in msg.subject
    assert "文号：湘工信提案函〔2021〕254号 → 湘工信提案函〔2021〕255号" in msg.text
    assert "标题：" + TITLE + " → 新标题" in msg.text
    assert "发布日期：（无） → 2026-11-01" in msg.text
    assert "湘工信提案函〔2021〕255号" in msg.html and "新标题" in msg.html


def test_a_gone_page_composes_without_a_diff(composer: Composer) -> None:
    msg = composer.change(view(version(1, OLD_TEXT), None, kind="gone",
                               summary="页面已删除或无法访问 (HTTP 404)"), "a@example.cn")
    assert msg.subject == f"[monitor] hn-0192 {TITLE} — 页面已删除"
    assert "HTTP 404" in msg.text and URL in msg.html


def test_the_time_of_a_change_names_its_zone() -> None:
    old, new = version(1, OLD_TEXT), version(2, NEW_TEXT)
    shanghai = Composer(Settings()).change(view(old, new), "a@example.cn")
    assert "检测时间：2026-11-01 08:30 +08:00" in shanghai.text
    utc = Composer(Settings(timezone="UTC")).change(view(old, new), "a@example.cn")
    assert "检测时间：2026-11-01 00:30 +00:00" in utc.text


def test_the_html_uses_inline_styles_and_a_cjk_font_stack(composer: Composer) -> None:
    html = composer.change(view(version(1, OLD_TEXT), version(2, NEW_TEXT)), "a@x.cn").html
    assert "<style" not in html and "class=" not in html
    assert "PingFang SC" in html and "Microsoft YaHei" in html and "Noto Sans CJK SC" in html


def test_config_error_message_lists_the_problems(composer: Composer) -> None:
    msg = composer.config_error(["smtp_url scheme must be one of smtp", "x\r\nBcc: y"],
                                "ops@example.cn", 3)
    assert msg.subject == "[monitor] 配置错误：2 个问题"
    assert "sources.toml：取值格式不对\n技术细节：smtp_url scheme must be one of smtp" in msg.text
    assert "\nBcc:" not in msg.text and msg.message_id.startswith("<config-3.")


def test_markdown_escape_keeps_page_text_from_forming_links() -> None:
    assert md_escape("[点我](http://x) **b** <a>") == r"\[点我\](http://x) \*\*b\*\* \<a\>"
    assert md_escape("# 标题 #1 ~~删~~") == r"\# 标题 #1 \~\~删\~\~"


# Chinese, mixed ASCII/Chinese, full-width punctuation, spaces at every offset, and text
# that looks like an encoded word (page titles are untrusted).
TITLE_SEEDS = ["答复", TITLE, "关于 2026 年 AI 产业（第2批）项目的公示——附件：名单。",
               "Notice：湖南 省 · 工信厅 “答复” [2026] No.12 ！",
               "=?utf-8?b?5rWL6K+V?= 与 =?UTF-8?Q?a=20b?= 标题"]
HEADERS = {"Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted",
           "X-Auto-Response-Suppress", "X-Monitor-Event", "MIME-Version", "Content-Type"}


def sent_subject(raw: bytes) -> str:
    """The Subject a receiver reads, after checking the header block is well formed."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(len(line) <= 78 for line in head), max(head, key=len)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert set(parsed.keys()) == HEADERS and len(parsed.get_all("Subject") or []) == 1
    return str(parsed["Subject"])


@pytest.mark.parametrize("seed", TITLE_SEEDS,
                         ids=["reply", "proposal", "mixed", "ascii-first", "ew-lookalike"])
def test_the_subject_survives_mime_encoding_for_every_title_length(
        composer: Composer, seed: str) -> None:
    for length in range(1, 121):
        title = (seed * 120)[:length].strip() or "答"
        msg = composer.change(view(version(1, OLD_TEXT), version(2, NEW_TEXT, title=title)),
                              "a@example.cn")
        assert msg.subject == f"[monitor] hn-0192 {title} — 正文修改（+1 / −1 字）"
        raw = build_email(msg, "monitor <m@localhost>", "a@example.cn").as_bytes()
        assert sent_subject(raw) == msg.subject, (length, title)


def test_a_hostile_subject_stays_one_header_line_after_encoding(composer: Composer) -> None:
    title = "答复\r\nBcc: victim@evil.example\u2028X-Evil: 1 " + "长" * 200
    msg = composer.change(view(version(1, OLD_TEXT), version(2, NEW_TEXT, title=title)),
                          "a@example.cn")
    raw = build_email(msg, "monitor <m@localhost>", "a@example.cn").as_bytes()
    assert sent_subject(raw) == msg.subject and "Bcc: victim@evil.example X-Evil" in msg.subject


def test_the_context_of_a_deleted_first_paragraph_names_its_own_number(
        composer: Composer) -> None:
    """Paragraph 1 deleted: the paragraph after it is the new text's 1st but was the 2nd;
    the alert says both, not 第1段 twice as if it were the deleted one."""
    old = version(1, "第一段：本条已废止。\n第二段：申请人应当提交材料。\n第三段：附则。")
    new = version(2, "第二段：申请人应当提交材料。\n第三段：附则。")
    msg = composer.change(view(old, new, kind="removed", summary="删除第1段"),
                          "a@example.cn")
    assert "- 第1段 删除: [-第一段：本条已废止。-]" in msg.text
    assert "  第1段（原第2段）: 第二段：申请人应当提交材料。" in msg.text, msg.text
    assert "第1段（原第2段）" in msg.html


def test_a_change_that_could_not_be_composed_is_tried_again_for_the_next_recipient() -> None:
    """``Composer.sharing`` keeps what was composed, never a failure (the database may
    be back for the next recipient of the change)."""
    from alerts.compose import Shared

    shared, tries = Shared(), []

    def make() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("database away")
        return "composed"

    with pytest.raises(RuntimeError):
        shared.get(("change", 7, None), make)
    assert shared.get(("change", 7, None), make) == "composed"
    assert shared.get(("change", 7, None), make) == "composed"
    assert len(tries) == 2
