"""The ARI client against the real Asterisk sandbox (`duncall asterisk up`).

Each test registers its own Stasis application name, so tests of other areas
running against the same Asterisk never see (or steal) its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import websockets
from websockets.typing import Subprotocol

from foundation.contract import CallOutcome
from foundation.errors import AuthError, ServiceUnavailable
from foundation.settings import ari_settings
from telephony.ari import (
    AriClient,
    AriConflict,
    AriNotFound,
    ChannelDestroyed,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
    Subscription,
    new_id,
    outcome_for_cause,
)
from telephony.ari.events import AriEvent

pytestmark = pytest.mark.asterisk

ECHO = "Local/echo@duncall-test"
SILENCE = "Local/silence@duncall-test"


@pytest.fixture
async def ari() -> AsyncIterator[AriClient]:
    settings = replace(ari_settings(), app=f"duncall-test-{uuid.uuid4().hex[:8]}")
    client = AriClient(settings)
    try:
        await client.connect()
    except ServiceUnavailable as exc:
        await client.aclose()
        pytest.skip(f"Asterisk sandbox not running ({exc.one_line()})")
    try:
        yield client
    finally:
        # A failed test must not leave its calls up for the next one (or another engineer's tests).
        for channel in await client.list_channels():
            plan = channel.dialplan
            if plan and plan.app_name == "Stasis" and (plan.app_data or "").startswith(client.app):
                with contextlib.suppress(AriNotFound):
                    await client.hangup(channel.id)
        await client.close()


async def _until(events: Subscription, kind: type[AriEvent], limit_s: float = 5.0) -> list[AriEvent]:
    """Events up to and including the first of ``kind``."""
    seen: list[AriEvent] = []
    async with asyncio.timeout(limit_s):
        async for event in events:
            seen.append(event)
            if isinstance(event, kind):
                return seen
    raise AssertionError(f"stream ended before {kind.__name__}: {[type(e).__name__ for e in seen]}")


async def _answered_call(ari: AriClient, events: Subscription, endpoint: str = ECHO) -> str:
    channel_id = events.name.removeprefix("channel:")
    await ari.originate(endpoint, channel_id=channel_id)
    await _until(events, StasisStart)
    return channel_id


async def test_originate_answer_hangup_reports_events_and_cause(ari: AriClient) -> None:
    call_id = new_id()
    async with ari.channel_events(call_id) as events:
        channel = await ari.originate(ECHO, channel_id=call_id, app_args=["campaign-7", "acct-1"])
        assert channel.id == call_id and channel.name.startswith("Local/echo@duncall-test")
        before_start = await _until(events, StasisStart)
        start = before_start[-1]
        assert isinstance(start, StasisStart) and start.args == ("campaign-7", "acct-1")
        states = [e.channel.state for e in before_start if isinstance(e, ChannelStateChange)]
        assert "Up" in states
        await ari.hangup(call_id, reason="normal")
        rest = [e async for e in events]  # the stream ends with the channel
    assert any(isinstance(e, ChannelHangupRequest) for e in rest)
    assert any(isinstance(e, StasisEnd) for e in rest)
    destroyed = rest[-1]
    assert isinstance(destroyed, ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt) == (16, "Normal Clearing")
    assert outcome_for_cause(destroyed.cause, answered=True) is CallOutcome.ANSWERED
    with pytest.raises(AriNotFound, match="Channel not found"):
        await ari.get_channel(call_id)


async def test_a_local_channel_runs_at_48_khz_not_192_khz(ari: AriClient) -> None:
    # Left to itself Asterisk gives a Local channel slin192, and every bridge it joins then
    # resamples each frame to 192 kHz (most of Asterisk's CPU with 30 bot calls).
    call_id = new_id()
    async with ari.channel_events(call_id) as events:
        await ari.originate(ECHO, channel_id=call_id)
        await _until(events, StasisStart)
        assert await ari.get_variable(call_id, "CHANNEL(audionativeformat)") == "(slin48)"
        other = new_id()
        async with ari.channel_events(other) as more:
            await ari.originate(ECHO, channel_id=other, formats=["ulaw"])  # asked for: kept
            await _until(more, StasisStart)
            assert await ari.get_variable(other, "CHANNEL(audionativeformat)") == "(ulaw)"


async def test_originate_to_missing_extension_fails_with_a_mapped_cause(ari: AriClient) -> None:
    call_id = new_id()
    async with ari.channel_events(call_id) as events:
        await ari.originate(f"Local/no-such-{uuid.uuid4().hex[:6]}@duncall-test", channel_id=call_id)
        seen = await _until(events, ChannelDestroyed)
    assert not any(isinstance(e, StasisStart) for e in seen)
    destroyed = seen[-1]
    assert isinstance(destroyed, ChannelDestroyed)
    answered = any(isinstance(e, ChannelStateChange) and e.channel.answered for e in seen)
    assert outcome_for_cause(destroyed.cause, answered=answered) is CallOutcome.FAILED


async def test_wrong_credentials_are_an_auth_error() -> None:
    settings = replace(ari_settings(), password="not-the-password")
    client = AriClient(settings)
    try:
        with pytest.raises(AuthError, match="wrong ARI credentials") as info:
            await client.connect()
        assert not info.value.retryable
        with pytest.raises(AuthError):
            await client.asterisk_info()
    finally:
        await client.close()


async def test_asterisk_info_and_listing(ari: AriClient) -> None:
    info = await ari.asterisk_info()
    assert info.version.startswith("22")
    assert isinstance(await ari.list_channels(), list)


async def test_variables_and_rest_errors(ari: AriClient) -> None:
    async with ari.channel_events(new_id()) as events:
        call_id = await _answered_call(ari, events)
        await ari.set_variable(call_id, "DUNCALL_ACCOUNT", "acct-1")
        assert await ari.get_variable(call_id, "DUNCALL_ACCOUNT") == "acct-1"
        with pytest.raises(AriNotFound):
            await ari.get_variable(call_id, "NEVER_SET_ANYWHERE")
        await ari.send_dtmf(call_id, "12#", between_ms=50)
        await ari.hangup(call_id)
    with pytest.raises(AriNotFound) as info:
        await ari.hangup(call_id)
    assert info.value.status == 404 and not info.value.retryable


async def test_play_tone_and_stop_it(ari: AriClient) -> None:
    async with ari.channel_events(new_id()) as events:
        call_id = await _answered_call(ari, events)
        playback = await ari.play(call_id, "tone:440", playback_id=new_id())
        assert playback.channel_id == call_id
        started = (await _until(events, PlaybackStarted))[-1]
        assert isinstance(started, PlaybackStarted) and started.playback.id == playback.id
        assert (await ari.get_playback(playback.id)).state == "playing"
        await ari.control_playback(playback.id, "pause")
        await ari.stop_playback(playback.id)
        finished = (await _until(events, PlaybackFinished))[-1]
        assert isinstance(finished, PlaybackFinished) and finished.playback.id == playback.id
        await ari.hangup(call_id)


async def test_bridge_add_remove_destroy(ari: AriClient) -> None:
    bridge = await ari.create_bridge(bridge_id=f"test-{new_id()[:12]}")
    try:
        with pytest.raises(AriConflict):
            await ari.create_bridge(bridge_id=bridge.id)
        assert bridge.id in {b.id for b in await ari.list_bridges()}
        async with ari.channel_events(new_id()) as events:
            call_id = await _answered_call(ari, events)
            await ari.add_to_bridge(bridge.id, call_id)
            entered = (await _until(events, ChannelEnteredBridge))[-1]
            assert isinstance(entered, ChannelEnteredBridge) and entered.bridge.id == bridge.id
            assert (await ari.get_bridge(bridge.id)).channels == (call_id,)
            await ari.remove_from_bridge(bridge.id, call_id)
            await _until(events, ChannelLeftBridge)
            await ari.hangup(call_id)
    finally:
        await ari.destroy_bridge(bridge.id)
    # Asterisk answers the DELETE before the bridge has left its list (seen once in ~20 runs):
    # gone within a second is the behaviour relied on.
    with pytest.raises(AriNotFound):
        async with asyncio.timeout(1.0):
            while True:
                await ari.get_bridge(bridge.id)
                await asyncio.sleep(0.02)


async def test_external_media_channel_names_its_websocket(ari: AriClient) -> None:
    media_id = new_id()
    async with ari.channel_events(media_id) as events:
        channel = await ari.external_media(channel_id=media_id)
        connection_id = channel.channelvars.get("MEDIA_WEBSOCKET_CONNECTION_ID", "")
        assert connection_id, channel.channelvars
        url = ari.media_url(connection_id)
        assert url == f"ws://127.0.0.1:8088/media/{connection_id}"
        # The channel enters Stasis once its media WebSocket is open.
        async with websockets.connect(url, subprotocols=[Subprotocol("media")], proxy=None) as media:
            first = await asyncio.wait_for(media.recv(), 5)
            assert isinstance(first, str) and first.startswith("MEDIA_START")
            assert f"channel_id:{media_id}" in first
            await _until(events, StasisStart)
            await ari.hangup(media_id)
            await _until(events, ChannelDestroyed)


async def test_snoop_channel_enters_the_app(ari: AriClient) -> None:
    async with ari.channel_events(new_id()) as events:
        call_id = await _answered_call(ari, events)
        snoop_id = new_id()
        async with ari.channel_events(snoop_id) as snoop_events:
            snoop = await ari.snoop(call_id, spy="both", snoop_id=snoop_id, app_args=["supervisor"])
            assert snoop.id == snoop_id
            start = (await _until(snoop_events, StasisStart))[-1]
            assert isinstance(start, StasisStart) and start.args == ("supervisor",)
            await ari.hangup(snoop_id)
        await ari.hangup(call_id)


async def test_continue_in_dialplan_leaves_stasis(ari: AriClient) -> None:
    async with ari.channel_events(new_id()) as events:
        call_id = await _answered_call(ari, events)
        await ari.continue_in_dialplan(call_id, context="duncall-test", extension="silence", priority=1)
        await _until(events, StasisEnd)
        assert (await ari.get_channel(call_id)).state == "Up"  # alive, now in the dialplan
        await ari.hangup(call_id)


async def test_wait_for(ari: AriClient) -> None:
    call_id = new_id()
    waiter = asyncio.create_task(
        ari.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == call_id, timeout=5),
        name="wait-for-start",
    )
    await asyncio.sleep(0)  # let the waiter subscribe before the call starts
    await ari.originate(SILENCE, channel_id=call_id)
    event = await waiter
    assert isinstance(event, StasisStart) and event.channel.id == call_id
    await ari.hangup(call_id)
    with pytest.raises(TimeoutError):
        await ari.wait_for(lambda e: False, timeout=0.2)


async def test_record_then_fetch_copy_delete(ari: AriClient) -> None:
    name = f"duncall-test-{new_id()[:12]}"
    async with ari.channel_events(new_id()) as events:
        call_id = await _answered_call(ari, events)
        recording = await ari.record(call_id, name, max_duration_s=1, if_exists="overwrite")
        assert recording.name == name and recording.channel_id == call_id
        await asyncio.sleep(0.3)
        await ari.stop_live_recording(name)
        await ari.hangup(call_id)
    stored = await ari.get_stored_recording(name)
    assert stored.format == "wav"
    data = await ari.fetch_stored_recording(name)
    assert data[:4] == b"RIFF"
    copy = await ari.copy_stored_recording(name, name + "-copy")
    for each in (name, copy.name):
        await ari.delete_stored_recording(each)
    with pytest.raises(AriNotFound):
        await ari.get_stored_recording(name)
