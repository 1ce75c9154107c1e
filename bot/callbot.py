"""The bot on an answered call: media in and out through ARI externalMedia.

Sets up the call's media (a chan_websocket channel bridged with the debtor's
channel), runs the conversation or leaves a voicemail, and tears everything
down — bridge included, since an ARI bridge outlives its channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.asr.base import Recognizer
from bot.conversation import Conversation, Dialogue
from bot.media.chan_websocket import MediaConnection
from bot.transcript import ConversationRecord, Turn
from bot.tts.cache import PromptCache
from duncall.ari import (
    AriClient,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    StasisEnd,
    StasisStart,
    new_id,
)
from duncall.ari.errors import AriError
from duncall.errors import DuncallError, ServiceUnavailable
from duncall.log import kv

log = logging.getLogger(__name__)

MEDIA_STASIS_TIMEOUT_S = 5.0
MAX_RECORDING_S = 600


@dataclass(frozen=True, slots=True)
class BotEngines:
    recognizer: Recognizer
    prompts: PromptCache
    grammar_phrases: Callable[[str, str], tuple[str, ...]]


async def run_bot(
    ari: AriClient,
    channel_id: str,
    dialogue: Dialogue,
    engines: BotEngines,
    lang: str,
    *,
    machine: bool = False,
    record_as: str | None = None,
    on_turn: Callable[[Turn], None] | None = None,
) -> ConversationRecord:
    media_id = f"dm-{new_id()}"
    bridge_id = f"db-{new_id()}"
    media: MediaConnection | None = None
    dtmf_task: asyncio.Task[None] | None = None
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
        recording = None
        if record_as:
            # Every call is recorded (both parties, as the bridge mixes them) for QA and disputes.
            try:
                await ari.record_bridge(bridge_id, record_as, format="wav", max_duration_s=MAX_RECORDING_S)
                recording = record_as
            except AriError:
                log.warning("call recording could not start", extra=kv(channel_id=channel_id))
        conv = Conversation(
            media, dialogue, engines.recognizer, engines.prompts, lang, engines.grammar_phrases,
            on_turn=on_turn,
        )
        dtmf_task = asyncio.create_task(_watch_debtor(ari, channel_id, conv), name=f"debtor:{channel_id}")
        record = await (conv.leave_voicemail() if machine else conv.run())
        record.recording = recording
        if record.hangup_by == "bot":
            # Let the last prompt finish playing before the line drops.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(media.wait_played(), 10)
        return record
    except (TimeoutError, AriError) as exc:
        raise ServiceUnavailable(
            f"could not set up the call's media ({type(exc).__name__})",
            "check Asterisk's log; the attempt is recorded as failed",
        ) from None
    finally:
        if dtmf_task is not None:
            dtmf_task.cancel()
        if media is not None:
            await media.close()
        await _cleanup(ari, media_id, channel_id, bridge_id)
        log.info("bot left the call", extra=kv(channel_id=channel_id))


async def _watch_debtor(ari: AriClient, channel_id: str, conv: Conversation) -> None:
    """DTMF goes to the conversation's control queue; the debtor hanging up ends it."""
    with ari.channel_events(channel_id) as events:
        async for ev in events:
            if isinstance(ev, ChannelDtmfReceived):
                with contextlib.suppress(asyncio.QueueFull):
                    conv.control.put_nowait(ev.digit)
            elif isinstance(ev, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                conv.far_end_hung_up()
                return


async def _cleanup(ari: AriClient, media_id: str, channel_id: str, bridge_id: str) -> None:
    """Best effort: each step runs even when an earlier one failed (the call may already be gone)."""
    with contextlib.suppress(DuncallError):
        await ari.hangup(media_id)
    with contextlib.suppress(DuncallError):
        await ari.hangup(channel_id)
    with contextlib.suppress(DuncallError):
        await ari.destroy_bridge(bridge_id)
