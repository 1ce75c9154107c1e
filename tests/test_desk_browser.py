"""A collector at the desk page in a real headless Chromium takes a predictive call to a persona.

Chromium's fake microphone plays a synthesized collector's voice; its softphone (JsSIP, WebRTC
over the sandbox Asterisk's SIP WebSocket) registers with the collector's generated
credentials. The agent campaign dials the ``cooperative`` persona, answer detection says
"a person", the campaign rings the ready desk and bridges the two. The test proves both
directions acoustically — the page's analyser hears the persona's reply, and an ARI snoop
recording of what the persona's channel is sent follows the collector's speech — then checks
the screen pop and that the promise typed in the wrap-up is on the account, stored with the
attempt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_browser import CHROMIUM, CHROMIUM_ARGS, login, serve, shot
from test_console_fixtures import ConsoleEnv, WallClock, make_env

from dialer.agents.campaign import AgentCampaignOptions, AgentDialing, PacingPrior
from dialer.agents.desk import DeskBoard, DeskPool, DeskState
from dialer.campaign.session import CampaignOptions, run_session
from dialer.campaign.targets import endpoint_map
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.pacing import PacingMode
from dialer.policy.config import load_preset
from dialer.store.models import CallAttempt, Collector, PromiseRow
from dialer.store.repo import strategy_inputs
from dialer.strategy.config import load_strategy
from dialer.strategy.policy import next_action
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import phones, runtime
from foundation import paths
from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

STRATEGY = Path(__file__).resolve().parents[1] / "strategies" / "default.yaml"
JSSIP = Path(__file__).resolve().parents[1] / "duncall" / "console" / "static" / "vendor" / "jssip.js"
COLLECTOR_SAYS = "Hello, this is Anna from the collections office. Am I speaking with John Smith?"
RECORD_S = 7  # what the persona's channel is sent, from the moment the desk is on the call
ENVELOPE_MS = 20
MATCH_WINDOW = 150  # envelope frames: 3 s
CALL_TIMEOUT_MS = 30_000


def _mic(folder: Path) -> Path:
    """The collector's voice (espeak-ng), 48 kHz s16 mono, then 1.5 s of silence: the persona,
    which waits for speech and then for silence, answers in the gap (the file loops)."""
    raw, mic = folder / "raw.wav", folder / "collector.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), COLLECTOR_SAYS], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(mic), "pad", "0", "1.5"], check=True
    )
    return mic


def _samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
        return data, w.getframerate()


def _envelope(data: np.ndarray, rate: int) -> np.ndarray:
    n = rate * ENVELOPE_MS // 1000
    frames = data[: len(data) // n * n].reshape(-1, n)
    return np.sqrt((frames**2).mean(axis=1))


def envelope_match(source: Path, recording: Path) -> float:
    """How closely some 3 s of ``recording`` follows ``source`` (a looping file): the peak
    normalised correlation of 20 ms RMS envelopes over windows of the recording and phases of
    the source. Windows, not the whole recording: the browser's echo canceller ducks the
    collector's voice while the persona speaks. Measured: 0.89-0.98 for the collector's voice
    through a call, 0.67 for the persona's own speech against the collector's file."""
    src, rec = _envelope(*_samples(source)), _envelope(*_samples(recording))
    looped = np.tile(src, 2 + MATCH_WINDOW // len(src))
    best = 0.0
    for start in range(0, max(1, len(rec) - MATCH_WINDOW + 1), 10):
        b = rec[start : start + MATCH_WINDOW]
        b = b - b.mean()
        for lag in range(len(src)):
            a = looped[lag : lag + len(b)]
            a = a - a.mean()
            denom = float(np.sqrt((a**2).sum() * (b**2).sum()))
            if denom > 0:
                best = max(best, float((a * b).sum()) / denom)
    return best


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    assert JSSIP.exists(), (
        "the desk page's JsSIP bundle is missing: run tools/setup.sh (tools/jssip/build.sh)"
    )
    mic = _mic(tmp_path_factory.mktemp("desk-mic"))
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--autoplay-policy=no-user-gesture-required",
        # Without it Chromium offers no 127.0.0.1 candidate, and the sandbox's media is on loopback.
        "--allow-loopback-in-peer-connection",
    ]
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield chromium, mic
        chromium.close()


@pytest.fixture
def desk_env(tmp_path: Path) -> Iterator[tuple[ConsoleEnv, str]]:
    if not runtime.is_running():
        pytest.skip("the Asterisk sandbox is not running (duncall asterisk up)")
    env = make_env(tmp_path, clock=WallClock())
    collector_id = f"t{uuid.uuid4().hex[:8]}"
    with Session(env.engine) as db, db.begin():
        db.add(Collector(collector_id=collector_id, name="Anna Test", capacity=50, console_user="collector"))
    phones.make_phone(collector_id)
    phones.apply_sandbox()
    try:
        yield env, collector_id
    finally:
        DeskBoard(redis.Redis.from_url(REDIS_URL), env.live_prefix).r.delete(
            f"{env.live_prefix}desk:state:{collector_id}", f"{env.live_prefix}desk:ready"
        )
        phones.drop_phone(collector_id)
        phones.apply_sandbox()
        env.close()


def _campaign(
    env: ConsoleEnv, collector_id: str, key_prefix: str, recorded: dict[str, Any]
) -> threading.Thread:
    """The predictive campaign over one persona, in a thread with its own event loop."""
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    accounts = persona_accounts(personas, 1)
    import_persona_accounts(env.engine, accounts)
    recorded["account_id"] = accounts[0].account_id
    client = redis.Redis.from_url(REDIS_URL)
    board = DeskBoard(client, env.live_prefix)
    phone = phones.phone_of(collector_id)
    assert phone is not None

    async def record_persona_side() -> None:
        # What Asterisk sends the persona's channel (spy=out) once the desk is on the call.
        rec = AriClient(replace(ari_settings(), app=f"test-desk-rec-{uuid.uuid4().hex[:6]}"))
        await rec.connect()
        try:
            while board.desk(collector_id).state is not DeskState.ON_CALL:  # noqa: ASYNC110 (Redis is polled)
                await asyncio.sleep(0.05)
            attempt_id = board.desk(collector_id).attempt_id
            snoop_id = f"desk-rec-{uuid.uuid4().hex[:8]}"
            with rec.channel_events(snoop_id) as events:
                await rec.snoop(f"dc-{attempt_id}", spy="out", app=rec.app, snoop_id=snoop_id)
                async with asyncio.timeout(5):
                    while not isinstance(await events.get(), StasisStart):
                        pass
            name = f"desk-test-{attempt_id}"
            await rec.record(snoop_id, name, max_duration_s=RECORD_S, if_exists="overwrite")
            await asyncio.sleep(RECORD_S + 0.5)
            recorded["persona_side"] = runtime.sandbox().root / "var/spool/asterisk/recording" / f"{name}.wav"
        finally:
            await rec.close()

    async def no_bot(*_: object) -> object:
        raise AssertionError("a desk campaign never hands a call to the bot")

    async def run() -> None:
        ari = AriClient(replace(ari_settings(), app=f"test-desk-{uuid.uuid4().hex[:6]}"))
        await ari.connect()
        guard = Guard(client, Ledger.on(env.engine), load_preset("sandbox"), prefix=key_prefix)
        pool = DeskPool(board, {collector_id: phone.endpoint})
        prior = PacingPrior(answer_rate=0.9, ring_s=(2.5, 4.5), handle_s=(10.0, 20.0))
        dialing = AgentDialing(
            pool,
            AgentCampaignOptions(
                mode=PacingMode.PREDICTIVE, ring_timeout_s=10, prior=prior, wrap_up_wait_s=60
            ),
        )
        recorder = asyncio.create_task(record_persona_side(), name="desk-test-recorder")
        try:
            await run_session(
                ari,
                env.engine,
                client,
                guard,
                load_strategy(STRATEGY),
                endpoint_map({a.account_id: a.endpoint for a in accounts}),
                no_bot,  # type: ignore[arg-type]
                CampaignOptions(
                    campaign_id=f"desk-{uuid.uuid4().hex[:8]}", calls_per_second=0, use_schedule=False
                ),
                account_ids=[a.account_id for a in accounts],
                prefix=key_prefix,
                live_prefix=env.live_prefix,
                agents=dialing,
            )
            await asyncio.wait_for(recorder, 15)
        finally:
            recorder.cancel()
            await ari.close()
        recorded["calls"] = dialing.result.calls

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # the test thread reports it
            recorded["error"] = exc

    return threading.Thread(target=main, name="desk-campaign", daemon=True)


def test_a_collector_at_the_desk_takes_a_call_hears_the_persona_is_heard_and_wraps_up_a_promise(
    browser: tuple[Any, Path], desk_env: tuple[ConsoleEnv, str], key_prefix: str
) -> None:
    chromium, mic = browser
    env, collector_id = desk_env
    started = time.monotonic()
    with serve(env.app, "desk-console") as base:
        context = chromium.new_context(viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        login(page, base, "collector", "/desk")
        page.wait_for_function("() => window.desk.registered === true", timeout=10_000)
        page.click("#ready")
        page.wait_for_selector("#state[data-state='ready']")
        shot(page, "desk-ready")

        recorded: dict[str, Any] = {}
        campaign = _campaign(env, collector_id, key_prefix, recorded)
        campaign.start()
        account_id = recorded["account_id"]
        # Rung, answered by the page, bridged to the persona; the screen pop shows the account.
        page.wait_for_selector("#call[data-call='talking']", timeout=CALL_TIMEOUT_MS)
        page.wait_for_selector(f"#pop[data-account='{account_id}']", timeout=5_000)
        assert page.text_content("#pop-identity td[data-field='Name']") == "John Smith"
        # The persona answers the collector's question: the collector hears it.
        page.wait_for_function("() => window.desk.maxRms > 0.02", timeout=CALL_TIMEOUT_MS)
        shot(page, "desk-on-call")
        deadline = time.monotonic() + RECORD_S + 5
        while "persona_side" not in recorded and "error" not in recorded and time.monotonic() < deadline:
            time.sleep(0.2)
        heard_rms = page.evaluate("() => window.desk.maxRms")  # the loudest of the persona's reply
        page.click("#hangup")
        page.wait_for_selector("#state[data-state='wrap_up']", timeout=10_000)

        due = (dt.date.today() + dt.timedelta(days=5)).isoformat()
        page.select_option("#wrap-form [name=disposition]", "promise_to_pay")
        page.fill("#wrap-form [name=promise_amount]", "200.00")
        page.fill("#wrap-form [name=promise_date]", due)
        page.fill("#wrap-form [name=note]", "agreed to pay on the phone")
        shot(page, "desk-wrap-up")
        page.click("#wrap-form button[type=submit]")
        page.wait_for_selector("#state[data-state='ready']", timeout=5_000)
        campaign.join(30)
        context.close()
    wall_s = time.monotonic() - started

    assert "error" not in recorded, recorded.get("error")
    assert not campaign.is_alive(), "the campaign did not end after the wrap-up"
    # The collector heard the persona (analyser RMS on the remote audio element)…
    assert heard_rms > 0.05  # silence reads 0.000; the persona's reply about 0.2
    # …and the persona's channel was sent the collector's speech (envelope against the mic file).
    match = envelope_match(mic, recorded["persona_side"])
    (call,) = recorded["calls"].values()
    print(
        f"desk call: answer (answer detection included) to desk bridged {call.connected_s:.2f} s, heard rms {heard_rms:.3f}, "
        f"persona-side envelope match {match:.3f}, wall {wall_s:.1f} s"
    )
    assert call.agent_id == collector_id and not call.abandoned
    assert match > 0.8, match
    # The wrap-up is stored with the attempt's end: its disposition, and the promise on the account.
    with Session(env.engine) as db:
        attempt = db.scalars(select(CallAttempt).where(CallAttempt.account_id == account_id)).one()
        assert (attempt.outcome, attempt.disposition) == ("answered", "promise_to_pay")
        promise = db.scalars(select(PromiseRow).where(PromiseRow.account_id == account_id)).one()
        assert (promise.amount, promise.promised_date.isoformat(), promise.status) == (
            Decimal("200.00"),
            due,
            "pending",
        )
        assert promise.attempt_id == attempt.attempt_id
        # …which holds the account's calls until the promised date (and its grace days).
        now = dt.datetime.now(dt.UTC)
        account, history = strategy_inputs(db, account_id, now)
        action = next_action(load_strategy(STRATEGY), account, history, now)
        assert action.not_before is not None and action.not_before.date() > dt.date.fromisoformat(due)
        assert "promise to pay" in action.reason
