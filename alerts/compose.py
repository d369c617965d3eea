"""Composing messages: a change (or a digest of changes, a source in trouble or recovered,
a configuration error) → one ``Message`` for one recipient.

Everything from a page (title, text, metadata) is untrusted: the subject goes through
``header_safe``, HTML is autoescaped (the diff renderer escapes its own output), chat
formats escape for their own markup.  The Message-ID is stable per (change, recipient)
so a message sent twice after a crash is recognisably the same message.

Threads: every email about one page (its changes, its trouble and recovery) carries
``In-Reply-To``/``References`` to one thread root per (page, recipient),
``<page-ID.HASH@monitor>``, derived from the two like the Message-ID.  No message is ever
sent with that id: the root is a fixed point every alert refers to, so it needs no state
(no lookup of "the first alert" in the outbox, which could be pruned, be still pending,
or differ between replicas) and mail clients that thread on ``References`` (Thunderbird,
Apple Mail, mutt) put every alert about the page in one thread under it.

Versions are named per page (第2版 → 第3版, ``AlertsRepo`` counts them); the global ids
stay in the links into the web UI, which are given when ``public_url`` is set: the diff
(``/diff?a=OLD&b=NEW``) and the version page (``/versions/ID``).

One change, many recipients: composed once.  Within ``Composer.sharing`` (a delivery
round, ``alerts.delivery``) the change as read from the store, its rendered diff and
everything its messages say alike — subject, facts, the HTML and text bodies up to the
footer, the chat and webhook pieces — are made once per (change, listing the watcher
knows it by) and kept (``Shared``); each recipient's message is then that content with
its own footer (``发给 …``), Message-ID and thread root (``Composer.addressed``): the
same bytes as composing it alone, and nothing of another recipient in it.  A digest
reuses each change's part the same way.  Outside ``sharing`` nothing is kept; what is
kept is dropped when the round ends (a round claims at most ``limit`` rows).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from alerts import attachments, templates
from alerts.message import ChatItem, Message, header_safe
from monitor import zh
from monitor.detect import attachment_label
from monitor.diff import diff_texts
from monitor.errors import DeliveryError
from monitor.extract.title import shown
from monitor.render import render_html, render_text
from monitor.settings import Settings
from monitor.types import KIND_LABELS, REREAD_BY, REREAD_WHY, exact_time, reread_cause
from storage.alerts_repo import AlertRecord, AlertsRepo, ChangeView, VersionText

MAX_DIFF_HTML = 200_000  # characters of rendered diff in one email; beyond, plain text
MAX_DIFF_TEXT = 20_000
# A change whose old side was read again (ChangeView, ``details["reread"]``): why (an
# edit of the source's settings or a monitor upgrade's reading rules, in monitor diff's
# words) and what its diff is against
REREAD_NOTES = {cause: f"{why}：旧版已按{REREAD_BY[cause]}重新提取，差异仅为页面本身的修改"
                for cause, why in REREAD_WHY.items()}
DOMAIN = "monitor"
LINK_DIFF, LINK_VERSION = "查看差异", "查看版本"
LINK_LABELS = ("网址", LINK_DIFF, LINK_VERSION)  # email facts; chat shows them as links


def _as_listed(view: ChangeView, row: AlertRecord) -> ChangeView:
    """The change as its watcher knows the page: a document two listings list is its
    owner's page, told to a watcher of the other listing under that listing's name
    (``"listing"``, ``alerts.plan``)."""
    listing = row.payload.get("listing")
    return replace(view, source=str(listing), source_title=None) if listing else view


def message_id(kind: str, key: int, recipient: str) -> str:
    digest = hashlib.sha1(recipient.strip().lower().encode()).hexdigest()[:12]
    return f"<{kind}-{key}.{digest}@{DOMAIN}>"


def thread_id(page_id: int | None, recipient: str) -> str | None:
    """The thread root of the alerts about a page for a recipient (see the module doc)."""
    return message_id("page", page_id, recipient) if page_id else None


def _to(recipient: str) -> str:
    """The footer's "sent to" part: a mail address only.  A webhook URL holds its robot's
    token and an Apprise recipient is an environment variable's name (``env:NAME``):
    neither means anything to a reader, and a forwarded message must not carry a token."""
    if "@" in recipient and "://" not in recipient and not recipient.startswith("env:"):
        return f" · 发给 {recipient}"
    return ""


def _href(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) else None


@dataclass(frozen=True)
class ChangeParts:
    """What every rendering of one change shares."""

    view: ChangeView
    title: str
    kind_label: str
    size: str  # " (+35 / −12 字)" or ""
    when: str
    facts: tuple[tuple[str, str, str | None], ...]
    meta: tuple[tuple[str, str, str], ...]  # (field, old, new)
    diff_html: str
    diff_text: str
    stats: dict[str, int]


@dataclass(frozen=True)
class ChangeMessage:
    """A change's message before it is addressed: everything but the footer's recipient,
    the Message-ID and the thread (``Composer.addressed``)."""

    common: Message  # addressed to nobody: no footer, Message-ID or thread
    html_head: str  # the HTML document up to the footer's text
    html_tail: str  # and after it
    text_head: str  # the text part up to the footer's text
    text_tail: str
    footer: str  # "monitor · 变化 #7", the recipient's part follows
    change_id: int
    page_id: int | None


T = TypeVar("T")


class Shared:
    """What a delivery round composed, by key, for every recipient that needs it.

    ``compose`` runs in threads, several at once: the first to need a key makes it, the
    others wait for it instead of making it too.  A failure is not kept (the others try
    again themselves: the database may be back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[Any, ...], Future[Any]] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        with self._lock:
            made = self._made.get(key)
            mine = made is None
            if made is None:
                made = self._made[key] = Future()
        if not mine:
            try:
                return made.result()  # type: ignore[no-any-return]
            except Exception:
                return make()
        try:
            value = make()
        except BaseException as exc:
            with self._lock:
                self._made.pop(key, None)
            made.set_exception(exc)
            raise
        made.set_result(value)
        return value


