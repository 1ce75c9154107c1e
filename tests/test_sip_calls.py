"""A campaign call on the path real calls take: PJSIP → the carrier trunk → a debtor (sipp on
loopback) who answers with G.711 μ-law RTP at 8 kHz.  The bot hears the debtor's words over
that line (in the telephone band, chosen from the leg's codec), the call ends with the disposition they stand for, and the creditor's caller ID
goes out on the INVITE."""

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
from duncall.personas.campaign import SANDBOX_CREDITOR, import_persona_accounts, persona_accounts
from duncall.sandbox import runtime, sipp, trunk
from foundation import paths
from foundation.contract import CallOutcome

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.slow]

PERSONAS = {p.name: p for p in load_personas(paths.personas_dir())}
ASR_SPEC = "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk"
# The wrong_number persona's words, placed in time: sipp cannot hear the bot stop, so the first
# reply comes after the greeting's usual length (a reply that overlaps the bot barges in, which
# the bot handles; the bot never hears itself on a SIP line: sipp sends only the debtor's audio).
WRONG_NUMBER = sipp.Line(
    words=(
        sipp.Words(0.4, "hello"),
        sipp.Words(9.0, "no you have the wrong number"),
        sipp.Words(17.0, "i do not know him"),
    ),
    length_s=30.0,
)


@pytest.fixture(scope="module")
def sip_call(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TargetResult, Path]]:
    work = tmp_path_factory.mktemp("sip")
    assert "trunk-endpoint" in (runtime.sandbox().etc / "pjsip.conf").read_text(), (
        "the sandbox runs an older configuration: `duncall asterisk up`"
    )
    trunk.apply_sandbox()
    db_url = f"sqlite:///{work / 'sip.db'}"
    tag = uuid.uuid4().hex[:10]
    prefix = f"duncall-test-sip:{tag}:"
    import_persona_accounts(parts.store(db_url), persona_accounts([PERSONAS["wrong_number"]]))
    spec = CampaignRun(
        options=CampaignOptions(campaign_id=f"test-sip-{tag}", concurrency=1),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=prefix,
        endpoint=f"PJSIP/{{number}}@{trunk.TRUNK}",
    )
    before = {k: os.environ.get(k) for k in ("DUNCALL_ASR", "DUNCALL_ARI_APP")}
    os.environ["DUNCALL_ASR"] = ASR_SPEC
    os.environ["DUNCALL_ARI_APP"] = f"test-sip-{tag}"  # the shared app's events are others'
    try:
        with sipp.debtor(WRONG_NUMBER, port=trunk.trunk_config().port, workdir=work, trace=True) as debtor:
            result = asyncio.run(run(spec))
            debtor.wait(10)
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        client = redis.Redis.from_url(os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    (r,) = result.results
    yield r, work


def test_debtor_over_sip_is_heard_and_the_call_ends_as_wrong_number(
    sip_call: tuple[TargetResult, Path],
) -> None:
    r, _ = sip_call
    assert r.allowed, r.deny_reasons
    assert r.attempt is not None and r.attempt.outcome is CallOutcome.ANSWERED
    conv = r.attempt.conversation
    assert conv is not None
    assert conv.line == "telephone"  # the G.711 trunk leg, heard with the telephone model
    heard = " ".join(t.text for t in conv.turns if t.speaker == "debtor")
    assert conv.disposition == "wrong_number", [(t.speaker, t.text, t.intent) for t in conv.turns]
    assert "wrong" in heard.split(), heard


def test_the_invite_carries_the_creditors_caller_id(sip_call: tuple[TargetResult, Path]) -> None:
    _, work = sip_call
    messages = "".join(p.read_text(errors="replace") for p in work.glob("*_messages.log"))
    invite = messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    number = SANDBOX_CREDITOR.caller_id
    assert number is not None
    from_line = next(line for line in invite.splitlines() if line.startswith("From:"))
    pai = next(line for line in invite.splitlines() if line.startswith("P-Asserted-Identity:"))
    assert number in from_line and number in pai, invite
