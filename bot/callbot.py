"""The bot on an answered call: media in and out through ARI externalMedia.

Sets up the call's media (a chan_websocket channel bridged with the debtor's
channel), runs the conversation or leaves a voicemail, and tears everything
down — bridge included, since an ARI bridge outlives its channels.

While the call is bridged it is listed in the live-call registry, so a
supervisor can listen, whisper, barge or take over (``duncall.supervision``).
On a take-over the bot stops, leaves the bridge, and keeps the call — debtor
and supervisor talking — until it ends: nothing here hangs the debtor up
behind the supervisor's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.asr.base import Recognizer
from bot.asr.telephone import Band, call_band
from bot.conversation import Conversation, Dialogue
from bot.media.chan_websocket import MediaConnection
from bot.tts.cache import PromptCache
from foundation.contract import ChannelPrefix, ConversationRecord, Turn
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import (
    AriClient,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelVarset,
    StasisEnd,
    StasisStart,
    new_id,
)
from telephony.ari.errors import AriError, AriNotFound
from telephony.live.registry import TAKEOVER_VARIABLE, Listing, LiveCall, LiveCallRegistry, attempt_id_for

log = logging.getLogger(__name__)

MEDIA_STASIS_TIMEOUT_S = 5.0
MAX_RECORDING_S = 600
# The debtor leg's codecs: 8 kHz G.711 makes the call a telephone call (bot.asr.telephone).
NATIVE_FORMATS_VARIABLE = "CHANNEL(audionativeformat)"
# On a taken-over call: how often the bot checks that someone is still with the debtor.
SUPERVISOR_CHECK_S = 5.0


# The bot's event loop carries every call's 20 ms frames and makes a system call for each;
# whenever it lets go of the GIL for one, a recognizer or classifier thread takes it, and the
# loop may wait a whole switch interval (CPython's default 5 ms) to get it back. Over tens of
# calls that piles up into seconds of turn latency while the CPU idles (bench/concurrency.py,
# 30 calls in lock-step: p95 1.6-2.8 s at 5 ms, 0.96-1.7 s at 0.5 ms).
CALLS_SWITCH_INTERVAL_S = 0.0005


def prepare_process_for_calls() -> None:
    """Process-wide settings for a process that carries calls' audio (call once, at start-up)."""
    sys.setswitchinterval(CALLS_SWITCH_INTERVAL_S)
    # One thread per intent classification: an utterance is a few tokens, and torch's default
    # (a thread per core) made each one wait for every core on a busy machine — p95 1.9 s at
    # load 11 against 71 ms with one thread (bench/nlu.py --threads).
    import torch

    torch.set_num_threads(1)


@dataclass(frozen=True, slots=True)
class BotEngines:
    recognizer: Recognizer
    prompts: PromptCache
    grammar_phrases: Callable[[str, str], tuple[str, ...]]
    live: LiveCallRegistry | None = None  # lists bridged calls for supervisors


@dataclass
class _CallWatch:
    """What the debtor's channel told us: a supervisor took over, the call ended."""

    taken_over_by: str | None = None
    taken_over: asyncio.Event = field(default_factory=asyncio.Event)
    debtor_gone: asyncio.Event = field(default_factory=asyncio.Event)


