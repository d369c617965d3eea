"""What kind of change a new version is, in words a watcher understands.

Kinds, most important first (the first that applies is the kind, the others are named
in the summary and ``details["kinds"]``):

1. ``reply_added``: what people watching a proposal wait for.
2. ``attachment_added`` / ``attachment_changed`` / ``attachment_removed``: a file the
   page links to appeared, was replaced (another SHA-256 under the same URL, or it could
   be downloaded at last) or is no longer linked.  An attachment is known by its URL,
   and, when the URL of a link changed (a cache buster ``?t=…``, a token, a file moved:
   ``_moved``), by its name and bytes: the same name and SHA-256 under a new URL is the
   same attachment, no change (no list of parameter names to keep up to date); the same
   name with other bytes is that attachment replaced; the same bytes under another name
   is that attachment renamed (附件已改名「旧」→「新」, no diff: the file is the same), as
   is, failing that, other bytes of the same format and extracted text under another
   name (renamed and re-generated: no diff, the text is the same).
   ``attachment_changed`` also files, each with its own label (``attachment_label``):
   附件已可下载 (downloaded at last), 附件无法下载 (its link answers 404/410, the stored
   file kept: ``monitor.attachments``), 附件已改名 (also under the same URL, told with
   the page's other changes: the link text is no part of a version's hash),
   附件恢复可下载 (the missing file back, the same bytes: recorded, never alerted on its
   own), and 附件链接已更新 (the link moved to another host or path, its name and bytes
   the same, or its new URL failing as the old one did: recorded in a new version, never
   alerted on its own, even flapping between two hosts, so that later checks, a 304's
   included, fetch the URL the page links to now; a link whose query alone changed, a
   cache buster, is no change: ``_elsewhere``), and 附件文件已更新（正文无变化） (other
   bytes, the same extracted text, the same name: a PDF re-generated with a new creation
   date; recorded, never alerted on its own, even flipping between two renderings).  The
   text is "the same" only when both files' texts were extracted (``text_sha256``, made
   by ``monitor.attachments``): a scan, a format without a reader, or a version stored
   before the digest was recorded, replaced by other bytes, is 附件已修改 (the rule:
   never silence about a real edit).  The reply itself is often the PDF, so
   a page whose text changed only in its 附件 line is told as the attachment's change;
   ``details["attachments"]`` names each (name, URL, old/new SHA-256 and status, the
   old name and URL, why it is missing).
3. ``title_changed``: the page now says it is a different document: its title, or its
   ``<title>`` where that says more than the title (metadata ``网页标题``: see
   ``monitor.extract.title``), changed.
4. ``changed``: the body text changed.
5. ``metadata_changed``: 发文日期, 索引号... changed, the text did not.

A version's identity (``snapshot``'s hash) includes its attachments (URL and SHA-256,
or "unavailable", and "missing" for a kept file whose link answers 404/410) only when it
has some: a page without attachments hashes exactly as
before attachments existed, so an archive upgraded in place sees no false change.

``flapping`` overrides them when the new version is the one before the previous one
(A→B→A): a page alternating between two versions (two servers behind a balancer, an
edit reverted) is said at once the first time; later flips are *condensed*, never
silent (``details["condensed"]``): they are told as one held alert per ``flap_hold``
whose content is the newest flip, so a watcher always learns the state the page is in
(``alerts.plan.flap_alerts``).  The threshold is the page's: the first return to the
version before the previous one that a watcher would be told of.  A missing file
downloadable again (附件恢复可下载, quiet) is no flip of its own: one outage and return
(ok→404→ok) is no flapping, so the next 404 is told at once (labelled 内容来回变化: the
file is back to the state before its return) and only the flips after it are condensed;
while flapping, the file's return is a flip as any (told in the held alert).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from urllib.parse import urlsplit

from monitor import lazyre
from monitor.canon import canonical_line, canonical_parts, canonical_text, text_lines
from monitor.diff import EQUAL, TextDiff, diff_texts, diff_texts_async
from monitor.extract import listing
from monitor.extract.title import HEAD_TITLE_KEY, shown
from monitor.paragraphs import ParagraphDiff
from monitor.patch import make_patch
from monitor.types import (
    BACK,
    FIRST_FETCHED,
    MISSING,
    REGENERATED,
    RELINKED,
    RENAMED,
    ChangeDecision,
    ChangeKind,
    Snapshot,
)

PRIORITY = (ChangeKind.REPLY_ADDED, ChangeKind.ATTACHMENT_ADDED,
            ChangeKind.ATTACHMENT_CHANGED, ChangeKind.ATTACHMENT_REMOVED,
            ChangeKind.TITLE_CHANGED, ChangeKind.CHANGED, ChangeKind.METADATA_CHANGED)
NO_STATS = {"added": 0, "removed": 0, "paragraphs": 0, "paragraphs_modified": 0,
            "paragraphs_added": 0, "paragraphs_removed": 0}
MAX_GROUPS = 6  # paragraph groups named in a summary before "等"

# A paragraph that starts with a reply label: "部门答复", "答复：…", "【办理结果】…".
_REPLY_LABEL = lazyre.compile(
    r"^[\s【\[（(〔]*(?:部门|单位|承办单位|主办单位|会办单位|办理单位)?"
    r"(?:答复|回复|答复函|答复意见|答复内容|回复内容|办理结果|办理情况|办理意见|办理答复"
    r"|处理结果|处理意见)(?:[】\]）)〕]|\s*[:：]|\s*$)")
# A short heading naming a reply to a proposal: "对…第0192号提案的答复",
# "第20200255号代表建议答复的函", "关于对第…号政协提案会办意见的函".
_REPLY_TITLE = lazyre.compile(r"(?:提案|建议|议案|意见|代表|委员|留言|来信).{0,40}?"
                              r"(?:答复|回复|复函|答复函|的函|办理情况)\s*$")
# The opening of a reply letter: "现答复如下", "会办意见如下", "现将办理情况答复如下".
_REPLY_OPENING = lazyre.compile(r"(?:答复|回复|函复|会办意见|办理意见|办理情况|处理意见)如下")
_ADDITIVE = lazyre.compile(
    r"^[\s（(【\[]*(?:另外|另|此外|同时|补充|又|再者|再|并且|并|附)[，,、：:\s]")
_ACKNOWLEDGED = lazyre.compile(r"收悉|收到|来信|来函|提出的|所提|提案|建议|议案|意见")
_STATUS = lazyre.compile(r"(?:办理|答复|回复|处理)(?:状态|情况|进度)\s*[:：]\s*(\S{2,6})")
_PENDING = ("未答复", "待答复", "未回复", "待回复", "办理中", "正在办理", "未办结", "待办理",
            "处理中", "受理中")
_DONE = ("已答复", "已回复", "已办结", "办结", "已办理", "已处理", "已完成")
QUIET = ("back", "relinked", "regenerated")  # recorded in a version, never told alone
UNTOLD = ("relinked", "regenerated")  # never told, even flipping (the file's text the same)
BLOCK_GAP = 4  # reply markers this close (in paragraphs) belong to the same reply
HEADING_MAX = 60


def snapshot(title: str, text: str, metadata: Mapping[str, str],
             attachments: Sequence[Mapping[str, object]] = ()) -> Snapshot:
    """A Snapshot of the page's own characters whose content_hash is SHA-256 of the JSON
    of their canonical form (``monitor.canon``): a re-templated page hashes the same;
    the attachments are in it only when there are some (see the module doc)."""
    parts = _identity(title, text, metadata, attachments)
    return _Made.of(title, text, metadata, attachments, parts, _digest(parts))


def stored_snapshot(title: str, text: str, metadata: Mapping[str, str],
                    attachments: Sequence[Mapping[str, object]] = ()) -> Snapshot:
    """``snapshot`` of a stored version (the last one, as this release makes it), its
    ``content_hash`` made only when it is read.

    A check compares it with the new version's (``same_hash``), and equal hashes are
    equal canonical parts: so its JSON, UTF-8 and SHA-256 (~5% of a changed check's
    content work, ~2.5 M instructions a bench page) are never made.  Its canonical
    parts are (the text's are the diff's anyway: ``canonical_text`` keeps them)."""
    return _Made.of(title, text, metadata, attachments,
                    _identity(title, text, metadata, attachments), None)


def _identity(title: str, text: str, metadata: Mapping[str, str],
              attachments: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """What a snapshot's hash is of: the canonical parts, and the attachments if any."""
    parts: dict[str, object] = dict(canonical_parts(title, text, metadata))
    if attachments:
        parts["attachments"] = [[a.get("url"), a.get("sha256") or "unavailable",
                                 *(["missing"] if a.get("missing") else [])]
                                for a in attachments]
    return parts


