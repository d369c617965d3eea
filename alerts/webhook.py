"""Webhooks over HTTP: the shared POST (``WebhookChannel``) and the generic JSON format.

``WebhookChannel.send`` is the one place httpx errors and HTTP statuses become
``DeliveryError``: timeouts, connection errors, 5xx and 429 are temporary; other 4xx
(and 3xx: redirects are not followed, a webhook that moved needs a new URL) are
permanent.  Chat formats subclass it and say how to build the body, sign the request and
read the app's reply (DingTalk, WeCom and Feishu answer 200 with an error code in JSON).

The generic format POSTs ``{"event", "message_id", "timestamp", "subject", "title",
"url", "text", "data"}``.  With ``webhook_secret_env`` set, ``X-Monitor-Signature:
sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes with the secret as key (the body
carries the timestamp, so a receiver can refuse replays).  ``X-Monitor-Delivery`` is the
Message-ID: the same alert sent twice after a crash carries the same value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from typing import Any

import httpx

from alerts.base import Channel, Target
from alerts.message import Message
from monitor.config import WEBHOOK_FROM_ENV
from monitor.errors import BlockedURLError, DeliveryError, MonitorError
from monitor.fetch.netguard import ensure_allowed

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
USER_AGENT = "monitor-alerts/0.1"
REPLY_PREVIEW = 300  # characters of a failed reply kept in last_error


class Request:
    """What a format builds: the URL (with signature parameters), body and headers."""

    def __init__(self, url: str | httpx.URL, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self.headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}


class WebhookChannel(Channel):
    """Base of every HTTP format.  Subclasses implement ``request`` and may override
    ``check_reply``."""

    name = "webhook"

    def request(self, message: Message, target: Target) -> Request:
        raise NotImplementedError

    def check_reply(self, response: httpx.Response) -> None:
        """Raise ``DeliveryError`` when a 2xx reply still says the message was refused."""

    def paced(self, target: Target) -> AbstractAsyncContextManager[object]:
        """Around the POST: the app's rate limit, if it has one (``DeliveryDeferred``:
        not now)."""
        return nullcontext()

    def url(self, target: Target) -> str:
        """The webhook URL; ``env:NAME`` (``webhook_env``) is read from the environment
        now, so the URL and the credential in it are never stored.  Unset is temporary:
        the admin may set it and retry."""
        if not target.recipient.startswith(WEBHOOK_FROM_ENV):
            return target.recipient
        name = target.recipient.removeprefix(WEBHOOK_FROM_ENV)
        url = self.env.get(name)
        if not url:
            raise DeliveryError(f"webhook_env {name} is not set")
        return url

    async def send(self, message: Message, target: Target) -> None:
        target = replace(target, recipient=self.url(target))
        await guard(target.recipient, self.settings.allow_private_network)
        try:
            req = self.request(message, target)
            async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT}) as client:
                async with self.paced(target):
                    response = await client.post(req.url, content=req.content,
                                                 headers=req.headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"webhook timeout: {exc.__class__.__name__}") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise DeliveryError(f"webhook URL refused: {exc}", permanent=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {exc.__class__.__name__}: {exc}") from exc
        check_status(response)
        self.check_reply(response)


def check_status(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    temporary = code >= 500 or code in (408, 425, 429)
    raise DeliveryError(f"webhook HTTP {code}: {preview(response)}", permanent=not temporary)


def reply_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def app_error(app: str, code: object, response: httpx.Response,
              temporary: frozenset[int]) -> DeliveryError:
    """A chat app said no in a 200 reply; rate limits and 'busy' codes are retried."""
    return DeliveryError(f"{app} error {code}: {preview(response)}",
                         permanent=code not in temporary)


def preview(response: httpx.Response) -> str:
    return " ".join(response.text[:REPLY_PREVIEW].split())


async def guard(url: str, allow_private: bool) -> None:
    """The repository's private-address rule (``monitor.fetch.netguard``) for webhook URLs.

    A refused address is permanent (retrying will not move it); a DNS failure is not."""
    try:
        await ensure_allowed(url, allow_private=allow_private)
    except BlockedURLError as exc:
        raise DeliveryError(f"webhook URL refused: {exc}", permanent=True) from exc
    except MonitorError as exc:
        raise DeliveryError(f"webhook: {exc}") from exc


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class GenericWebhook(WebhookChannel):
    name = "generic"
    signs = True

    def request(self, message: Message, target: Target) -> Request:
        body = {"event": message.event, "message_id": message.message_id,
                "timestamp": int(time.time()), "subject": message.subject,
                "title": message.title, "url": message.url, "text": message.text,
                "data": message.data}
        req = Request(target.recipient, body, {"X-Monitor-Event": message.event,
                                               "X-Monitor-Delivery": message.message_id})
        secret = self.secret(target)
        if secret:
            req.headers["X-Monitor-Signature"] = "sha256=" + hmac_hex(secret, req.content)
        return req


def clip(text: str, max_bytes: int, marker: str = "\n…（内容过长，已截断）") -> str:
    """Cut ``text`` to fit ``max_bytes`` of UTF-8 (chat apps count bytes, not chars)."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode()))
    return data[:room].decode("utf-8", "ignore") + marker
