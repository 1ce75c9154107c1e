"""An answered debtor reaches an agent (one mixing bridge), or hears the recorded abandon message.

Both paths start the moment answer detection says "a person": the agent's
phone is dialled into Stasis and must answer by itself within
``CONNECT_TIMEOUT_S`` (softphones in auto-answer, as predictive dialing needs:
a ringing agent would eat the regulators' 2 seconds); when nobody is ready, or
the agent's phone does not come up in time, the debtor hears the message —
identifying the caller and a number to call back, as US TSR and UK Ofcom
require — and the call is hung up and counted as abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from foundation.contract import ChannelPrefix
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import (
    AriClient,
    AriEvent,
    ChannelDestroyed,
    ChannelHangupRequest,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
)
from telephony.ari.events import event_channel_ids
from telephony.ari.subscriptions import OnFull

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1.5  # from "a person answered" to the agent's leg up, else the message plays
ABANDON_MESSAGE = "sound:duncall/abandon-message"  # sandbox default; production: the centre's own
MESSAGE_TIMEOUT_S = 30.0  # the longest the message may play before the dialer hangs up anyway
MAX_CALL_S = 4 * 3600.0  # a bridged call longer than this is ended (a stuck channel, not a talk)
EVENT_QUEUE = 256


@dataclass(frozen=True, slots=True)
class AgentLeg:
    agent_id: str
    channel_id: str
    bridge_id: str
    up_after_s: float  # from the start of the connect to the agent's leg in Stasis


@dataclass(frozen=True, slots=True)
class MessagePlayed:
    playback_id: str
    started: bool
    started_at: float | None  # monotonic, when PlaybackStarted arrived
    finished: bool


async def dial_agent(
    ari: AriClient,
    debtor_channel: str,
    agent_id: str,
    endpoint: str,
    *,
    attempt_id: str,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> AgentLeg | None:
    """Bridge ``debtor_channel`` with the agent's phone; None (nothing left behind) if it is not up in time."""
    started = time.monotonic()
    agent_channel = ChannelPrefix.AGENT.of(attempt_id)
    bridge_id = ChannelPrefix.AGENT_BRIDGE.of(attempt_id)
    with ari.channel_events(agent_channel) as events:
        try:
            await ari.create_bridge(bridge_type="mixing", bridge_id=bridge_id)
            await ari.add_to_bridge(bridge_id, debtor_channel)
            await ari.originate(
                endpoint,
                app=ari.app,
                app_args=("agent", attempt_id),
                channel_id=agent_channel,
                timeout_s=max(1, round(timeout_s + 1)),
            )
            up = False
            async with asyncio.timeout(timeout_s):
                while not up:
                    event = await events.get()
                    if event is None or (
                        isinstance(event, ChannelDestroyed) and event.channel.id == agent_channel
                    ):
                        break  # its phone refused or hung up before answering
                    up = isinstance(event, StasisStart) and event.channel.id == agent_channel
            if up:
                await ari.add_to_bridge(bridge_id, agent_channel)
            why = "" if up else "gone"
        except (TimeoutError, DuncallError) as exc:
            why = type(exc).__name__
        if why:
            log.warning("agent did not come up", extra=kv(agent_id=agent_id, attempt_id=attempt_id, why=why))
            await _quietly_hang_up(ari, agent_channel)
            await _quietly_destroy(ari, bridge_id)
            return None
    return AgentLeg(agent_id, agent_channel, bridge_id, time.monotonic() - started)


async def talk(ari: AriClient, debtor_channel: str, leg: AgentLeg, *, max_s: float = MAX_CALL_S) -> str:
    """Wait until the debtor or the agent hangs up; end the other side and the bridge. Returns who ended it."""
    ids = frozenset({debtor_channel, leg.channel_id})

    def about(event: AriEvent) -> bool:
        return isinstance(event, ChannelDestroyed | ChannelHangupRequest | StasisEnd) and bool(
            ids & event_channel_ids(event)
        )

    ended_by = "dialer"
    with ari.subscribe(
        about, name=f"agent-call:{leg.bridge_id}", maxsize=EVENT_QUEUE, on_full=OnFull.RAISE
    ) as sub:
        try:
            # A side that left before we subscribed sends nothing more: look once.
            present = {c.id for c in await ari.list_channels()}
            gone = ids - present
            if gone:
                ended_by = "debtor" if debtor_channel in gone else "agent"
            else:
                async with asyncio.timeout(max_s):
                    event = await sub.get()
                if event is not None:
                    ended_by = "debtor" if debtor_channel in event_channel_ids(event) else "agent"
        except TimeoutError:
            log.warning("agent call over its longest time; ending it", extra=kv(bridge_id=leg.bridge_id))
        except DuncallError:
            log.warning("lost track of an agent call; ending it", extra=kv(bridge_id=leg.bridge_id))
        finally:
            await _quietly_hang_up(ari, leg.channel_id)
            await _quietly_hang_up(ari, debtor_channel)
            await _quietly_destroy(ari, leg.bridge_id)
    return ended_by


async def play_abandon_message(
    ari: AriClient, debtor_channel: str, media: str, *, attempt_id: str, timeout_s: float = MESSAGE_TIMEOUT_S
) -> MessagePlayed:
    """Play the recorded message on the debtor's channel, wait for its end (or the debtor's), hang up."""
    playback_id = f"abandon-{attempt_id}"

    def about(event: AriEvent) -> bool:
        if isinstance(event, PlaybackStarted | PlaybackFinished):
            return event.playback.id == playback_id
        return isinstance(
            event, ChannelDestroyed | ChannelHangupRequest
        ) and debtor_channel in event_channel_ids(event)

    started_at: float | None = None
    finished = False
    with ari.subscribe(about, name=f"abandon:{attempt_id}", maxsize=EVENT_QUEUE, on_full=OnFull.RAISE) as sub:
        try:
            await ari.play(debtor_channel, media, playback_id=playback_id)
            async with asyncio.timeout(timeout_s):
                while True:
                    event = await sub.get()
                    if event is None:
                        break
                    if isinstance(event, PlaybackStarted):
                        started_at = time.monotonic()
                    elif isinstance(event, PlaybackFinished):
                        finished = True
                        break
                    else:
                        break  # the debtor hung up
        except TimeoutError:
            log.warning("abandon message still playing at its time limit", extra=kv(attempt_id=attempt_id))
        except DuncallError as exc:
            log.warning(
                "abandon message could not play", extra=kv(attempt_id=attempt_id, why=type(exc).__name__)
            )
        finally:
            await _quietly_hang_up(ari, debtor_channel)
    return MessagePlayed(playback_id, started_at is not None, started_at, finished)


async def _quietly_hang_up(ari: AriClient, channel_id: str) -> None:
    with contextlib.suppress(DuncallError):
        await ari.hangup(channel_id)


async def _quietly_destroy(ari: AriClient, bridge_id: str) -> None:
    with contextlib.suppress(DuncallError):
        await ari.destroy_bridge(bridge_id)
