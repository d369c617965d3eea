"""What every channel module implements.  ``alerts.registry`` maps names to classes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from alerts.message import Message
from monitor.errors import DeliveryError
from monitor.settings import Settings


def redact(recipient: str) -> str:
    """A recipient fit for logs: webhook URLs carry their secret in the path or query
    (DingTalk ``access_token``, WeCom ``key``, Slack's path), so only the host is shown."""
    parts = urlsplit(recipient)
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
    return recipient


@dataclass(frozen=True)
class Target:
    """Where one outbox row goes: an email address or a webhook URL, and the watcher's
    secret (by environment variable name, never the value) for signing webhooks."""

    recipient: str
    secret_env: str | None = None
    watcher: str = ""


class Channel(ABC):
    """A transport.  ``send`` raises ``DeliveryError`` (``permanent`` says whether a retry
    could help) and nothing else: each module translates its library's errors once."""

    name: ClassVar[str]
    # Whether ``webhook_secret_env`` means something for this channel.
    signs: ClassVar[bool] = False

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.settings, self.env = settings, env

    @classmethod
    def problems(cls, settings: Settings) -> list[str]:
        """Configuration problems of the channel as a whole, said at start-up."""
        return []

    @abstractmethod
    async def send(self, message: Message, target: Target) -> None: ...

    def secret(self, target: Target) -> str | None:
        """The signing secret, or None when the watcher has none.  Named but unset is a
        temporary failure, never an unsigned request: the admin may set it and retry."""
        if not target.secret_env:
            return None
        value = self.env.get(target.secret_env)
        if not value:
            raise DeliveryError(f"webhook_secret_env {target.secret_env} is not set")
        return value
