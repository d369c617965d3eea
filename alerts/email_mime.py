"""A ``Message`` as an RFC 5322 email: multipart/alternative, text first, HTML second."""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from alerts.message import Message, header_safe
from storage.models import utcnow


def build_email(message: Message, sender: str, recipient: str) -> EmailMessage:
    # policy.SMTP: CRLF line ends and RFC 2047 encoded words for the CJK subject.
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = header_safe(message.subject, limit=400)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = message.message_id
    # RFC 3834: auto-generated, so vacation responders and ticket systems stay quiet.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Monitor-Event"] = message.event
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail


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
