"""Settings: defaults < [settings] in sources.toml < MONITOR_* environment variables,
and every setting is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.settings import Settings

README = Path(__file__).parent.parent / "README.md"


def test_precedence_defaults_file_environment() -> None:
    assert parse_config("").settings.host_delay == 2.0
    cfg = parse_config("[settings]\nhost_delay = 5\nconcurrency = 3\n",
                       env={"MONITOR_HOST_DELAY": "7.5"})
    assert cfg.settings.host_delay == 7.5  # environment wins
    assert cfg.settings.concurrency == 3  # file beats the default


def test_environment_booleans_urls_and_host_delays() -> None:
    env = {"MONITOR_ALLOW_PRIVATE_NETWORK": "true",
           "MONITOR_DATABASE_URL": "postgresql://u@h/db",
           "MONITOR_SMTP_URL": "smtp://mail:25", "MONITOR_OUTBOX_DIR": "/tmp/out",
           "MONITOR_HOST_DELAYS": "a.gov.cn=5, b.gov.cn=0.5"}
    s = parse_config("", env=env).settings
    assert s.allow_private_network is True and s.database_url == "postgresql://u@h/db"
    assert s.smtp_url == "smtp://mail:25" and str(s.outbox_dir) == "/tmp/out"
    assert s.delay_for("a.gov.cn") == 5 and s.delay_for("b.gov.cn") == 0.5
    assert s.delay_for("c.gov.cn") == 2.0


def test_bad_values_name_where_they_came_from() -> None:
    with pytest.raises(ConfigError, match=r"sources\.toml: key 'settings\.concurrency'"):
        parse_config("[settings]\nconcurrency = 0\n")
    with pytest.raises(ConfigError, match="environment: key 'MONITOR_RETRIES'"):
        parse_config("", env={"MONITOR_RETRIES": "many"})
    with pytest.raises(ConfigError, match=r"key 'settings\.colour'"):
        parse_config("[settings]\ncolour = 'red'\n")


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert documented == set(Settings.model_fields), (
        f"missing: {set(Settings.model_fields) - documented}, "
        f"stale: {documented - set(Settings.model_fields)}")


@pytest.mark.parametrize(("lines", "key", "says"), [
    ('timezone = "Mars/Olympus"', "timezone", "not a time zone"),
    ('timezone = "../../etc/passwd"', "timezone", "not a time zone"),
    ("metrics_port = 99999", "metrics_port", "less than or equal to 65535"),
    ("web_port = 70000", "web_port", "less than or equal to 65535"),
    ("web_port = 0", "web_port", "greater than or equal to 1"),
    ("web_enabled = true\nmetrics_port = 8080", "web_port", "also metrics_port"),
    ("web_enabled = true\nweb_port = 9100\nmetrics_port = 9100", "web_port", "also metrics_port"),
    ('default_interval = "99999999999w"', "default_interval", "longer than 366 days"),
    ('default_interval = "6 hours"', "default_interval", "not an interval"),
    ('colour = "red"', "colour", "unknown key"),
])
def test_a_bad_setting_names_the_file_and_the_key(lines: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f"[settings]\n{lines}\n", path="s.toml", env={})
    message = str(err.value)
    assert message.startswith(f"s.toml: key 'settings.{key}': "), message
    assert says in message and "Extra inputs" not in message and "Value error" not in message


def test_ports_clash_only_when_the_web_ui_runs_and_the_environment_is_named() -> None:
    s = parse_config("[settings]\nmetrics_port = 8080\n", env={}).settings
    assert s.metrics_port == s.web_port == 8080 and not s.web_enabled
    with pytest.raises(ConfigError, match=r"environment: key 'MONITOR_METRICS_PORT'.*metrics_port"):
        parse_config("[settings]\nweb_enabled = true\n", env={"MONITOR_METRICS_PORT": "8080"})
    with pytest.raises(ConfigError, match="environment: key 'MONITOR_TIMEZONE'"):
        parse_config("", env={"MONITOR_TIMEZONE": "Mars/Olympus"})
    assert parse_config('[settings]\ntimezone = "UTC"\n', env={}).settings.timezone == "UTC"
    with pytest.raises(ConfigError, match="environment: key 'MONITOR_HOST_DELAYS': must be"):
        parse_config("", env={"MONITOR_HOST_DELAYS": "a.gov.cn=soon"})
