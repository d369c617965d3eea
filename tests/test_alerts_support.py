"""Shared pieces of the alert tests (no tests here): a real SMTP server on loopback, a
configuration with watchers, and changes written through the Store like a check does."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import os
import signal
import socket
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from alerts import plan
from monitor.config import Config, SourceConfig, parse_config
from monitor.types import ChangeDecision, ChangeKind
from storage import Store
from storage.instant import utcnow
from storage.records import CheckRecord, NewVersion

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
URL = "http://example.gov.cn/zxta/0192.html"
OLD_TEXT = ("湖南省工业和信息化厅\n关于省政协十二届四次会议第0192号提案的答复\n"
            "一、加快推进产业集群建设，今年安排专项资金3000万元。\n"
            "二、支持园区数字化改造。\n联系人：张三")
NEW_TEXT = ("湖南省工业和信息化厅\n关于省政协十二届四次会议第0192号提案的答复\n"
            "一、加快推进产业集群建设，今年安排专项资金5000万元。\n"
            "二、支持园区数字化改造。\n联系人：张三")
TITLE = "对省政协十二届四次会议第0192号提案的答复"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailSink:
    """aiosmtpd handler: keeps every accepted message; ``reject`` maps an address to the
    reply its RCPT gets (e.g. ``"550 5.1.1 no such user"``)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reject: dict[str, str] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
                    for _, _, raw in self.messages]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.parsed() if m["To"] == address]


class KillingSink(MailSink):
    """A sink that, once armed, keeps the next message and then SIGKILLs the client's
    process group before answering 250: the server has the mail, the client never learns
    it was accepted.  The group, as a container stop does: ``monitor`` has diff worker
    processes, and killing only their parent would leave them running."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = threading.Event()
        self.victim: int | None = None
        self.victim_known = threading.Event()
        self.killed = threading.Event()

    def arm(self) -> None:
        self.armed.set()

    def target(self, pgid: int) -> None:
        """The client's process group; known only once it is started, so DATA waits."""
        self.victim = pgid
        self.victim_known.set()

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.armed.is_set() and await asyncio.to_thread(self.victim_known.wait, 60):
            assert self.victim is not None and self.victim != os.getpgrp()
            self.armed.clear()
            os.killpg(self.victim, signal.SIGKILL)
            self.killed.set()
        return reply


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started on its port."""

    def __init__(self, port: int | None = None, sink: MailSink | None = None) -> None:
        self.port = port or free_port()
        self.sink = sink or MailSink()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def make_config(tmp_path: Path, watchers: str, *, smtp_url: str | None = None,
                settings: str = "", env: dict[str, str] | None = None) -> Config:
    lines = ["[settings]", "allow_private_network = true", "alert_retry_base = 60",
             f'outbox_dir = "{tmp_path / "outbox"}"']
    if smtp_url:
        lines.append(f'smtp_url = "{smtp_url}"')
    text = "\n".join(lines) + "\n" + textwrap.dedent(settings) + textwrap.dedent(f"""
        [[sources]]
        name = "hn-0192"
        url = "{URL}"
        tags = ["hunan"]
        """) + textwrap.dedent(watchers)
    return parse_config(text, path=tmp_path / "sources.toml", env=env or {})


def new_version(text: str, title: str, meta: dict[str, str], at: datetime) -> NewVersion:
    raw = f"<html><title>{title}</title><body>{text}</body></html>".encode()
    return NewVersion(content_hash=hashlib.sha256(text.encode() + title.encode()).hexdigest(),
                      title=title, text=text, metadata=meta, raw=raw,
                      raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                      headers={"content-type": "text/html"}, url=URL, charset="utf-8",
                      fetched_at=at)


def make_change(store: Store, config: Config, *, old: str = OLD_TEXT, new: str = NEW_TEXT,
                old_title: str = TITLE, new_title: str = TITLE,
                old_meta: dict[str, str] | None = None, new_meta: dict[str, str] | None = None,
                kind: ChangeKind = ChangeKind.CHANGED, now: datetime | None = None,
                summary: str = "第3段修改") -> int:
    """A baseline version, then a changed one with its change and outbox rows (as the
    pipeline writes them, in one transaction).  Returns the change id."""
    now = now or utcnow()
    source = config.source("hn-0192")
    meta0 = old_meta if old_meta is not None else {"文号": "湘工信提案函〔2021〕254号"}
    _commit(store, source, new_version(old, old_title, meta0, now - timedelta(days=1)))
    decision = ChangeDecision(kind, summary, stats={})
    drafts = plan.change_alerts(config, source, 0, now)
    res = _commit(store, source, new_version(new, new_title, new_meta or meta0, now),
                  changes=(decision,), alerts=tuple(drafts))
    return res.change_ids[0]


def _commit(store: Store, source: SourceConfig, version: NewVersion, **kw: Any) -> Any:
    state = store.page_state(source)
    return store.commit_check(CheckRecord(
        page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
        expected_revision=state.revision, started_at=version.fetched_at, duration=0.1,
        outcome="changed", version=version, **kw))


def later(hours: float = 0) -> Any:
    """A clock for the Deliverer: ``hours`` from now."""
    return lambda: utcnow() + timedelta(hours=hours)
