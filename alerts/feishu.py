"""Feishu / Lark (飞书) custom bots: ``msg_type: post`` (rich text).

Post content is a structure of tagged text runs, not markup, so page text needs no
escaping.  Signature verification ("签名校验"): with a secret, the body carries
``timestamp`` (seconds, as a string) and ``sign`` = base64(HMAC-SHA256(key=
"{timestamp}\\n{secret}", msg=b"")).  Feishu answers 200 with ``code`` ≠ 0 (older
deployments: ``StatusCode``) when it refuses a message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx

from alerts.base import Target
from alerts.message import Message
from alerts.webhook import Request, WebhookChannel, app_error, reply_json

BODY_CHARS = 4000  # Feishu refuses request bodies over 20 KB; CJK is 3 bytes a char
# 11232: frequency limited (100 messages a minute, 5 a second per bot).
TEMPORARY = frozenset({-1, 11232})


def feishu_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def post_content(message: Message) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = [
        [{"tag": "text", "text": f"{label}：{value}"}] for label, value in message.facts]
    if message.url:
        rows.append([{"tag": "a", "text": "查看原文", "href": message.url}])
    rows += [[{"tag": "a", "text": label, "href": url}] for label, url in message.links]
    for item in message.items:
        head = ({"tag": "a", "text": item.title, "href": item.url} if item.url
                else {"tag": "text", "text": item.title})
        rows.append([head, {"tag": "text", "text": f" {item.line}"}] + [
            {"tag": "a", "text": f" {label}", "href": url} for label, url in item.links])
    body = message.body if len(message.body) <= BODY_CHARS else message.body[:BODY_CHARS] + "…"
    rows += [[{"tag": "text", "text": line}] for line in body.splitlines()]
    return rows


class FeishuWebhook(WebhookChannel):
    name = "feishu"
    signs = True

    def request(self, message: Message, target: Target) -> Request:
        body: dict[str, Any] = {"msg_type": "post", "content": {"post": {"zh_cn": {
            "title": message.title, "content": post_content(message)}}}}
        secret = self.secret(target)
        if secret:
            ts = int(time.time())
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
        return Request(target.recipient, body)

    def check_reply(self, response: httpx.Response) -> None:
        data = reply_json(response)
        code = data.get("code", data.get("StatusCode", 0))
        if code != 0:
            raise app_error("Feishu", code, response, TEMPORARY)
