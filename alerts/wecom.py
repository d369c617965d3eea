"""WeCom (企业微信) group robots: ``msgtype: markdown``.

WeCom robots have no signing: the ``key`` in the webhook URL is the secret, so a
``webhook_secret_env`` on a WeCom watcher is reported as a configuration mistake.
WeCom answers 200 with ``errcode`` ≠ 0 when it refuses a message.

A robot takes 20 messages a minute: like DingTalk's, each robot (its webhook URL) has
its own limiter (``alerts.ratelimit``, ``wecom_rate``/``wecom_window``); messages beyond
it are queued in the outbox, not dropped.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx

from alerts.base import Target
from alerts.chat_markdown import markdown
from alerts.message import Message
from alerts.ratelimit import ROBOTS
from alerts.webhook import Request, WebhookChannel, app_error, clip, reply_json

MAX_BYTES = 4096  # markdown.content limit, in UTF-8 bytes
# -1: system busy; 45009: API frequency limit (20 messages a minute per robot).
TEMPORARY = frozenset({-1, 45009})


class WeComWebhook(WebhookChannel):
    name = "wecom"

    def request(self, message: Message, target: Target) -> Request:
        content = clip(markdown(message, body_limit=1200), MAX_BYTES)
        return Request(target.recipient, {"msgtype": "markdown",
                                          "markdown": {"content": content}})

    def paced(self, target: Target) -> AbstractAsyncContextManager[object]:
        return ROBOTS.turn(target.recipient, self.settings.wecom_rate,
                           self.settings.wecom_window)

    def check_reply(self, response: httpx.Response) -> None:
        code = reply_json(response).get("errcode", 0)
        if code != 0:
            raise app_error("WeCom", code, response, TEMPORARY)
