"""Renderings of a ``TextDiff`` for mail, the web UI, plain text and the terminal.

All of them show only the changed paragraphs with ``context`` unchanged paragraphs around
them ("…" where paragraphs are left out), start with a one-line summary, and shorten
long unchanged stretches so a one-character edit in a 1,000-character paragraph reads
as a sentence, not a page.

HTML: every piece of page text goes through ``html.escape``; page text is only ever
element content, never an attribute value; styles are inline (mail clients drop
<style> and classes); no scripts, no links.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text

from monitor.diff import DELETE, EQUAL, INSERT, Op, ParagraphDiff, TextDiff

ELLIPSIS = 2  # op of a "…" standing for text left out (not page text)
EDGE = 80  # unchanged characters kept next to an edit, and of a context paragraph
KIND_WORDS = {"modified": "修改", "added": "新增", "removed": "删除", "equal": ""}

_FONT = ("font-family:-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',"
         "sans-serif;font-size:14px;line-height:1.7;color:#222")
_DEL = "background:#ffe0e0;color:#a00000;text-decoration:line-through"
_INS = "background:#d8f5d8;color:#005a00;text-decoration:none"
_GAP = "color:#999"
_LABEL = "color:#888;font-size:12px;margin-right:6px"
_P = "margin:0 0 8px 0"
_CELL = "vertical-align:top;padding:4px 8px;border:1px solid #ddd;word-break:break-all"


@dataclass(frozen=True)
class Shown:
    """A paragraph as shown: its pieces clipped; ``None`` paragraphs are "…" gaps."""

    paragraph: ParagraphDiff | None
    ops: tuple[Op, ...] = ()

    @property
    def context(self) -> bool:
        return self.paragraph is not None and self.paragraph.kind == "equal"


def summary(diff: TextDiff) -> str:
    """One line: "+35 / −12 字, 2 段落" (and a note when only paragraphs were compared)."""
    if not diff.changed:
        return "正文无变化"
    s = diff.stats
    line = f"+{s['added']} / −{s['removed']} 字, {s['paragraphs']} 段落"
    return line if diff.exact else line + " (比较超时, 按段落显示)"


def view(diff: TextDiff, *, context: int = 1) -> list[Shown]:
    """The changed paragraphs with ``context`` paragraphs around, gaps as "…"."""
    paras = diff.paragraphs
    changed = [i for i, p in enumerate(paras) if p.kind != "equal"]
    keep = sorted({j for i in changed for j in range(i - context, i + context + 1)
                   if 0 <= j < len(paras)})
    out: list[Shown] = []
    prev = -1
    for j in keep:
        if j != prev + 1:
            out.append(Shown(None))
        out.append(Shown(paras[j], _clip(paras, j)))
        prev = j
    if out and prev != len(paras) - 1:
        out.append(Shown(None))
    return out


def _clip(paras: list[ParagraphDiff], j: int) -> tuple[Op, ...]:
    p = paras[j]
    if p.kind != "equal":
        return tuple(_clip_changed(list(p.ops)))
    before = j > 0 and paras[j - 1].kind != "equal"  # a change just before this one
    after = j + 1 < len(paras) and paras[j + 1].kind != "equal"
    return tuple(_clip_equal(p.old_text, keep_head=before, keep_tail=after))


def _clip_equal(text: str, *, keep_head: bool, keep_tail: bool) -> list[Op]:
    """The side of an unchanged stretch nearest to the change(s) it borders."""
    if len(text) <= 2 * EDGE + 20:
        return [(EQUAL, text)]
    if keep_head and keep_tail:
        return [(EQUAL, text[:EDGE]), (ELLIPSIS, "…"), (EQUAL, text[-EDGE:])]
    if keep_head:
        return [(EQUAL, text[:EDGE]), (ELLIPSIS, "…")]
    return [(ELLIPSIS, "…"), (EQUAL, text[-EDGE:])]


def _clip_changed(ops: list[Op]) -> list[Op]:
    out: list[Op] = []
    last = len(ops) - 1
    for i, (op, text) in enumerate(ops):
        if op != EQUAL:
            out.append((op, text))
            continue
        out += _clip_equal(text, keep_head=i > 0, keep_tail=i < last)
    return out


# --- HTML --------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _html_ops(ops: tuple[Op, ...], *, show: tuple[int, ...] = (DELETE, EQUAL, INSERT)) -> str:
    parts: list[str] = []
    for op, text in ops:
        if op not in show and op != ELLIPSIS:
            continue
        if op == DELETE:
            parts.append(f'<del style="{_DEL}">{_esc(text)}</del>')
        elif op == INSERT:
            parts.append(f'<ins style="{_INS}">{_esc(text)}</ins>')
        elif op == ELLIPSIS:
            parts.append(f'<span style="{_GAP}">…</span>')
        else:
            parts.append(_esc(text))
    return "".join(parts)


def _label(p: ParagraphDiff) -> str:
    """``第3段 修改``: the paragraph's number (``ParagraphDiff.number``: in the new text,
    a removed one's in the old).  A paragraph in both texts whose number moved (a
    paragraph before it added or removed) says its old number too, ``第1段（原第2段）``:
    beside ``第1段 删除`` (old text's 1) a bare ``第1段`` (new text's, once 2) read as the
    same paragraph."""
    word = KIND_WORDS[p.kind]
    moved = (f"（原第{p.old_no}段）" if p.kind in ("equal", "modified") and p.old_no
             and p.new_no and p.old_no != p.new_no else "")
    return f"第{p.number}段{moved}" + (f" {word}" if word else "")


def render_html(diff: TextDiff, *, context: int = 1) -> str:
    """Inline diff: deletions struck through in red, insertions in green, in place."""
    head = f'<p style="{_P};color:#555;font-size:13px">{_esc(summary(diff))}</p>'
    rows = _html_rows(diff, context, f'<p style="{_P};{_GAP}">…</p>', lambda p, item, colour: (
        f'<p style="{_P}{colour}"><span style="{_LABEL}">{_esc(_label(p))}</span>'
        f"{_html_ops(item.ops)}</p>"))
    return f'<div style="{_FONT}">' + "\n".join([head, *rows]) + "</div>"


def _html_rows(diff: TextDiff, context: int, gap: str,
               row: Callable[[ParagraphDiff, Shown, str], str]) -> list[str]:
    """The rows of an HTML rendering: ``gap`` between shown runs, context rows greyed."""
    out = []
    for item in view(diff, context=context):
        if item.paragraph is None:
            out.append(gap)
        else:
            out.append(row(item.paragraph, item, ";color:#666" if item.context else ""))
    return out


def render_side_by_side_html(diff: TextDiff, *, context: int = 1) -> str:
    """A two-column table: the old text on the left, the new text on the right."""
    head = (f'<tr><th style="{_CELL};background:#f6f6f6;text-align:left">旧版本</th>'
            f'<th style="{_CELL};background:#f6f6f6;text-align:left">新版本</th></tr>')
    gap = f'<tr><td colspan="2" style="{_CELL};{_GAP};text-align:center">…</td></tr>'
    rows = [head, *_html_rows(diff, context, gap, lambda p, item, colour: (
        f"<tr>{_side_cell(p, item, old=True, colour=colour)}"
        f"{_side_cell(p, item, old=False, colour=colour)}</tr>"))]
    caption = (f'<caption style="text-align:left;color:#555;font-size:13px;padding:4px 0">'
               f"{_esc(summary(diff))}</caption>")
    return (f'<table style="{_FONT};border-collapse:collapse;width:100%;table-layout:fixed">'
            + caption + "\n".join(rows) + "</table>")


def _side_cell(p: ParagraphDiff, item: Shown, *, old: bool, colour: str) -> str:
    absent = p.kind == ("added" if old else "removed")
    if absent:
        return f'<td style="{_CELL};background:#fafafa"></td>'
    no = p.old_no if old else p.new_no
    label = f'<span style="{_LABEL}">第{no}段</span>' if no else ""
    show = (DELETE, EQUAL) if old else (EQUAL, INSERT)
    return f'<td style="{_CELL}{colour}">{label}{_html_ops(item.ops, show=show)}</td>'


# --- plain text and terminal ---------------------------------------------------------


_TEXT_MARK = {"modified": "~ ", "added": "+ ", "removed": "- ", "equal": "  "}


def render_text(diff: TextDiff, *, context: int = 1) -> str:
    """Plain text: ``[-deleted-]{+inserted+}`` in place, one paragraph per line."""
    lines = [summary(diff)]
    for item in view(diff, context=context):
        p = item.paragraph
        if p is None:
            lines.append("…")
            continue
        body = "".join(_text_piece(op, text) for op, text in item.ops)
        lines.append(f"{_TEXT_MARK[p.kind]}{_label(p)}: " + body.replace("\n", "\n    "))
    return "\n".join(lines) + "\n"


def _text_piece(op: int, text: str) -> str:
    if op == DELETE:
        return f"[-{text}-]"
    if op == INSERT:
        return f"{{+{text}+}}"
    return text


_STYLE: dict[int, str] = {DELETE: "bold red strike", INSERT: "bold green", EQUAL: "",
                          ELLIPSIS: "dim"}


def render_terminal(diff: TextDiff, *, context: int = 1) -> Text:
    """Coloured for a terminal (rich): red struck-through deletions, green insertions.
    Page text is appended as plain strings, so "[bold]" in a page is never markup."""
    out = Text()
    out.append(summary(diff) + "\n", style="bold")
    for item in view(diff, context=context):
        p = item.paragraph
        if p is None:
            out.append("…\n", style="dim")
            continue
        out.append(_TEXT_MARK[p.kind] + _label(p) + ": ", style="cyan")
        base = "dim" if item.context else ""
        for op, text in item.ops:
            out.append(text, style=_STYLE[op] or base)
        out.append("\n")
    return out
