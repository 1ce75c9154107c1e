"""Supervisors on a real bot call through the sandbox Asterisk, proven on the audio.

One call, placed by the campaign runner through the guard, answered by a
simulated debtor (``[duncall-supervised-debtor]``) and talked to by the real
bot.  Four supervisor stand-ins (``[duncall-supervisor]``) each "speak" a tone
of a frequency of their own.  What the debtor and each supervisor hear is
recorded by a witness: an ARI snoop on their channel, spying on the audio
Asterisk sends it, recorded by Asterisk.  So every direction is checked on
the audio:

- listen: the supervisor hears the bot and the debtor; nobody hears the supervisor;
- whisper: the bot hears the supervisor, the debtor does not;
- barge (switched to from listen): the debtor and the bot hear the supervisor;
- take over: the bot's media channel is gone, the debtor is bridged with the
  supervisor alone, each hears the other, and the attempt ends ``transferred``.

What the bot hears is taken from its own media connection (the real class,
with a copy kept of the audio it receives).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest
import redis
from fakes.audio_probe import clip_match, pcm16, read_raw16, tone_windows, voiced_share
from sqlalchemy.orm import Session
from test_console_fixtures import PASSWORD, make_env

from bot import callbot
from bot.answer import converse
from bot.media.chan_websocket import MediaConnection
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.facts import store_facts
from dialer.campaign.runner import TargetResult, run_campaign
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import CallAttempt
from duncall import demo
from duncall.console.routers.supervision import audit_sink
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox.runtime import sandbox
from duncall.supervision.service import SupervisionService
from duncall.supervision.settings import SupervisionSettings
from foundation import paths
from foundation.contract import DialTarget
from foundation.settings import ari_settings
from telephony.ari import AriClient, ChannelDestroyed, StasisStart, new_id
from telephony.ari.errors import AriError, AriNotFound
from telephony.ari.rest import SnoopDirection
from telephony.live.registry import LiveCall, LiveCallRegistry

pytestmark = [pytest.mark.asterisk, pytest.mark.audio]

REDIS_URL = os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HZ = {"listen": 1300, "whisper": 1700, "barge": 2100, "takeover": 2500}
LISTEN_S = 11.0  # the bot's greeting and the debtor's answer to it
WHISPER_S = 6.0  # a supervisor's tone: 1 s after answering, then every 6 s (4 s before)
BARGE_S = 8.0  # past the second tone, 7 s after answering
TAKEOVER_S = 10.0  # the supervisor's tones, and the debtor answering each
TONE_HEARD = 4  # 50 ms windows dominated by a tone: a 0.4 s tone fills 8
TONE_ABSENT = 1
CLIP_HEARD = 0.8  # normalised cross-correlation of a known clip (measured: 0.92-1.0 when heard)
CLIP_ABSENT = 0.6  # (measured: 0.2-0.4 for audio that was never there)
SPEECH_SHARE = 0.7  # clip stretches compared: at least this share of 50 ms windows voiced


class TappedMedia(MediaConnection):
    """The bot's real media connection, keeping a copy of every byte the bot hears."""

    instances: ClassVar[list[TappedMedia]] = []

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.heard = bytearray()
        self.said: list[bytes] = []
        TappedMedia.instances.append(self)

    def _push(self, pcm: bytes) -> None:
        self.heard += pcm
        super()._push(pcm)

    async def play(self, pcm: bytes) -> float:
        self.said.append(pcm)
        return await super().play(pcm)


@dataclass
class Supervised:
    tag: str
    call: LiveCall
    result: TargetResult
    bot_heard: np.ndarray
    bot_said: list[bytes]
    statuses: dict[str, int] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    disposition: str | None = None
    listed_after: LiveCall | None = None
    leftovers: list[str] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)

    def recording(self, name: str) -> np.ndarray:
        """What ``name`` heard (a supervisor's mode, "debtor"; "listen said": what it sent), 16 kHz."""
        with wave.open(io.BytesIO(self.recordings[name]), "rb") as w:
            assert w.getframerate() == 16_000 and w.getsampwidth() == 2
            return pcm16(w.readframes(w.getnframes()))