class Composer:
    def __init__(self, settings: Settings, repo: AlertsRepo | None = None) -> None:
        self.settings, self.repo = settings, repo
        self.tz = ZoneInfo(settings.timezone)
        self._shared: Shared | None = None

    @contextmanager
    def sharing(self) -> Iterator[None]:
        """Compose each change once for all its recipients until the block ends (see
        the module doc)."""
        self._shared = Shared()
        try:
            yield
        finally:
            self._shared = None

    def _kept(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        shared = self._shared
        return make() if shared is None else shared.get(key, make)

    def compose(self, batch: list[AlertRecord]) -> Message:
        """The message for one claimed batch (one row, or a digest group)."""
        first = batch[0]
        if first.event == "change" and first.payload.get("mode") == "digest":
            return self.digest(self._views(batch), first.recipient, min(r.id for r in batch))
        if first.event == "change":
            key = ("change", first.change_id, first.payload.get("listing"))
            made = self._kept(key, lambda: self.unaddressed(self._view(first)))
            return self.addressed(made, first.recipient)
        if first.event in ("trouble", "recovered"):
            return self.trouble(first)
        if first.event == "config":
            return self.config_error(first.payload.get("problems", []), first.recipient,
                                     first.id, where=first.payload)
        raise DeliveryError(f"unknown alert event {first.event!r}", permanent=True)

    def _views(self, batch: list[AlertRecord]) -> list[ChangeView]:
        """The digest's changes; one that no longer exists is left out, not the digest."""
        views = []
        for r in batch:
            try:
                views.append(self._view(r))
            except KeyError:
                continue
        return views

    def _view(self, row: AlertRecord) -> ChangeView:
        """The row's change as its watcher knows it (kept while ``sharing``)."""
        assert self.repo is not None
        repo, change_id = self.repo, row.change_id or 0
        key = ("view", change_id, row.payload.get("listing"))
        return self._kept(key, lambda: _as_listed(repo.change_view(change_id), row))

    # --- one change --------------------------------------------------------------

    def parts(self, view: ChangeView, *, context: int = 1) -> ChangeParts:
        old, new = view.old, view.new
        title = header_safe((new or old).title if (new or old) else _listed_title(view),
                            120) or view.source
        diff_html = diff_text = ""
        stats: dict[str, int] = {}
        if old is not None and new is not None and old.text != new.text:
            d = diff_texts(old.text, new.text, timeout=self.settings.diff_timeout)
            stats = _char_stats(d.stats)
            diff_html = render_html(d, context=context)
            diff_text = render_text(d, context=context)
            if len(diff_html) > MAX_DIFF_HTML:  # a whole-page rewrite: keep the mail sane
                diff_html = _pre(diff_text[:MAX_DIFF_TEXT])
        elif view.details.get("excerpt"):  # a new document: its text, to be read here
            diff_text = str(view.details["excerpt"])
            diff_html = _pre(diff_text)
        if view.details.get("attachments"):
            extra = attachments.sections(view.details, view.files, context=context,
                                         timeout=self.settings.diff_timeout)
            diff_text = f"{diff_text}\n\n{extra.text}".strip()
            diff_html += extra.html
        size = f"（+{stats['added']} / −{stats['removed']} 字）" if stats else ""
        return ChangeParts(view, title, _kind_label(view), size,
                           self.local(view.created_at), self._facts(view),
                           _meta_rows(view), diff_html, diff_text[:MAX_DIFF_TEXT], stats)

    def _facts(self, v: ChangeView) -> tuple[tuple[str, str, str | None], ...]:
        facts = [("来源", v.source, None), ("网址", v.page_url, _href(v.page_url)),
                 ("类型", _kind_label(v), None)]
        if v.summary:
            facts.append(("摘要", header_safe(v.summary, 300), None))
        cause = reread_cause(v.details)  # the old side: the old page read again
        if cause:
            facts.append(("说明", REREAD_NOTES[cause], None))
        facts += _documents(v.details)
        facts += attachments.facts(v.details)
        facts.append(("检测时间", self.local(v.created_at), None))
        if v.old and v.new:
            facts.append(("版本", f"{_nth(v.old)} → {_nth(v.new)}", None))
        return tuple(facts) + tuple((label, url, url) for label, url in self.links(v))

    def links(self, v: ChangeView) -> list[tuple[str, str]]:
        """Into the web UI at ``public_url``: the diff and the version (none when unset)."""
        base = self.settings.public_url
        if not base:
            return []
        out = []
        if v.old and v.new:
            out.append((LINK_DIFF, f"{base}/diff?a={v.old.id}&b={v.new.id}"))
        shown = v.new or v.old  # a page gone: its last version
        if shown:
            out.append((LINK_VERSION, f"{base}/versions/{shown.id}"))
        return out

    def change(self, view: ChangeView, recipient: str) -> Message:
        return self.addressed(self.unaddressed(view), recipient)

    def unaddressed(self, view: ChangeView) -> ChangeMessage:
        """What every recipient of ``view`` gets alike (see the module doc)."""
        p = self.parts(view)
        heading = f"{view.source} {p.title} — {p.kind_label}{p.size}"
        subject = header_safe(f"[monitor] {heading}", 400)
        content = templates.CHANGE.render(
            kind_label=p.kind_label, source=view.source, title=p.title, facts=p.facts,
            meta=p.meta, diff_html=p.diff_html, muted=templates.MUTED)
        footer = f"monitor · 变化 #{view.id}"
        # the footer comes last in both templates: what follows a mark in its place is
        # the templates' own text, whatever the page's text holds
        mark = f"footer-{uuid.uuid4().hex}"
        html_head, _, html_tail = templates.page(subject, content, mark).rpartition(mark)
        text_head, _, text_tail = self._text(heading, p, mark).rpartition(mark)
        common = Message(
            event="change", subject=subject, message_id="", html="", text="", title=heading,
            facts=tuple((k, v) for k, v, _ in p.facts if k not in LINK_LABELS) + tuple(
                (f, f"{o} → {n}") for f, o, n in p.meta),
            url=_href(view.page_url), body=p.diff_text or view.summary,
            data=_data(p, self.links(view)), links=tuple(self.links(view)))
        return ChangeMessage(common, html_head, html_tail, text_head, text_tail, footer,
                             view.id, view.page_id)

    def addressed(self, made: ChangeMessage, recipient: str) -> Message:
        """``made`` for ``recipient``: its footer, its Message-ID, its thread root."""
        from markupsafe import escape

        footer = f"{made.footer}{_to(recipient)}"
        return replace(made.common, message_id=message_id("change", made.change_id, recipient),
                       html=f"{made.html_head}{escape(footer)}{made.html_tail}",
                       text=f"{made.text_head}{footer}{made.text_tail}",
                       thread=thread_id(made.page_id, recipient), data=dict(made.common.data))

    def _text(self, heading: str, p: ChangeParts, footer: str) -> str:
        return templates.TEXT.render(title=heading, facts=[(k, v) for k, v, _ in p.facts],
                                     meta=p.meta, body=p.diff_text.rstrip(), footer=footer)

    # --- digests ----------------------------------------------------------------------

    def digest(self, views: list[ChangeView], recipient: str, key: int) -> Message:
        if not views:
            raise DeliveryError("digest: its changes no longer exist", permanent=True)
        parts = [self._kept(("parts", v.id, v.source, v.source_title),
                            lambda v=v: self.parts(v, context=0)) for v in views]
        sources = len({v.source for v in views})
        heading = f"变化摘要：{len(views)} 处变化（{sources} 个来源）"
        subject = header_safe(f"[monitor] {heading}", 400)
        entries = [{"kind_label": p.kind_label, "source": p.view.source, "when": p.when,
                    "url": _href(p.view.page_url), "title": p.title,
                    "summary": p.view.summary, "diff_html": p.diff_html,
                    "links": self.links(p.view)} for p in parts]
        content = templates.DIGEST.render(heading=heading, changes=entries,
                                          muted=templates.MUTED)
        footer = f"monitor · 摘要{_to(recipient)}"
        text = "\n\n".join(self._digest_entry(p) for p in parts)
        return Message(
            event="digest", subject=subject, message_id=message_id("digest", key, recipient),
            html=templates.page(subject, content, footer),
            text=f"{heading}\n\n{text}\n\n-- \n{footer}\n", title=heading,
            items=tuple(ChatItem(f"{p.view.source} {p.title}", _href(p.view.page_url),
                                 f"{p.kind_label}{p.size} {p.view.summary}".strip(),
                                 tuple(self.links(p.view)))
                        for p in parts),
            data={"changes": [_data(p, self.links(p.view)) for p in parts]})

    def _digest_entry(self, p: ChangeParts) -> str:
        links = "".join(f"{label}：{url}\n" for label, url in self.links(p.view))
        return (f"{p.view.source} {p.title} — {p.kind_label}{p.size}\n"
                f"{p.view.page_url}\n{links}{p.view.summary}\n{p.diff_text}").rstrip()

    # --- notices: trouble, recovered, configuration ------------------------------------

    def trouble(self, row: AlertRecord) -> Message:
        pl = row.payload
        source, url = str(pl.get("source", "")), str(pl.get("url", ""))
        label = "来源恢复正常" if row.event == "recovered" else "来源检查失败"
        detail = header_safe(str(pl.get("detail", "")), 500)
        return self._notice(row.event, label, f"{label}：{source}", row, facts=[
            ("来源", source, None), ("网址", url, _href(url)), ("详情", detail, None),
            ("时间", self.local(row.created_at), None)], url=_href(url),
            data={"source": source, "url": url, "detail": detail},
            thread=thread_id(row.page_id, row.recipient))

    def config_error(self, problems: list[str], recipient: str, key: int, *,
                     where: dict[str, Any] | None = None) -> Message:
        """Each problem in Chinese (``zh.config_problem``: place and kind), then its
        technical detail (the English message, as the log has it) on the next line.  A
        refused edit of the file (``where`` names it) also says the daemon kept running
        the configuration it had."""
        row = AlertRecord(id=key, event="config", channel="", recipient=recipient, watcher="",
                          status="", attempts=0, next_attempt_at=datetime.now(self.tz))
        where = where or {}
        # each problem's own source, watcher and key (a refused edit names them all)
        places = list(where.get("places") or [])
        places += [where] * (len(problems) - len(places))
        said = [header_safe(zh.config_problem(
            str(p), file=where.get("file"), source=at.get("source"),
            watcher=at.get("watcher"), key=at.get("key")), 500)
            for p, at in zip(problems, places, strict=False)]
        lines = [line for zh_line, p in zip(said, problems, strict=True)
                 for line in (zh_line, header_safe(f"{zh.DETAIL}{p}", 500))]
        facts = [("处理", zh.KEPT_RUNNING, None)] if where.get("file") else []
        return self._notice("config", "配置错误", f"配置错误：{len(said)} 个问题", row,
                            facts=facts, lines=lines, data={"problems": said,
                                                            "details": list(problems)})

    def _notice(self, event: str, label: str, heading: str, row: AlertRecord, *,
                facts: list[tuple[str, str, str | None]], url: str | None = None,
                lines: list[str] | None = None, data: dict[str, Any],
                thread: str | None = None) -> Message:
        subject = header_safe(f"[monitor] {heading}", 400)
        content = templates.NOTICE.render(label=label, title=heading, facts=facts,
                                          lines=lines or [], muted=templates.MUTED)
        footer = f"monitor{_to(row.recipient)}"
        body = "\n".join(lines or [])
        text = templates.TEXT.render(title=heading, facts=[(k, v) for k, v, _ in facts],
                                     meta=[], body=body, footer=footer)
        return Message(event=event, subject=subject,
                       message_id=message_id(event, row.id, row.recipient),
                       html=templates.page(subject, content, footer), text=text,
                       title=heading, facts=tuple((k, v) for k, v, _ in facts if k != "网址"),
                       url=url, body=body, data=data, thread=thread)

    def local(self, at: datetime | None) -> str:
        """A time in ``settings.timezone`` to the minute, with its UTC offset
        (``2026-11-01 08:30 +08:00``): a mail client shows the ``Date:`` header in the
        reader's own zone, and a forwarded alert must still name one instant."""
        return exact_time(at, self.settings.timezone, seconds=False) if at else ""


def _kind_label(v: ChangeView) -> str:
    """The kind as the subject says it; an ``attachment_changed`` whose files were all
    changed alike says how (``monitor.detect.attachment_label``): 附件已可下载, 附件无法下载,
    附件已改名 — not 附件已修改."""
    if v.kind == "attachment_changed":
        labels = {attachment_label(a) for a in v.details.get("attachments") or []
                  if a.get("change") not in ("added", "removed")}
        if len(labels) == 1:
            return labels.pop()
    return KIND_LABELS.get(v.kind, v.kind)


def _nth(v: VersionText) -> str:
    """第3版: the version's place on its page (the global id when it is not known)."""
    return f"第{v.number}版" if v.number else f"#{v.id}"


def _listed_title(view: ChangeView) -> str:
    """A document told before it could be read (no version): its title in the listing."""
    docs = view.details.get("documents") or []
    return str(docs[0].get("title") or "") if docs and isinstance(docs[0], dict) else ""


def _documents(details: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """A column's new items: title, list date and link, one fact each."""
    out = []
    for doc in details.get("documents") or []:
        url = str(doc.get("url", ""))
        date = f"（{doc['date']}）" if doc.get("date") else ""
        out.append(("新文档", header_safe(f"{doc.get('title', '')}{date} {url}", 400),
                    _href(url)))
    return out


def _char_stats(stats: dict[str, Any]) -> dict[str, int]:
    """Characters added/removed, whatever the diff module calls them."""
    added = stats.get("chars_added", stats.get("added", 0))
    removed = stats.get("chars_removed", stats.get("removed", 0))
    return {"added": int(added), "removed": int(removed)}


def _meta_rows(v: ChangeView) -> tuple[tuple[str, str, str], ...]:
    if v.old is None or v.new is None:
        return ()
    rows = []
    if v.old.title != v.new.title:
        rows.append(("标题", v.old.title, v.new.title))
    for key in sorted(set(v.old.metadata) | set(v.new.metadata)):
        old, new = v.old.metadata.get(key, ""), v.new.metadata.get(key, "")
        if old != new:
            rows.append((key, shown(key, old or None), shown(key, new or None)))
    return tuple(rows)


def _pre(text: str) -> str:
    from markupsafe import escape

    return f'<pre style="white-space:pre-wrap;margin:0;font-family:inherit;">{escape(text)}</pre>'


def _data(p: ChangeParts, links: list[tuple[str, str]]) -> dict[str, Any]:
    v, urls = p.view, dict(links)
    return {"change_id": v.id, "source": v.source, "kind": v.kind, "kind_label": p.kind_label,
            "summary": v.summary, "title": p.title, "url": v.page_url,
            "detected_at": v.created_at.isoformat(), "stats": p.stats,
            "metadata_changes": [{"field": f, "old": o, "new": n} for f, o, n in p.meta],
            "diff": p.diff_text,
            "old_version_id": v.old.id if v.old else None,
            "new_version_id": v.new.id if v.new else None,
            "old_version": v.old.number if v.old else None,
            "new_version": v.new.number if v.new else None,
            "diff_url": urls.get(LINK_DIFF), "version_url": urls.get(LINK_VERSION)}
