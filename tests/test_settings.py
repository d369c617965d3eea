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
