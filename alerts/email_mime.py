"""A ``Message`` as an RFC 5322 email: multipart/alternative, text first, HTML second.

The email package's header registry is slow where a run of alerts repeats itself: it
makes a new class for every header it parses (``HeaderRegistry.__getitem__``) and parses
``From``, ``Auto-Submitted``, a part's ``Content-Type``… again in every message — half of
the CPU of writing an ``.eml``.  ``POLICY`` is ``policy.SMTP`` with a registry that keeps
its classes and the headers it made (``_Headers``): a header object is immutable, so
the same (name, value) gives the same bytes, and the files are byte for byte what
``policy.SMTP`` writes (tests/test_alerts_email.py compares them).  For the same reason a
header folds once per policy (``_FoldsOnce``): ``From``, a change's ``Subject`` and the
parts' headers are folded once for all the recipients of a change, not once per mail
(the outbox writes with ``POLICY``, aiosmtplib with ``policy.SMTP``: one each).
"""

from __future__ import annotations

import base64
import email.policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from alerts.message import Message, header_safe
from storage.instant import utcnow

_KEPT = 1024  # headers kept by ``_Headers`` (then it starts afresh)


class _FoldsOnce:
    """A header that keeps its folding for the last policy it was folded for."""

    def fold(self, *, policy: email.policy.Policy) -> str:
        kept = self.__dict__.get("_folded")
        if kept is None or kept[0] is not policy:
            kept = self.__dict__["_folded"] = (policy, super().fold(policy=policy))  # type: ignore[misc]
        return kept[1]  # type: ignore[no-any-return]


class _Headers(HeaderRegistry):
    """The email package's header factory, keeping what it made (see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        cls = self._classes.get(name)
        if cls is None:
            made = super().__getitem__(name)
            cls = self._classes[name] = type(made.__name__, (_FoldsOnce, made), {})
        return cls

    def __call__(self, name: str, value: str) -> BaseHeader:
        if type(value) is not str:  # an object of the email package: made anew
            return super().__call__(name, value)
        key = (name, value)
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= _KEPT:
                self._made.clear()
            made = self._made[key] = super().__call__(name, value)
        return made


# policy.SMTP: CRLF line ends.
POLICY = email.policy.SMTP.clone(header_factory=_Headers())


def build_email(message: Message, sender: str, recipient: str) -> EmailMessage:
    # The subject is encoded here, not by the policy.
    mail = EmailMessage(policy=POLICY)
    mail.set_raw("Subject", encode_subject(header_safe(message.subject, limit=400)))
    mail["From"] = sender
    mail["To"] = recipient
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = message.message_id
    if message.thread:  # one thread per page in the reader's mail client (see compose)
        mail["In-Reply-To"] = message.thread
        mail["References"] = message.thread
    # RFC 3834: auto-generated, so vacation responders and ticket systems stay quiet.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Monitor-Event"] = message.event
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail


# "Subject: " + one encoded word fits in 78 characters: 42 bytes are 56 base64 characters.
_EW_BYTES = 42
_PLAIN_MAX = 78 - len("Subject: ")


def encode_subject(subject: str) -> str:
    """The Subject header's value, folded, as it goes on the wire.

    Python 3.11's own folding (policy.SMTP) loses the space where one encoded word ends
    and the next begins, so a non-ASCII subject is written here as RFC 2047 base64 words
    of whole characters, spaces inside them: a reader drops only the folding between
    words, and gets back exactly ``subject``.  A short ASCII subject that cannot be read
    as an encoded word stays plain text.
    """
    if subject.isascii() and len(subject) <= _PLAIN_MAX and "=?" not in subject:
        return subject
    words = [base64.b64encode(chunk).decode("ascii") for chunk in _utf8_chunks(subject)]
    return "\r\n ".join(f"=?utf-8?b?{w}?=" for w in words)


def _utf8_chunks(text: str) -> list[bytes]:
    """``text`` as UTF-8 in pieces of at most ``_EW_BYTES``, never splitting a character."""
    chunks = [b""]
    for ch in text:
        data = ch.encode("utf-8")
        if len(chunks[-1]) + len(data) > _EW_BYTES:
            chunks.append(b"")
        chunks[-1] += data
    return chunks


def address_problem(value: str, what: str) -> str | None:
    """Why ``value`` is not one usable mail address (None when it is)."""
    if any(ch in value for ch in "\r\n"):
        return f"{what} {value!r} contains a line break"
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        return f"{what} {value!r} is not an email address"
    try:
        Address(addr_spec=pairs[0][1])
    except (ValueError, IndexError) as exc:  # the registry's parser raises both
        return f"{what} {value!r} is not an email address: {exc}"
    return None


def bare_address(value: str) -> str:
    """``monitor <m@x>`` → ``m@x`` (the SMTP envelope sender)."""
    return getaddresses([value])[0][1]