def _digest(parts: Mapping[str, object]) -> str:
    canonical = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Made(Snapshot):
    """A Snapshot made here from its own fields: it keeps the parts its hash is of
    (``_canonical``), and a ``stored_snapshot``'s hash is made when first read.  One
    built otherwise (``dataclasses.replace`` of one: its hash given, not made) has no
    ``_canonical`` and is compared by its hash as any Snapshot."""

    _canonical: dict[str, object]

    @classmethod
    def of(cls, title: str, text: str, metadata: Mapping[str, str],
           attachments: Sequence[Mapping[str, object]], parts: dict[str, object],
           digest: str | None) -> _Made:
        made = object.__new__(cls)
        fields = {"title": title, "text": text, "metadata": dict(metadata),
                  "attachments": tuple(dict(a) for a in attachments), "_canonical": parts}
        if digest is not None:
            fields["content_hash"] = digest
        for name, value in fields.items():
            object.__setattr__(made, name, value)
        return made

    @cached_property
    def content_hash(self) -> str:  # type: ignore[override]
        return _digest(self._canonical)

    def __eq__(self, other: object) -> bool:  # a Snapshot's, whatever its class
        if not isinstance(other, Snapshot):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = Snapshot.__hash__


def _fields(s: Snapshot) -> tuple[object, ...]:
    return s.title, s.text, s.metadata, s.content_hash, s.attachments


