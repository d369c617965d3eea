"""The embedded default when no SMTP server is configured: every email is written as an
RFC 5322 ``.eml`` file into ``outbox_dir`` (any mail client opens it) and logged, so a
newcomer sees the alerts without a mail server.

Files are named by Message-ID, which is stable per (change, recipient): a message written
twice (a crash between writing and marking) replaces itself instead of duplicating.  The
write is atomic (temporary file, fsync, rename) so a reader never sees half a message.
It runs in a thread: the event loop goes on composing the next alerts while a file is
fsynced, and the few sends in flight (``alerts.delivery.CONCURRENCY``) fsync side by
side instead of one after the other.  The directory is made when a write finds it
missing (the first one, or after an admin removed it), not stat'ed before every file.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

from loguru import logger

from alerts.base import Channel, Target
from alerts.email_mime import address_problem, build_email
from alerts.message import Message
from monitor.errors import DeliveryError
from monitor.settings import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def eml_name(message_id: str) -> str:
    return _UNSAFE.sub("_", message_id.strip("<>")) + ".eml"


class OutboxChannel(Channel):
    name = "outbox"

    @classmethod
    def problems(cls, settings: Settings) -> list[str]:
        problem = address_problem(settings.smtp_from, "smtp_from")
        return [problem] if problem else []

    async def send(self, message: Message, target: Target) -> None:
        mail = build_email(message, self.settings.smtp_from, target.recipient)
        path = Path(self.settings.outbox_dir) / eml_name(message.message_id)
        try:
            await asyncio.to_thread(write_atomic, path, mail.as_bytes())
        except OSError as exc:
            # A full disk or a read-only directory may be fixed by the admin: retry.
            raise DeliveryError(f"cannot write {path}: {exc}") from exc
        logger.info("alert to {} written to {} ({})", target.recipient, path, message.subject)


def write_atomic(path: Path, data: bytes) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    except FileNotFoundError:  # no directory yet (or removed meanwhile)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