async def run_bot(
    ari: AriClient,
    channel_id: str,
    dialogue: Dialogue,
    engines: BotEngines,
    lang: str,
    *,
    machine: bool = False,
    record_as: str | None = None,
    record_after_notice: bool = False,
    on_turn: Callable[[Turn], None] | None = None,
    on_transfer: Callable[[str, str, Sequence[Turn]], Awaitable[bool]] | None = None,
) -> ConversationRecord:
    """Bridge the answered channel to the bot's media and run the dialogue (or leave a voicemail).

    ``on_transfer(queue, bridge_id, turns)``: asked when the dialogue wants a collector; True once
    one is in the call's bridge.  The bot then leaves the bridge (its recording goes on) and the
    call is held until the debtor or the collector ends it.

    ``record_as``: the stored recording's name.  ``record_after_notice``: the dialogue starts
    with a recording notice, and the recording starts once it has played, so nothing before
    the debtor was told is recorded (a machine, which hears no notice, is not recorded)."""
    media_id = ChannelPrefix.MEDIA.of(new_id())
    bridge_id = ChannelPrefix.BOT_BRIDGE.of(new_id())
    formats = await _leg_formats(ari, channel_id)
    band = call_band(formats)
    recognizer = _recognizer_for(engines.recognizer, band)
    log.info("call leg", extra=kv(channel_id=channel_id, formats=formats, band=band))
    media: MediaConnection | None = None
    dtmf_task: asyncio.Task[None] | None = None
    recording_task: list[asyncio.Task[None]] = []  # started once the recording notice has played
    listing: Listing | None = None
    watch = _CallWatch()
    try:
        with ari.channel_events(media_id) as media_events:
            ch = await ari.external_media(channel_id=media_id)
            conn_id = ch.channelvars.get("MEDIA_WEBSOCKET_CONNECTION_ID", "")
            if not conn_id:
                conn_id = await ari.get_variable(media_id, "MEDIA_WEBSOCKET_CONNECTION_ID")
            # The media channel enters Stasis once our socket connects, and Asterisk
            # refuses to bridge it before that StasisStart (422).
            media = MediaConnection(ari.media_url(conn_id))
            await media.connect()
            async with asyncio.timeout(MEDIA_STASIS_TIMEOUT_S):
                while True:
                    ev = await media_events.get()
                    if isinstance(ev, StasisStart) and ev.channel.id == media_id:
                        break
        await ari.create_bridge(bridge_type="mixing", bridge_id=bridge_id)
        await ari.add_to_bridge(bridge_id, [channel_id, media_id])
        if engines.live is not None:
            listing = await Listing.start(
                engines.live,
                LiveCall(
                    attempt_id_for(channel_id),
                    channel_id,
                    media_id,
                    bridge_id,
                    lang,
                    dt.datetime.now(dt.UTC),
                    ari.app,
                ),
            )
        recording: list[str] = []

        async def start_recording() -> None:
            # Both parties, as the bridge mixes them, for QA and disputes.
            if not record_as:
                return
            try:
                await ari.record_bridge(bridge_id, record_as, format="wav", max_duration_s=MAX_RECORDING_S)
                recording.append(record_as)
            except AriError:
                log.warning("call recording could not start", extra=kv(channel_id=channel_id))

        def notice_played() -> None:
            if record_as and not recording_task:
                recording_task.append(asyncio.create_task(start_recording(), name=f"record:{channel_id}"))

        if not record_after_notice:
            await start_recording()
        conv = Conversation(
            media,
            dialogue,
            recognizer,
            engines.prompts,
            lang,
            engines.grammar_phrases,
            on_turn=on_turn,
            on_notice_played=notice_played if record_after_notice else None,
            on_transfer=None
            if on_transfer is None
            else (lambda queue, turns: on_transfer(queue, bridge_id, turns)),
        )
        dtmf_task = asyncio.create_task(
            _watch_debtor(ari, channel_id, conv, watch), name=f"debtor:{channel_id}"
        )
        record = await (conv.leave_voicemail() if machine else conv.run())
        record.line = band
        for task in recording_task:
            await task  # its ARI request is short; its failure is logged, not raised
        record.recording = recording[0] if recording else None
        if record.hangup_by == "bot" and watch.taken_over_by is None:
            # Let the last prompt finish playing before the line drops — unless a supervisor
            # takes the call meanwhile.
            played = asyncio.create_task(media.wait_played(), name=f"last-prompt:{channel_id}")
            taken = asyncio.create_task(watch.taken_over.wait(), name=f"taken-over:{channel_id}")
            try:
                await asyncio.wait({played, taken}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            finally:
                played.cancel()
                taken.cancel()
        if conv.transferred:
            # A collector took the call: the bot leaves, the debtor and the collector talk on.
            log.info("call handed to a collector", extra=kv(channel_id=channel_id))
            await media.flush()
            await _leave(ari, bridge_id, media_id)
            await _hold_for_supervisor(ari, channel_id, bridge_id, watch)
            record.hangup_by = "unknown"
            return record
        if watch.taken_over_by is None:
            watch.taken_over_by = await _taken_over_by(ari, channel_id)  # in case the event was missed
        if watch.taken_over_by:
            record.taken_over_by = watch.taken_over_by
            record.hangup_by = "unknown"
            log.info("call taken over by a supervisor", extra=kv(channel_id=channel_id))
            await media.flush()
            await _leave(ari, bridge_id, media_id)
            await _hold_for_supervisor(ari, channel_id, bridge_id, watch)
        return record
    except (TimeoutError, AriError) as exc:
        raise ServiceUnavailable(
            f"could not set up the call's media ({type(exc).__name__})",
            "check Asterisk's log; the attempt is recorded as failed",
        ) from None
    finally:
        if dtmf_task is not None:
            dtmf_task.cancel()
        for task in recording_task:
            task.cancel()  # a no-op once it finished; a call that failed leaves none running
        if listing is not None:
            await listing.close()
        if media is not None:
            await media.close()
        await _cleanup(ari, media_id, channel_id, bridge_id)
        log.info("bot left the call", extra=kv(channel_id=channel_id))


async def _leg_formats(ari: AriClient, channel_id: str) -> str | None:
    """The debtor leg's native audio formats as Asterisk has them (``(ulaw)``); None if unknown."""
    try:
        return await ari.get_variable(channel_id, NATIVE_FORMATS_VARIABLE) or None
    except DuncallError:
        return None  # the channel is gone or the function unknown: the configured default band


def _recognizer_for(recognizer: Recognizer, band: Band) -> Recognizer:
    """The recognizer fitted to the call's band (``RoutingRecognizer.for_band``), if it has one."""
    for_band = getattr(recognizer, "for_band", None)
    return for_band(band) if callable(for_band) else recognizer


async def _watch_debtor(ari: AriClient, channel_id: str, conv: Conversation, watch: _CallWatch) -> None:
    """DTMF goes to the conversation's control queue; the debtor hanging up or a take-over ends it."""
    with ari.channel_events(channel_id) as events:
        async for ev in events:
            if isinstance(ev, ChannelDtmfReceived) and watch.taken_over_by is None:
                with contextlib.suppress(asyncio.QueueFull):
                    conv.control.put_nowait(ev.digit)
            elif isinstance(ev, ChannelVarset) and ev.variable == TAKEOVER_VARIABLE and ev.value:
                if watch.taken_over_by is None:
                    watch.taken_over_by = ev.value
                    watch.taken_over.set()
                    conv.far_end_hung_up()
            elif isinstance(ev, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                conv.far_end_hung_up()
                watch.debtor_gone.set()
                return


async def _taken_over_by(ari: AriClient, channel_id: str) -> str | None:
    try:
        return await ari.get_variable(channel_id, TAKEOVER_VARIABLE) or None
    except DuncallError:
        return None  # unset, or the channel is gone: not a take-over


async def _leave(ari: AriClient, bridge_id: str, media_id: str) -> None:
    with contextlib.suppress(DuncallError):
        await ari.remove_from_bridge(bridge_id, media_id)
    with contextlib.suppress(DuncallError):
        await ari.hangup(media_id)


async def _hold_for_supervisor(ari: AriClient, channel_id: str, bridge_id: str, watch: _CallWatch) -> None:
    """Keep a taken-over call, and its bridge, until the debtor's channel ends.

    Should the debtor be left alone in the bridge (the supervisor's side went
    away without ending the call, e.g. the console died), the call is ended
    rather than left as dead air.
    """
    alone = 0
    while not watch.debtor_gone.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.debtor_gone.wait(), SUPERVISOR_CHECK_S)
            return
        try:
            bridge = await ari.get_bridge(bridge_id)
        except AriNotFound:
            return
        except DuncallError:
            continue  # Asterisk briefly unreachable: look again next time
        alone = alone + 1 if set(bridge.channels) <= {channel_id} else 0
        if alone >= 2:
            log.warning("taken-over call has no supervisor left; ending it", extra=kv(channel_id=channel_id))
            return


async def _cleanup(ari: AriClient, media_id: str, channel_id: str, bridge_id: str) -> None:
    """Best effort: each step runs even when an earlier one failed (the call may already be gone)."""
    with contextlib.suppress(DuncallError):
        await ari.hangup(media_id)
    with contextlib.suppress(DuncallError):
        await ari.hangup(channel_id)
    with contextlib.suppress(DuncallError):
        await ari.destroy_bridge(bridge_id)
