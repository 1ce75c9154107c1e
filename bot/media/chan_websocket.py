"""The edge to Asterisk's chan_websocket (ARI externalMedia, transport=websocket).

Why chan_websocket: it carries slin16 both ways over the project's existing
``websockets`` dependency, Asterisk paces the audio we send (no 20 ms timer of
ours on the hot path), generates silence when we send none, and FLUSH_MEDIA
takes back queued audio — exactly what barge-in needs.  AudioSocket is 8 kHz
only and leaves pacing to the app; raw RTP needs our own jitter handling.

Wire format (Asterisk 22, plain-text control): BINARY messages are media;
TEXT messages are events from Asterisk (``MEDIA_START key:value …``,
``MEDIA_XOFF``, ``MEDIA_XON``, ``QUEUE_DRAINED``, ``MEDIA_BUFFERING_COMPLETED``)
and commands from us (``FLUSH_MEDIA``, ``REPORT_QUEUE_DRAINED``, ``HANGUP``).
This module is the only place that knows that format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import websockets
from websockets.asyncio.client import ClientConnection

from bot.audio import FRAME_BYTES, AudioFrame, duration_ms, pad_to_frames
from foundation.errors import ServiceUnavailable

log = logging.getLogger(__name__)

MEDIA_CONNECT_TIMEOUT_S = 5.0
MEDIA_START_TIMEOUT_S = 5.0
# Asterisk accepts messages up to 65,500 bytes: send whole frames below that.
MAX_MESSAGE_BYTES = (65_500 // FRAME_BYTES) * FRAME_BYTES
# Inbound audio waiting for the bot: 2 s. When full, the oldest frame is dropped
# (stale audio is worth less than fresh audio) and counted.
INBOUND_QUEUE_FRAMES = 100


@dataclass(frozen=True, slots=True)
class MediaStart:
    connection_id: str
    channel: str
    channel_id: str
    format: str
    optimal_frame_size: int
    ptime: int


def parse_event(text: str) -> tuple[str, dict[str, str]]:
    """``"MEDIA_START connection_id:abc channel:WebSocket/x ptime:20"`` → (name, fields)."""
    parts = text.strip().split()
    if not parts:
        return "", {}
    fields: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if sep:
            fields[key] = value
    return parts[0], fields


def parse_media_start(fields: dict[str, str]) -> MediaStart:
    return MediaStart(
        connection_id=fields.get("connection_id", ""),
        channel=fields.get("channel", ""),
        channel_id=fields.get("channel_id", ""),
        format=fields.get("format", ""),
        optimal_frame_size=int(fields.get("optimal_frame_size", FRAME_BYTES)),
        ptime=int(fields.get("ptime", 20)),
    )


class MediaConnection:
    """One call's media socket. Owned by one call task group."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.start: MediaStart | None = None
        self.dropped_frames = 0
        self._ws: ClientConnection | None = None
        self._inbound: asyncio.Queue[AudioFrame | None] = asyncio.Queue(maxsize=INBOUND_QUEUE_FRAMES)
        self._drained = asyncio.Event()
        self._xon = asyncio.Event()
        self._xon.set()
        self._reader: asyncio.Task[None] | None = None
        self._play_until = 0.0  # monotonic time the audio queued so far finishes playing
        self._closed = asyncio.Event()

    async def connect(self) -> MediaStart:
        try:
            self._ws = await asyncio.wait_for(
                websockets.connect(self.url, subprotocols=[websockets.Subprotocol("media")], max_size=2**20),
                MEDIA_CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise ServiceUnavailable(
                f"cannot open the call's media socket ({type(exc).__name__})",
                "check that Asterisk's HTTP server is up (`duncall asterisk status`)",
            ) from None
        deadline = time.monotonic() + MEDIA_START_TIMEOUT_S
        while self.start is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceUnavailable(
                    "no MEDIA_START from Asterisk on the media socket", "check Asterisk's log"
                )
            msg = await asyncio.wait_for(self._ws.recv(), remaining)
            if isinstance(msg, str):
                name, fields = parse_event(msg)
                if name == "MEDIA_START":
                    self.start = parse_media_start(fields)
        self._reader = asyncio.create_task(self._read_loop(), name=f"media-reader:{self.start.channel_id}")
        return self.start

    async def _read_loop(self) -> None:
        assert self._ws is not None
        try:
            async for msg in self._ws:
                if isinstance(msg, bytes):
                    self._push(msg)
                else:
                    self._on_event(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self._closed.set()
            self._drained.set()
            with contextlib.suppress(asyncio.QueueFull):
                self._inbound.put_nowait(None)

    def _push(self, pcm: bytes) -> None:
        now = time.monotonic()
        for off in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            frame = AudioFrame(pcm[off : off + FRAME_BYTES], now)
            if self._inbound.full():
                self._inbound.get_nowait()
                self.dropped_frames += 1
            self._inbound.put_nowait(frame)

    def _on_event(self, text: str) -> None:
        name, _ = parse_event(text)
        if name == "QUEUE_DRAINED":
            self._drained.set()
        elif name == "MEDIA_XOFF":
            self._xon.clear()
        elif name == "MEDIA_XON":
            self._xon.set()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        while True:
            frame = await self._inbound.get()
            if frame is None:
                return
            yield frame

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def play(self, pcm: bytes) -> float:
        """Queue audio to the caller; Asterisk paces it. Returns when the first byte was sent."""
        assert self._ws is not None
        pcm = pad_to_frames(pcm)
        self._drained.clear()
        # Asterisk plays what it queued in real time, so the audio's length says when
        # it ends; QUEUE_DRAINED has been seen to arrive seconds early on long prompts.
        now = time.monotonic()
        self._play_until = max(self._play_until, now) + duration_ms(pcm) / 1000
        first_sent = 0.0
        for off in range(0, len(pcm), MAX_MESSAGE_BYTES):
            await self._xon.wait()
            await self._ws.send(pcm[off : off + MAX_MESSAGE_BYTES])
            if not first_sent:
                first_sent = time.monotonic()
        await self._ws.send("REPORT_QUEUE_DRAINED")
        return first_sent

    async def wait_played(self) -> None:
        """Until everything queued so far has been played out (or the call ended)."""
        await self._drained.wait()
        left = self._play_until - time.monotonic()
        if left > 0 and not self.closed:
            await asyncio.sleep(left)

    async def flush(self) -> None:
        """Take back audio queued but not yet played (barge-in)."""
        if self._ws is not None and not self.closed:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send("FLUSH_MEDIA")
        self._play_until = time.monotonic()
        self._drained.set()

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
