"""Warm transfer: the bot hands a live call to a collector at their desk.

When a script's transfer state is reached (``request_human``, and hardship or dispute where
the script routes them there), the call asks ``DeskTransfer.offer``: the longest-ready desk
whose collector speaks the account's language is claimed in Redis (``DeskBoard.claim``), the
bot's transcript so far is put beside the desk for its screen pop, and the softphone is rung
into Stasis.  Only once it is up (the collector accepted) is it added to the call's bridge and
``True`` returned — then the bot says "connecting you" and leaves; the bridge's recording goes
on.  No desk ready, or the softphone not up within ``ACCEPT_TIMEOUT_S``: the desk is released
(paused ``no_answer``, as a desk campaign does) and ``False`` returned — the bot offers a
callback instead.

After the call, ``finish`` ends the collector's leg, moves the desk to wrap-up and waits for the
collector's disposition, which ends the attempt instead of the bot's (as a desk campaign's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import redis

from dialer.agents.desk import WRAP_UP_WAIT_S, DeskBoard
from dialer.agents.recording import AgentRecording, record_sides
from foundation.contract import ChannelPrefix, ConversationRecord, Turn
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import AriClient, ChannelDestroyed, StasisStart
from telephony.ari.errors import AriNotFound
from telephony.live.registry import CallKind, LiveCallRegistry

log = logging.getLogger(__name__)

ACCEPT_TIMEOUT_S = 15.0  # from the desk rung to its softphone up, else a callback is offered
# What the debtor and the collector said after the transfer, from each side's recording, as turns
# of the call (duncall.agent_transcripts.TransferTranscriber).
SideTranscriber = Callable[[AriClient, AgentRecording, str], Awaitable[list[Turn]]]
TRANSCRIPT_TURNS = 200  # the screen pop shows at most this many of the bot's turns


def transcript_lines(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The conversation so far as the desk shows it: who spoke and what (DTMF as its keys)."""
    out: list[dict[str, str]] = []
    for t in turns[-TRANSCRIPT_TURNS:]:
        text = t.text or (f"[keys {t.dtmf}]" if t.dtmf else "")
        if text:
            out.append({"speaker": t.speaker, "text": text})
    return out


@dataclass(frozen=True, slots=True)
class TransferLeg:
    collector_id: str
    channel_id: str
    accepted_after_s: float


