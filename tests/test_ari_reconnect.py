"""The events WebSocket comes back after a drop, and says so.

The fast test drops the socket from a local WebSocket server standing in for
Asterisk's; the slow one restarts the real sandbox Asterisk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from foundation.errors import ServiceUnavailable
from foundation.settings import AriSettings, ari_settings
from telephony.ari import AriClient, Disconnected, Reconnected, StasisStart, new_id
from telephony.ari.events import AriEvent
from telephony.ari.subscriptions import SLOW_CONSUMER_S


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


@pytest.fixture
async def chatty_server() -> AsyncIterator[str]:
    """Sends three StasisStarts and a malformed message, then keeps the socket open."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(_stasis_start("a"))
        await ws.send("{not json")
        await ws.send(json.dumps({"type": "StasisStart", "channel": {"id": "broken"}}))
        await ws.send(_stasis_start("b"))
        await ws.send(_stasis_start("c"))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"


@pytest.mark.unit
async def test_watchdog_names_a_consumer_that_stops_reading(
    chatty_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = AriClient(AriSettings(chatty_server, "u", "p", "duncall-test"))
    with caplog.at_level(logging.WARNING, logger="telephony.ari"):
        async with client, client.subscribe(name="stuck-consumer") as events:
            await asyncio.sleep(SLOW_CONSUMER_S + 0.4)  # not reading while events wait
            got = [await events.get(1) for _ in range(3)]
    stalls = [r for r in caplog.records if r.message == "event consumer is not reading"]
    assert [r.fields["subscription"] for r in stalls] == ["stuck-consumer"]  # type: ignore[attr-defined]
    # Unreadable messages are skipped and counted; the stream goes on.
    assert [e.channel.id for e in got if isinstance(e, StasisStart)] == ["a", "b", "c"]
    assert client.bad_messages == 2


@pytest.mark.unit
async def test_a_failing_predicate_ends_only_its_own_subscription(chatty_server: str) -> None:
    def broken(event: AriEvent) -> bool:
        raise RuntimeError("bug in a consumer's filter")

    client = AriClient(AriSettings(chatty_server, "u", "p", "duncall-test"))
    async with client, client.subscribe(broken) as bad, client.subscribe() as good:
        with pytest.raises(RuntimeError, match="bug in a consumer's filter"):
            await bad.get(2)
        assert [(await good.get(2)) is not None for _ in range(3)] == [True] * 3
