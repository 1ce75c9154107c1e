"""The bot's ear on an answer while Asterisk's AMD() runs: the edge that feeds ``LineMeter``.

The debtor's channel is in the dialplan (AMD) then, not in the bot's bridge, so the bot
listens through a snoop on it (``spy=in``: what the debtor sends) bridged to an external
media socket of its own.  Three objects on Asterisk (snoop, media channel, bridge), all
named ``dl-…`` and all released by ``close`` (a bridge outlives its channels).  Made for
``dialer.listening.ListenLine``; the dialer asks ``heard()`` when AMD says MACHINE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.media.chan_websocket import MediaConnection
from bot.media.line_meter import LineMeter
from foundation.contract import ChannelPrefix, LineHeard
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient, StasisStart, new_id

log = logging.getLogger(__name__)

STASIS_TIMEOUT_S = 3.0  # longer than AMD's analysis: an ear that late has nothing to add


class AnswerEar:
    """A listening ear on one answered channel; ``close`` it (idempotent, never raises)."""

    def __init__(self, ari: AriClient, ident: str) -> None:
        self.ari = ari
        self.snoop_id = ChannelPrefix.LISTEN.of(f"s{ident}")
        self.media_id = ChannelPrefix.LISTEN.of(f"m{ident}")
        self.bridge_id = ChannelPrefix.LISTEN.of(f"b{ident}")
        self.meter = LineMeter()
        self.media: MediaConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    def heard(self) -> LineHeard | None:
        heard = self.meter.heard()
        return heard if heard.heard_ms else None

    async def _open(self, channel_id: str) -> None:
        ari = self.ari
        with (
            ari.channel_events(self.snoop_id) as snoop_events,
            ari.channel_events(self.media_id) as media_events,
        ):
            ch = await ari.external_media(channel_id=self.media_id)
            conn_id = ch.channelvars.get("MEDIA_WEBSOCKET_CONNECTION_ID", "")
            if not conn_id:
                conn_id = await ari.get_variable(self.media_id, "MEDIA_WEBSOCKET_CONNECTION_ID")
            self.media = MediaConnection(ari.media_url(conn_id))
            await asyncio.gather(
                self.media.connect(),
                ari.snoop(
                    channel_id, spy="in", app=ari.app, app_args=("answer-ear",), snoop_id=self.snoop_id
                ),
            )
            async with asyncio.timeout(STASIS_TIMEOUT_S):
                for events, channel in ((snoop_events, self.snoop_id), (media_events, self.media_id)):
                    while True:
                        ev = await events.get()
                        if ev is None:
                            raise ServiceUnavailable("the answer ear's channel went away", "none needed")
                        if isinstance(ev, StasisStart) and ev.channel.id == channel:
                            break
        await ari.create_bridge(bridge_type="mixing", bridge_id=self.bridge_id)
        await ari.add_to_bridge(self.bridge_id, [self.snoop_id, self.media_id])
        self._reader = asyncio.create_task(self._read(), name=f"answer-ear:{channel_id}")

    async def _read(self) -> None:
        assert self.media is not None
        async for frame in self.media.frames():
            self.meter.feed(frame.pcm)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.media is not None:
            await self.media.close()
        # Each step runs even when an earlier one failed (the call, and so the snoop, may be gone).
        with contextlib.suppress(DuncallError, OSError):
            await self.ari.hangup(self.snoop_id)
        with contextlib.suppress(DuncallError, OSError):
            await self.ari.hangup(self.media_id)
        with contextlib.suppress(DuncallError, OSError):
            await self.ari.destroy_bridge(self.bridge_id)


async def listen(ari: AriClient, channel_id: str) -> AnswerEar:
    """Start listening to ``channel_id``; what was made is released again if the start fails."""
    ear = AnswerEar(ari, new_id())
    try:
        await ear._open(channel_id)
    except BaseException as exc:
        await asyncio.shield(ear.close())
        if isinstance(exc, DuncallError | TimeoutError | OSError):
            log.info("answer ear not opened", extra=kv(channel_id=channel_id, error=type(exc).__name__))
            raise ServiceUnavailable(
                f"could not listen to the answer ({type(exc).__name__})",
                "check Asterisk's log; AMD's verdict is used alone meanwhile",
            ) from None
        raise
    return ear
