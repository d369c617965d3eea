"""Markdown for the chat robots that take it (DingTalk, WeCom).

Every piece of page text is escaped: a page title like ``[点这里](http://evil)`` must
show as text, not become a link in the alert.
"""

from __future__ import annotations

import re

from alerts.message import Message

# Only what can start markup: with [ and ] escaped, "(url)" can no longer be a link
# target.  Escaping less keeps stray backslashes out of apps whose markdown is partial.
_SPECIAL = re.compile(r"([\\`*_\[\]<>]|~~|^#)", re.MULTILINE)


def md_escape(text: str) -> str:
    return _SPECIAL.sub(lambda m: "".join("\\" + ch for ch in m.group(1)), text)


def md_url(url: str) -> str:
    # Parentheses and spaces would end the link target early.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def markdown(message: Message, *, body_limit: int) -> str:
    """Heading, facts, link, then the diff (or detail) as a quote, cut to ``body_limit``
    characters, or the digest's entries as a list."""
    lines = [f"### {md_escape(message.title)}", ""]
    lines += [f"**{md_escape(label)}**：{md_escape(value)}  " for label, value in message.facts]
    links = [("查看原文", message.url)] if message.url else []
    links += list(message.links)
    if links:
        lines += ["", " · ".join(f"[{md_escape(k)}]({md_url(u)})" for k, u in links)]
    for item in message.items:
        link = f"[{md_escape(item.title)}]({md_url(item.url)})" if item.url else md_escape(
            item.title)
        more = "".join(f" [{md_escape(k)}]({md_url(u)})" for k, u in item.links)
        lines.append(f"- {link}：{md_escape(item.line)}{more}")
    body = message.body if len(message.body) <= body_limit else (
        message.body[:body_limit] + "…")
    if body:
        lines.append("")
        lines += [f"> {md_escape(line)}" if line else ">" for line in body.splitlines()]
    return "\n".join(lines)
