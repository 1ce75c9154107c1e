"""Every persona, called through the real Asterisk sandbox, produces the telephony
outcome it stands for: busy, no answer, an answering machine, or a person."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from dialer.call import AnsweredCall, AnswerKind, place_call
from duncall.personas import load_personas
from duncall.personas.render import CONTEXT
from foundation import paths
from foundation.contract import CallOutcome
from foundation.settings import ari_settings
from telephony.ari import AriClient

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

PERSONAS = load_personas(paths.personas_dir())
RING_TIMEOUT_S = 6  # the no_answer persona rings for minutes; don't wait 25 s for it


@pytest.fixture
async def ari() -> AriClient:
    settings = replace(ari_settings(), app=f"test-personas-{uuid.uuid4().hex[:6]}")
    client = AriClient(settings)
    await client.connect()
    yield client
    await client.close()


async def test_every_persona_gives_its_outcome(ari: AriClient) -> None:
    seen: dict[str, AnsweredCall] = {}

    async def answer(name: str, call: AnsweredCall) -> None:
        seen[name] = call
        await ari.hangup(call.channel_id)

    async def dial(name: str) -> tuple[str, object]:
        result = await place_call(
            ari, f"Local/{name}@{CONTEXT}", lambda c: answer(name, c), ring_timeout_s=RING_TIMEOUT_S
        )
        return name, result

    results = dict(await asyncio.gather(*(dial(p.name) for p in PERSONAS)))
    for p in PERSONAS:
        r = results[p.name]
        expected = CallOutcome(p.expect.outcome)
        assert r.outcome is expected, f"{p.name}: {r.outcome} (cause {r.cause}, dial {r.dialstatus})"
        if expected is CallOutcome.ANSWERED:
            assert seen[p.name].kind is AnswerKind.HUMAN, f"{p.name} was taken for a machine"
            assert r.amd_status in ("HUMAN", "NOTSURE")
        elif expected is CallOutcome.VOICEMAIL:
            assert seen[p.name].kind is AnswerKind.MACHINE
            assert r.amd_status == "MACHINE"
        else:
            assert p.name not in seen, f"{p.name} was never answered, yet the bot was started"
            assert r.ring_ms is None