def _parts_of(s: Snapshot) -> dict[str, object] | None:
    """The parts a snapshot made here was hashed from; None for any other."""
    return vars(s).get("_canonical")


def same_hash(a: Snapshot, b: Snapshot) -> bool:
    """``a.content_hash == b.content_hash``, without making a ``stored_snapshot``'s
    hash: of two snapshots made here the hashes are equal exactly when their parts
    are (the JSON hashed, keys sorted, is one-to-one on dicts, lists and strings)."""
    pa, pb = _parts_of(a), _parts_of(b)
    if pa is None or pb is None:
        return a.content_hash == b.content_hash
    return pa == pb


def _hashed(s: Snapshot) -> bool:
    """Whether ``s`` has a hash (a made one always has: a hex digest)."""
    return _parts_of(s) is not None or bool(s.content_hash)


def _canonical_parts(s: Snapshot) -> dict[str, object]:
    parts = _parts_of(s)
    if parts is None:
        return canonical_parts(s.title, s.text, s.metadata)
    return {k: parts[k] for k in ("title", "text", "metadata")}


def _same(old: Snapshot, new: Snapshot) -> bool:
    """Equal canonical forms.  A hash is only a shortcut: a stored hash may have been
    made by an older canonical form (versions stored before an upgrade)."""
    if _hashed(old) and same_hash(old, new):
        return True
    return _canonical_parts(old) == _canonical_parts(new) \
        and not attachment_changes(old.attachments, new.attachments)


def detect_change(old: Snapshot, new: Snapshot, *, previous_hashes: Sequence[str] = (),
                  last_change_kind: str | None = None,
                  diff_timeout: float = 0.5) -> ChangeDecision | None:
    """What changed from ``old`` to ``new``; None when nothing that matters did."""
    if _same(old, new):
        return None
    diff = diff_texts(old.text, new.text, timeout=diff_timeout)
    return decide(old, new, diff, previous_hashes=previous_hashes,
                  last_change_kind=last_change_kind)


async def detect_change_async(old: Snapshot, new: Snapshot, *,
                              previous_hashes: Sequence[str] = (),
                              last_change_kind: str | None = None,
                              diff_timeout: float = 0.5,
                              quick: TextDiff | None = None) -> ChangeDecision | None:
    """``detect_change`` with the diff in a worker process (see ``monitor.diff``);
    ``quick``: the diff's quick pass made already (``diff_texts_async``)."""
    if _same(old, new):
        return None
    if old.text == new.text:
        diff = TextDiff(old.text, new.text, [(EQUAL, old.text)] if old.text else [])
    else:
        diff = await diff_texts_async(old.text, new.text, timeout=diff_timeout,
                                      quick=quick)
    # The rest is linear in the text (a few ms for 100 KB): fine on the loop.
    return decide(old, new, diff, previous_hashes=previous_hashes,
                  last_change_kind=last_change_kind)


