"""The one typed settings object.

Precedence: built-in defaults < the ``[settings]`` table of ``sources.toml`` < environment
variables ``MONITOR_<FIELD>`` (upper case).  Every field is documented in the README's
settings table; ``tests/test_settings.py`` checks that table against this class.

Secrets (SMTP password, web token, webhook secrets) are only ever read from the
environment: the file may *name* an environment variable, never hold the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.errors import ConfigError
from monitor.plainsettings import _has_password, check_proxy, parse_interval, unknown_key

ENV_PREFIX = "MONITOR_"
# Fields that may only come from the environment, never from sources.toml.
ENV_ONLY = frozenset({"web_token", "admin_token"})
# URL fields that may be written in the file only without a password in them.
URL_SECRETS = frozenset({"smtp_url", "database_url", "proxy"})
# Settings whose values together decide whether the web UI and /metrics share a port.
PORT_KEYS = ("web_port", "metrics_port", "web_enabled")



class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///data/monitor.db",
        description="SQLAlchemy URL. sqlite:///PATH (WAL mode) or postgresql://… (psycopg).",
    )
    smtp_url: str | None = Field(
        None,
        description="smtp://user:pass@host:port, smtps://… or smtp+starttls://…; "
        "unset: alerts are written as .eml files to outbox_dir.",
    )
    smtp_from: str = Field("monitor <monitor@localhost>", description="From: of alert mail.")
    outbox_dir: Path = Field(Path("data/outbox"), description="Where .eml alerts go without SMTP.")
    admin_email: str | None = Field(None, description="Gets source-trouble and config alerts.")
    allow_private_network: bool = Field(
        False, description="Allow fetching loopback/private/link-local addresses (tests, demos)."
    )
    user_agent: str = Field(
        "monitor/0.1 (change monitoring of public notices)",
        description="User-Agent of every request; add a contact address of yours.",
    )
    fetch_deadline: float = Field(
        60.0, gt=0,
        description="Wall-clock seconds per fetch, from its request (not its wait for the "
                    "host's slot).")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(20.0, gt=0, description="Seconds of inactivity while reading.")
    max_body_bytes: int = Field(
        20_000_000, gt=0, description="Cap on decoded body bytes (stops gzip bombs)."
    )
    max_attachments: int = Field(
        20, ge=0, description="Attachments (linked PDF, Word… files) fetched per page and check."
    )
    max_redirects: int = Field(5, ge=0, description="Redirect hops per fetch.")
    proxy: str | None = Field(
        None, description="Proxy of every fetch (http://, https://, socks5://host:port, or "
        "'direct'); unset: HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the environment. A password "
        "only in MONITOR_PROXY.")
    browser_concurrency: int = Field(
        2, ge=1, description="Pages the headless browser loads at once (fetch = 'browser').")
    browser_max_pages: int = Field(
        200, ge=1, description="Pages a headless browser loads before it is replaced by a "
        "fresh one (its leaked memory returned); not for a browser over CDP.")
    chromium_path: str = Field(
        "/usr/bin/chromium", description="Chromium run for fetch = 'browser' (Debian "
        "package chromium).")
    browser_cdp_url: str | None = Field(
        None, description="A browser already running, over CDP (ws://… or http://…:9222); "
        "used instead of chromium_path.")
    retries: int = Field(2, ge=0, description="Retries on connect errors, 5xx and 429.")
    retry_backoff: float = Field(1.0, ge=0, description="First retry delay, doubled each time.")
    max_retry_after: float = Field(120.0, ge=0, description="Cap on an honoured Retry-After.")
    host_delay: float = Field(2.0, ge=0, description="Min seconds between requests to a host.")
    host_delays: dict[str, float] = Field(
        default_factory=dict, description="Per-host override of host_delay, {host = seconds}."
    )
    concurrency: int = Field(8, ge=1, description="Checks running at once, all hosts together.")
    host_concurrency: int = Field(1, ge=1, description="Checks running at once on one host.")
    host_concurrencies: dict[str, int] = Field(
        default_factory=dict, description="Per-host override of host_concurrency, "
        "{host = checks}.")
    check_workers: int | Literal["auto"] = Field(
        "auto", description="Processes monitor check splits a pass over ('auto': one per "
        "core, at most one per 50 sources; 1: one process). See monitor.parallel.")
    respect_robots: bool = Field(True, description="Honour robots.txt (a source may override).")
    timezone: str = Field("Asia/Shanghai", description="Time zone of cron schedules and digests.")
    default_interval: str = Field("6h", description="Interval of a source that sets none.")
    jitter: float = Field(1.0, ge=0, le=1, description="Fraction of an interval over which "
                          "the sources' slots are spread (1: evenly over all of it).")
    gone_after: int = Field(2, ge=1, description="Consecutive 404/410 checks before 'gone'.")
    trouble_after: int = Field(3, ge=1, description="Consecutive failed checks before an alert.")
    diff_timeout: float = Field(0.5, gt=0, description="Seconds a character diff may take.")
    flap_hold: float = Field(
        3600.0, gt=0, description="A page still alternating after its first 内容来回变化 "
        "alert: its later flips are told as one alert per this many seconds, with the page "
        "as it is when that alert goes out.")
    alert_retry_base: float = Field(30.0, gt=0, description="First alert retry delay (seconds).")
    alert_max_attempts: int = Field(10, ge=1, description="Attempts before an alert is dead.")
    dingtalk_rate: int = Field(
        20, ge=1, description="Messages a DingTalk robot takes per dingtalk_window; more are "
        "queued (DingTalk's limit: 20 a minute per robot).")
    dingtalk_window: float = Field(
        60.0, gt=0, description="Seconds of dingtalk_rate's window.")
    wecom_rate: int = Field(
        20, ge=1, description="Messages a WeCom group robot takes per wecom_window; more are "
        "queued (WeCom's limit: 20 a minute per robot).")
    wecom_window: float = Field(60.0, gt=0, description="Seconds of wecom_rate's window.")
    web_enabled: bool = Field(False, description="monitor run also serves the web UI.")
    web_host: str = Field("127.0.0.1", description="Web UI bind address.")
    web_port: int = Field(8080, ge=1, le=65535, description="Web UI port.")
    web_token: str | None = Field(
        None, description="Env only. Required to bind the web UI beyond loopback."
    )
    admin_token: str | None = Field(
        None, description="Env only. Required by monitor serve --admin (sign-in to the "
        "pages that add, test, remove, pause and check sources); at least 16 characters."
    )
    public_url: str | None = Field(
        None, description="Address users reach the web UI at (https://host[/prefix]): "
        "absolute links in feeds, and every alert links to its diff and version there; "
        "https also marks the token cookie Secure. Unset: the address the server is bound "
        "to, and alerts carry no web UI links.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port of /healthz and /metrics (loopback).")
    log_json: bool = Field(False, description="Log JSON lines instead of text.")
    lease_seconds: float = Field(300.0, gt=0, description="Seconds a replica holds a claim.")
    health_window: float = Field(
        300.0, gt=0, description="Seconds of recent check attempts /healthz judges.")
    health_failure_share: float = Field(
        0.5, gt=0, le=1, description="Share of those that could not be stored that makes "
        "/healthz unhealthy (503).")
    shutdown_grace: float = Field(
        30.0, ge=0, description="Seconds running checks may finish in after SIGTERM/SIGINT; "
        "then they are abandoned, storing nothing.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"{value!r} is not a time zone like 'Asia/Shanghai' or 'UTC'"
                             ) from None
        return value

    @field_validator("check_workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> int | str:
        """'auto' or a whole number ≥ 1 (from the environment: its text)."""
        if value == "auto":
            return value
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else 0
        except ValueError:
            number = 0
        if number < 1 or (isinstance(value, float) and value != number):
            raise ValueError(f"{value!r} is not 'auto' or a number of processes (1 or more)")
        return number

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an address like 'https://monitor.example.org'")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(f"{value!r}: no user, query or fragment, only scheme, host, "
                             "port and path")
        return value.rstrip("/")

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        return check_proxy(value) if value else None

    @field_validator("default_interval")
    @classmethod
    def _schedulable(cls, value: str) -> str:
        parse_interval(value)  # its ValueError says what is wrong
        return value

    def delay_for(self, host: str) -> float:
        return self.host_delays.get(host, self.host_delay)

    def concurrency_for(self, host: str) -> int:
        return max(1, self.host_concurrencies.get(host, self.host_concurrency))


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in ("host_delays", "host_concurrencies"):
            out[name] = _host_values(raw, name)
        else:
            out[name] = raw
    return out


def _host_values(raw: str, name: str) -> dict[str, float]:
    try:
        return dict(_pair(p) for p in raw.split(",") if p.strip())
    except ValueError:
        what = "SECONDS" if name == "host_delays" else "N"
        raise ConfigError(f"must be HOST={what} pairs like 'a.gov.cn=5,b.gov.cn=2'",
                          file="environment", key=ENV_PREFIX + name.upper()) from None


def _pair(text: str) -> tuple[str, float]:
    host, _, seconds = text.partition("=")
    return host.strip(), float(seconds)


def load_settings(
    file_values: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    file: str = "sources.toml",
) -> Settings:
    """Build settings from the file's ``[settings]`` table and the environment."""
    file_values = dict(file_values or {})
    _refuse_secrets(file_values, file)
    _check_ports(_build(file_values, file, "settings."), file, "settings.web_port")
    env_values = _env_values(os.environ if env is None else env)
    settings = _build({**file_values, **env_values}, "environment", ENV_PREFIX, upper=True)
    from_env = next((k for k in PORT_KEYS if k in env_values), PORT_KEYS[0])
    _check_ports(settings, "environment", ENV_PREFIX + from_env.upper())
    return settings


