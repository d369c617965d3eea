"""DingTalk (钉钉) custom robots: ``msgtype: markdown``.

Security "加签": with a secret, ``timestamp`` (milliseconds) and ``sign`` =
base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")) are added to the webhook
URL's query (a wait for the rate limit, at most a quarter of ``dingtalk_window``, comes
after signing: well within the hour DingTalk accepts).

DingTalk answers 200 with ``errcode`` ≠ 0 when it refuses a message: a bad signature
(310000), a message without the robot's keyword (310000 too, "keywords not in
content"), an IP not allowed... are permanent failures with the robot's own ``errmsg``
in ``last_error`` (``monitor alerts list --failed``); "system busy" and "sending too
fast" are retried.

A robot takes 20 messages a minute: each robot (its webhook URL, i.e. its
``access_token``) has its own limiter, shared by every delivery of the process
(``alerts.ratelimit``); messages beyond it are queued, not dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from contextlib import AbstractAsyncContextManager

import httpx

from alerts.base import Target
from alerts.chat_markdown import markdown
from alerts.message import Message
from alerts.ratelimit import ROBOTS
from alerts.webhook import Request, WebhookChannel, app_error, clip, reply_json

MAX_BYTES = 18_000  # DingTalk refuses bodies over 20 000 bytes
# -1: system busy; 130101: sending too fast (20 messages a minute per robot).
TEMPORARY = frozenset({-1, 130101})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkWebhook(WebhookChannel):
    name = "dingtalk"
    signs = True

    def request(self, message: Message, target: Target) -> Request:
        text = clip(markdown(message, body_limit=3000), MAX_BYTES)
        body = {"msgtype": "markdown", "markdown": {"title": message.title[:60], "text": text}}
        url: str | httpx.URL = target.recipient
        secret = self.secret(target)
        if secret:
            ts = int(time.time() * 1000)
            url = httpx.URL(target.recipient).copy_merge_params(
                {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)})
        return Request(url, body)

    def paced(self, target: Target) -> AbstractAsyncContextManager[object]:
        # target.recipient is the robot's URL as configured (unsigned): its access_token
        return ROBOTS.turn(target.recipient, self.settings.dingtalk_rate,
                           self.settings.dingtalk_window)

    def check_reply(self, response: httpx.Response) -> None:
        code = reply_json(response).get("errcode", 0)
        if code != 0:
            raise app_error("DingTalk", code, response, TEMPORARY)