def decide(old: Snapshot, new: Snapshot, diff: TextDiff, *,
           previous_hashes: Sequence[str] = (),
           last_change_kind: str | None = None) -> ChangeDecision | None:
    """The decision for two snapshots and the diff of their texts."""
    changed = changed_paragraphs(old, new, diff)
    parts, details = _parts(old, new, changed)
    if not parts:
        return None  # e.g. only blank lines differ
    # files back or links moved, recorded and never told alone, name no change told
    parts.sort(key=lambda part: (part[1].startswith((BACK, RELINKED, REGENERATED)),
                                 PRIORITY.index(part[0])))
    kind, summary = parts[0][0], "；".join(text for _, text in parts if text)
    details["kinds"] = [str(k) for k, _ in parts]
    details["exact"] = diff.exact
    # a missing file downloadable again or a link moved, and nothing else: recorded,
    # nobody told (unless a file keeps flipping: the condensed alert held for the 404
    # then tells it is back)
    alert = not _only(details, QUIET)
    if _flipped(new, previous_hashes) and (
            last_change_kind == ChangeKind.FLAPPING or not _only(details, ("back",))):
        details["flapping"] = {"back_to": previous_hashes[0], "as": str(kind)}
        kind, summary = ChangeKind.FLAPPING, "内容来回变化（回到上上个版本）：" + summary
        if last_change_kind == ChangeKind.FLAPPING:  # still alternating: told condensed
            details["condensed"] = True
            summary = "内容仍在来回变化，当前为此版本：" + summary.split("：", 1)[-1]
            # a file back told too: the held alert tells the newest state; a link moving
            # back and forth between two hosts (mirrors) is never told
            alert = not _only(details, UNTOLD)
    # the diff's own stats (characters that differ, numbers shown whole not counted
    # twice) unless layout-only paragraphs were left out of what is told
    every = diff.changed_paragraphs() if changed else []
    stats = diff.stats if len(changed) == len(every) and changed else paragraph_stats(changed)
    patch = make_patch(old.text, new.text, diff.ops) if old.text != new.text else ""
    return ChangeDecision(kind, summary, stats, patch, details, alert)


Part = tuple[ChangeKind, str]


def _flipped(new: Snapshot, previous_hashes: Sequence[str]) -> bool:
    """Whether ``new`` is the version before the previous one (A→B→A)."""
    return bool(new.content_hash and previous_hashes and new.content_hash == previous_hashes[0])


def _only(details: Mapping[str, object], changes: Sequence[str]) -> bool:
    """Whether the change is only attachment changes of ``changes`` (``QUIET``: missing
    files downloadable again, 附件恢复可下载; links moved, the files the same, 附件链接
    已更新)."""
    atts = details.get("attachments")
    return (bool(atts) and details["kinds"] == [str(ChangeKind.ATTACHMENT_CHANGED)]
            and all(a["change"] in changes for a in atts))  # type: ignore[attr-defined, index]


def changed_paragraphs(old: Snapshot, new: Snapshot, diff: TextDiff) -> list[ParagraphDiff]:
    """The paragraphs a reader is told about: those whose canonical form changed.

    The diff is of the page's own characters, so a paragraph that was only re-laid out
    (``索引号:`` → ``索引号： | ``) is in it; it is left out here, and so out of the
    summary, the stats and ``details["paragraphs"]``.  Should the texts differ in their
    canonical form while no single paragraph does (a pair cut differently into
    paragraphs), every changed paragraph is told rather than none."""
    if old.text == new.text or canonical_text(old.text) == canonical_text(new.text):
        return []
    every = diff.changed_paragraphs()
    real = [p for p in every if canonical_text(p.old_text) != canonical_text(p.new_text)]
    return real or every


def paragraph_stats(paragraphs: list[ParagraphDiff]) -> dict[str, int]:
    """``TextDiff.stats`` of these paragraphs only."""
    kinds = [p.kind for p in paragraphs]
    return {**NO_STATS,
            "added": sum(p.added_chars for p in paragraphs),
            "removed": sum(p.removed_chars for p in paragraphs),
            "paragraphs": len(paragraphs), "paragraphs_modified": kinds.count("modified"),
            "paragraphs_added": kinds.count("added"),
            "paragraphs_removed": kinds.count("removed")}


