"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat, Discord's /slack
endpoint): ``{"text": fallback, "blocks": [...]}``.

The URL is the secret (no signing).  Page text is escaped the way Slack's mrkdwn wants
(``&``, ``<``, ``>`` as entities) so it cannot form links or mentions like
``<!channel>``.
"""

from __future__ import annotations

from typing import Any

from alerts.base import Target
from alerts.message import Message
from alerts.webhook import Request, WebhookChannel

SECTION_CHARS = 2900  # Slack refuses a section text over 3000 characters


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_CHARS:
        text = text[:SECTION_CHARS] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def blocks(message: Message) -> list[dict[str, Any]]:
    title = slack_escape(message.title)[:150]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}}]
    facts = [f"*{slack_escape(k)}*：{slack_escape(v)}" for k, v in message.facts]
    if message.url:
        facts.append(f"<{slack_escape(message.url)}|查看原文>")
    facts += [f"<{slack_escape(url)}|{label}>" for label, url in message.links]
    if facts:
        out.append(_section("\n".join(facts)))
    items = [(f"• <{slack_escape(i.url)}|{slack_escape(i.title)}>：{slack_escape(i.line)}"
              if i.url else f"• {slack_escape(i.title)}：{slack_escape(i.line)}")
             + "".join(f" <{slack_escape(u)}|{k}>" for k, u in i.links)
             for i in message.items]
    if items:
        out.append(_section("\n".join(items)))
    if message.body:
        # Code block: the diff's [-…-]{+…+} markers stay literal; ``` inside cannot close it.
        body = slack_escape(message.body).replace("```", "ˋˋˋ")
        out.append(_section(f"```{body[:SECTION_CHARS - 6]}```"))
    return out


class SlackWebhook(WebhookChannel):
    name = "slack"

    def request(self, message: Message, target: Target) -> Request:
        return Request(target.recipient, {"text": slack_escape(message.subject),
                                          "blocks": blocks(message)})
