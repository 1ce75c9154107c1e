"""A call bridged to a collector is recorded once the recording notice has played, on both sides.

As on the bot's calls, nothing before the notice is recorded: the notice plays on the debtor's
channel the moment the two are bridged (the collector hears the debtor only, as ever), and the
recordings start when that playback has finished.  A notice that could not play (the
debtor hung up, Asterisk refused it) means no recording at all; with no notice configured the
call is not recorded either — the rule is never bypassed.

Three recordings: the bridge's mix under the name a bot call's has (``call-<debtor channel>``,
what QA plays, ``call_records.audio_path``), and each side's own speech (a snoop on each
channel, spying on what it says) at 16 kHz, for transcription that keeps the collector and the
debtor apart (``<mix>-debtor``, ``<mix>-agent``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from dialer.agents.connect import AgentLeg
from foundation.contract import ChannelPrefix
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import (
    AriClient,
    AriEvent,
    ChannelDestroyed,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisStart,
)
from telephony.ari.events import event_channel_ids
from telephony.ari.subscriptions import OnFull

log = logging.getLogger(__name__)

RECORDING_NOTICE = "sound:duncall/recording-notice"  # sandbox default; production: the centre's own
NOTICE_TIMEOUT_S = 20.0  # the longest a notice may play before the call goes on unrecorded
SNOOP_START_TIMEOUT_S = 5.0
MAX_RECORDING_S = 4 * 3600
LEG_FORMAT = "wav16"  # what the recognizers take (16 kHz slin)
SPEAKERS = ("debtor", "agent")
EVENT_QUEUE = 64


@dataclass(frozen=True, slots=True)
class AgentRecording:
    """The names of one call's recordings, as Asterisk stores them."""

    attempt_id: str
    mixed: str  # both sides as the bridge mixes them: what QA plays
    legs: dict[str, str] = field(default_factory=dict)  # speaker → what that side said
    started_s: float = 0.0  # from the answer to the recordings' start (the notice's end)
    agent_id: str = ""


async def record_after_notice(
    ari: AriClient,
    debtor_channel: str,
    leg: AgentLeg,
    *,
    attempt_id: str,
    notice: str | None,
    answered_at: float,
    notice_timeout_s: float = NOTICE_TIMEOUT_S,
) -> AgentRecording | None:
    """Play the notice, then start the recordings; None when the call is not to be recorded."""
    if not notice:
        return None
    if not await _play_notice(ari, debtor_channel, notice, attempt_id, notice_timeout_s):
        return None
    started_s = time.monotonic() - answered_at
    mixed = f"call-{debtor_channel}"
    try:
        await ari.record_bridge(leg.bridge_id, mixed, format="wav", max_duration_s=MAX_RECORDING_S)
    except DuncallError as exc:
        log.warning(
            "agent call recording could not start", extra=kv(attempt_id=attempt_id, why=type(exc).__name__)
        )
        return None
    legs = await record_sides(ari, debtor_channel, leg.channel_id, attempt_id=attempt_id)
    return AgentRecording(attempt_id, mixed, legs, started_s, leg.agent_id)


async def record_sides(
    ari: AriClient, debtor_channel: str, agent_channel: str, *, attempt_id: str
) -> dict[str, str]:
    """Start recording what each side says (speaker → recording name); a side that cannot be
    recorded is left out (the call's mix still holds it)."""
    mixed = f"call-{debtor_channel}"
    legs: dict[str, str] = {}
    for speaker, channel in (("debtor", debtor_channel), ("agent", agent_channel)):
        name = f"{mixed}-{speaker}"
        try:
            await _record_side(ari, channel, name, attempt_id, speaker)
            legs[speaker] = name
        except (TimeoutError, DuncallError) as exc:
            log.warning(
                "a side of an agent call could not be recorded",
                extra=kv(attempt_id=attempt_id, speaker=speaker, why=type(exc).__name__),
            )
    return legs


async def _play_notice(ari: AriClient, debtor: str, media: str, attempt_id: str, timeout_s: float) -> bool:
    """True once the debtor has heard the whole notice."""
    playback_id = f"notice-{attempt_id}"

    def about(event: AriEvent) -> bool:
        if isinstance(event, PlaybackFinished):
            return event.playback.id == playback_id
        return isinstance(event, ChannelDestroyed | ChannelHangupRequest) and debtor in event_channel_ids(
            event
        )

    with ari.subscribe(about, name=f"notice:{attempt_id}", maxsize=EVENT_QUEUE, on_full=OnFull.RAISE) as sub:
        try:
            await ari.play(debtor, media, playback_id=playback_id)
            async with asyncio.timeout(timeout_s):
                event = await sub.get()
        except (TimeoutError, DuncallError) as exc:
            log.warning(
                "recording notice did not play", extra=kv(attempt_id=attempt_id, why=type(exc).__name__)
            )
            return False
    if isinstance(event, PlaybackFinished) and event.playback.state == "failed":
        # A notice that did not play (its sound missing, say) told the debtor nothing.
        log.warning("recording notice failed to play", extra=kv(attempt_id=attempt_id))
        return False
    return isinstance(event, PlaybackFinished)


async def _record_side(ari: AriClient, channel: str, name: str, attempt_id: str, speaker: str) -> None:
    snoop_id = ChannelPrefix.SNOOP.of(f"rec-{speaker}-{attempt_id}")
    with ari.channel_events(snoop_id) as events:
        await ari.snoop(channel, spy="in", app=ari.app, app_args=("recording", attempt_id), snoop_id=snoop_id)
        async with asyncio.timeout(SNOOP_START_TIMEOUT_S):
            while True:
                event = await events.get()
                if event is None or (isinstance(event, ChannelDestroyed) and event.channel.id == snoop_id):
                    raise DuncallError("the recording snoop ended before it started", "")
                if isinstance(event, StasisStart) and event.channel.id == snoop_id:
                    break
    await ari.record(snoop_id, name, format=LEG_FORMAT, max_duration_s=MAX_RECORDING_S, if_exists="overwrite")