def _parts(old: Snapshot, new: Snapshot,
           changed: list[ParagraphDiff]) -> tuple[list[Part], dict[str, object]]:
    """Every kind of change between the snapshots, with its summary and details."""
    parts: list[Part] = []
    details: dict[str, object] = {}
    reply = reply_added(old, new)
    if reply is not None:
        parts.append((ChangeKind.REPLY_ADDED, f"新增答复「{_cut(reply[1], 40)}」"))
        details["reply"] = {"paragraph": reply[0], "heading": reply[1]}
    if canonical_line(old.title) != canonical_line(new.title):
        parts.append((ChangeKind.TITLE_CHANGED,
                      f"标题：{_cut(old.title, 60)} → {_cut(new.title, 60)}"))
        details["title"] = [old.title, new.title]
    if changed:
        items = item_events(old.text, new.text)
        told = {reply[1]} if reply else set()  # the new reply is named once, not twice
        parts.append((ChangeKind.CHANGED, describe_items(items, told) if items
                      else describe_paragraphs(changed)))
        details["paragraphs"] = [
            {"kind": p.kind, "old": p.old_no, "new": p.new_no} for p in changed]
        if items:
            details["items"] = items
    atts = attachment_changes(old.attachments, new.attachments)
    if atts:
        parts += attachment_parts(atts)
        details["attachments"] = atts
    meta = metadata_changes(old.metadata, new.metadata)
    if HEAD_TITLE_KEY in meta:  # the page's <title> retitled it: a title change
        parts.append((ChangeKind.TITLE_CHANGED, f"{HEAD_TITLE_KEY}：" + " → ".join(
            _cut(shown(HEAD_TITLE_KEY, v), 60) for v in meta[HEAD_TITLE_KEY])))
    if rest := [k for k in meta if k != HEAD_TITLE_KEY]:
        parts.append((ChangeKind.METADATA_CHANGED, "；".join(
            f"{k}：{_show(meta[k][0])} → {_show(meta[k][1])}" for k in rest)))
    if meta:
        details["metadata"] = {k: [a, b] for k, (a, b) in meta.items()}
    return parts, details


