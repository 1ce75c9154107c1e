"""The collector's own leg of a click-to-call: up while the debtor's number rings, hearing ringback.

A collector who clicks a number expects a phone call: their softphone (auto-answer) is rung
into Stasis as soon as the guard has allowed the dial — alongside the debtor's originate, never
before the guard, so its decision stays next to the originate — and once it is up Asterisk
indicates ringing on it.  The leg is answered, so Asterisk plays the ringing tone of the
channel's tone zone in-band (``indications.conf``), as a PBX does for an internal call.  When
the debtor answers, the ringing stops and both legs go into one mixing bridge.  A collector
who hangs up while the number still rings cancels the dial.

Nothing here judges the answer: a collector's call has its human on the line from the start,
so answer detection is not run and a voicemail greeting reaches the collector like a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from dialer.agents.connect import AgentLeg
from foundation.contract import ChannelPrefix, debtor_channel
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import AriClient, ChannelDestroyed, StasisStart
from telephony.ari.errors import AriNotFound

log = logging.getLogger(__name__)

# A dial the collector's leg cancels whose debtor channel is not in Asterisk yet is hung up
# again every CANCEL_RETRY_S for this long (the originate follows the guard's decision at once).
CANCEL_SETTLE_S = 2.0
CANCEL_RETRY_S = 0.1


class DeskLine:
    """One call's collector leg: ``start`` when the guard allowed the dial, ``join`` at the
    debtor's answer, ``close`` always (hangs the leg up unless it was joined)."""

    def __init__(
        self, ari: AriClient, agent_id: str, endpoint: str, *, attempt_id: str, timeout_s: float
    ) -> None:
        self.ari = ari
        self.agent_id = agent_id
        self.endpoint = endpoint
        self.attempt_id = attempt_id
        self.timeout_s = timeout_s
        self.channel_id = ChannelPrefix.AGENT.of(attempt_id)
        self.bridge_id = ChannelPrefix.AGENT_BRIDGE.of(attempt_id)
        self.rang = False  # ringing was indicated on the collector's leg
        self.cancelled_dial = False  # the collector hung up while the number rang
        self._up: asyncio.Future[float | None] | None = None  # seconds to up; None: never came up
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._joined = False
        self._bridged = False  # the bridge was made (and is destroyed by ``close`` if never joined)
        self._debtor_answered = False  # ``join`` was called: the debtor is on the line

    def start(self) -> None:
        """Ring the collector's softphone (in the background: the debtor's originate goes on)."""
        if self._task is not None:
            return
        self._started = time.monotonic()
        self._up = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"desk-leg:{self.attempt_id}")

    async def _run(self) -> None:
        assert self._up is not None
        up = False
        with self.ari.channel_events(self.channel_id) as events:
            try:
                await self.ari.originate(
                    self.endpoint,
                    app=self.ari.app,
                    app_args=("agent", self.attempt_id),
                    channel_id=self.channel_id,
                    timeout_s=max(1, round(self.timeout_s + 1)),
                )
                async with asyncio.timeout(self.timeout_s):
                    while not up:
                        event = await events.get()
                        if event is None or _gone(event, self.channel_id):
                            break  # the softphone refused or hung up before answering
                        up = isinstance(event, StasisStart) and event.channel.id == self.channel_id
            except (TimeoutError, DuncallError) as exc:
                log.warning(
                    "desk phone did not come up",
                    extra=kv(agent_id=self.agent_id, attempt_id=self.attempt_id, why=type(exc).__name__),
                )
            finally:
                if not self._up.done():
                    self._up.set_result(time.monotonic() - self._started if up else None)
            if not up:
                await _quietly_hang_up(self.ari, self.channel_id)
                if not self._debtor_answered:
                    # Nobody would be there for the debtor: stop the dial rather than abandon them
                    # (one who has answered hears the abandon message from ``join``'s caller).
                    self.cancelled_dial = True
                    await self._cancel_dial()
                return
            try:
                # Answered legs get the tone zone's ringing tone in-band from Asterisk itself.
                await self.ari.ring(self.channel_id)
                self.rang = True
            except DuncallError as exc:
                log.warning(
                    "no ringback on the desk", extra=kv(attempt_id=self.attempt_id, why=type(exc).__name__)
                )
            # Until the debtor answers (``join`` cancels this wait): a collector who hangs up
            # no longer wants the call, so the debtor's phone stops ringing too.
            while True:
                event = await events.get()
                if event is None:
                    return
                if _gone(event, self.channel_id):
                    self.cancelled_dial = True
                    log.info("collector hung up while the number rang", extra=kv(attempt_id=self.attempt_id))
                    await self._cancel_dial()
                    return

    async def _cancel_dial(self) -> None:
        """Hang up the debtor's leg; its originate may still be on its way (it follows the guard's
        decision, as this leg does), so a channel not there yet is looked for a moment longer."""
        debtor = debtor_channel(self.attempt_id)
        deadline = time.monotonic() + CANCEL_SETTLE_S
        while True:
            try:
                await self.ari.hangup(debtor)
                return
            except AriNotFound:
                if time.monotonic() >= deadline:
                    return
                await asyncio.sleep(CANCEL_RETRY_S)
            except DuncallError:
                return

    async def join(self, debtor: str, wait_s: float) -> AgentLeg | None:
        """The debtor answered: stop the ringback and bridge the two.  None when the collector's
        leg is not up within ``wait_s`` (or is gone): the caller plays the abandon message."""
        self._debtor_answered = True
        if self._up is None or self._task is None:
            return None
        try:
            async with asyncio.timeout(wait_s):
                up_after_s = await asyncio.shield(self._up)
        except TimeoutError:
            up_after_s = None
        if up_after_s is None or self.cancelled_dial:
            return None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        try:
            # Always: the ring request may have reached Asterisk even if its answer never came here.
            with contextlib.suppress(DuncallError):
                await self.ari.ring_stop(self.channel_id)
            await self.ari.create_bridge(bridge_type="mixing", bridge_id=self.bridge_id)
            self._bridged = True
            await self.ari.add_to_bridge(self.bridge_id, [debtor, self.channel_id])
        except DuncallError as exc:
            log.warning(
                "desk not bridged to the debtor", extra=kv(attempt_id=self.attempt_id, why=type(exc).__name__)
            )
            return None
        self._joined = True
        return AgentLeg(self.agent_id, self.channel_id, self.bridge_id, up_after_s)

    async def close(self) -> None:
        """After the dial: a leg never bridged (no answer, busy, a failure) is hung up with its bridge."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            if self._up is not None and not self._up.done():
                self._up.set_result(None)
        if self._task is not None and not self._joined:
            await _quietly_hang_up(self.ari, self.channel_id)
            if self._bridged:
                with contextlib.suppress(DuncallError):
                    await self.ari.destroy_bridge(self.bridge_id)


def _gone(event: object, channel_id: str) -> bool:
    return isinstance(event, ChannelDestroyed) and event.channel.id == channel_id


async def _quietly_hang_up(ari: AriClient, channel_id: str) -> None:
    with contextlib.suppress(DuncallError):
        await ari.hangup(channel_id)
