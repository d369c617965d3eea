"""The channels, by name, and the start-up check of their configuration.

An outbox row says ``channel = "email"``, ``"webhook"`` or ``"apprise"``; ``channel_name``
picks the module: email goes over SMTP when ``smtp_url`` is set and to the ``.eml``
outbox otherwise, a webhook uses its watcher's ``webhook_format``, an Apprise row the
Apprise URL named by its watcher's ``apprise_env``.

Start-up check (``check_alerting``): a broken channel (a bad ``smtp_url``, a secret on a
format that does not sign) stops everything, since it is the same for every watcher; a
watcher whose ``webhook_env``, ``webhook_secret_env`` or ``apprise_env`` is not set (or
holds no Apprise URL) is only a warning, so
one broken watcher never stops the checks or the other watchers.

A channel's module is imported when a channel of that name is first looked up
(``CHANNELS``): a check whose alerts all go to the ``.eml`` outbox never loads the
webhook, chat or Apprise code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from importlib import import_module

from alerts.base import Channel
from monitor.config import Config, watcher_warnings
from monitor.errors import ChannelConfigError
from monitor.settings import Settings

# channel name → "module:class"
_WHERE = {"smtp": "alerts.email_smtp:SmtpChannel",
          "outbox": "alerts.email_outbox:OutboxChannel",
          "generic": "alerts.webhook:GenericWebhook",
          "dingtalk": "alerts.dingtalk:DingTalkWebhook",
          "wecom": "alerts.wecom:WeComWebhook",
          "feishu": "alerts.feishu:FeishuWebhook",
          "slack": "alerts.slack:SlackWebhook",
          "apprise": "alerts.apprise:AppriseChannel"}


class _Channels(Mapping[str, type[Channel]]):
    """Channel name → class, each module imported on its first lookup."""

    def __getitem__(self, name: str) -> type[Channel]:
        module, cls = _WHERE[name].split(":")
        return getattr(import_module(module), cls)  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in _WHERE

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


CHANNELS: Mapping[str, type[Channel]] = _Channels()


def channel_name(settings: Settings, channel: str, fmt: str | None) -> str:
    if channel == "email":
        return "smtp" if settings.smtp_url else "outbox"
    if channel == "apprise":
        return "apprise"
    return fmt or "generic"


def validate_channels(config: Config) -> list[str]:
    """Every configuration problem of the alert channels, one sentence each.

    These stop ``monitor run`` and ``check`` (and fail ``sources validate``): they are
    mistakes in the file or in the settings, the same for every watcher."""
    s = config.settings
    problems = list(CHANNELS[channel_name(s, "email", None)].problems(s))
    if s.admin_email and (p := _address_problem(s.admin_email, "admin_email")):
        problems.append(p)
    for w in config.watchers:
        cls = CHANNELS.get(w.webhook_format) if w.webhook else None
        if w.webhook and cls is None:
            problems.append(f"watcher {w.name}: unknown webhook_format {w.webhook_format!r}")
        elif cls is not None and w.webhook_secret_env and not cls.signs:
            problems.append(f"watcher {w.name}: {w.webhook_format} webhooks are not signed; "
                            "remove webhook_secret_env (the URL itself is the secret)")
    return problems


def channel_warnings(config: Config, env: Mapping[str, str] | None = None) -> list[str]:
    """Watchers that cannot be reached as configured: a variable they name is not set.

    A warning, not an error: that watcher's alerts wait in the outbox and fail with the
    same reason (retried, then dead) while every other watcher and every check goes on."""
    env = os.environ if env is None else env
    out = []
    for w in config.watchers:
        if w.apprise_env and (problem := _apprise_problem(w.apprise_env, env)):
            out.append(f"watcher {w.name!r}: apprise_env names {w.apprise_env}, {problem}: "
                       "its Apprise alerts will fail until it is fixed")
        if not w.webhook:
            continue
        for key, name in (("webhook_env", w.webhook_env),
                          ("webhook_secret_env", w.webhook_secret_env)):
            if name and not env.get(name):
                out.append(f"watcher {w.name!r}: {key} names {name}, which is not set in the "
                           "environment: its webhook alerts will fail until it is")
    return out


def _address_problem(address: str, key: str) -> str | None:
    from alerts.email_mime import address_problem

    return address_problem(address, key)


def _apprise_problem(name: str, env: Mapping[str, str]) -> str | None:
    from alerts.apprise import url_problem

    url = env.get(name)
    if not url:
        return "which is not set in the environment"
    problem = url_problem(url)
    return f"which is {problem}" if problem else None


def check_alerting(config: Config, env: Mapping[str, str] | None = None) -> list[str]:
    """What ``monitor run``, ``check`` and ``sources validate`` all do before any check:
    raise ``ChannelConfigError`` for a broken channel; return the warnings (watchers whose
    variables are not set, watchers that match no source, no watcher at all)."""
    problems = validate_channels(config)
    if problems:
        raise ChannelConfigError("alert channels: " + "; ".join(problems),
                                 file=str(config.path))
    return watcher_warnings(config) + channel_warnings(config, env)
