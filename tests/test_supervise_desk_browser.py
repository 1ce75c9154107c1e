"""A supervisor at the live board listens, whispers and barges on a collector's call, all in the browser.

Two headless Chromiums, each with a fake microphone of its own: the collector at the desk page
(a looped question to the debtor) and the supervisor at the live board (a different looped
sentence). A predictive campaign calls the ``cooperative`` persona and bridges it to the desk;
the call is listed for supervision as a collector's call and shows on the board, where the
supervisor clicks Listen: the console rings the board's own softphone (``supervisor-<user>``),
which answers, then Whisper, then Barge.

In each mode, over the same seconds, witnesses (ARI snoops recorded by Asterisk) take what the
debtor, the collector and the supervisor each say and what the debtor (the persona's channel)
hears, and each page captures what its softphone receives. What a party hears is fitted as a
sum of the others' speech (power in six bands per 20 ms, non-negative least squares over small
lags): a power gain near 1 means that party hears that voice, near 0 that it does not. So:

- listen: the supervisor hears the debtor and the collector; neither hears the supervisor;
- whisper: the collector hears the supervisor, the debtor does not;
- barge: both hear the supervisor (the control that the fit sees a voice that is there).

Every action is audited as a collector's call (``call=agent``, the collector's id).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import subprocess
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy.orm import Session
from test_console_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, login, serve, shot
from test_console_fixtures import ConsoleEnv, WallClock, make_env

from dialer.agents.campaign import AgentCampaignOptions, AgentDialing, PacingPrior
from dialer.agents.desk import DeskBoard, DeskPool, DeskState
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.session import CampaignOptions, run_session
from dialer.campaign.targets import endpoint_map
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.pacing import PacingMode
from dialer.policy.config import load_preset
from dialer.store.models import Collector
from dialer.strategy.config import load_strategy
from duncall.console.routers.supervision import audit_sink
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import phones, runtime
from duncall.supervision.service import SupervisionService
from duncall.supervision.settings import SupervisionSettings
from foundation import paths
from foundation.contract import ChannelPrefix
from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart, new_id
from telephony.ari.errors import AriError, AriNotFound
from telephony.ari.rest import SnoopDirection
from telephony.live.events import LivePublisher
from telephony.live.registry import CallKind, LiveCall, LiveCallRegistry

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

STRATEGY = Path(__file__).resolve().parents[1] / "strategies" / "default.yaml"
JSSIP = Path(__file__).resolve().parents[1] / "duncall" / "console" / "static" / "vendor" / "jssip.js"
COLLECTOR_SAYS = "Hello, this is Anna from the collections office. Am I speaking with John Smith?"
SUPERVISOR_SAYS = "Supervisor here. Ask about the payment date, then confirm the amount twice."
SUPERVISOR = "supervisor"  # the console user (role supervisor) of make_env
PHASE_S = 8.0  # each mode's witnessed seconds…
# …but listening lasts until the persona has surely spoken: it answers each time it hears speech
# end, and when it hears none for 25 s (seen in the sandbox: a persona whose channel was sent the
# collector's voice did not notice it) it answers anyway.
LISTEN_S = 28.0
ENVELOPE_MS = 20
MAX_LAG = 20  # envelope frames (400 ms) a witness may start apart from another
FIT_WINDOW = 100  # frames (2 s) fitted at once
FIT_HOP = 50
HEARD = 0.3  # power gain of a voice a party hears (measured: see the printed gains)
UNHEARD = 0.05  # … and of one it must not hear
CALL_TIMEOUT_MS = 40_000


def _mic(folder: Path, name: str, text: str, gap_s: float, voice: tuple[str, ...] = ("-v", "en-us")) -> Path:
    """A voice (espeak-ng), 48 kHz s16 mono, then ``gap_s`` of silence (the file loops)."""
    raw, mic = folder / f"{name}-raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", *voice, "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(mic), "pad", "0", str(gap_s)], check=True
    )
    return mic


BANDS_HZ = ((100, 300), (300, 600), (600, 1000), (1000, 1600), (1600, 2400), (2400, 3400))


def features(samples: np.ndarray, rate: int) -> np.ndarray:
    """Power per 20 ms frame in six bands of the telephone band (frames × bands).

    Power, not amplitude: the powers of voices add up in a mix; bands, not one envelope: two
    voices that keep a similar rhythm still differ in where their energy lies."""
    n = rate * ENVELOPE_MS // 1000
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    window = np.hanning(n)
    # Scaled so that a band's value is the mean square of the signal in it, whatever the rate.
    spectrum = 2 * np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 / (n * float((window**2).sum()))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    return np.column_stack([spectrum[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in BANDS_HZ])


def _wav_samples(wav_bytes: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
    return data, rate


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares for two or three columns: every subset of columns, the best fit."""
    best, best_x = np.inf, np.zeros(a.shape[1])
    cols = range(a.shape[1])
    for mask in range(1, 1 << a.shape[1]):
        keep = [c for c in cols if mask >> c & 1]
        x, *_ = np.linalg.lstsq(a[:, keep], b, rcond=None)
        if (x < 0).any():
            continue
        err = float(((a[:, keep] @ x - b) ** 2).sum())
        if err < best:
            best = err
            best_x = np.zeros(a.shape[1])
            best_x[keep] = x
    return best_x