def attachment_changes(old: Sequence[Mapping[str, object]],
                       new: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """One entry per attachment added, removed or changed, in page order: an attachment
    is the one of the old version under its URL, else under its name or bytes
    (``_moved``)."""
    before, after = {a["url"]: a for a in old}, {a["url"]: a for a in new}
    moved = _moved([a for url, a in before.items() if url not in after],
                   [a for url, a in after.items() if url not in before])
    out = []
    for url, a in after.items():
        b = before.get(url) or moved.get(url)
        change = _how(b, a)
        if change:
            out.append(_attachment_entry(change, b or {}, a))
    taken = {id(b) for b in moved.values()}
    out += [_attachment_entry("removed", b, {}) for url, b in before.items()
            if url not in after and id(b) not in taken]
    return out


def _how(old: Mapping[str, object] | None, new: Mapping[str, object]) -> str | None:
    """What became of one attachment: added, changed (other bytes), regenerated (other
    bytes, the same text: ``_same_text``), missing (its URL answers 404/410, the file
    kept), back (no longer missing), renamed (the same bytes or text), relinked (only
    its link moved to another host or path: ``_elsewhere``), or None."""
    if old is None:
        return "added"
    if _file_of(old) != _file_of(new):
        if not _same_text(old, new) or new.get("missing"):
            return "changed"
        same_name = (old.get("name") or "") == (new.get("name") or "")
        return "regenerated" if same_name else "renamed"  # the text the same: no diff
    if new.get("missing"):
        if not old.get("missing"):
            return "missing"
    elif (old.get("name") or "") != (new.get("name") or "") and new.get("sha256"):
        return "renamed"  # downloadable again too, if it was missing: the rename is news
    elif old.get("missing"):
        return "back"
    return "relinked" if _elsewhere(old, new) else None


def _same_text(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    """Whether two files' extracted texts are known to be the same (``text_sha256``,
    recorded only for a file whose text could be extracted: a scan's, an unknown
    format's or a version stored before it was recorded are never "the same")."""
    return bool(old.get("text_sha256")) and old.get("text_sha256") == new.get("text_sha256")


def _elsewhere(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    """Whether the link moved to another scheme, host, port or path: the version must
    record it (later checks, a 304's included, fetch the URLs the last version lists).
    A link whose query alone changed (a cache buster ``?t=…``, a token) is the same
    link: recorded with the next version only, never a version of its own (a page
    with a new token on every response would otherwise be a new version every check).
    A token in the path is a move each time: recorded, quietly, each time."""
    a, b = urlsplit(str(old.get("url") or "")), urlsplit(str(new.get("url") or ""))
    return (a.scheme, a.netloc, a.path) != (b.scheme, b.netloc, b.path)


def _moved(gone: list[Mapping[str, object]],
           came: list[Mapping[str, object]]) -> dict[object, Mapping[str, object]]:
    """New URL → old attachment, for a link whose URL changed (a cache buster
    ``?t=…``, a download token, a session id, a file moved on the server): it is the
    same attachment when its name (the link's text) and file (SHA-256) are the same:
    no change at all, only the link is new (recorded with the next version); failing
    that, one with the same name whose file is another: that attachment replaced
    ("附件已修改", diffed), not one added and one deleted; failing that, one with the
    same file under another name: that attachment renamed ("附件已改名", the file the
    same); failing that, one of the same format and the same extracted text under
    another name (renamed and re-generated: 附件已改名 too, the text the same).  Each
    old one is paired once, in page order; unnamed links only by their file or text."""
    out: dict[object, Mapping[str, object]] = {}
    for same in (lambda a, b: _file_of(a) == _file_of(b) and a.get("name") == b.get("name"),
                 lambda a, b: bool(a.get("name")) and a.get("name") == b.get("name"),
                 lambda a, b: bool(a.get("sha256")) and a.get("sha256") == b.get("sha256"),
                 lambda a, b: _same_text(b, a) and a.get("format") == b.get("format")):
        for a in came:
            if a["url"] in out:
                continue
            b = next((b for b in gone if same(a, b)), None)
            if b is not None:
                out[a["url"]] = b
                gone = [g for g in gone if g is not b]
    return out


def _file_of(a: Mapping[str, object]) -> object:
    return a.get("sha256") or "unavailable"


def _attachment_entry(change: str, old: Mapping[str, object],
                      new: Mapping[str, object]) -> dict[str, object]:
    either = new or old
    out = {"change": change, "name": either.get("name", ""), "url": either.get("url", ""),
           "old_sha256": old.get("sha256"), "new_sha256": new.get("sha256"),
           "old_status": old.get("status"), "new_status": new.get("status"),
           "old_reason": old.get("reason"), "new_reason": new.get("reason"),
           "format": either.get("format", "")}
    if old and new and old.get("url") != new.get("url"):
        out["old_url"] = old.get("url", "")
    if change == "renamed":
        out["old_name"] = old.get("name", "")
    if change == "missing":
        out["missing"] = new.get("missing", "")
    return out


_ATTACHMENT_KIND = {"added": (ChangeKind.ATTACHMENT_ADDED, "新增附件"),
                    "changed": (ChangeKind.ATTACHMENT_CHANGED, "附件已修改"),
                    "missing": (ChangeKind.ATTACHMENT_CHANGED, MISSING),
                    "renamed": (ChangeKind.ATTACHMENT_CHANGED, RENAMED),
                    "back": (ChangeKind.ATTACHMENT_CHANGED, BACK),
                    "relinked": (ChangeKind.ATTACHMENT_CHANGED, RELINKED),
                    "regenerated": (ChangeKind.ATTACHMENT_CHANGED, REGENERATED),
                    "removed": (ChangeKind.ATTACHMENT_REMOVED, "附件已删除")}


def attachment_label(entry: Mapping[str, object]) -> str:
    """What a watcher reads for one attachment entry: its kind's label (附件已修改,
    附件无法下载, 附件已改名…), except a file that could not be downloaded before and now
    could (``changed`` from no SHA-256 to one: a change of the version, filed under
    ``attachment_changed`` for triggers), which was never seen and so was not "修改":
    "附件已可下载".  A stored file that fails for a passing reason is no change (it is
    kept: ``monitor.attachments``); one whose link answers 404/410 is 附件无法下载."""
    change = str(entry.get("change"))
    if change == "changed" and not entry.get("old_sha256") and entry.get("new_sha256"):
        return FIRST_FETCHED
    return _ATTACHMENT_KIND[change][1] if change in _ATTACHMENT_KIND else "附件"


def attachment_name(entry: Mapping[str, object], n: int = 30) -> str:
    """The attachment as a summary names it: 「答复.pdf」; renamed: 「旧」→「新」; missing:
    「答复.pdf」（HTTP 404）."""
    name = f"「{_cut(str(entry.get('name') or ''), n)}」"
    if entry.get("change") == "renamed":
        name = f"「{_cut(str(entry.get('old_name') or ''), n)}」→{name}"
    if entry.get("change") == "missing":
        name += f"（{entry.get('missing')}）"
    return name


def attachment_parts(changes: list[dict[str, object]]) -> list[Part]:
    """One part per label, in kind order: "新增附件「答复.xlsx」、「表2」"."""
    groups: dict[tuple[ChangeKind, str], list[str]] = {}
    for change, (kind, _) in _ATTACHMENT_KIND.items():
        for c in changes:
            if c["change"] == change:
                groups.setdefault((kind, attachment_label(c)), []).append(attachment_name(c))
    ordered = sorted(groups.items(), key=lambda g: PRIORITY.index(g[0][0]))
    return [(kind, f"{label}{'、'.join(names[:MAX_GROUPS])}"
             + (f" 等{len(names)}个" if len(names) > MAX_GROUPS else ""))
            for (kind, label), names in ordered]


def describe_paragraphs(changed: TextDiff | list[ParagraphDiff]) -> str:
    """"第3段修改，第5-7段新增": runs of neighbouring paragraphs changed alike."""
    if isinstance(changed, TextDiff):
        changed = changed.changed_paragraphs()
    groups: list[list[int | str]] = []  # [first, last, word]
    for p in changed:
        word = {"modified": "修改", "added": "新增", "removed": "删除"}[p.kind]
        if groups and groups[-1][2] == word and groups[-1][1] == p.number - 1:
            groups[-1][1] = p.number
        else:
            groups.append([p.number, p.number, word])
    names = [f"第{a}段{w}" if a == b else f"第{a}-{b}段{w}" for a, b, w in groups]
    if len(names) > MAX_GROUPS:
        total = len(changed)
        return "，".join(names[:MAX_GROUPS]) + f"等共{total}段"
    return "，".join(names)


def item_events(old: str, new: str) -> dict[str, list[object]] | None:
    """A column page's change as events on its items, each named: added, removed and
    re-dated items (a paragraph diff would merge a removed item and its re-dated
    neighbour into one "modified" paragraph).  None unless both texts are columns'
    (``listing.column_items``: an undated item among dated ones is an item too)."""
    before, after = listing.column_items(old), listing.column_items(new)
    if before is None or after is None:
        return None
    added = [t for t in after if t not in before]
    removed = [t for t in before if t not in after]
    redated = [[t, before[t], after[t]] for t in after
               if t in before and before[t] != after[t]]
    events = {"added": added, "removed": removed, "redated": redated}
    return {k: v for k, v in events.items() if v} or None


def retitled_items(events: dict[str, list[object]],
                   renamed: Mapping[str, tuple[tuple[str, str], str]]) -> dict[str, list[object]]:
    """``events`` with each added item that is a removed one's link retitled
    (``renamed``: {new title: ((old title, old date), new date)}, told by the links of a
    listing's documents) moved to "retitled": [old title, new title, old date, new
    date], one item changed instead of one added and one removed."""
    added, removed = list(events.get("added", [])), list(events.get("removed", []))
    retitled = []
    for title in list(added):
        (old, old_date), new_date = renamed.get(str(title), (("", ""), ""))
        if old and old in removed:
            added.remove(title)
            removed.remove(old)
            retitled.append([old, title, old_date, new_date])
    if not retitled:
        return events
    out = {**events, "added": added, "removed": removed, "retitled": retitled}
    return {k: v for k, v in out.items() if v}


def describe_items(events: dict[str, list[object]], told: set[str] = frozenset()) -> str:
    """"新增「A」；删除「B」；「C」改为「D」；「E」日期 2021-06-23 → 2021-06-25", at most
    MAX_GROUPS named (an added item already ``told`` as a new reply is not named again;
    a retitled one, its link the same, says its date change with it)."""
    names = [f"新增「{_cut(str(t), 40)}」" for t in events.get("added", []) if t not in told]
    names += [f"删除「{_cut(str(t), 40)}」" for t in events.get("removed", [])]
    names += [f"「{_cut(str(t[0]), 40)}」改为「{_cut(str(t[1]), 40)}」"  # type: ignore[index]
              + (f"，日期 {t[2] or '无'} → {t[3] or '无'}"  # type: ignore[index]
                 if t[2] != t[3] else "")  # type: ignore[index]
              for t in events.get("retitled", [])]
    names += [f"「{_cut(str(t[0]), 40)}」日期 {t[1] or '无'} → {t[2] or '无'}"  # type: ignore[index]
              for t in events.get("redated", [])]
    if len(names) > MAX_GROUPS:
        return "；".join(names[:MAX_GROUPS]) + f" 等共{len(names)}项"
    return "；".join(names)


def metadata_changes(old: Mapping[str, str],
                     new: Mapping[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """{field: (old, new)} for every field that differs; None where a field is absent."""
    keys = dict.fromkeys([*old, *new])
    return {k: (old.get(k), new.get(k)) for k in keys
            if _canonical(old.get(k)) != _canonical(new.get(k))}


def _canonical(value: str | None) -> str | None:
    return None if value is None else canonical_line(value)


def _show(value: str | None) -> str:
    return "（无）" if value is None else _cut(value, 40)


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --- replies -----------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [p for line in text_lines(text) if (p := line.strip())]


def is_reply_marker(paragraph: str) -> bool:
    """A reply label, a short reply heading, or the opening sentence of a reply."""
    p = paragraph.strip().lstrip("•·-* ")
    if _REPLY_LABEL.match(p) or is_reply_opening(p):
        return True
    return len(p) <= HEADING_MAX and bool(_REPLY_TITLE.search(p))


def is_reply_opening(p: str) -> bool:
    """"…收悉，现答复如下：" where a reply letter begins: the paragraph acknowledges the
    proposal (收悉, 来信, 提出的…) or ends at "如下：" (the answer follows below it).  A
    sentence added to a reply ("另，现将补充情况答复如下：…", "此外…") is not an opening:
    it starts with an additive word, and its answer runs on in the same paragraph."""
    m = _REPLY_OPENING.search(p)
    if m is None or _ADDITIVE.match(p):
        return False
    before, after = p[:m.start()], p[m.end():].strip(" ：:")
    return bool(_ACKNOWLEDGED.search(before)) or not after


def _blocks(markers: list[int]) -> list[int]:
    """The first marker of each reply: markers within BLOCK_GAP paragraphs are one."""
    starts: list[int] = []
    last = -BLOCK_GAP - 1
    for i in markers:
        if i - last > BLOCK_GAP:
            starts.append(i)
        last = i
    return starts


def reply_added(old: Snapshot, new: Snapshot) -> tuple[int, str] | None:
    """(paragraph number, heading) of a reply that appeared, or None.

    A reply appeared when the new text has more reply blocks than the old one and at
    least one block starts at a paragraph the old text did not have (so inserting an
    ordinary paragraph between a reply's heading and its opening is not a new reply),
    or when a status (办理状态, 答复情况...) went from pending to done.
    """
    old_paras, new_paras = _paragraphs(old.text), _paragraphs(new.text)
    seen = set(old_paras)
    # Only a marker the old text lacks can be the answer: when no new paragraph is one
    # (the usual edit), the old text's markers need not be read at all.
    if any(is_reply_marker(p) for p in set(new_paras) - seen):
        marker = {p: is_reply_marker(p) for p in {*old_paras, *new_paras}}  # each once
        old_blocks = _blocks([i for i, p in enumerate(old_paras) if marker[p]])
        new_markers = [i for i, p in enumerate(new_paras) if marker[p]]
        if len(_blocks(new_markers)) > len(old_blocks):
            fresh = [i for i in new_markers if new_paras[i] not in seen]
            if fresh:
                return fresh[0] + 1, new_paras[fresh[0]]
    return _listed_reply(old_paras, new_paras) or _status_done(old, new)


def _listed_reply(old_paras: list[str], new_paras: list[str]) -> tuple[int, str] | None:
    """On a column page (one ``title | date`` line per item, ``monitor.extract.listing``): a new
    item whose title is a reply ("…第0192号提案的答复") is a reply published."""
    old_titles: set[str] | None = None  # read only when the new text has an item
    for i, p in enumerate(new_paras):
        if listing.SEPARATOR not in p:  # not an item: its title is itself
            continue
        title = listing.item_title(p)
        if title == p:
            continue
        if old_titles is None:
            old_titles = {listing.item_title(q) for q in old_paras}
        if title not in old_titles and _REPLY_TITLE.search(title):
            return i + 1, title
    return None


def _status_done(old: Snapshot, new: Snapshot) -> tuple[int, str] | None:
    done = [where for where, value in _statuses(new) if value.startswith(_DONE)]
    if done and any(v.startswith(_PENDING) for _, v in _statuses(old)):
        return done[0]  # the old text is read only when the new one says done
    return None


def _statuses(snap: Snapshot) -> list[tuple[tuple[int, str], str]]:
    """((paragraph number or 0 for metadata, where), status value) of a snapshot."""
    out = []
    # A status in a paragraph is one in the text (the pattern has no anchor): a text
    # without any, most of them, is not cut into paragraphs and searched again.
    paragraphs = _paragraphs(snap.text) if _STATUS.search(snap.text) else ()
    for i, p in enumerate(paragraphs):
        m = _STATUS.search(p)
        if m:
            out.append(((i + 1, _cut(p, 40)), m.group(1)))
    for key, value in snap.metadata.items():
        if re.search(r"状态|办理情况|答复情况|进度", key):
            out.append(((0, f"{key}：{value}"), value.strip()))
    return out
