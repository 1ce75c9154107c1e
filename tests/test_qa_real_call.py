"""QA on a real persona call through the sandbox Asterisk, placed by `duncall campaign run`:

- the call keeps the script version it started with although a new version is published
  while it is in progress, and its record names that version, its text hash and its path;
- the console serves the bridge recording Asterisk stored for it, whole and in byte
  ranges, and its length matches the transcript's timings (turn times are recording times);
- Debian's Chromium plays that recording on the call page.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fakes.classifier import KeywordClassifier
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from test_console_fixtures import PASSWORD, _password_hash

from dialer.campaign.scripts import sha256_text
from dialer.store.db import open_engine
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.console import ConsoleUser
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from duncall.console.app import create_app
from duncall.console.recordings import AriRecordings, CachedRecordings
from duncall.console.settings import ConsoleSettings, load_forbidden_phrases
from foundation import paths
from foundation.errors import DuncallError
from foundation.settings import ari_settings
from telephony.ari.rest import AriRest

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.slow]
# As the console's own pages send it with a cookie session's changes (duncall/console/hardening.py).
PAGE_HEADERS = {"X-Duncall-Request": "1"}

STEM = "early_collection.en"
# The wrong-number persona: the shortest conversation whose last prompt comes well after it starts.
PERSONA = "wrong_number"
CALL_TIMEOUT_S = 150
REPO = Path(__file__).resolve().parent.parent


def variant(word: str) -> str:
    text = (paths.scripts_dir() / f"{STEM}.yaml").read_text(encoding="utf-8")
    # Every closing says "Goodbye.": whichever way the call goes (the recognizer may mishear),
    # its last prompt carries the version.
    assert text.count("Goodbye.") >= 5
    return text.replace("Goodbye.", f"Version {word}. Goodbye.")


@dataclass
class RealCall:
    engine: Engine
    console: TestClient  # logged in as qa
    attempt_id: str
    published_mid_call: bool
    v1: int
    recording: str


def _login(client: TestClient, name: str) -> TestClient:
    assert client.post("/api/auth/login", json={"name": name, "password": PASSWORD}).status_code == 200
    return client


async def _wait_bridged(channel_id: str, deadline: float) -> bool:
    """True once the debtor's channel is bridged with the bot's media (the conversation has begun).

    REST only: an events WebSocket under an app name in use would take that app's events."""
    ari = AriRest(ari_settings())
    try:
        while time.monotonic() < deadline:
            for bridge in await ari.list_bridges():
                if channel_id in bridge.channels and len(bridge.channels) >= 2:
                    return True
            await asyncio.sleep(0.2)
    finally:
        await ari.aclose()
    return False


