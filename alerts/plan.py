"""Deciding who gets an alert.  Pure functions: config + event → outbox drafts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.triggers import ChangeText, wants
from monitor.config import WEBHOOK_FROM_ENV, Config, SourceConfig, WatcherConfig
from storage.records import AlertDraft


def _targets(w: WatcherConfig) -> list[tuple[str, str]]:
    """(channel, recipient) of each way ``w`` is reached.  An Apprise recipient is
    ``env:NAME``: the URL (its token) is read from the environment when sending."""
    out = []
    if w.email:
        out.append(("email", w.email))
    if w.webhook:
        out.append(("webhook", w.webhook))
    if w.apprise_env:
        out.append(("apprise", WEBHOOK_FROM_ENV + w.apprise_env))
    return out


def _format(w: WatcherConfig | None, channel: str) -> str:
    if w is None or channel == "email":
        return "email"
    return w.webhook_format if channel == "webhook" else channel


def _secret(w: WatcherConfig | None, channel: str) -> str | None:
    return w.webhook_secret_env if (w and channel == "webhook") else None


def change_alerts(config: Config, source: SourceConfig, change_index: int,
                  now: datetime, change: ChangeText | None = None) -> list[AlertDraft]:
    """One draft per (watcher, channel) subscribed to ``source`` whose triggers choose
    ``change`` (``alerts.triggers``; None: the change is not known, every watcher).

    Digest watchers' rows are held until their next digest time; the digest job sends
    all held rows of a recipient as one message.
    """
    drafts = []
    for w in config.watchers_of(source):
        if change is not None and not wants(w, change):
            continue
        hold = next_digest(w, now, config.settings.timezone) if w.mode == "digest" else None
        for channel, recipient in _targets(w):
            drafts.append(AlertDraft(
                dedupe_key=f"change:{{change_id}}:{channel}:{recipient}",
                event="change", channel=channel, recipient=recipient, watcher=w.name,
                change_index=change_index, hold_until=hold,
                payload={"source": source.name, "mode": w.mode,
                         "format": _format(w, channel), "secret_env": _secret(w, channel),
                         **_listing(w, source)},
            ))
    return drafts


def _listing(w: WatcherConfig, source: SourceConfig) -> dict[str, str]:
    """A document two listings list, told to a watcher of the other listing only: the
    message names that listing (``"listing"``: ``alerts.compose``), not the owner the
    watcher never asked for (``storage/documents.py``)."""
    if w.wants(source):
        return {}
    return next(({"listing": s.name} for s in source.also if w.wants(s)), {})


def flap_alerts(config: Config, source: SourceConfig, change_index: int, now: datetime,
                page_id: int, change: ChangeText | None = None) -> list[AlertDraft]:
    """A later flip of an alternating page: one alert per (page, ``flap_hold`` window,
    recipient), held to the window's end; each newer flip in the window takes the
    pending row over (``replace_pending``), so what goes out is the page's newest state."""
    hold = config.settings.flap_hold
    window = int(now.timestamp() // hold)
    until = datetime.fromtimestamp((window + 1) * hold, tz=now.tzinfo)
    drafts = change_alerts(config, source, change_index, now, change)
    return [replace(d, dedupe_key=f"flap:{page_id}:{window}:{d.channel}:{d.recipient}",
                    hold_until=max(d.hold_until or until, until), replace_pending=True,
                    payload={**d.payload, "condensed": True})
            for d in drafts]


def trouble_alerts(config: Config, source: SourceConfig, event: str, key: str,
                   detail: str) -> list[AlertDraft]:
    """``event`` is "trouble" or "recovered"; to the admin, else to the source's watchers.

    ``key`` makes the draft unique per failure streak, so a streak alerts once.
    """
    recipients: list[tuple[str, str, WatcherConfig | None]] = []
    if config.settings.admin_email:
        recipients.append(("email", config.settings.admin_email, None))
    else:
        for w in config.watchers_of(source):
            recipients += [(c, r, w) for c, r in _targets(w)]
    return [AlertDraft(
        dedupe_key=f"{event}:{source.name}:{key}:{channel}:{recipient}", event=event,
        channel=channel, recipient=recipient, watcher=w.name if w else "admin",
        payload={"source": source.name, "url": source.url, "detail": detail,
                 "format": _format(w, channel), "secret_env": _secret(w, channel)},
    ) for channel, recipient, w in recipients]


def next_digest(w: WatcherConfig, now: datetime, timezone: str) -> datetime:
    """The next ``digest_at`` time of day in ``timezone`` after ``now`` (UTC-aware)."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    hour, minute = (int(p) for p in w.digest_at.split(":"))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(ZoneInfo("UTC"))


def config_alerts(config: Config, problems: list[str], key: str) -> list[AlertDraft]:
    """A configuration problem found at start-up, to the admin (nobody else can fix it).

    ``key`` (e.g. a hash of the problems) keeps a daemon restarted in a loop from sending
    the same message again and again."""
    if not config.settings.admin_email:
        return []
    recipient = config.settings.admin_email
    return [AlertDraft(dedupe_key=f"config:{key}:email:{recipient}", event="config",
                       channel="email", recipient=recipient, watcher="admin",
                       payload={"problems": list(problems), "format": "email"})]