def _refuse_secrets(file_values: Mapping[str, Any], file: str) -> None:
    for key, value in file_values.items():
        if key in ENV_ONLY or (key in URL_SECRETS and _has_password(value)):
            what = " (a password in the URL)" if key in URL_SECRETS else ""
            raise ConfigError(
                f"{key} holds a secret{what}: set MONITOR_{key.upper()} in the environment",
                file=file, key=f"settings.{key}",
            )


def _build(values: dict[str, Any], file: str, prefix: str, upper: bool = False) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _translate(exc, file, prefix, upper) from None


def _check_ports(settings: Settings, file: str, key: str) -> None:
    """With the web UI on, it and /metrics need two ports: the second bind would fail."""
    if settings.web_enabled and settings.web_port == settings.metrics_port:
        raise ConfigError(f"web_port {settings.web_port} is also metrics_port: with "
                          "web_enabled the web UI could not bind it", file=file, key=key)


def _translate(exc: ValidationError, file: str, prefix: str, upper: bool = False) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        message = unknown_key(key, Settings.model_fields)
    elif err["type"] == "value_error":  # ours: it names the value itself
        message = err["msg"].removeprefix("Value error, ")
    else:  # pydantic's ("Input should be greater than or equal to 1"): with the value
        message = f"{err['input']!r}: {err['msg']}"
    return ConfigError(message, file=file, key=prefix + (key.upper() if upper else key))
