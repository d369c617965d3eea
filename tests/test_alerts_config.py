"""Channel configuration: SMTP URLs, secrets named but missing, said at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.delivery import Deliverer, backoff
from alerts.email_smtp import parse_smtp_url
from alerts.registry import CHANNELS, channel_name, check_alerting, validate_channels
from monitor.errors import ChannelConfigError
from tests.test_alerts_support import make_config

HOOK = """
[[watchers]]
name = "room"
webhook_env = "ROOM_WEBHOOK"
webhook_format = "{fmt}"
webhook_secret_env = "ROOM_SECRET"
sources = ["hn-0192"]
"""


@pytest.mark.parametrize(("url", "host", "port", "tls", "starttls"), [
    ("smtp://mail.example.cn", "mail.example.cn", 25, False, None),
    ("smtp+starttls://mail.example.cn", "mail.example.cn", 587, False, True),
    ("smtps://mail.example.cn", "mail.example.cn", 465, True, False),
    ("smtps://mail.example.cn:2465", "mail.example.cn", 2465, True, False),
])
def test_smtp_url_schemes(url: str, host: str, port: int, tls: bool,
                          starttls: bool | None) -> None:
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.use_tls, s.start_tls) == (host, port, tls, starttls)


def test_smtp_url_credentials_are_percent_decoded() -> None:
    s = parse_smtp_url("smtps://alerts%40example.cn:p%40ss%3Aw0rd@mail.example.cn?verify=false")
    assert (s.username, s.password, s.verify) == ("alerts@example.cn", "p@ss:w0rd", False)


@pytest.mark.parametrize("url", ["http://mail.example.cn", "smtp://", "smtp://h:port",
                                 "smtp://h?timeout=soon"])
def test_bad_smtp_urls_are_reported_without_the_password(url: str) -> None:
    with pytest.raises(ChannelConfigError) as info:
        parse_smtp_url(url)
    assert "smtp_url" in str(info.value)


def test_a_variable_named_but_not_set_is_a_warning_at_start_up(tmp_path: Path) -> None:
    """One unreachable watcher never stops the checks or the other watchers."""
    config = make_config(tmp_path, HOOK.format(fmt="dingtalk"))
    assert validate_channels(config) == []
    url_missing, secret_missing = check_alerting(config, env={})
    assert "'room'" in url_missing and "webhook_env names ROOM_WEBHOOK" in url_missing
    assert "webhook_secret_env names ROOM_SECRET, which is not set" in secret_missing
    env = {"ROOM_SECRET": "s", "ROOM_WEBHOOK": "https://oapi.dingtalk.com/robot/send?x=1"}
    assert check_alerting(config, env=env) == []
    assert Deliverer(config, None, env={}).warnings == [  # type: ignore[arg-type]
        url_missing, secret_missing]


def test_a_secret_on_an_unsigned_format_is_a_mistake(tmp_path: Path) -> None:
    config = make_config(tmp_path, HOOK.format(fmt="wecom"))
    [problem] = validate_channels(config)
    assert "not signed" in problem


def test_bad_smtp_settings_are_all_reported(tmp_path: Path) -> None:
    config = make_config(tmp_path, "", smtp_url="smtq://mail",
                         settings='smtp_from = "not an address"\nadmin_email = "nobody"\n')
    problems = validate_channels(config)
    assert len(problems) == 3
    assert any("scheme" in p for p in problems) and any("smtp_from" in p for p in problems)


def test_email_goes_to_smtp_when_configured_else_to_the_outbox(tmp_path: Path) -> None:
    plain = make_config(tmp_path, "")
    smtp = make_config(tmp_path, "", smtp_url="smtp://127.0.0.1:2525")
    assert channel_name(plain.settings, "email", "email") == "outbox"
    assert channel_name(smtp.settings, "email", "email") == "smtp"
    assert channel_name(plain.settings, "webhook", "feishu") == "feishu"
    assert channel_name(plain.settings, "apprise", "apprise") == "apprise"
    assert set(CHANNELS) == {"smtp", "outbox", "generic", "dingtalk", "wecom", "feishu",
                             "slack", "apprise"}
    # each name's module is imported on lookup; the class found calls itself that name
    assert all(CHANNELS[name].name == name for name in CHANNELS)
    assert "email" not in CHANNELS and CHANNELS.get("teams") is None


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    mid = [backoff(30, n, rng=lambda: 0.5).total_seconds() for n in (1, 2, 3, 4)]
    assert mid == [30, 60, 120, 240]
    assert backoff(30, 1, rng=lambda: 0.0).total_seconds() == pytest.approx(27)
    assert backoff(30, 1, rng=lambda: 1.0).total_seconds() == pytest.approx(33)
    assert backoff(30, 40, rng=lambda: 0.5).total_seconds() == 6 * 3600


def test_webhook_secrets_in_urls_stay_out_of_logs() -> None:
    from alerts.base import redact

    assert redact("https://oapi.dingtalk.com/robot/send?access_token=s3cr3t") == (
        "https://oapi.dingtalk.com/…")
    assert redact("https://hooks.slack.com/services/T0/B0/s3cr3t") == "https://hooks.slack.com/…"
    assert redact("alice@example.cn") == "alice@example.cn"
