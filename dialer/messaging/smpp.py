"""SMS over SMPP 3.4 directly to the SMSC: the one module that knows aiosmpplib.

aiosmpplib (PyPI, asyncio) is the ESME: it binds as a transceiver, keeps the session alive
(enquire_link), reconnects, encodes GSM 03.38 or UCS-2, and correlates each delivery receipt
to the submit_sm it answers.  This adapter puts each message in as a ``SubmitSm`` tagged with
duncall's message id (``log_id``), waits for the SMSC's ``submit_sm_resp`` (accepted: ``sent``
with the SMSC's message id; refused: ``failed`` with the SMPP status), and hands every
delivery receipt, already translated into a ``Receipt``, to ``on_receipts`` in batches.

What Kannel would do and this adapter leaves to duncall: a message the SMSC never answered
stays ``queued`` (the library does not resend; the next run's guard counts it as sent, so no
double SMS), and receipt correlation lives in the library's memory (three days), so a receipt
after a restart is not matched.  Replies (MO) still come through Kannel's ``get-url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractHook,
    DeliverSm,
    GenericNack,
    PhoneNumber,
    SmppMessage,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.broker import SimpleBroker

from dialer.messaging.kannel import needs_ucs2
from dialer.messaging.model import Channel, MessageStatus, Outgoing, Receipt, SendResult
from foundation.errors import ConfigError, ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

BIND_TIMEOUT_S = 10.0
SUBMIT_TIMEOUT_S = 30.0  # no submit_sm_resp by then: the message stays queued
QUEUE_SIZE = (
    5000  # messages waiting for the session (the library's broker), and receipts waiting to be written
)
RECEIPT_BATCH = 500
# A receipt's final state (SMPP 3.4 Appendix B) → our status; ENROUTE / ACCEPTD mean "on its way".
RECEIPT_STATUS = {
    "DELIVRD": MessageStatus.DELIVERED,
    "UNDELIV": MessageStatus.FAILED,
    "REJECTD": MessageStatus.FAILED,
    "EXPIRED": MessageStatus.FAILED,
    "DELETED": MessageStatus.FAILED,
    "UNKNOWN": MessageStatus.FAILED,
    "ENROUTE": MessageStatus.SENT,
    "ACCEPTD": MessageStatus.SENT,
}

ReceiptSink = Callable[[Sequence[Receipt]], None]  # blocking (a store write): run in a thread


@dataclass(frozen=True, slots=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    sender: str  # source address: a short code or number
    system_type: str = ""


class _Hook(AbstractHook):  # type: ignore[misc]  # aiosmpplib ships no type hints
    def __init__(self, owner: SmppSender) -> None:
        self.owner = owner

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        return None

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSmResp | GenericNack):
            self.owner._answered(smpp_message)
        elif isinstance(smpp_message, DeliverSm) and smpp_message.is_receipt():
            await self.owner._receipt(smpp_message)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSm):
            self.owner._failed_to_send(smpp_message.log_id, f"not sent to the SMSC ({error!r})"[:400])


class SmppSender:
    """The SMS adapter over SMPP; ``start`` binds, ``close`` unbinds (``send`` starts it if needed)."""

    channel = Channel.SMS

    def __init__(
        self,
        config: SmppConfig,
        on_receipts: ReceiptSink | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        bind_timeout_s: float = BIND_TIMEOUT_S,
    ) -> None:
        self.bind_timeout_s = bind_timeout_s
        self.config = config
        self.on_receipts = on_receipts
        self.clock = clock
        self._pending: dict[str, asyncio.Future[SendResult]] = {}
        self._receipts: asyncio.Queue[Receipt] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._esme: ESME | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        if self._esme is not None:
            return
        try:
            esme = ESME(
                self.config.host,
                self.config.port,
                self.config.system_id,
                self.config.password,
                system_type=self.config.system_type,
                hook=_Hook(self),
                broker=SimpleBroker(maxsize=QUEUE_SIZE),
                log_level=logging.WARNING,
            )
        except ValueError as exc:  # e.g. a password over SMPP's 8 characters
            raise ConfigError(f"SMPP settings: {exc}", "check the SMPP system id and password") from None
        self._esme = esme
        self._tasks = [
            asyncio.create_task(esme.start(), name="smpp-esme"),
            asyncio.create_task(self._write_receipts(), name="smpp-receipts"),
        ]
        deadline = asyncio.get_running_loop().time() + self.bind_timeout_s
        while esme.session_state is not SmppSessionState.BOUND_TRX:
            if asyncio.get_running_loop().time() > deadline:
                await self.close()
                raise ServiceUnavailable(
                    f"the SMSC at {self.config.host}:{self.config.port} did not bind us in {self.bind_timeout_s:.0f} s",
                    "check the SMPP host, port, system id and password; nothing was sent",
                    retryable=True,
                )
            await asyncio.sleep(0.02)  # aiosmpplib offers no bound event to wait on

    async def close(self) -> None:
        esme, self._esme = self._esme, None
        if esme is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(esme.stop(), 5.0)
        for task in self._tasks:
            task.cancel()
        # aiosmpplib may fail on its way down (a receipt read while the writer closes): logged, not raised.
        for task, outcome in zip(
            self._tasks, await asyncio.gather(*self._tasks, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, Exception):
                log.debug(
                    "SMPP task ended with an error at close",
                    extra=kv(task=task.get_name(), error=repr(outcome)),
                )
        self._tasks = []

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        if not messages:
            return []
        if self._tasks and self._tasks[0].done():
            # The session task died (not a lost connection: the library reconnects those): start over.
            failure = None if self._tasks[0].cancelled() else self._tasks[0].exception()
            log.warning("SMPP session ended; binding again", extra=kv(error=repr(failure)))
            await self.close()
        await self.start()
        assert self._esme is not None
        loop = asyncio.get_running_loop()
        futures = []
        for m in messages:
            future: asyncio.Future[SendResult] = loop.create_future()
            self._pending[m.message_id] = future
            futures.append((m.message_id, future))
            await self._esme.broker.enqueue(self._submit(m))  # blocks while the broker is full
        results = []
        for message_id, future in futures:
            try:
                results.append(await asyncio.wait_for(future, SUBMIT_TIMEOUT_S))
            except TimeoutError:
                results.append(SendResult(message_id, MessageStatus.QUEUED, error="no answer from the SMSC"))
            finally:
                self._pending.pop(message_id, None)
        return results

    def _submit(self, m: Outgoing) -> SubmitSm:
        return SubmitSm(
            short_message=m.rendered.text,
            source=PhoneNumber(self.config.sender, ton=TON.UNKNOWN, npi=NPI.ISDN),
            destination=PhoneNumber(m.address.lstrip("+"), ton=TON.INTERNATIONAL, npi=NPI.ISDN),
            registered_delivery=0b00000001,  # a final receipt, delivered or not
            encoding="ucs2" if needs_ucs2(m.rendered.text) else None,
            log_id=m.message_id,
        )

    def _answered(self, resp: SubmitSmResp | GenericNack) -> None:
        future = self._pending.get(resp.log_id)
        if future is None or future.done():
            return
        status = resp.command_status
        if isinstance(resp, SubmitSmResp) and status.value == 0:
            future.set_result(SendResult(resp.log_id, MessageStatus.SENT, provider_id=resp.message_id))
        else:
            future.set_result(
                SendResult(resp.log_id, MessageStatus.FAILED, error=f"SMSC refused: {status.name}")
            )

    def _failed_to_send(self, message_id: str, error: str) -> None:
        future = self._pending.get(message_id)
        if future is not None and not future.done():
            future.set_result(SendResult(message_id, MessageStatus.QUEUED, error=error))

    async def _receipt(self, deliver: DeliverSm) -> None:
        if not deliver.log_id:
            log.warning("an SMPP delivery receipt matched no message we sent")
            return
        fields = deliver.parse_receipt()
        stat = str(fields.get("stat", "UNKNOWN")).upper()
        status = RECEIPT_STATUS.get(stat, MessageStatus.FAILED)
        detail = f"stat:{stat} err:{fields.get('err', '')}"
        await self._receipts.put(Receipt(deliver.log_id, status, self.clock(), detail))

    async def _write_receipts(self) -> None:
        while True:
            batch = [await self._receipts.get()]
            while len(batch) < RECEIPT_BATCH and not self._receipts.empty():
                batch.append(self._receipts.get_nowait())
            if self.on_receipts is None:
                continue
            try:
                await asyncio.to_thread(self.on_receipts, batch)
            except Exception:
                # The store was away: these receipts are lost (statuses stay "sent"), the session goes on.
                log.exception("SMPP delivery receipts not recorded", extra=kv(count=len(batch)))
