"""Any service Apprise knows (Telegram, ntfy, ServerChan, PushPlus, Bark, Discord,
Matrix, Teams, Slack…), by an Apprise URL from the environment.

A watcher says ``apprise_env = "TELEGRAM_URL"``; its outbox rows' recipient is
``env:TELEGRAM_URL`` and the URL (which holds the bot token) is read when sending, never
stored nor written in ``sources.toml``.  Rows go through the same outbox, retries and
exactly-once bookkeeping as every channel (``alerts.delivery``).

What is sent: the message's title and its plain-text email part (facts, link to the
page, the diff with ``[-…-]{+…+}`` markers), as ``NotifyFormat.TEXT``: Apprise escapes
it for services that take HTML or Markdown, so page text never becomes markup.  Apprise
cuts or splits a body that is too long for a service.

Outcomes: an unset variable is a temporary failure (the admin may set it and retry, as
for ``webhook_env``); a value Apprise does not understand is permanent (``monitor alerts
retry`` after fixing it); a service that refuses or cannot be reached is temporary, with
Apprise's own reason (its per-call log) in ``last_error``.  Apprise is a blocking
library (requests): ``notify`` runs in a thread, off the event loop.

Unlike the hand-written DingTalk/WeCom/Feishu senders, Apprise does not read those apps'
``errcode`` in a 200 reply; use ``webhook_format`` for them.  The private-address rule of
webhooks is not applied: the URL is the admin's own, from the environment, and most
Apprise schemes name a service, not a host.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from alerts.base import Channel, Target
from alerts.message import Message
from monitor.config import WEBHOOK_FROM_ENV
from monitor.errors import DeliveryError

REASON_CHARS = 300  # of Apprise's log kept in last_error


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an Apprise URL (None: it is one).  Never says the URL."""
    import apprise  # imported when used: it loads its plugins (commands start faster)

    if apprise.Apprise().add(url):
        return None
    scheme = url.partition("://")[0] if "://" in url else ""
    return (f"not an Apprise URL (scheme {scheme!r} unknown or the URL incomplete)"
            if scheme else "not an Apprise URL (like tgram://TOKEN/CHAT or ntfy://topic)")


class AppriseChannel(Channel):
    name = "apprise"

    def url(self, target: Target, env: Mapping[str, str]) -> str:
        name = target.recipient.removeprefix(WEBHOOK_FROM_ENV)
        url = env.get(name)
        if not url:
            raise DeliveryError(f"apprise_env {name} is not set")
        if problem := url_problem(url):
            raise DeliveryError(f"apprise_env {name}: {problem}", permanent=True)
        return url

    async def send(self, message: Message, target: Target) -> None:
        url = self.url(target, self.env)
        await asyncio.to_thread(_notify, url, message)


def _notify(url: str, message: Message) -> None:
    import apprise

    client = apprise.Apprise()
    client.add(url)
    result = client.notify(title=message.title, body=message.text or message.title,
                           body_format=apprise.NotifyFormat.TEXT)
    if not result:
        raise DeliveryError(f"Apprise: {_reason(result)}")


def _reason(result: object) -> str:
    logs = getattr(result, "logs", None)
    lines = [e.message for e in logs()] if callable(logs) else []
    text = " ".join(" ".join(lines).split()) or f"notification failed ({result})"
    return text[:REASON_CHARS]