@pytest.fixture(scope="module")
def real_call(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCall]:
    tmp = tmp_path_factory.mktemp("qa-real-call")
    scripts = tmp / "scripts"
    scripts.mkdir()
    for path in paths.scripts_dir().glob("*.yaml"):
        shutil.copy(path, scripts / path.name)
    # Every stage runs early_collection: the personas' replies are written for it.
    strategy = yaml.safe_load((REPO / "strategies" / "default.yaml").read_text(encoding="utf-8"))
    for stage in strategy["stages"]:
        stage["scripts"] = {"en": "early_collection_en", "zh": "early_collection_zh"}
        stage["channel"] = "voice_bot"
    (tmp / "strategy.yaml").write_text(yaml.safe_dump(strategy), encoding="utf-8")
    db_url = f"sqlite:///{tmp / 'store.db'}"
    engine = open_engine(db_url)
    with Session(engine) as db, db.begin():
        for role in ("designer", "qa"):
            db.add(
                ConsoleUser(
                    name=role, role=role, password_hash=_password_hash(), created_at=dt.datetime.now(dt.UTC)
                )
            )
    settings = ConsoleSettings(
        scripts_dir=scripts,
        forbidden_phrases=load_forbidden_phrases(),
        classifier_factory=KeywordClassifier,
        recordings=CachedRecordings(AriRecordings()),
        qa_transcript_only=False,  # this deployment lets QA play recordings
    )
    app = create_app(settings, engine)
    designer = _login(TestClient(app, headers=PAGE_HEADERS), "designer")
    qa = _login(TestClient(app, headers=PAGE_HEADERS), "qa")

    def save_and_publish(text: str) -> int:
        saved = designer.put(f"/api/scripts/{STEM}", json={"text": text})
        assert saved.status_code == 201, saved.text
        version = int(saved.json()["version"])
        published = designer.post(f"/api/scripts/{STEM}/publish", json={"version": version})
        assert published.status_code == 200, published.text
        return version

    v1 = save_and_publish(variant("one"))
    tag = uuid.uuid4().hex[:10]
    ari = ari_settings()
    env = {
        **os.environ,
        # An ARI app of the test's own: several dialers share the sandbox, and Asterisk sends an
        # app's events to its latest WebSocket only.
        "DUNCALL_ARI_URL": ari.base_url,
        "DUNCALL_ARI_USER": ari.username,
        "DUNCALL_ARI_PASSWORD": ari.password,
        "DUNCALL_ARI_APP": f"test-qa-{tag}",
        "DUNCALL_SCRIPTS_DIR": str(scripts),
        "DUNCALL_LIVE_PREFIX": f"duncall-test-qa:{tag}:live:",
    }
    argv = [
        *(str(Path(sys.executable).parent / "duncall"), "campaign", "run", "--campaign", f"qa-{tag}"),
        *("--personas", PERSONA, "--strategy", str(tmp / "strategy.yaml"), "--db", db_url),
        *("--guard-prefix", f"duncall-test-qa:{tag}:", "--concurrency", "1", "--ignore-schedule"),
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + CALL_TIMEOUT_S
        attempt_id = None
        while attempt_id is None and time.monotonic() < deadline and proc.poll() is None:
            with Session(engine) as db:
                attempt_id = db.scalar(
                    select(CallAttempt.attempt_id).where(CallAttempt.campaign_id == f"qa-{tag}")
                )
            time.sleep(0.2)
        assert attempt_id is not None, f"the campaign placed no call: {proc.communicate()[0]}"
        bridged = asyncio.run(_wait_bridged(f"dc-{attempt_id}", deadline))
        with Session(engine) as db:
            still_running = db.get(CallAttempt, attempt_id).state != AttemptState.ENDED.value  # type: ignore[union-attr]
        save_and_publish(variant("two"))  # while the debtor is on the line
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with Session(engine) as db:
        record = db.get(CallRecording, attempt_id)
        assert record is not None and record.audio_path, out
        recording = record.audio_path
    yield RealCall(engine, qa, attempt_id, bridged and still_running, v1, recording)
    for client in (designer, qa):
        client.close()
    asyncio.run(_delete_recording(recording))
    engine.dispose()


async def _delete_recording(name: str) -> None:
    ari = AriRest(ari_settings())
    try:
        with contextlib.suppress(DuncallError):  # best effort: the sandbox keeps it otherwise
            await ari.delete_stored_recording(name)
    finally:
        await ari.aclose()


def test_the_call_keeps_the_version_it_started_with(real_call: RealCall) -> None:
    assert real_call.published_mid_call, "the new version was not published while the call was up"
    with Session(real_call.engine) as db:
        record = db.get(CallRecording, real_call.attempt_id)
        assert record is not None
        bot_said = " ".join(
            db.scalars(
                select(TranscriptTurn.text).where(
                    TranscriptTurn.attempt_id == real_call.attempt_id, TranscriptTurn.speaker == "bot"
                )
            )
        )
        assert (record.script, record.script_version) == (STEM, real_call.v1)
        assert record.script_sha256 == sha256_text(variant("one"))
        assert record.path and record.path[0] == "greeting" and len(record.path) >= 2
    # The last prompt came after the publish, and is still version one's.
    assert "Version one" in bot_said and "Version two" not in bot_said
    found = real_call.console.get(
        "/api/calls", params={"script": STEM, "script_version": real_call.v1}
    ).json()
    assert [c["attempt_id"] for c in found] == [real_call.attempt_id]
    assert real_call.console.get("/api/calls", params={"script_version": real_call.v1 + 1}).json() == []


def test_the_console_serves_the_recording_asterisk_stored(real_call: RealCall) -> None:
    qa = real_call.console
    url = f"/api/calls/{real_call.attempt_id}/recording"
    whole = qa.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
    data = whole.content
    with wave.open(io.BytesIO(data)) as w:
        rate = w.getframerate()
        seconds = w.getnframes() / rate
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        pcm = w.readframes(w.getnframes())
    part = qa.get(url, headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206 and part.content == data[44:1044]
    assert part.headers["content-range"] == f"bytes 44-1043/{len(data)}"
    transcript = qa.get(f"/api/calls/{real_call.attempt_id}").json()["transcript"]
    last_end = max(t["ended_s"] or t["started_s"] for t in transcript)
    # Turn times count from the bridge recording's start, so the recording holds every turn,
    # and the bot's greeting (said first after the notice, into a quiet line) is heard where it
    # says.  The recording notice came before the recording started: its times are negative.
    assert last_end - 1.0 <= seconds <= last_end + 10.0, (seconds, last_end)
    notice, greeting = transcript[0], transcript[1]
    assert notice["speaker"] == "bot" and "recorded" in notice["text"] and notice["started_s"] < 0
    onset = _first_sound_s(pcm, rate)
    assert onset is not None and abs(onset - greeting["started_s"]) < 1.0, (onset, greeting)


def _first_sound_s(pcm: bytes, rate: int, frame_ms: int = 20, rms_floor: int = 300) -> float | None:
    """Where the first 20 ms frame louder than a quiet line starts, in seconds."""
    samples = memoryview(pcm).cast("h")
    step = rate * frame_ms // 1000
    for start in range(0, len(samples) - step, step):
        frame = samples[start : start + step]
        if (sum(x * x for x in frame) / step) ** 0.5 > rms_floor:
            return start / rate
    return None


@pytest.mark.browser
def test_chromium_plays_the_real_recording_on_the_call_page(real_call: RealCall) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("uvicorn")
    from test_console_browser import CHROMIUM, CHROMIUM_ARGS, serve
    from test_console_review_browser import shot

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with serve(real_call.console.app, "console-server") as base, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        p = browser.new_page(viewport={"width": 1400, "height": 1000})
        p.goto(f"{base}/login?next=/calls/{real_call.attempt_id}")
        p.fill("input[name=name]", "qa")
        p.fill("input[name=password]", PASSWORD)
        p.click("button[type=submit]")
        p.wait_for_selector("#transcript tbody tr")
        p.wait_for_function("() => document.getElementById('player')?.readyState >= 1")
        duration = p.evaluate("document.getElementById('player').duration")
        assert duration > 5
        p.click("#transcript tbody tr[data-seq='0']")
        p.wait_for_function("() => document.getElementById('player').currentTime > 1.0", timeout=15_000)
        assert p.locator("#transcript tr.playing").count() == 1
        shot(p, "qa-real-call")
        browser.close()
