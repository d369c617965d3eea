"""The channels, by name, and the start-up check of their configuration.

An outbox row says ``channel = "email"`` or ``"webhook"``; ``channel_name`` picks the
module: email goes over SMTP when ``smtp_url`` is set and to the ``.eml`` outbox
otherwise, a webhook uses its watcher's ``webhook_format``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from alerts.base import Channel
from alerts.dingtalk import DingTalkWebhook
from alerts.email_mime import address_problem
from alerts.email_outbox import OutboxChannel
from alerts.email_smtp import SmtpChannel
from alerts.feishu import FeishuWebhook
from alerts.slack import SlackWebhook
from alerts.webhook import GenericWebhook
from alerts.wecom import WeComWebhook
from monitor.config import Config
from monitor.settings import Settings

CHANNELS: dict[str, type[Channel]] = {
    cls.name: cls for cls in (SmtpChannel, OutboxChannel, GenericWebhook, DingTalkWebhook,
                              WeComWebhook, FeishuWebhook, SlackWebhook)
}


def channel_name(settings: Settings, channel: str, fmt: str | None) -> str:
    if channel == "email":
        return "smtp" if settings.smtp_url else "outbox"
    return fmt or "generic"


def validate_channels(config: Config, env: Mapping[str, str] | None = None) -> list[str]:
    """Every configuration problem of the alert channels, one sentence each."""
    env = os.environ if env is None else env
    s = config.settings
    problems = list(CHANNELS[channel_name(s, "email", None)].problems(s))
    if s.admin_email and (p := address_problem(s.admin_email, "admin_email")):
        problems.append(p)
    for w in config.watchers:
        if not w.webhook:
            continue
        cls = CHANNELS.get(w.webhook_format)
        if cls is None:
            problems.append(f"watcher {w.name}: unknown webhook_format {w.webhook_format!r}")
        elif w.webhook_secret_env and not cls.signs:
            problems.append(f"watcher {w.name}: {w.webhook_format} webhooks are not signed; "
                            "remove webhook_secret_env (the URL itself is the secret)")
        elif w.webhook_secret_env and not env.get(w.webhook_secret_env):
            problems.append(f"watcher {w.name}: webhook_secret_env names "
                            f"{w.webhook_secret_env}, which is not set in the environment")
    return problems
