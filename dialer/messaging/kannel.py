"""SMS through Kannel's HTTP interface: the one module that knows ``/cgi-bin/sendsms`` and its
callbacks.

Kannel speaks SMPP 3.4 to the carrier or aggregator (its ``group = smsc``) and owns the
session, reconnects, queueing, UCS-2 and concatenation; duncall only does HTTP.  Each
message asks for every delivery report (``dlr-mask=31``) at a ``dlr-url`` that carries
duncall's message id, so a receipt needs no correlation table; replies (MO) come to the
``get-url`` of Kannel's ``sms-service``.  Both URLs carry a shared token: Kannel cannot sign.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx

from dialer.messaging.model import Channel, MessageStatus, Outgoing, Receipt, SendResult

KANNEL_TIMEOUT_S = 10.0
DLR_MASK_ALL = 31  # 1 delivered, 2 undeliverable, 4 buffered, 8 SMSC accepted, 16 SMSC rejected
# Kannel's DLR type (%d) → our status; buffered and SMSC-accepted mean "on its way".
DLR_STATUS = {
    1: MessageStatus.DELIVERED,
    2: MessageStatus.FAILED,
    4: MessageStatus.SENT,
    8: MessageStatus.SENT,
    16: MessageStatus.FAILED,
}
GSM_SAFE = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@dataclass(frozen=True, slots=True)
class KannelConfig:
    sendsms_url: str  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password: str
    callback_base: str  # where Kannel reaches duncall's console, e.g. http://127.0.0.1:8080
    callback_token: str
    sender: str | None = None  # the "from": a short code or number; None: Kannel's global-sender
    concurrency: int = 20  # requests in flight to smsbox


def needs_ucs2(text: str) -> bool:
    """Text outside the GSM 7-bit alphabet (Chinese, most emoji) must go as UCS-2 (coding=2)."""
    return any(ch not in GSM_SAFE for ch in text)


def dlr_url(config: KannelConfig, message_id: str) -> str:
    # %d (type) and %A (the SMSC's reply) are filled in by Kannel; keep them unescaped.
    base = f"{config.callback_base.rstrip('/')}/api/messages/dlr"
    return f"{base}?token={quote(config.callback_token)}&mid={quote(message_id)}&type=%d&reply=%A"


def mo_url(config: KannelConfig) -> str:
    """The ``get-url`` to put in Kannel's sms-service (docs/messaging.md shows the group)."""
    base = f"{config.callback_base.rstrip('/')}/api/messages/inbound"
    return f"{base}?token={quote(config.callback_token)}&from=%p&to=%P&text=%a"


def sendsms_params(config: KannelConfig, message: Outgoing) -> dict[str, str]:
    text = message.rendered.text
    params = {
        "username": config.username,
        "password": config.password,
        "to": message.address.lstrip("+"),
        "text": text,
        "charset": "UTF-8",
        "dlr-mask": str(DLR_MASK_ALL),
        "dlr-url": dlr_url(config, message.message_id),
    }
    if needs_ucs2(text):
        params["coding"] = "2"  # without it Kannel sends Chinese as "????"
    if config.sender:
        params["from"] = config.sender
    return params


class KannelSender:
    channel = Channel.SMS

    def __init__(self, config: KannelConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        if not messages:
            return []
        limit = asyncio.Semaphore(self.config.concurrency)
        own = self._client is None
        # A new connection per request: smsbox answered kept-alive connections at about half the
        # rate of fresh ones on loopback (bench/messages.py).
        client = self._client or httpx.AsyncClient(
            timeout=KANNEL_TIMEOUT_S, limits=httpx.Limits(max_keepalive_connections=0)
        )
        try:

            async def one(message: Outgoing) -> SendResult:
                async with limit:
                    return await self._send_one(client, message)

            return list(await asyncio.gather(*(one(m) for m in messages)))
        finally:
            if own:
                await client.aclose()

    async def _send_one(self, client: httpx.AsyncClient, message: Outgoing) -> SendResult:
        url = f"{self.config.sendsms_url}?{urlencode(sendsms_params(self.config, message))}"
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            # Kannel did not take it: it stays queued, and the next run's guard counts it as sent.
            return SendResult(message.message_id, MessageStatus.QUEUED, error=f"Kannel unreachable ({exc})")
        body = response.text.strip()
        if response.status_code == 202 or body.startswith(("0:", "3:")):
            return SendResult(message.message_id, MessageStatus.SENT)  # 3: queued inside Kannel
        if response.status_code in (401, 403):
            return SendResult(message.message_id, MessageStatus.QUEUED, error=f"Kannel refused: {body}")
        return SendResult(
            message.message_id, MessageStatus.FAILED, error=f"{response.status_code} {body}"[:400]
        )


def receipt_from_query(query: Mapping[str, str], at: dt.datetime) -> Receipt | None:
    """A Kannel delivery report (the ``dlr-url`` query) as a ``Receipt``; None if it is not one."""
    message_id = query.get("mid")
    try:
        kind = int(query.get("type", ""))
    except ValueError:
        return None
    status = DLR_STATUS.get(kind)
    if not message_id or status is None:
        return None
    return Receipt(message_id, status, at, detail=f"{kind} {query.get('reply', '')}".strip()[:400])


def sender_from_query(query: Mapping[str, str]) -> str | None:
    """The debtor's number of an inbound SMS in E.164 (Kannel gives it without the +)."""
    raw = (query.get("from") or "").strip()
    digits = raw.lstrip("+")
    if not digits.isdigit():
        return None
    return f"+{digits}"