class Witness:
    """Records what a channel hears (spy ``out``: what Asterisk sends it) or says (``in``)."""

    def __init__(self, ari: AriClient, tag: str) -> None:
        self.ari = ari
        self.tag = tag
        self.names: dict[str, str] = {}

    async def record(self, label: str, channel_id: str, spy: SnoopDirection = "out") -> None:
        snoop_id = f"w-{new_id()}"
        with self.ari.channel_events(snoop_id) as events:
            await self.ari.snoop(channel_id, spy=spy, snoop_id=snoop_id)
            try:
                async with asyncio.timeout(10):
                    async for ev in events:
                        if isinstance(ev, StasisStart):
                            break
            except TimeoutError:
                raise AssertionError(f"the witness snoop on {label} never started") from None
        name = f"witness-{label.replace(' ', '-')}-{self.tag}"
        await self.ari.record(snoop_id, name, format="wav16", max_duration_s=300, if_exists="overwrite")
        self.names[label] = name

    async def fetch(self) -> dict[str, bytes]:
        """Every recording, once Asterisk has finished writing it; then deleted from Asterisk."""
        out: dict[str, bytes] = {}
        for label, name in self.names.items():
            deadline = time.monotonic() + 10
            while True:
                try:
                    await self.ari.get_live_recording(name)
                except AriNotFound:
                    break  # no longer live: finished
                if time.monotonic() > deadline:
                    await self.ari.stop_live_recording(name)
                await asyncio.sleep(0.2)
            out[label] = await self.ari.fetch_stored_recording(name)
            with contextlib.suppress(AriError):
                await self.ari.delete_stored_recording(name)
        return out


async def _wait_listed(registry: LiveCallRegistry, campaign: asyncio.Task[Any]) -> LiveCall:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        calls = await asyncio.to_thread(registry.calls)
        if calls:
            return calls[0]
        assert not campaign.done(), f"the call ended before the bot listed it: {campaign.result()}"
        await asyncio.sleep(0.1)
    raise AssertionError("the bot never listed its call")


async def _exists(ari: AriClient, channel_id: str) -> bool:
    try:
        await ari.get_channel(channel_id)
    except AriNotFound:
        return False
    return True


