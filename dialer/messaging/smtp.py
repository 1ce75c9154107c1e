"""E-mail over SMTP: the MIME a debtor receives, and the one adapter that speaks SMTP.

Every message has a plain-text and an HTML part and a ``List-Unsubscribe`` header (a
mailto and, where the console is reachable, a one-click HTTPS link, RFC 8058), so a mail
client's own "unsubscribe" button reaches the opt-out.  ``Message-ID`` carries duncall's
message id, so a bounce or a reply can be matched back to the account.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib

from dialer.messaging.model import Channel, MessageStatus, Outgoing, SendResult
from foundation.errors import ConfigError

SMTP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    starttls: bool = True  # upgrade the connection before AUTH (port 587); False: plain (a local relay)
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None  # trust this CA (a relay with a private certificate)
    sender: str = "collections@localhost"  # the From address
    sender_name: str | None = None
    unsubscribe_mailto: str | None = None  # e.g. unsubscribe@agency.example; default: the From address


def build_email(message: Outgoing, config: SmtpConfig, from_name: str | None = None) -> EmailMessage:
    rendered = message.rendered
    if rendered.subject is None or rendered.html is None:
        raise ConfigError(
            f"message {message.message_id}: an e-mail needs a subject and an HTML part",
            "give the template '--- subject' and '--- html' parts",
        )
    mail = EmailMessage()
    mail["From"] = formataddr((from_name or config.sender_name or "", config.sender))
    mail["To"] = message.address
    mail["Subject"] = rendered.subject
    domain = config.sender.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = make_msgid(idstring=message.message_id, domain=domain)
    mail["X-Duncall-Message"] = message.message_id
    mailto = config.unsubscribe_mailto or config.sender
    targets = [f"<mailto:{mailto}?subject=unsubscribe%20{message.message_id}>"]
    if message.unsubscribe_url:
        targets.append(f"<{message.unsubscribe_url}>")
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["List-Unsubscribe"] = ", ".join(targets)
    for key, value in message.headers.items():
        mail[key] = value
    mail.set_content(rendered.text)
    mail.add_alternative(rendered.html, subtype="html")
    return mail


class SmtpSender:
    """Sends a batch of e-mails over one SMTP connection (STARTTLS and AUTH as configured)."""

    channel = Channel.EMAIL

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _tls(self) -> ssl.SSLContext | None:
        if not self.config.starttls:
            return None
        return ssl.create_default_context(cafile=self.config.ca_file)

    async def send(self, outgoing: Sequence[Outgoing]) -> list[SendResult]:
        """Hand each message to the server; a refused recipient fails that message only."""
        if not outgoing:
            return []
        messages = [(m, build_email(m, self.config)) for m in outgoing]
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            start_tls=c.starttls,
            use_tls=False,
            tls_context=self._tls(),
            username=c.username,
            password=c.password,
            timeout=SMTP_TIMEOUT_S,
        )
        results: list[SendResult] = []
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = f"SMTP {c.host}:{c.port}: {exc}"
            return [SendResult(m.message_id, MessageStatus.QUEUED, error=error) for m, _ in messages]
        try:
            for item, mail in messages:
                try:
                    _, reply = await client.send_message(mail)
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                    results.append(SendResult(item.message_id, MessageStatus.FAILED, error=detail))
                except aiosmtplib.SMTPResponseException as exc:
                    # 4xx: try again later (stays queued); 5xx: the server will never take it.
                    status = MessageStatus.QUEUED if 400 <= exc.code < 500 else MessageStatus.FAILED
                    results.append(SendResult(item.message_id, status, error=f"{exc.code} {exc.message}"))
                except aiosmtplib.SMTPException:
                    break  # the connection went away: the rest stay queued (below)
                else:
                    results.append(SendResult(item.message_id, MessageStatus.SENT, provider_id=reply))
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()
        done = {r.message_id for r in results}
        results += [
            SendResult(m.message_id, MessageStatus.QUEUED, error="connection lost")
            for m, _ in messages
            if m.message_id not in done
        ]
        return results
