"""Warm transfer in a real headless Chromium: the bot hands a persona asking for a person to a
ready collector at the desk page.

The bot campaign calls the ``asks_human_desk`` persona ("i want to talk to a real person"); the
call's script transfers, the bot claims the test's ready desk, its softphone (JsSIP over the
sandbox's SIP WebSocket) answers, and only then the bot says it is connecting and leaves.  The
page pops the account with the bot's transcript (the persona's ask included); what the desk's
channel is sent is recorded and must follow the persona's next words (the envelope of its
rendered reply), so the collector hears the persona, not only the bot.  The collector's wrap-up
ends the attempt.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import threading
import time
import uuid
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_browser import login, serve, shot
from test_console_fixtures import ConsoleEnv
from test_desk_browser import browser, desk_env, envelope_match  # noqa: F401 (fixtures)

from dialer.agents.desk import DeskBoard, DeskState
from dialer.store.models import CallAttempt
from duncall import demo
from duncall.compose import answer
from duncall.personas import load_personas
from duncall.personas.render import clip_name
from duncall.sandbox import runtime
from foundation import paths
from foundation.contract import ChannelPrefix
from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart
from telephony.live.registry import CallKind, LiveCallRegistry

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")

PERSONA = next(p for p in load_personas(paths.personas_dir()) if p.name == "asks_human_desk")
RECORD_S = 9  # what the desk's channel is sent, from the moment it is on the call
CALL_TIMEOUT_MS = 60_000


def _reply_wav(folder: Path) -> Path:
    """The persona's words to the collector as rendered for the sandbox (16 kHz s16), as a wav."""
    clip = runtime.sandbox().sounds / f"{clip_name(PERSONA, 2)}.sln16"
    out = folder / "reply.wav"
    subprocess.run(
        ["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", str(clip), str(out)],
        check=True,
    )
    return out