def heard_gains(heard: np.ndarray, said: dict[str, np.ndarray]) -> tuple[dict[str, float], float]:
    """How much of each voice in ``said`` a party's ``heard`` holds (band powers, frames × bands;
    power gains, 1.0 = as loud as it was said), and the fit's R² (medians over windows).

    Over 2 s windows (1 s apart), each voice at the lag (±MAX_LAG frames) that follows ``heard``
    best, then non-negative least squares: recordings drift against each other by a frame or
    two over seconds, so one lag for the whole phase would not do. A voice's gain is the median
    over the windows in which it spoke (NaN if it never did)."""
    names = list(said)
    n_all = min(len(heard), *(len(v) for v in said.values()))
    per_voice: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    r2s: list[float] = []
    for start in range(MAX_LAG, n_all - MAX_LAG - FIT_WINDOW + 1, FIT_HOP):
        target = heard[start : start + FIT_WINDOW].ravel()
        cols = []
        for k in names:
            best = (-2.0, 0)
            for lag in range(-MAX_LAG, MAX_LAG + 1):
                x = said[k][start + lag : start + lag + FIT_WINDOW].ravel()
                if x.std() > 0 and target.std() > 0:
                    r = float(np.corrcoef(target, x)[0, 1])
                    if r > best[0]:
                        best = (r, lag)
            cols.append(said[k][start + best[1] : start + best[1] + FIT_WINDOW].ravel())
        a = np.column_stack([*cols, np.full(len(target), 1e-6)])  # the last: line noise
        x = _nnls(a, target)
        total = float(((target - target.mean()) ** 2).sum()) or 1.0
        r2s.append(1 - float(((a @ x - target) ** 2).sum()) / total)
        for i, k in enumerate(names):
            per_voice[k].append((float(x[i]), float(said[k][start : start + FIT_WINDOW].sum(axis=1).mean())))
    gains: dict[str, float] = {}
    for k, rows in per_voice.items():
        loud = max((level for _, level in rows), default=0.0)
        spoke = [g for g, level in rows if loud > 0 and level > 0.1 * loud]
        gains[k] = round(float(np.median(spoke)), 3) if spoke else float("nan")
    return gains, round(float(np.median(r2s)), 3)


class Witness:
    """Records what channels say (spy ``in``) and hear (``out``) over the same seconds."""

    def __init__(self, ari: AriClient, tag: str) -> None:
        self.ari = ari
        self.tag = tag
        self.snoops: dict[str, str] = {}

    async def snoop(self, label: str, channel_id: str, spy: SnoopDirection) -> None:
        snoop_id = f"w-{new_id()}"
        with self.ari.channel_events(snoop_id) as events:
            await self.ari.snoop(channel_id, spy=spy, snoop_id=snoop_id)
            async with asyncio.timeout(10):
                async for ev in events:
                    if isinstance(ev, StasisStart):
                        break
        self.snoops[label] = snoop_id

    async def record(self, seconds: float) -> dict[str, bytes]:
        names = {label: f"sv-desk-{label.replace(' ', '-')}-{self.tag}" for label in self.snoops}
        # All at once, so the envelopes line up (within MAX_LAG).
        await asyncio.gather(
            *(
                self.ari.record(
                    self.snoops[label], name, format="wav", max_duration_s=int(seconds), if_exists="overwrite"
                )
                for label, name in names.items()
            )
        )
        await asyncio.sleep(seconds + 0.5)
        out: dict[str, bytes] = {}
        for label, name in names.items():
            deadline = time.monotonic() + 10
            while True:
                try:
                    await self.ari.get_live_recording(name)
                except AriNotFound:
                    break
                if time.monotonic() > deadline:
                    await self.ari.stop_live_recording(name)
                await asyncio.sleep(0.2)
            out[label] = await self.ari.fetch_stored_recording(name)
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"{name}.wav").write_bytes(out[label])
            with contextlib.suppress(AriError):
                await self.ari.delete_stored_recording(name)
        for snoop_id in self.snoops.values():
            with contextlib.suppress(AriError):
                await self.ari.hangup(snoop_id)
        return out


