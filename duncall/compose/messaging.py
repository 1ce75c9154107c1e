"""The message channels the settings configure: SMTP for e-mail, Kannel for SMS, and the guard."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from bot.dialogue.channels import PaymentLinkRequest
from bot.dialogue.ports import ActionPorts, ConfiguredPorts
from dialer.messaging.guard import MessageGuard, utc_now
from dialer.messaging.kannel import KannelConfig, KannelSender
from dialer.messaging.links import LinkIssuer, unsubscribe_token
from dialer.messaging.model import Channel
from dialer.messaging.send import Adapter, Messenger, RunSummary, UnsubscribeUrl
from dialer.messaging.smtp import SmtpConfig, SmtpSender
from dialer.messaging.templates import TEMPLATES_DIR, TemplateSet
from dialer.policy import Rules
from foundation.log import kv
from foundation.settings import Settings, get_settings

log = logging.getLogger(__name__)


def smtp_config(env: Settings) -> SmtpConfig | None:
    if not env.smtp_host:
        return None
    return SmtpConfig(
        host=env.smtp_host,
        port=env.smtp_port,
        starttls=env.smtp_starttls,
        username=env.smtp_user,
        password=env.smtp_password.get_secret_value() if env.smtp_password else None,
        ca_file=str(env.smtp_ca_file) if env.smtp_ca_file else None,
        sender=env.smtp_from,
        sender_name=env.smtp_from_name,
    )


def kannel_config(env: Settings) -> KannelConfig | None:
    if not env.kannel_url:
        return None
    return KannelConfig(
        sendsms_url=env.kannel_url,
        username=env.kannel_user,
        password=env.kannel_password.get_secret_value() if env.kannel_password else "",
        callback_base=env.messages_callback_url or "http://127.0.0.1:8080",
        callback_token=env.messages_callback_token.get_secret_value() if env.messages_callback_token else "",
        sender=env.sms_sender,
    )


def adapters(env: Settings | None = None) -> dict[Channel, Adapter]:
    """Every channel the environment configures (none: an empty mapping)."""
    env = env or get_settings()
    out: dict[Channel, Adapter] = {}
    smtp = smtp_config(env)
    if smtp is not None:
        out[Channel.EMAIL] = SmtpSender(smtp)
    kannel = kannel_config(env)
    if kannel is not None:
        out[Channel.SMS] = KannelSender(kannel)
    return out


def link_issuer(env: Settings) -> LinkIssuer | None:
    if env.payment_link_secret is None or not env.payment_link_url:
        return None
    return LinkIssuer(
        env.payment_link_secret.get_secret_value(),
        env.payment_link_url,
        dt.timedelta(hours=env.payment_link_ttl_hours),
    )


def unsubscribe_url(env: Settings) -> UnsubscribeUrl | None:
    """The e-mails' one-click unsubscribe link, served by the console with the payment pages."""
    if env.payment_link_secret is None or not env.payment_link_url:
        return None
    secret, base = env.payment_link_secret.get_secret_value(), env.payment_link_url.rstrip("/")
    return lambda message_id, channel: f"{base}/u/{unsubscribe_token(secret, message_id)}"


def messenger(
    engine: Engine,
    rules: Rules,
    env: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Messenger:
    env = env or get_settings()
    return Messenger(
        engine,
        MessageGuard(engine, rules, clock=clock),
        TemplateSet(env.templates_dir or TEMPLATES_DIR),
        adapters(env),
        unsubscribe_url=unsubscribe_url(env),
        links=link_issuer(env),
        clock=clock,
    )


LINK_STAGE = "payment_link"  # the template stage of the SMS a call's "I'll text you a link" sends


class SmsPaymentLinks:
    """The bot's payment-link channel: the link goes as an SMS through the message guard.

    ``send`` is called by the pure dialogue engine, so it only starts the send on the call's
    event loop; the task is kept here, and its failure is logged, not lost.
    """

    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger
        self.tasks: set[asyncio.Task[RunSummary]] = set()

    def send(self, request: PaymentLinkRequest) -> None:
        task = asyncio.get_running_loop().create_task(
            self.messenger.send([request.account_id], Channel.SMS, LINK_STAGE), name="payment-link-sms"
        )
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[RunSummary]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("payment link SMS failed", exc_info=task.exception())
        elif task.result().sent != 1:
            log.warning("payment link SMS not sent", extra=kv(**task.result().as_json()))


async def call_ports(messenger: Messenger | None, account_id: str) -> ActionPorts:
    """What this call can do: offer a link only when an SMS to the account would be allowed now.

    Decided before the call talks (a dry run of the guard, nothing written), because the
    engine asks synchronously and must not wait on the store; the send itself is guarded again.
    """
    if messenger is None or Channel.SMS not in messenger.adapters or messenger.links is None:
        return ConfiguredPorts(links=None)
    allowed = await asyncio.to_thread(messenger.would_send, account_id, Channel.SMS, LINK_STAGE)
    return ConfiguredPorts(links=SmsPaymentLinks(messenger) if allowed else None)
