"""The events WebSocket comes back after a drop, and says so.

The fast test drops the socket from a local WebSocket server standing in for
Asterisk's; the slow one restarts the real sandbox Asterisk.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from duncall.ari import AriClient, Disconnected, Reconnected, StasisStart, new_id
from duncall.ari.events import AriEvent
from duncall.errors import ServiceUnavailable
from duncall.settings import AriSettings, ari_settings


def _stasis_start(channel_id: str) -> str:
    return json.dumps(
        {
            "type": "StasisStart",
            "application": "duncall-test",
            "timestamp": "2026-11-25T13:09:34.351+0000",
            "args": [],
            "channel": {"id": channel_id, "name": f"Local/{channel_id}", "state": "Up"},
        }
    )


@pytest.fixture
async def dropping_server() -> AsyncIterator[tuple[str, list[str]]]:
    """Each connection gets one StasisStart, then the server drops it (as a restart would)."""
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        await ws.send(_stasis_start(f"call-{len(paths)}"))
        if len(paths) == 1:
            await ws.close(code=1001, reason="going away")
        else:
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}", paths


@pytest.mark.unit
async def test_drop_gives_disconnected_then_reconnected_then_new_events(
    dropping_server: tuple[str, list[str]],
) -> None:
    url, paths = dropping_server
    client = AriClient(AriSettings(url, "u", "p", "duncall-test"), reconnect_base_s=0.05)
    seen: list[AriEvent] = []
    async with client, client.subscribe(name="test-observer") as events:
        async with asyncio.timeout(5):
            async for event in events:
                seen.append(event)
                if isinstance(event, StasisStart) and event.channel.id == "call-2":
                    break
    assert [type(e).__name__ for e in seen] == ["StasisStart", "Disconnected", "Reconnected", "StasisStart"]
    reconnected = seen[2]
    assert isinstance(reconnected, Reconnected) and reconnected.attempts >= 1
    assert client.reconnects == 1
    # The same app was asked for again, events only for what it owns.
    assert paths == ["/ari/events?app=duncall-test&subscribeAll=false"] * 2


@pytest.mark.unit
async def test_channel_subscriptions_hear_about_the_drop(dropping_server: tuple[str, list[str]]) -> None:
    url, _ = dropping_server
    client = AriClient(AriSettings(url, "u", "p", "duncall-test"), reconnect_base_s=0.05)
    async with client, client.channel_events("some-live-call") as events:
        first = await events.get(5)
        second = await events.get(5)
    assert isinstance(first, Disconnected) and isinstance(second, Reconnected)


def _duncall(*args: str) -> None:
    exe = Path(sys.executable).with_name("duncall")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.asterisk
@pytest.mark.slow
async def test_asterisk_restart_reconnects_and_new_calls_arrive() -> None:
    settings = replace(ari_settings(), app=f"duncall-test-{uuid.uuid4().hex[:8]}")
    client = AriClient(settings)
    try:
        await client.connect()
    except ServiceUnavailable as exc:
        await client.aclose()
        pytest.skip(f"Asterisk sandbox not running ({exc.one_line()})")
    try:
        with client.subscribe(name="restart-observer") as events:
            # A blocking restart would also stall the event loop; run it in a thread.
            await asyncio.to_thread(_duncall, "asterisk", "restart")
            async with asyncio.timeout(60):
                kinds = [type(await events.get()).__name__ for _ in range(2)]
            assert kinds == ["Disconnected", "Reconnected"]
            call_id = new_id()
            async with client.channel_events(call_id) as call:
                await client.originate("Local/echo@duncall-test", channel_id=call_id)
                async with asyncio.timeout(10):
                    async for event in call:
                        if isinstance(event, StasisStart):
                            break
            await client.hangup(call_id)
    finally:
        await client.close()
