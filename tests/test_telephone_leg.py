"""A persona dialled at ``DUNCALL_LOCAL_CHANNEL_FORMAT=ulaw`` is an 8 kHz μ-law leg on the bot's side.

Wide-band noise is sent from the bot's media socket (slin16, as the bot speaks) into an
echoing Local channel and measured where the bot listens: through a μ-law leg nothing of it
comes back above 4 kHz (the 8 kHz codec cannot carry it), through the default slin48 leg a
good part does.  The leg's native format, which the bot reads to choose its recognizer
(``bot.callbot``), says ulaw.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import numpy as np
import pytest

from bot.callbot import NATIVE_FORMATS_VARIABLE
from bot.media.chan_websocket import MediaConnection
from foundation.errors import ServiceUnavailable
from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart, Subscription, new_id

pytestmark = pytest.mark.asterisk

ECHO = "Local/echo@duncall-test"
RATE_HZ = 16_000
NOISE_S = 1.5


@pytest.fixture
async def ari() -> AsyncIterator[AriClient]:
    client = AriClient(replace(ari_settings(), app=f"duncall-test-leg-{uuid.uuid4().hex[:8]}"))
    try:
        await client.connect()
    except ServiceUnavailable as exc:
        await client.aclose()
        pytest.skip(f"Asterisk sandbox not running ({exc.one_line()})")
    try:
        yield client
    finally:
        await client.close()


async def _stasis(events: Subscription, channel_id: str) -> None:
    async with asyncio.timeout(5):
        async for ev in events:
            if isinstance(ev, StasisStart) and ev.channel.id == channel_id:
                return


async def _echoed_noise(ari: AriClient) -> tuple[str, np.ndarray]:
    """(the leg's native formats, the 16 kHz audio the bot's socket heard while noise was echoed)."""
    call_id, media_id, bridge_id = new_id(), new_id(), new_id()
    media: MediaConnection | None = None
    try:
        with ari.channel_events(call_id) as call_events, ari.channel_events(media_id) as media_events:
            await ari.originate(ECHO, channel_id=call_id)  # no formats: the setting's
            await _stasis(call_events, call_id)
            formats = await ari.get_variable(call_id, NATIVE_FORMATS_VARIABLE)
            ch = await ari.external_media(channel_id=media_id)
            conn = ch.channelvars.get("MEDIA_WEBSOCKET_CONNECTION_ID") or await ari.get_variable(
                media_id, "MEDIA_WEBSOCKET_CONNECTION_ID"
            )
            media = MediaConnection(ari.media_url(conn))
            await media.connect()
            await _stasis(media_events, media_id)
        await ari.create_bridge(bridge_type="mixing", bridge_id=bridge_id)
        await ari.add_to_bridge(bridge_id, [call_id, media_id])
        noise = np.random.default_rng(7).normal(0, 6000, int(RATE_HZ * NOISE_S))
        await media.play(np.clip(noise, -32768, 32767).astype(np.int16).tobytes())
        heard: list[bytes] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(NOISE_S + 1.0):
                async for frame in media.frames():
                    heard.append(frame.pcm)
        return formats, np.frombuffer(b"".join(heard), dtype=np.int16).astype(np.float64)
    finally:
        if media is not None:
            await media.close()
        for channel in (call_id, media_id):
            with contextlib.suppress(Exception):
                await ari.hangup(channel)
        with contextlib.suppress(Exception):
            await ari.destroy_bridge(bridge_id)


def _share_above_4_khz(pcm: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(pcm)) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE_HZ)
    audible = power[freqs >= 300].sum()
    return float(power[freqs >= 4_200].sum() / audible) if audible else 0.0


async def test_a_ulaw_persona_leg_reaches_the_bot_band_limited_to_8_khz(
    ari: AriClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_LOCAL_CHANNEL_FORMAT", "ulaw")
    formats, narrow = await _echoed_noise(ari)
    assert formats == "(ulaw)"
    monkeypatch.delenv("DUNCALL_LOCAL_CHANNEL_FORMAT")
    wide_formats, wide = await _echoed_noise(ari)
    assert wide_formats == "(slin48)"
    # Both legs echoed the noise back loudly; only the wide-band one kept its top octave.
    assert np.sqrt(np.mean(narrow**2)) > 1000 and np.sqrt(np.mean(wide**2)) > 1000
    assert _share_above_4_khz(narrow) < 0.01, _share_above_4_khz(narrow)
    assert _share_above_4_khz(wide) > 0.2, _share_above_4_khz(wide)
