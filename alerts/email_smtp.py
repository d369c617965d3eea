"""Email over SMTP (aiosmtplib), configured by ``MONITOR_SMTP_URL``.

URL schemes:

* ``smtp://[user:pass@]host[:25]`` — STARTTLS when the server offers it, plain otherwise
  (a local relay);
* ``smtp+starttls://…[:587]`` — STARTTLS required (submission port);
* ``smtps://…[:465]`` — implicit TLS.

User and password are percent-decoded.  ``?verify=false`` skips certificate checks (an
internal relay with a self-signed certificate); ``?timeout=SECONDS`` (default 30).

Which failures are permanent: only a 5xx reply to this recipient (RCPT) or this message
(DATA), e.g. ``550 no such user``: retrying cannot help, the row goes dead with the
reply.  Everything else — connection refused, timeouts, 4xx replies, and also a refused
login or sender (a configuration problem the admin will fix) — is temporary and retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from alerts.base import Channel, Target
from alerts.email_mime import address_problem, bare_address, build_email
from alerts.message import Message
from monitor.errors import ChannelConfigError, DeliveryError
from monitor.settings import Settings

SCHEMES = {"smtp": (25, False, None), "smtp+starttls": (587, False, True),
           "smtps": (465, True, False)}  # scheme: (default port, implicit TLS, STARTTLS)
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None: when offered
    verify: bool = True
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str) -> SmtpServer:
    """Raises ``ChannelConfigError`` naming the problem (never echoing the password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ChannelConfigError(f"smtp_url is not a URL: {exc}", key="smtp_url") from None
    if parts.scheme not in SCHEMES:
        raise ChannelConfigError(f"smtp_url scheme must be one of {', '.join(SCHEMES)}",
                                 key="smtp_url")
    if not parts.hostname:
        raise ChannelConfigError("smtp_url has no host", key="smtp_url")
    default_port, tls, starttls = SCHEMES[parts.scheme]
    query = parse_qs(parts.query)
    try:
        timeout = float(query.get("timeout", [DEFAULT_TIMEOUT])[0])
    except ValueError:
        raise ChannelConfigError("smtp_url ?timeout= must be seconds", key="smtp_url") from None
    return SmtpServer(
        host=parts.hostname, port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls, start_tls=starttls, timeout=timeout,
        verify=query.get("verify", ["true"])[0].lower() not in ("false", "0", "no"))


class SmtpChannel(Channel):
    name = "smtp"

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        super().__init__(settings, env)
        self.server = parse_smtp_url(settings.smtp_url or "")

    @classmethod
    def problems(cls, settings: Settings) -> list[str]:
        out = []
        try:
            parse_smtp_url(settings.smtp_url or "")
        except ChannelConfigError as exc:
            out.append(str(exc))
        problem = address_problem(settings.smtp_from, "smtp_from")
        return out + ([problem] if problem else [])

    async def send(self, message: Message, target: Target) -> None:
        import aiosmtplib  # here: 25 ms at every start of monitor check, for mail only

        mail = build_email(message, self.settings.smtp_from, target.recipient)
        s = self.server
        client = aiosmtplib.SMTP(hostname=s.host, port=s.port, username=s.username,
                                 password=s.password, use_tls=s.use_tls, start_tls=s.start_tls,
                                 validate_certs=s.verify, timeout=s.timeout)
        try:
            await client.connect()
            await client.send_message(mail, sender=bare_address(self.settings.smtp_from),
                                      recipients=[target.recipient])
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise translate(exc) from exc
        except BaseException:
            # cancelled (a second Ctrl-C cuts the sends in flight): the connection is
            # dropped at once, not closed with a QUIT that waits up to ``timeout`` for
            # a server that may never answer (aiosmtplib's own ``send`` would)
            client.close()
            raise
        await _quit(client)


async def _quit(client: object) -> None:
    """A QUIT after a message the server took: its answer does not matter."""
    import aiosmtplib

    try:
        await client.quit()  # type: ignore[attr-defined]
    except (aiosmtplib.SMTPException, OSError):
        pass
    finally:
        client.close()  # type: ignore[attr-defined]


def translate(exc: Exception) -> DeliveryError:
    """The one place SMTP errors become ``DeliveryError`` (see the module doc)."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = f"SMTP {exc.code} {exc.message}".strip()
        per_message = isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError)
        return DeliveryError(reply, permanent=per_message and 500 <= exc.code < 600)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return DeliveryError(f"SMTP timeout: {exc}")
    return DeliveryError(f"SMTP: {exc.__class__.__name__}: {exc}")
