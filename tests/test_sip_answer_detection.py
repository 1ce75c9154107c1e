"""Answer detection over the SIP trunk: a person on a noisy line gets the bot, a machine gets
the voicemail message.

Asterisk's AMD() takes steady line noise (about 9 dB below the voice) for one long greeting
and says MACHINE; the bot's ear on the same answer tells the noise from speech and the dialer
takes the line for the person it is (``dialer.amd``).  A recorded greeting, on a clean or a
noisy line, is still a machine (the voicemail persona on a Local channel is called with the
other personas in ``test_bot_calls``).  Each case is one campaign call to a sipp debtor answering with G.711 μ-law.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dialer.campaign.runner import TargetResult
from dialer.campaign.session import CampaignOptions
from duncall.compose import parts
from duncall.compose.campaign import CampaignRun, run
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import runtime, sipp, trunk
from foundation import paths
from foundation.contract import CallOutcome

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.slow]

PERSONAS = {p.name: p for p in load_personas(paths.personas_dir())}
ASR_SPEC = "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk"
NOISE_SNR_DB = 9.0
GREETING = (
    "Hi, you have reached John. I can't take your call right now. Please leave a message after the tone."
)
MACHINE_LINE_S = 25.0
HANGS_UP_MS = 6000  # a person hangs up once the bot has spoken (the bot's verdict is what counts)

LINES = {
    "noisy_hello": (
        sipp.Line(words=(sipp.Words(0.3, "hello"),), length_s=8.0, noise_snr_db=NOISE_SNR_DB),
        HANGS_UP_MS,
    ),
    "noisy_silent": (sipp.Line(length_s=8.0, noise_snr_db=NOISE_SNR_DB), HANGS_UP_MS),
    # Machines record (the line goes on after the greeting) until the bot's message ends with its BYE.
    "voicemail": (sipp.Line(words=(sipp.Words(0.5, GREETING),), length_s=MACHINE_LINE_S), None),
    "noisy_voicemail": (
        sipp.Line(words=(sipp.Words(0.5, GREETING),), length_s=MACHINE_LINE_S, noise_snr_db=NOISE_SNR_DB),
        None,
    ),
}


def _call(name: str, work: Path) -> TargetResult:
    line, hangup_ms = LINES[name]
    tag = uuid.uuid4().hex[:10]
    db_url = f"sqlite:///{work / f'{name}.db'}"
    prefix = f"duncall-test-sipamd:{tag}:"
    import_persona_accounts(parts.store(db_url), persona_accounts([PERSONAS["cooperative"]]))
    spec = CampaignRun(
        options=CampaignOptions(campaign_id=f"test-sipamd-{tag}", concurrency=1),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=prefix,
        endpoint=f"PJSIP/{{number}}@{trunk.TRUNK}",
    )
    try:
        with sipp.debtor(line, port=trunk.trunk_config().port, workdir=work / name, hangup_ms=hangup_ms):
            result = asyncio.run(run(spec))
    finally:
        client = redis.Redis.from_url(os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    (r,) = result.results
    return r


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TargetResult]]:
    work = tmp_path_factory.mktemp("sipamd")
    assert "trunk-endpoint" in (runtime.sandbox().etc / "pjsip.conf").read_text(), (
        "the sandbox runs an older configuration: `duncall asterisk up`"
    )
    trunk.apply_sandbox()
    before = {k: os.environ.get(k) for k in ("DUNCALL_ASR", "DUNCALL_ARI_APP")}
    os.environ["DUNCALL_ASR"] = ASR_SPEC
    os.environ["DUNCALL_ARI_APP"] = (
        f"test-sipamd-{uuid.uuid4().hex[:8]}"  # the shared app's events are others'
    )
    try:
        for name in LINES:
            (work / name).mkdir()
        yield {name: _call(name, work) for name in LINES}
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _said_by_bot(r: TargetResult) -> list[str]:
    assert r.attempt is not None and r.attempt.conversation is not None
    return [t.text for t in r.attempt.conversation.turns if t.speaker == "bot"]


@pytest.mark.parametrize("name", ["noisy_hello", "noisy_silent"])
def test_a_person_on_a_noisy_line_gets_the_bot(calls: dict[str, TargetResult], name: str) -> None:
    r = calls[name]
    assert r.attempt is not None, r
    a = r.attempt
    assert a.outcome is CallOutcome.ANSWERED, (a.outcome, a.amd_verdict, a.line_heard)
    assert a.amd_status in ("HUMAN", "NOTSURE"), (a.amd_verdict, a.line_heard)
    # What made it so: AMD alone calls this line a machine, the bot's ear a person.
    if a.amd_verdict is not None and a.amd_verdict.startswith("MACHINE"):
        assert a.line_heard is not None and a.line_heard.split(":")[0] in ("human", "notsure"), a.line_heard
    assert _said_by_bot(r), "the bot did not speak to the person"


@pytest.mark.parametrize("name", ["voicemail", "noisy_voicemail"])
def test_a_recorded_greeting_gets_the_voicemail_message(calls: dict[str, TargetResult], name: str) -> None:
    r = calls[name]
    assert r.attempt is not None, r
    a = r.attempt
    assert a.outcome is CallOutcome.VOICEMAIL, (a.outcome, a.amd_verdict, a.line_heard)
    assert a.amd_status == "MACHINE"
    assert a.conversation is not None and a.conversation.disposition == "no_contact"
    assert _said_by_bot(r), "the bot left no message"
