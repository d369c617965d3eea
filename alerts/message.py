"""The value every channel sends: one composed message, rendered once, in every shape the
channels need (email text + HTML, and neutral pieces chat formats build their markup from).

Kept apart from ``compose`` so channel modules do not import the diff machinery.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChatItem:
    """One line of a digest in chat formats."""

    title: str
    url: str | None
    line: str
    links: tuple[tuple[str, str], ...] = ()  # (label, URL) into the web UI


@dataclass(frozen=True)
class Message:
    event: str  # change | digest | trouble | recovered | config
    subject: str  # header-safe (see ``header_safe``)
    text: str  # the plain-text email part
    html: str  # the HTML email part: a whole document, inline styles only
    message_id: str  # "<…@monitor>", stable per (change, recipient)
    title: str  # chat heading, one line
    facts: tuple[tuple[str, str], ...] = ()  # chat: (label, value) lines
    url: str | None = None  # the page the message is about
    body: str = ""  # chat: plain text (the diff with [-…-]{+…+} markers, or a detail)
    items: tuple[ChatItem, ...] = ()  # chat: digest entries
    data: dict[str, Any] = field(default_factory=dict)  # the generic webhook's JSON facts
    links: tuple[tuple[str, str], ...] = ()  # (label, URL) into the web UI: the diff, the version
    thread: str | None = None  # the Message-ID every alert about the page replies to


def header_safe(text: str, limit: int = 200) -> str:
    """One line fit for a mail header or a chat title.

    Page titles are untrusted: CR/LF would start a new header (``Bcc:`` injection) and
    Python's email package refuses such values outright, which would kill delivery.
    U+2028/2029 and other separators/control characters are turned into spaces, then
    whitespace runs collapse.  Long values are cut with an ellipsis (folding handles the
    rest).
    """
    cleaned = "".join(" " if _unsafe(ch) else ch for ch in text)
    cleaned = _SPACE.sub(" ", cleaned).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _unsafe(ch: str) -> bool:
    # Cc: controls (incl. CR, LF, TAB, NUL); Zl/Zp: U+2028/U+2029; Cf: format characters
    # such as bidi overrides that make a subject read differently from what it says.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cf")