class DeskTransfer:
    """One call's warm transfer to a desk (``offer`` at most once, then ``finish``)."""

    def __init__(
        self,
        ari: AriClient,
        board: DeskBoard,
        endpoints: dict[str, str],
        *,
        attempt_id: str,
        account_id: str,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
        wrap_up_wait_s: float = WRAP_UP_WAIT_S,
        live: LiveCallRegistry | None = None,
        transcribe: SideTranscriber | None = None,
        answered_at: float | None = None,
    ) -> None:
        """``live``: where the bot listed the call; once the collector has it, the entry names
        the collector's channel instead of the bot's, so supervisors whisper to the collector
        (and cannot take the call over from them).  ``transcribe`` with ``answered_at`` (the
        call's answer, monotonic): each side is recorded from the transfer on — only if the
        call's own recording runs, i.e. after its recording notice — and transcribed into the
        call's turns (``agent`` and ``debtor``) before the attempt is stored."""
        self.ari = ari
        self.board = board
        self.endpoints = dict(endpoints)  # collector → the endpoint ringing their desk (PJSIP/desk-ID)
        self.attempt_id = attempt_id
        self.account_id = account_id
        self.accept_timeout_s = accept_timeout_s
        self.wrap_up_wait_s = wrap_up_wait_s
        self.leg: TransferLeg | None = None
        self.tried = False
        self.live = live
        self.transcribe = transcribe
        self.answered_at = answered_at
        self.recording: AgentRecording | None = None

    async def offer(self, queue: str, bridge_id: str, turns: Sequence[Turn]) -> bool:
        """Ring a ready desk; True once its collector is in the call's bridge."""
        self.tried = True
        collector = self.board.claim(self.attempt_id, self.account_id, tuple(self.endpoints))
        if collector is None:
            log.info("no desk ready for a transfer", extra=kv(attempt_id=self.attempt_id, queue=queue))
            return False
        self.board.set_transcript(self.attempt_id, transcript_lines(turns))
        started = time.monotonic()
        channel = ChannelPrefix.AGENT.of(self.attempt_id)
        up = False
        with self.ari.channel_events(channel) as events:
            try:
                await self.ari.originate(
                    self.endpoints[collector],
                    app=self.ari.app,
                    app_args=("agent", self.attempt_id),
                    channel_id=channel,
                    timeout_s=max(1, round(self.accept_timeout_s)),
                )
                async with asyncio.timeout(self.accept_timeout_s):
                    while not up:
                        event = await events.get()
                        if event is None or (
                            isinstance(event, ChannelDestroyed) and event.channel.id == channel
                        ):
                            break  # the softphone refused or hung up before answering
                        up = isinstance(event, StasisStart) and event.channel.id == channel
                if up:
                    await self.ari.add_to_bridge(bridge_id, channel)
            except (TimeoutError, DuncallError) as exc:
                log.warning(
                    "desk did not accept the transfer",
                    extra=kv(attempt_id=self.attempt_id, why=type(exc).__name__),
                )
                up = False
        if not up:
            with contextlib.suppress(DuncallError):
                await self.ari.hangup(channel)
            self.board.unreachable(collector)
            return False
        self.board.connected(collector)
        self.leg = TransferLeg(collector, channel, time.monotonic() - started)
        if self.live is not None:
            await asyncio.to_thread(self._relist, collector, channel)
        if self.transcribe is not None and self.answered_at is not None:
            await self._record_sides(collector, channel)
        log.info(
            "call transferred to a desk",
            extra=kv(attempt_id=self.attempt_id, accepted_ms=round(self.leg.accepted_after_s * 1000)),
        )
        return True

    def _relist(self, collector: str, channel: str) -> None:
        assert self.live is not None
        try:
            call = self.live.get(self.attempt_id)
            if call is not None:
                self.live.publish(
                    replace(call, media_channel_id=channel, kind=CallKind.AGENT, agent_id=collector)
                )
        except redis.RedisError as exc:
            # The call goes on; supervisors only see it as the bot's a while longer.
            log.warning(
                "live-call registry unavailable",
                extra=kv(attempt_id=self.attempt_id, error=type(exc).__name__),
            )

    async def _record_sides(self, collector: str, channel: str) -> None:
        debtor = ChannelPrefix.DEBTOR.of(self.attempt_id)
        try:
            # The bot records the call once its notice has played: the sides only if it does.
            await self.ari.get_live_recording(f"call-{debtor}")
        except AriNotFound:
            log.info("call not recorded: its sides are not either", extra=kv(attempt_id=self.attempt_id))
            return
        except DuncallError:
            return
        assert self.answered_at is not None
        started_s = time.monotonic() - self.answered_at
        legs = await record_sides(self.ari, debtor, channel, attempt_id=self.attempt_id)
        self.recording = AgentRecording(self.attempt_id, f"call-{debtor}", legs, started_s, collector)

    async def _transcribed(self, language: str) -> list[Turn]:
        if self.recording is None or not self.recording.legs or self.transcribe is None:
            return []
        try:
            return await self.transcribe(self.ari, self.recording, language)
        except Exception:
            # The call and its recording are stored; only the collector's part of the transcript is missing.
            log.exception("transcribing a transferred call failed", extra=kv(attempt_id=self.attempt_id))
            return []

    async def finish(self, record: ConversationRecord) -> None:
        """After the call: the collector's leg ended, their wrap-up into ``record`` (if it came),
        and what was said after the transfer added to its turns."""
        leg = self.leg
        if leg is None:
            return
        with contextlib.suppress(DuncallError):
            await self.ari.hangup(leg.channel_id)
        self.board.release(leg.collector_id)
        wrap, turns = await asyncio.gather(
            asyncio.to_thread(self.board.wait_wrap_up, self.attempt_id, self.wrap_up_wait_s),
            self._transcribed(record.language),
        )
        record.turns.extend(turns)
        if wrap is None:
            log.warning("no wrap-up from the desk in time", extra=kv(attempt_id=self.attempt_id))
            return
        wrap.apply(record)
