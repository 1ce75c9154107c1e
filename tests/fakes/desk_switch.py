"""Asterisk at the edge of a desk's click-to-call, as first-class fake: what the console's ARI
connection asks of it (originates, ringing indications, bridges, playbacks, snoops and
recordings) is kept in ``ops``, and it answers with the ARI events Asterisk would send.

The debtor's line answers after ``answer_after_s`` (None: it rings out, cause 19); the desk's
softphone (the ``da-`` channel) answers at once, as a softphone in auto-answer does.  The test
hangs the debtor up with ``debtor_hangs_up``.  Each side's recording is a WAV of one burst of
tone (speech, to the transcriber's energy cut) of ``SIDE_SPEECH_S`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import wave
from collections.abc import Callable, Iterator
from typing import Any

from telephony.ari.errors import AriNotFound
from telephony.ari.events import event_channel_ids, parse_event

SIDE_SPEECH_S = 1.0
RATE = 16000


def _channel(channel_id: str, state: str = "Up") -> dict[str, Any]:
    return {
        "id": channel_id,
        "name": f"PJSIP/{channel_id}",
        "state": state,
        "caller": {"name": "", "number": ""},
        "connected": {"name": "", "number": ""},
        "dialplan": {"context": "x", "exten": "s", "priority": 1},
        "creationtime": "2026-12-01T12:00:00.000+0000",
        "language": "en",
    }


def event(kind: str, channel_id: str | None = None, **fields: Any) -> Any:
    data: dict[str, Any] = {
        "type": kind,
        "application": "t-desk",
        "timestamp": "2026-12-01T12:00:00.000+0000",
        **fields,
    }
    if channel_id is not None:
        data["channel"] = _channel(channel_id)
    return parse_event(data)


def side_wav(seconds: float = SIDE_SPEECH_S) -> bytes:
    """Half a second of quiet, ``seconds`` of a loud 300 Hz tone, half a second of quiet."""
    quiet = [0] * (RATE // 2)
    tone = [int(12000 * math.sin(2 * math.pi * 300 * i / RATE)) for i in range(int(seconds * RATE))]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(s.to_bytes(2, "little", signed=True) for s in quiet + tone + quiet))
    return buf.getvalue()


class _Queue:
    def __init__(self, accepts: Callable[[Any], bool]) -> None:
        self.accepts = accepts
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the ARI subscription's signature
        async with asyncio.timeout(timeout):
            return await self.queue.get()


class DeskSwitch:
    app = "t-desk"

    def __init__(self, answer_after_s: float | None = 0.2, *, desk_up: bool = True) -> None:
        self.answer_after_s = answer_after_s
        self.desk_up = desk_up  # False: the desk's softphone refuses the call (cause 21)
        self.ops: list[tuple[str, str]] = []  # (operation, channel / bridge / recording)
        self.originates: list[dict[str, Any]] = []
        self.live: set[str] = set()
        self._queues: list[_Queue] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the calls' (the console's) loop
        self._answers: dict[str, asyncio.TimerHandle] = {}

    # --- events ---------------------------------------------------------------------------

    def emit(self, ev: Any) -> None:
        for q in list(self._queues):
            if q.accepts(ev):
                q.queue.put_nowait(ev)

    def _later(self, delay_s: float, ev: Any, op: tuple[str, str] | None = None) -> None:
        def fire() -> None:
            if op is not None:
                self.ops.append(op)
            self.emit(ev)

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        if op is not None:
            self._answers[op[1]] = handle  # a hang-up before it comes cancels the answer

    @contextlib.contextmanager
    def _listening(self, accepts: Callable[[Any], bool]) -> Iterator[_Queue]:
        q = _Queue(accepts)
        self._queues.append(q)
        try:
            yield q
        finally:
            self._queues.remove(q)

    def channel_events(self, channel_id: str) -> contextlib.AbstractContextManager[_Queue]:
        return self._listening(lambda ev: channel_id in event_channel_ids(ev))

    def subscribe(
        self, predicate: Callable[[Any], bool] | None = None, **_: Any
    ) -> contextlib.AbstractContextManager[_Queue]:
        return self._listening(predicate or (lambda ev: True))

    def debtor_hangs_up(self, channel_id: str) -> None:
        """From the test's thread: the far end of ``channel_id`` hangs up (on the calls' loop)."""
        assert self._loop is not None, "no call was placed"

        def hang_up() -> None:
            self.live.discard(channel_id)
            self.emit(event("ChannelHangupRequest", channel_id))
            self.emit(event("ChannelDestroyed", channel_id, cause=16, cause_txt="Normal Clearing"))

        self._loop.call_soon_threadsafe(hang_up)

    # --- channels ---------------------------------------------------------------------------

    async def originate(
        self, endpoint: str, *, channel_id: str, app_args: tuple[str, ...] = (), **kw: Any
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.originates.append({"endpoint": endpoint, "channel_id": channel_id, "app_args": app_args, **kw})
        self.ops.append(("originate", channel_id))
        if channel_id.startswith("da-") and not self.desk_up:
            self._later(0.05, event("ChannelDestroyed", channel_id, cause=21, cause_txt="Call Rejected"))
            return
        if channel_id.startswith("dc-") and self.answer_after_s is None:
            self._later(0.1, event("ChannelDestroyed", channel_id, cause=19, cause_txt="No answer"))
            return
        self.live.add(channel_id)
        delay = self.answer_after_s if channel_id.startswith("dc-") else 0.05
        assert delay is not None
        self._later(delay, event("StasisStart", channel_id, args=list(app_args)), ("answered", channel_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.ops.append(("hangup", channel_id))
        if channel_id.startswith("dc-") and not any(o["channel_id"] == channel_id for o in self.originates):
            raise AriNotFound("DELETE", f"/channels/{channel_id}", 404, "Channel not found")
        answer = self._answers.pop(channel_id, None)
        if answer is not None:
            answer.cancel()
        if channel_id in self.live:
            self.live.discard(channel_id)
            self._later(0.01, event("ChannelDestroyed", channel_id, cause=16, cause_txt="Normal Clearing"))

    async def ring(self, channel_id: str) -> None:
        self.ops.append(("ring", channel_id))

    async def ring_stop(self, channel_id: str) -> None:
        self.ops.append(("ring_stop", channel_id))

    async def continue_in_dialplan(self, channel_id: str, **kw: Any) -> None:
        self.ops.append(("continue_in_dialplan", channel_id))  # answer detection's way in

    async def list_channels(self) -> list[Any]:
        return [type("Channel", (), {"id": c})() for c in self.live]

    async def play(self, channel_id: str, media: str, *, playback_id: str, **kw: Any) -> None:
        self.ops.append(("play", channel_id))
        playback = {
            "id": playback_id,
            "media_uri": media,
            "target_uri": f"channel:{channel_id}",
            "state": "done",
        }
        self._later(0.05, event("PlaybackFinished", playback=playback))

    async def snoop(
        self, channel_id: str, *, snoop_id: str, app_args: tuple[str, ...] = (), **kw: Any
    ) -> None:
        self.ops.append(("snoop", channel_id))
        self.live.add(snoop_id)
        self._later(0.01, event("StasisStart", snoop_id, args=list(app_args)))

    # --- bridges and recordings ---------------------------------------------------------------

    async def create_bridge(self, *, bridge_type: str, bridge_id: str) -> None:
        self.ops.append(("create_bridge", bridge_id))

    async def add_to_bridge(self, bridge_id: str, channel_ids: str | list[str], **kw: Any) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        self.ops += [("add_to_bridge", c) for c in ids]

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.ops.append(("destroy_bridge", bridge_id))

    async def record_bridge(self, bridge_id: str, name: str, **kw: Any) -> None:
        self.ops.append(("record_bridge", name))

    async def record(self, channel_id: str, name: str, **kw: Any) -> None:
        self.ops.append(("record", name))

    async def get_live_recording(self, name: str) -> Any:
        raise AriNotFound("GET", f"/recordings/live/{name}", 404, "Recording not found")

    async def fetch_stored_recording(self, name: str) -> bytes:
        self.ops.append(("fetch", name))
        return side_wav()

    async def close(self) -> None:
        return None