async def _leftovers(ari: AriClient, call: LiveCall, tag: str) -> list[str]:
    """Channels and bridges of this call still in Asterisk, after a short grace for hang-ups."""
    deadline = time.monotonic() + 5
    while True:
        left = [c.name for c in await ari.list_channels() if tag in c.name or c.id == call.media_channel_id]
        left += [b.id for b in await ari.list_bridges() if b.id == call.bridge_id]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    if not sandbox().root.exists():
        pytest.fail("the Asterisk sandbox is not built: run `duncall asterisk up`")
    tmp = tmp_path_factory.mktemp("supervision")
    tag = uuid.uuid4().hex[:10]
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"duncall-test-supervision:{tag}:"
    registry = LiveCallRegistry(client, prefix + "live:")
    persona = next(p for p in load_personas(paths.personas_dir()) if p.name == "cooperative")
    engine = open_engine(f"sqlite:///{tmp / 'calls.db'}")
    import_persona_accounts(engine, persona_accounts([persona]))
    engines, classifier, recognizer = demo.load_engines()
    engines = replace(engines, live=registry)
    assert demo.ready_languages({"en"}, recognizer, classifier) == {"en": None}
    gate = GuardGate(
        Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=prefix + "guard:"),
        store_facts(engine),
    )
    env = make_env(tmp)
    env.app.state.supervision = SupervisionService(
        SupervisionSettings(
            allowed_prefixes=("Local/",),
            answer_timeout_s=10,
            allowed_routes=("duncall-supervisor", "duncall-test"),
        ),
        registry,
        audit=audit_sink(env.app.state.console),
        ari=replace(ari_settings(), app=f"duncall-test-{tag}"),
    )
    target = DialTarget(
        persona.account.account_id,
        persona.account.phone,
        f"Local/{tag}@duncall-supervised-debtor",
        "en",
        "early_collection",
    )
    today = dt.date.today()

    async def scenario() -> Supervised:
        TappedMedia.instances.clear()
        # A Stasis app of the test's own: Asterisk gives an app's events to one connection only.
        ari = AriClient(replace(ari_settings(), app=f"duncall-test-{tag}"))
        await ari.connect()

        async def on_answer(t: DialTarget, answered: AnsweredCall) -> Any:
            return await converse(
                ari,
                answered.channel_id,
                t.script,
                demo.account_view(persona),
                today,
                engines,
                classifier,
                machine=answered.kind is AnswerKind.MACHINE,
            )

        campaign = asyncio.create_task(
            run_campaign(ari, engine, [target], on_answer, gate, campaign_id=None, concurrency=1)
        )
        witness = Witness(ari, tag)
        try:
            call = await _wait_listed(registry, campaign)
            await witness.record("debtor", call.debtor_channel_id)
            out = await _supervise(ari, call, tag, witness)
            try:
                results = await asyncio.wait_for(campaign, 30)
            except TimeoutError:
                raise AssertionError("the call did not end after the supervisor hung up") from None
            out_result = results[0]
            leftovers = await _leftovers(ari, call, tag)
            recordings = await witness.fetch()
        finally:
            if not campaign.done():
                campaign.cancel()
            await env.app.state.supervision.close()
            await ari.close()
        ours = [m for m in TappedMedia.instances if m.start and m.start.channel_id == call.media_channel_id]
        media = ours[0] if ours else TappedMedia.instances[-1]
        return Supervised(
            tag,
            call,
            out_result,
            pcm16(bytes(media.heard)),
            media.said,
            out[0],
            out[1],
            out[2],
            leftovers=leftovers,
            recordings=recordings,
        )

    async def _supervise(
        ari: AriClient, call: LiveCall, tag: str, witness: Witness
    ) -> tuple[dict[str, int], dict[str, Any], list[dict[str, Any]]]:
        statuses: dict[str, int] = {}
        observed: dict[str, Any] = {}
        transport = httpx.ASGITransport(app=env.app)
        # As the console's pages do: a logged-in browser's changes carry X-Duncall-Request.
        headers = {"X-Duncall-Request": "1"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", timeout=30, headers=headers
        ) as http:
            r = await http.post("/api/auth/login", json={"name": "supervisor", "password": PASSWORD})
            assert r.status_code == 200, r.text

            async def start(mode: str, name: str) -> str:
                endpoint = f"Local/{name}-{HZ[name]}-{tag}@duncall-supervisor"
                r = await http.post(
                    f"/api/live/calls/{call.attempt_id}/supervise", json={"mode": mode, "endpoint": endpoint}
                )
                assert r.status_code == 201, r.text
                assert r.json()["mode"] == mode and r.json()["attempt_id"] == call.attempt_id
                sid = str(r.json()["session_id"])
                await witness.record(name, f"sv-{sid}")
                if name == "listen":
                    await witness.record("listen said", f"sv-{sid}", spy="in")
                return sid

            async def end(sid: str, name: str) -> None:
                statuses[f"end {name}"] = (await http.delete(f"/api/live/supervision/{sid}")).status_code

            sid = await start("listen", "listen")
            listed = (await http.get("/api/live/supervision/calls")).json()
            observed["supervisable"] = [c["attempt_id"] for c in listed]
            await asyncio.sleep(LISTEN_S)
            await end(sid, "listen")

            sid = await start("whisper", "whisper")
            await asyncio.sleep(WHISPER_S)
            await end(sid, "whisper")

            # A supervisor's phone that is busy: a clear 503, nothing left behind.
            r = await http.post(
                f"/api/live/calls/{call.attempt_id}/supervise",
                json={"mode": "listen", "endpoint": "Local/busy@duncall-test"},
            )
            statuses["busy phone"] = r.status_code
            observed["busy phone error"] = r.json()["error"]

            sid = await start("listen", "barge")
            r = await http.post(f"/api/live/supervision/{sid}", json={"mode": "barge"})
            statuses["switch to barge"] = r.status_code
            await asyncio.sleep(BARGE_S)
            await end(sid, "barge")

            sid = await start("takeover", "takeover")
            observed["media up"] = await _exists(ari, call.media_channel_id)
            observed["debtor up"] = await _exists(ari, call.debtor_channel_id)
            observed["bridge"] = set((await ari.get_bridge(call.bridge_id)).channels)
            observed["supervisor channel"] = f"sv-{sid}"
            observed["sessions"] = (await http.get("/api/live/supervision")).json()
            statuses["switch back"] = (
                await http.post(f"/api/live/supervision/{sid}", json={"mode": "listen"})
            ).status_code
            statuses["second supervisor"] = (
                await http.post(f"/api/live/calls/{call.attempt_id}/supervise", json={"mode": "listen"})
            ).status_code
            await asyncio.sleep(TAKEOVER_S)
            observed["debtor up at the end"] = await _exists(ari, call.debtor_channel_id)
            # The supervisor hangs up their phone: on a taken-over call that ends the call.
            with ari.channel_events(call.debtor_channel_id) as debtor_events:
                await ari.hangup(f"sv-{sid}")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        async for ev in debtor_events:
                            if isinstance(ev, ChannelDestroyed):
                                break
            observed["debtor up after the supervisor hung up"] = await _exists(ari, call.debtor_channel_id)
            observed["sessions at the end"] = (await http.get("/api/live/supervision")).json()
            audit = (await http.get("/api/audit", params={"user": "supervisor"})).json()
        return statuses, observed, audit

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(callbot, "MediaConnection", TappedMedia)
        out = asyncio.run(scenario())
    with Session(engine) as s:
        row = s.get(CallAttempt, out.result.attempt_id)
        out.disposition = row.disposition if row else None
    out.listed_after = registry.get(out.call.attempt_id)
    yield out
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    env.close()
    engine.dispose()