def _bot_campaign(
    env: ConsoleEnv, collector_id: str, key_prefix: str, recorded: dict[str, Any]
) -> threading.Thread:
    board = DeskBoard(redis.Redis.from_url(REDIS_URL), env.live_prefix)

    async def record_desk_side() -> None:
        rec = AriClient(replace(ari_settings(), app=f"test-xfer-rec-{uuid.uuid4().hex[:6]}"))
        await rec.connect()
        try:
            while board.desk(collector_id).state is not DeskState.ON_CALL:  # noqa: ASYNC110 (Redis is polled)
                await asyncio.sleep(0.05)
            attempt_id = board.desk(collector_id).attempt_id
            recorded["attempt_id"] = attempt_id
            # Supervisors now find the call as the collector's (the bot listed it as its own).
            registry = LiveCallRegistry.from_env(REDIS_URL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                listed = await asyncio.to_thread(registry.get, attempt_id)
                recorded["listed"] = listed
                if listed is not None and listed.kind is CallKind.AGENT:
                    break
                await asyncio.sleep(0.1)
            snoop_id = f"xfer-rec-{uuid.uuid4().hex[:8]}"
            with rec.channel_events(snoop_id) as events:
                await rec.snoop(ChannelPrefix.AGENT.of(attempt_id), spy="out", app=rec.app, snoop_id=snoop_id)
                async with asyncio.timeout(5):
                    while not isinstance(await events.get(), StasisStart):
                        pass
            name = f"xfer-test-{attempt_id}"
            await rec.record(snoop_id, name, max_duration_s=RECORD_S, if_exists="overwrite")
            await asyncio.sleep(RECORD_S + 0.5)
            recorded["desk_side"] = runtime.sandbox().root / "var/spool/asterisk/recording" / f"{name}.wav"
        finally:
            await rec.close()

    def main() -> None:
        async def both() -> None:
            recorder = asyncio.create_task(record_desk_side())
            try:
                recorded["results"] = await asyncio.to_thread(
                    demo.run,
                    [PERSONA.name],
                    db_url=env.engine.url.render_as_string(hide_password=False),
                    guard_prefix=key_prefix,
                    campaign_id=f"xfer-{uuid.uuid4().hex[:8]}",
                    out=io.StringIO(),
                )
                await asyncio.wait_for(recorder, 20)
            finally:
                recorder.cancel()

        try:
            asyncio.run(both())
        except BaseException as exc:  # the test thread reports it
            recorded["error"] = exc

    return threading.Thread(target=main, name="xfer-campaign", daemon=True)


def test_a_persona_asking_for_a_person_is_put_through_to_the_ready_collector_with_the_transcript(
    browser: tuple[Any, Path],  # noqa: F811
    desk_env: tuple[ConsoleEnv, str],  # noqa: F811
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    chromium, _ = browser
    env, collector_id = desk_env
    # The bot's calls look for desks where this console's desk pages keep them.
    monkeypatch.setattr(answer, "live_prefix", lambda: env.live_prefix)
    reply = _reply_wav(tmp_path)
    started = time.monotonic()
    with serve(env.app, "xfer-console") as base:
        context = chromium.new_context(viewport={"width": 1300, "height": 1100})
        page = context.new_page()
        login(page, base, "collector", "/desk")
        page.wait_for_function("() => window.desk.registered === true", timeout=10_000)
        page.click("#ready")
        page.wait_for_selector("#state[data-state='ready']")

        recorded: dict[str, Any] = {}
        campaign = _bot_campaign(env, collector_id, key_prefix, recorded)
        campaign.start()
        account_id = PERSONA.account.account_id
        page.wait_for_selector("#call[data-call='talking']", timeout=CALL_TIMEOUT_MS)
        page.wait_for_selector(f"#pop[data-account='{account_id}']", timeout=5_000)
        page.wait_for_selector("#pop-transcript:not([hidden])", timeout=5_000)
        transcript = page.text_content("#transcript") or ""
        page.wait_for_function("() => window.desk.maxRms > 0.02", timeout=CALL_TIMEOUT_MS)
        shot(page, "desk-transfer")
        deadline = time.monotonic() + RECORD_S + 8
        while "desk_side" not in recorded and "error" not in recorded and time.monotonic() < deadline:
            time.sleep(0.2)
        page.click("#hangup")
        page.wait_for_selector("#state[data-state='wrap_up']", timeout=10_000)
        page.select_option("#wrap-form [name=disposition]", "refused")
        page.fill("#wrap-form [name=note]", "wanted a plan; sent the forms")
        page.click("#wrap-form button[type=submit]")
        page.wait_for_selector("#state[data-state='ready']", timeout=5_000)
        campaign.join(60)
        context.close()
    wall_s = time.monotonic() - started

    assert "error" not in recorded, recorded.get("error")
    assert not campaign.is_alive(), "the campaign did not end after the wrap-up"
    # The screen pop carries the bot's transcript: the persona's ask, as the bot heard it.
    assert "person" in transcript and "debtor" in transcript, transcript
    match = envelope_match(reply, recorded["desk_side"])
    (result,) = recorded["results"]
    conv = result.attempt.conversation
    bot_said = [t.text for t in conv.turns if t.speaker == "bot"]
    print(f"transfer: desk-side envelope match with the persona's reply {match:.3f}, wall {wall_s:.1f} s")
    assert "I'm connecting you to a colleague now." in bot_said, bot_said
    assert not any(t.startswith("No colleague is free") for t in bot_said), bot_said
    assert match > 0.8, match
    listed = recorded["listed"]
    assert listed is not None and listed.kind is CallKind.AGENT, listed
    assert (listed.media_channel_id, listed.agent_id) == (
        ChannelPrefix.AGENT.of(recorded["attempt_id"]),
        collector_id,
    )
    # The call's recording goes on after the bot left: it holds the collector's part too.
    assert conv.recording is not None
    with wave.open(
        str(runtime.sandbox().root / "var/spool/asterisk/recording" / f"{conv.recording}.wav")
    ) as w:
        recorded_s = w.getnframes() / w.getframerate()
    bot_left_s = max(t.ended_s or t.started_s for t in conv.turns if t.speaker == "bot")
    print(f"transfer: recording {recorded_s:.1f} s, the bot's last words ended at {bot_left_s:.1f} s")
    assert recorded_s > bot_left_s + 5, (recorded_s, bot_left_s)
    # …and what the collector and the debtor said after the transfer, each from their own side,
    # is in the call's transcript (the bot's turns before it).
    for t in conv.turns:
        print(f"  {t.started_s:6.2f} {t.speaker:6} {t.text}")
    collector_turns = [t for t in conv.turns if t.speaker == "agent"]
    assert collector_turns, "nothing the collector said is in the transcript"
    assert any(t.speaker == "debtor" and t.started_s > bot_left_s for t in conv.turns)
    first_bot = min(t.started_s for t in conv.turns if t.speaker == "bot")
    assert all(t.started_s > first_bot for t in collector_turns)
    # The collector's wrap-up ended the attempt.
    with Session(env.engine) as db:
        attempt = db.scalars(select(CallAttempt).where(CallAttempt.account_id == account_id)).one()
        assert (attempt.outcome, attempt.disposition) == ("answered", "refused")
        assert attempt.attempt_id == recorded["attempt_id"]