PARTIES = ("debtor", "collector", "supervisor")


async def witness_phase(
    call: LiveCall, supervisor_channel: str, tag: str, box: dict[str, Any], seconds: float
) -> dict[str, np.ndarray]:
    """What each party said and heard (in Asterisk) over PHASE_S seconds, as band powers; the
    wall-clock second the recordings started goes into ``box['t0']``."""
    ari = AriClient(replace(ari_settings(), app=f"test-svdesk-w-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    try:
        # The call is recorded once the debtor has heard the recording notice: witness after it,
        # so the debtor hears nobody but the call's parties.
        deadline = time.monotonic() + 20
        while True:
            try:
                await ari.get_live_recording(f"call-{call.debtor_channel_id}")
                break
            except AriNotFound:
                assert time.monotonic() < deadline, "the call's recording never started"
                await asyncio.sleep(0.2)
        witness = Witness(ari, tag)
        channels = {
            "debtor": call.debtor_channel_id,
            "collector": call.media_channel_id,
            "supervisor": supervisor_channel,
        }
        for party, channel in channels.items():
            await witness.snoop(f"{party} said", channel, "in")
        # The persona hears in Asterisk; the collector and the supervisor in their pages.
        await witness.snoop("debtor heard", call.debtor_channel_id, "out")
        box["t0"] = time.time()
        recordings = await witness.record(seconds)
    finally:
        await ari.close()
    return {label: features(*_wav_samples(data)) for label, data in recordings.items()}


# What a page's softphone receives, as the page gets it: the remote stream of its <audio>
# element, captured as 16-bit samples with the wall-clock time of the first one.
CAPTURE_START = """() => {
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(document.getElementById("remote").srcObject);
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const cap = { rate: ctx.sampleRate, t0: null, chunks: [], ctx, proc };
  proc.onaudioprocess = (e) => {
    const d = e.inputBuffer.getChannelData(0);
    if (cap.t0 === null) cap.t0 = Date.now() - (1000 * d.length) / ctx.sampleRate;
    const q = new Int16Array(d.length);
    for (let i = 0; i < d.length; i++) q[i] = Math.max(-32768, Math.min(32767, Math.round(d[i] * 32767)));
    cap.chunks.push(q);
  };
  source.connect(proc);
  proc.connect(ctx.destination);
  window.testCapture = cap;
}"""
CAPTURE_TAKE = """() => {
  const cap = window.testCapture;
  cap.proc.disconnect();
  cap.ctx.close();
  const all = new Int16Array(cap.chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of cap.chunks) { all.set(c, at); at += c.length; }
  const bytes = new Uint8Array(all.buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return { rate: cap.rate, t0: cap.t0, b64: btoa(bin) };
}"""


def _received(capture: dict[str, Any], t0: float, seconds: float) -> np.ndarray:
    """The band powers of what a page received from wall-clock ``t0`` for ``seconds``."""
    samples = np.frombuffer(base64.b64decode(capture["b64"]), dtype=np.int16).astype(np.float64) / 32768
    rate = int(capture["rate"])
    start = round((t0 - capture["t0"] / 1000) * rate)
    assert start >= 0, "the page's capture started after the witnesses"
    return features(samples[start : start + int((seconds + 0.5) * rate)], rate)


@dataclass
class Hearing:
    mode: str
    gains: dict[str, dict[str, float]]  # party → voice → power gain
    fit: dict[str, float]  # party → R²
    spoke: dict[str, float]  # party → RMS of what they said (full scale 1.0)

    def line(self) -> str:
        parts = [
            f"{p} hears "
            + ", ".join(f"{v} {g:.2f}" for v, g in self.gains[p].items())
            + f" (R² {self.fit[p]:.2f})"
            for p in PARTIES
        ]
        said = ", ".join(f"{p} {r:.3f}" for p, r in self.spoke.items())
        return f"{self.mode}: " + "; ".join(parts) + f" [said rms: {said}]"


def hearing(mode: str, env: dict[str, np.ndarray]) -> Hearing:
    """``env``: what each party said (Asterisk's snoops) and heard: the debtor in Asterisk (the
    persona's own channel), the collector and the supervisor in their browsers."""
    gains: dict[str, dict[str, float]] = {}
    fit: dict[str, float] = {}
    for party in PARTIES:
        others = {o: env[f"{o} said"] for o in PARTIES if o != party}
        gains[party], fit[party] = heard_gains(env[f"{party} heard"], others)
    spoke = {p: round(float(np.sqrt(env[f"{p} said"].sum(axis=1).mean())), 4) for p in PARTIES}
    return Hearing(mode, gains, fit, spoke)


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The collector's and the supervisor's Chromium, each with its own fake microphone."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    assert JSSIP.exists(), "the console's JsSIP bundle is missing: run tools/setup.sh (tools/jssip/build.sh)"
    folder = tmp_path_factory.mktemp("svdesk-mic")
    # Loops of different lengths: the two voices do not keep step, so a fit can tell them apart.
    # A higher, female voice for the supervisor: their energy lies in other bands.
    mics = (
        _mic(folder, "collector", COLLECTOR_SAYS, 1.5),
        _mic(folder, "supervisor", SUPERVISOR_SAYS, 0.4, ("-v", "en-us+f3", "-p", "75")),
    )

    def args(mic: Path) -> list[str]:
        return [
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}",
            "--autoplay-policy=no-user-gesture-required",
            "--allow-loopback-in-peer-connection",
        ]

    with playwright_api.sync_playwright() as pw:
        collector, supervisor = (
            pw.chromium.launch(executable_path=str(CHROMIUM), args=args(m)) for m in mics
        )
        yield collector, supervisor
        collector.close()
        supervisor.close()


@dataclass
class Desk:
    env: ConsoleEnv
    collector_id: str
    registry: LiveCallRegistry


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    if not runtime.is_running():
        pytest.skip("the Asterisk sandbox is not running (duncall asterisk up)")
    env = make_env(tmp_path, clock=WallClock())
    collector_id = f"t{uuid.uuid4().hex[:8]}"
    with Session(env.engine) as db, db.begin():
        db.add(Collector(collector_id=collector_id, name="Anna Test", capacity=50, console_user="collector"))
    phones.make_phone(collector_id)
    phones.make_supervisor_phone(SUPERVISOR)
    phones.apply_sandbox()
    registry = LiveCallRegistry(redis.Redis.from_url(REDIS_URL), env.live_prefix)
    env.app.state.supervision = SupervisionService(
        SupervisionSettings(answer_timeout_s=15),  # rings PJSIP/supervisor-<user>: the board's phone
        registry,
        audit=audit_sink(env.app.state.console),
        ari=replace(ari_settings(), app=f"test-svdesk-{uuid.uuid4().hex[:6]}"),
    )
    try:
        yield Desk(env, collector_id, registry)
    finally:
        redis.Redis.from_url(REDIS_URL).delete(
            f"{env.live_prefix}desk:state:{collector_id}", f"{env.live_prefix}desk:ready"
        )
        phones.drop_phone(collector_id)
        phones.drop_supervisor_phone(SUPERVISOR)
        phones.apply_sandbox()
        env.close()


def _campaign(desk: Desk, key_prefix: str, out: dict[str, Any]) -> threading.Thread:
    """The predictive campaign over the cooperative persona, on the live board, in a thread."""
    env = desk.env
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    accounts = persona_accounts(personas, 1)
    import_persona_accounts(env.engine, accounts)
    client = redis.Redis.from_url(REDIS_URL)
    board = DeskBoard(client, env.live_prefix)
    phone = phones.phone_of(desk.collector_id)
    assert phone is not None
    campaign_id = f"svdesk-{uuid.uuid4().hex[:8]}"

    async def no_bot(*_: object) -> object:
        raise AssertionError("a desk campaign never hands a call to the bot")

    async def run() -> None:
        ari = AriClient(replace(ari_settings(), app=f"test-svdesk-c-{uuid.uuid4().hex[:6]}"))
        await ari.connect()
        guard = Guard(client, Ledger.on(env.engine), load_preset("sandbox"), prefix=key_prefix)
        pool = DeskPool(board, {desk.collector_id: phone.endpoint})
        prior = PacingPrior(answer_rate=0.9, ring_s=(2.5, 4.5), handle_s=(10.0, 20.0))
        dialing = AgentDialing(
            pool,
            AgentCampaignOptions(
                mode=PacingMode.PREDICTIVE, ring_timeout_s=10, prior=prior, wrap_up_wait_s=5
            ),
        )
        try:
            async with LivePublisher(client, env.live_prefix) as publisher:
                await run_session(
                    ari,
                    env.engine,
                    client,
                    guard,
                    load_strategy(STRATEGY),
                    endpoint_map({a.account_id: a.endpoint for a in accounts}),
                    no_bot,  # type: ignore[arg-type]
                    CampaignOptions(campaign_id=campaign_id, calls_per_second=0, use_schedule=False),
                    account_ids=[a.account_id for a in accounts],
                    prefix=key_prefix,
                    live_prefix=env.live_prefix,
                    agents=dialing,
                    feed=CampaignFeed(publisher, campaign_id),
                )
        finally:
            await ari.close()

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # the test thread reports it
            out["error"] = exc

    return threading.Thread(target=main, name="svdesk-campaign", daemon=True)


def _listed(registry: LiveCallRegistry, out: dict[str, Any]) -> LiveCall:
    deadline = time.monotonic() + CALL_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        calls = registry.calls()
        if calls:
            return calls[0]
        assert "error" not in out, out["error"]
        time.sleep(0.1)
    raise AssertionError("the collector's call was never listed for supervision")


def _witness(call: LiveCall, supervisor_channel: str, mode: str, pages: dict[str, Any]) -> Hearing:
    # The witnesses' event loop runs in a thread of its own, beside Playwright's.
    box: dict[str, Any] = {}
    seconds = LISTEN_S if mode == "listen" else PHASE_S

    def main() -> None:
        try:
            box["env"] = asyncio.run(
                witness_phase(call, supervisor_channel, f"{mode}-{uuid.uuid4().hex[:6]}", box, seconds)
            )
        except BaseException as exc:
            box["error"] = exc

    for page in pages.values():
        page.evaluate(CAPTURE_START)
    thread = threading.Thread(target=main, name=f"witness-{mode}")
    thread.start()
    thread.join(seconds + 40)
    captures = {party: page.evaluate(CAPTURE_TAKE) for party, page in pages.items()}
    assert "error" not in box, box.get("error")
    env: dict[str, np.ndarray] = box["env"]
    for party, capture in captures.items():
        env[f"{party} heard"] = _received(capture, box["t0"], seconds)
    return hearing(mode, env)


def _mode(page: Any, attempt_id: str, mode: str) -> None:
    row = f"#active tr[data-call='{attempt_id}']"
    page.click(f"{row} button[data-mode='{mode}']")
    page.wait_for_selector(f"{row} button[data-mode='{mode}'].on", timeout=20_000)


def test_a_supervisor_listens_whispers_and_barges_on_a_collectors_call_from_the_live_board(
    browsers: tuple[Any, Any], desk: Desk, key_prefix: str
) -> None:
    collector_browser, supervisor_browser = browsers
    out: dict[str, Any] = {}
    hearings: dict[str, Hearing] = {}
    with serve(desk.env.app, "svdesk-console") as base:
        collector = collector_browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
        login(collector, base, "collector", "/desk")
        collector.wait_for_function("() => window.desk.registered === true", timeout=10_000)
        collector.click("#ready")
        collector.wait_for_selector("#state[data-state='ready']")

        supervisor = supervisor_browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        login(supervisor, base, SUPERVISOR, "/live")
        supervisor.wait_for_function("() => window.livePhone.registered === true", timeout=10_000)

        campaign = _campaign(desk, key_prefix, out)
        campaign.start()
        collector.wait_for_selector("#call[data-call='talking']", timeout=CALL_TIMEOUT_MS)
        # The persona answers each time someone stops talking, four times: the collector keeps
        # quiet until the supervisor listens, so some of its replies fall in what is witnessed.
        collector.evaluate("() => session.mute({ audio: true })")
        call = _listed(desk.registry, out)
        assert call.kind is CallKind.AGENT and call.agent_id == desk.collector_id
        # The board shows the call; Listen rings the board's own phone, which answers.
        supervisor.wait_for_selector(f"#active tr[data-call='{call.attempt_id}']", timeout=10_000)
        collector.evaluate("() => session.unmute({ audio: true })")
        _mode(supervisor, call.attempt_id, "listen")
        supervisor.wait_for_function("() => window.livePhone.call === 'on call'", timeout=10_000)
        (session,) = desk.env.app.state.supervision.sessions()
        supervisor_channel = ChannelPrefix.SUPERVISOR.of(session.session_id)
        pages = {"collector": collector, "supervisor": supervisor}
        hearings["listen"] = _witness(call, supervisor_channel, "listen", pages)
        board_rms = supervisor.evaluate("() => window.livePhone.maxRms")
        shot(supervisor, "live-supervise-desk")
        _mode(supervisor, call.attempt_id, "whisper")
        hearings["whisper"] = _witness(call, supervisor_channel, "whisper", pages)
        _mode(supervisor, call.attempt_id, "barge")
        hearings["barge"] = _witness(call, supervisor_channel, "barge", pages)
        # Take-over is the bot's: a collector's call refuses it and stays in barge.
        supervisor.click(f"#active tr[data-call='{call.attempt_id}'] button[data-mode='takeover']")
        supervisor.wait_for_selector(
            f"#active tr[data-call='{call.attempt_id}'] .call-error.error", timeout=10_000
        )
        refused = supervisor.text_content(f"#active tr[data-call='{call.attempt_id}'] .call-error")
        supervisor.click(f"#active tr[data-call='{call.attempt_id}'] button[data-mode='hangup']")
        supervisor.wait_for_function("() => window.livePhone.call === 'none'", timeout=10_000)
        audit = supervisor.evaluate(f"() => api('/api/audit?user={SUPERVISOR}')")

        collector.click("#hangup")
        collector.wait_for_selector("#state[data-state='wrap_up']", timeout=10_000)
        collector.select_option("#wrap-form [name=disposition]", "refused")
        collector.click("#wrap-form button[type=submit]")
        collector.wait_for_selector("#state[data-state='ready']", timeout=5_000)
        campaign.join(30)
    assert "error" not in out, out.get("error")
    for h in hearings.values():
        print(h.line())
    print(f"the board's analyser heard rms {board_rms:.3f}")

    listen, whisper, barge = hearings["listen"], hearings["whisper"], hearings["barge"]
    assert listen.spoke["debtor"] > 0.01, "the persona said nothing while the supervisor listened"
    # Listen: the supervisor hears both sides; nobody hears the supervisor.
    assert listen.gains["supervisor"]["debtor"] > HEARD, listen.line()
    assert listen.gains["supervisor"]["collector"] > HEARD, listen.line()
    assert listen.gains["debtor"]["supervisor"] < UNHEARD, listen.line()
    assert listen.gains["collector"]["supervisor"] < UNHEARD, listen.line()
    assert board_rms > 0.02  # the page plays what it receives (silence reads 0.000)
    # Whisper: only the collector hears the supervisor.
    assert whisper.gains["collector"]["supervisor"] > HEARD, whisper.line()
    assert whisper.gains["debtor"]["supervisor"] < UNHEARD, whisper.line()
    assert whisper.gains["supervisor"]["collector"] > HEARD, whisper.line()
    # Barge: both hear the supervisor — the fit finds a voice that is there.
    assert barge.gains["debtor"]["supervisor"] > HEARD, barge.line()
    assert barge.gains["collector"]["supervisor"] > HEARD, barge.line()
    assert refused and "taken over" in refused
    # Audited as a collector's call, each action with who and which collector.
    actions = [(a["action"], a["target"]) for a in reversed(audit) if a["action"].startswith("supervise")]
    assert actions[:4] == [(f"supervise_{m}", call.attempt_id) for m in ("listen", "whisper", "barge")] + [
        ("supervise_end", call.attempt_id)
    ], actions
    started = next(a for a in audit if a["action"] == "supervise_listen")
    assert started["detail"]["call"] == "agent" and started["detail"]["agent_id"] == desk.collector_id
    assert not desk.registry.calls(), "the call is still listed after it ended"
    assert (
        DeskBoard(redis.Redis.from_url(REDIS_URL), desk.env.live_prefix).desk(desk.collector_id).state
        is DeskState.READY
    )