def _clip(name: str) -> np.ndarray:
    return read_raw16(sandbox().sounds / f"{name}.sln16")


def _speech(recording: np.ndarray, clips: list[np.ndarray], stretch_s: float) -> float:
    """How well the best ``stretch_s`` stretch of any of ``clips`` matches somewhere in
    ``recording`` (stretches, so that speech cut short by a switch of mode still counts).

    The bot and the debtor both speak with espeak-ng: shorter stretches of one start to
    match shared words of the other, so the bot's are taken longer."""
    n = int(stretch_s * 16_000)
    stretches = [s[i : i + n] for s in clips for i in range(0, max(1, len(s) - n), n // 4)]
    # A stretch that is mostly pause is a short burst of voice: that matches any speech
    # somewhat, so only stretches of mostly speech are compared (the most voiced one if none is).
    shares = [voiced_share(s, 16_000) for s in stretches]
    floor = min(SPEECH_SHARE, max(shares, default=0.0))
    return max(
        (
            clip_match(recording, 16_000, s, 16_000)
            for s, share in zip(stretches, shares, strict=True)
            if share >= floor
        ),
        default=0.0,
    )


def _bot_speech(supervised: Supervised, recording: np.ndarray) -> float:
    return _speech(recording, [pcm16(p) for p in supervised.bot_said], 1.5)


def _debtor_speech(recording: np.ndarray, clip: str = "persona-cooperative-1") -> float:
    return _speech(recording, [_clip(clip)], 1.0)


def test_listen_hears_the_bot_and_the_debtor(supervised: Supervised) -> None:
    heard = supervised.recording("listen")
    assert _bot_speech(supervised, heard) > CLIP_HEARD
    assert _debtor_speech(heard) > CLIP_HEARD
    # A clip the debtor never plays is not "found": the measure can fail.
    assert _debtor_speech(heard, "persona-cooperative-4") < CLIP_ABSENT


def test_nobody_hears_a_listening_supervisor(supervised: Supervised) -> None:
    # The supervisor did speak, yet no one else heard it.
    assert tone_windows(supervised.recording("listen said"), 16_000, HZ["listen"]) >= TONE_HEARD
    assert tone_windows(supervised.bot_heard, 16_000, HZ["listen"]) <= TONE_ABSENT
    assert tone_windows(supervised.recording("debtor"), 16_000, HZ["listen"]) <= TONE_ABSENT


def test_whisper_reaches_the_bot_only(supervised: Supervised) -> None:
    assert _bot_speech(supervised, supervised.recording("whisper")) > CLIP_HEARD  # still hears the call
    assert tone_windows(supervised.bot_heard, 16_000, HZ["whisper"]) >= TONE_HEARD
    assert tone_windows(supervised.recording("debtor"), 16_000, HZ["whisper"]) <= TONE_ABSENT


def test_barge_reaches_the_debtor_and_the_bot(supervised: Supervised) -> None:
    assert supervised.statuses["switch to barge"] == 200
    assert tone_windows(supervised.recording("debtor"), 16_000, HZ["barge"]) >= TONE_HEARD
    assert tone_windows(supervised.bot_heard, 16_000, HZ["barge"]) >= TONE_HEARD


def test_takeover_leaves_supervisor_and_debtor_talking(supervised: Supervised) -> None:
    observed = supervised.observed
    assert observed["media up"] is False and observed["debtor up"] is True
    assert observed["bridge"] == {supervised.call.debtor_channel_id, observed["supervisor channel"]}
    assert [s["mode"] for s in observed["sessions"]] == ["takeover"]
    assert observed["debtor up at the end"] is True
    # Each hears the other: the debtor the supervisor's tone, the supervisor the debtor's answers.
    assert tone_windows(supervised.recording("debtor"), 16_000, HZ["takeover"]) >= TONE_HEARD
    heard = supervised.recording("takeover")
    assert _debtor_speech(heard) > CLIP_HEARD
    assert _bot_speech(supervised, heard) < CLIP_ABSENT  # the bot had left


def test_a_supervisor_phone_that_does_not_answer_is_a_clear_503(supervised: Supervised) -> None:
    assert supervised.statuses["busy phone"] == 503
    assert supervised.observed["busy phone error"] == (
        "the supervisor endpoint Local/busy@duncall-test did not answer within 10 s"
    )
    assert supervised.observed["supervisable"] == [supervised.call.attempt_id]


def test_a_taken_over_call_cannot_go_back_or_be_taken_twice(supervised: Supervised) -> None:
    assert supervised.statuses["switch back"] == 409
    assert supervised.statuses["second supervisor"] == 409


def test_takeover_ends_as_transferred_and_everything_is_cleaned_up(supervised: Supervised) -> None:
    assert supervised.result.attempt is not None
    conv = supervised.result.attempt.conversation
    assert conv is not None and conv.taken_over_by == "supervisor"
    assert supervised.disposition == "transferred"
    assert all(v == 204 for k, v in supervised.statuses.items() if k.startswith("end "))
    assert supervised.observed["debtor up after the supervisor hung up"] is False
    assert supervised.observed["sessions at the end"] == []
    assert supervised.listed_after is None
    assert supervised.leftovers == []


def test_every_supervisor_action_is_audited(supervised: Supervised) -> None:
    actions = [
        (a["action"], a["target"]) for a in reversed(supervised.audit) if a["action"].startswith("supervise")
    ]
    attempt = supervised.call.attempt_id
    assert [a for a, _ in actions] == [
        "supervise_listen", "supervise_end",
        "supervise_whisper", "supervise_end",
        "supervise_listen", "supervise_failed",
        "supervise_listen", "supervise_barge", "supervise_end",
        "supervise_takeover", "supervise_end",
    ]  # fmt: skip
    assert {t for _, t in actions} == {attempt}
    last = next(a for a in supervised.audit if a["action"] == "supervise_end")
    assert last["detail"]["reason"] == "supervisor hung up"
    assert all(a["user"] == "supervisor" and a["at"] for a in supervised.audit)
