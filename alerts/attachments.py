"""The attachments part of a change message: each file named with its link, then what
changed in its text.

A replaced file whose old and new versions both have text is diffed like page text
(``monitor.diff.diff_texts``, rendered as in the page diff); a file whose text could not
be read (a scan, a damaged file, one that could not be downloaded) is never diffed: the
message says "文本无法提取（reason）".  A new file shows the start of its text; a removed
one only its name and link.  A file whose link answers 404/410 (附件无法下载) says so
with the archived copy's size and SHA-256 (still downloadable from the archive); a
renamed one (附件已改名「旧」→「新」) says its bytes did not change, and its old link when
that changed too (or that its file was re-generated with the same text); neither is
diffed (the bytes, or the text, are the same), nor is a file re-generated
with the same extracted text (附件文件已更新（正文无变化）, only ever told with another
change: ``monitor.detect``).  Plain text and HTML are
made together, so every channel (email text and HTML, chat, webhook ``diff``) carries
the same content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from monitor.detect import attachment_label
from monitor.diff import diff_texts
from monitor.render import render_html, render_text
from storage.records import StoredFile

EXCERPT = 1_500  # characters of a new attachment's text in the message


@dataclass(frozen=True)
class Section:
    text: str
    html: str


def facts(details: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """One fact per attachment: ("附件已修改", "答复.pdf https://…", link)."""
    out = []
    for a in details.get("attachments") or []:
        url = str(a.get("url", ""))
        name = str(a.get("name", ""))
        if a.get("change") == "renamed":
            name = f"{a.get('old_name', '')} → {name}"
        if a.get("change") == "missing":
            name = f"{name}（{a.get('missing', '')}）"
        out.append((attachment_label(a), f"{name} {url}",
                    url if url.startswith(("http://", "https://")) else None))
    return out


def sections(details: Mapping[str, Any], files: Mapping[str, StoredFile], *,
             timeout: float, context: int = 1) -> Section:
    """The text and HTML of every attachment's part of the message."""
    parts = [_one(a, files, timeout, context) for a in details.get("attachments") or []]
    return Section("\n\n".join(p.text for p in parts), "".join(p.html for p in parts))


def _one(a: Mapping[str, Any], files: Mapping[str, StoredFile], timeout: float,
         context: int) -> Section:
    label = attachment_label(a)
    name, url = str(a.get("name", "")), str(a.get("url", ""))
    was = f"「{a.get('old_name', '')}」→" if a.get("change") == "renamed" else ""
    head = f"{label}{was}「{name}」 {url}"
    if a.get("change") == "missing":  # 附件无法下载「答复.pdf」（HTTP 404，https://…）
        head = f"{label}「{name}」（{a.get('missing', '')}，{url}）"
    old, new = files.get(str(a.get("old_sha256"))), files.get(str(a.get("new_sha256")))
    body_text, body_html = _body(a, old, new, timeout, context)
    html = (f"<h3 style=\"font-size:15px;margin:16px 0 4px;\">{escape(label)}{escape(was)}「"
            f"{_link(name, url)}」</h3>{body_html}")
    return Section(f"{head}\n{body_text}".rstrip(), html)


def _body(a: Mapping[str, Any], old: StoredFile | None, new: StoredFile | None,
          timeout: float, context: int) -> tuple[str, str]:
    change = a.get("change")
    if change == "removed":
        return "", ""
    if change in ("missing", "renamed", "back", "relinked", "regenerated"):
        line = _same_file(a, new)
        return line, f"<p>{escape(line)}</p>"
    if new is None or new.status != "ok":
        reason = new.reason if new else str(a.get("new_reason") or "附件无法下载")
        line = f"文本无法提取（{reason}）"
        return line, f"<p>{escape(line)}</p>"
    if change == "changed" and old is not None and old.status == "ok":
        d = diff_texts(old.text, new.text, timeout=timeout)
        return render_text(d, context=context), render_html(d, context=context)
    excerpt = new.text[:EXCERPT] + ("…" if len(new.text) > EXCERPT else "")
    return excerpt, f'<pre style="white-space:pre-wrap;margin:0;font-family:inherit;">' \
                    f"{escape(excerpt)}</pre>"


def _same_file(a: Mapping[str, Any], stored: StoredFile | None) -> str:
    """The line under a file whose bytes did not change: why it is told, and where the
    archived copy is."""
    size = f"{stored.size} B，" if stored else ""
    copy = f"（{size}SHA-256 {str(a.get('new_sha256') or '')[:12]}）"
    moved = f"；原链接 {a['old_url']}" if a.get("old_url") else ""
    if a.get("change") == "missing":
        return (f"网页仍链接此附件，但该链接已无法下载（{a.get('missing', '')}）；"
                f"存档中的文件仍可查看和下载{copy}{moved}")
    if a.get("change") == "renamed" and a.get("old_sha256") != a.get("new_sha256"):
        return f"附件名称改变，文件已重新生成，提取的正文与存档相同{copy}{moved}"
    if a.get("change") == "renamed":
        return f"附件名称改变，文件内容未变{copy}{moved}"
    if a.get("change") == "regenerated":
        return f"附件文件已重新生成，提取的正文与存档相同{copy}{moved}"
    if a.get("change") == "relinked":
        return f"附件链接已更换，文件与存档相同{copy}{moved}"
    return f"附件链接已恢复，文件与存档相同{copy}{moved}"


def _link(name: str, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}">{escape(name or url)}</a>'
    return str(escape(name or url))
