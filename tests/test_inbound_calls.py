"""Debtors calling back, through the real Asterisk sandbox: a persona's leg calls the creditor's
callback number in the dialplan context duncall-inbound with an account's phone as its caller ID,
reaches the bot in the Stasis app, and is verified before anything about the debt is said; a
caller ID that matches no account hears how to reach us and nothing about a debt, and nothing is
stored for it.  The inbound call is an attempt of direction ``inbound`` with its turns."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.store.models import AccountFlagRow, CallAttempt, FollowUpRow, PromiseRow
from dialer.store.models.transcripts import TranscriptTurn
from dialer.store.testing import temporary_database
from duncall.compose import parts
from duncall.inbound import InboundCall, InboundService
from duncall.personas import load_personas
from duncall.personas.campaign import SANDBOX_CREDITOR, import_persona_accounts, persona_accounts
from duncall.personas.render import CONTEXT, calling_in_priority
from foundation import paths
from foundation.settings import ari_settings
from telephony.ari import AriClient

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.slow]

PERSONAS = {p.name: p for p in load_personas(paths.personas_dir())}
DID = SANDBOX_CREDITOR.callback_number  # the number the personas' voicemails and SMS leave
CALL_TIMEOUT_S = 150  # the cooperative persona's whole call takes about a minute
# What only a verified debtor may hear (Reg F: the debt is not disclosed to a third party).
DEBT_WORDS = re.compile(r"debt|balance|owe|overdue|past due|payment|\$|\d+\.\d\d", re.IGNORECASE)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        summary = import_persona_accounts(
            eng, persona_accounts([PERSONAS["cooperative"], PERSONAS["third_party"]])
        )
        assert not summary.rejected
        yield eng


@pytest.fixture(scope="module")
def bot() -> parts.Bot:
    before = os.environ.get("DUNCALL_ASR")
    os.environ["DUNCALL_ASR"] = "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk"  # as test_bot_calls
    try:
        loaded = parts.bot()
        assert parts.ready_languages({"en"}, loaded.recognizer, loaded.classifier) == {"en": None}
        return loaded
    finally:
        if before is None:
            os.environ.pop("DUNCALL_ASR", None)
        else:
            os.environ["DUNCALL_ASR"] = before


@pytest.fixture
async def ari() -> AsyncIterator[AriClient]:
    client = AriClient(replace(ari_settings(), app=f"test-inbound-{uuid.uuid4().hex[:6]}"))
    await client.connect()
    yield client
    await client.close()


async def call_in(
    ari: AriClient, engine: Engine, bot: parts.Bot, persona: str, caller_id: str
) -> InboundCall:
    """``persona`` calls ``DID`` from ``caller_id``; the inbound service answers it with the bot."""
    done: asyncio.Queue[InboundCall] = asyncio.Queue(maxsize=1)
    service = InboundService(ari, engine, bot, on_call=done.put_nowait)
    ready = asyncio.Event()
    serving = asyncio.create_task(service.serve(ready), name="inbound-serve")
    try:
        await ready.wait()
        # The Local channel's dialplan half dials the callback number in duncall-inbound (its caller
        # ID is ours); once the bot answers, the originated half plays the persona from its first
        # reply on (a caller says no "hello?": it waits for the bot to speak).
        await ari.originate(
            f"Local/{DID}@duncall-inbound",
            context=CONTEXT,
            extension=persona,
            priority=calling_in_priority(PERSONAS[persona]),
            caller_id=caller_id,
            variables={"__DUNCALL_APP": ari.app},
            timeout_s=20,
        )
        async with asyncio.timeout(CALL_TIMEOUT_S):
            return await done.get()
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


def stored_turns(engine: Engine, attempt_id: str) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return [
            (t.speaker, t.text)
            for t in s.scalars(
                select(TranscriptTurn)
                .where(TranscriptTurn.attempt_id == attempt_id)
                .order_by(TranscriptTurn.seq)
            )
        ]


async def test_a_debtor_calling_back_is_verified_before_the_debt(
    ari: AriClient, engine: Engine, bot: parts.Bot
) -> None:
    persona = PERSONAS["cooperative"]
    call = await call_in(ari, engine, bot, "cooperative", persona.account.phone)
    assert call.caller.account_id == persona.account.account_id
    assert call.attempt_id is not None and call.record is not None
    with Session(engine) as s:
        attempt = s.get_one(CallAttempt, call.attempt_id)
        assert (attempt.direction, attempt.number, attempt.state) == (
            "inbound",
            persona.account.phone,
            "ended",
        )
        assert attempt.right_party
    turns = stored_turns(engine, call.attempt_id)
    bot_lines = [text for who, text in turns if who == "bot"]
    # Everything the bot said before the caller's first answer (the recording notice, then the
    # verification question) is free of the debt; it asks for the debtor by name.
    first_answer = next(i for i, (who, _) in enumerate(turns) if who == "debtor")
    before = [text for who, text in turns[:first_answer] if who == "bot"]
    assert any("Thank you for calling back" in text and "John Smith" in text for text in before), before
    assert not any(DEBT_WORDS.search(text) for text in before), before
    # Verified by the persona's "yes this is john speaking": the call goes on to the debt.
    assert call.record.path[:2] == ["greeting", "verified"], call.record.path
    assert any("attempt to collect a debt" in text for text in bot_lines)
    assert any("balance" in text for text in bot_lines)
    # What the call said is written as an outbound call's is: the promise is on the account.
    with Session(engine) as s:
        promise = s.scalars(select(PromiseRow).where(PromiseRow.attempt_id == call.attempt_id)).one()
        assert (promise.amount, promise.channel) == (Decimal("200"), "call")
        [entry] = [e for e in account_page(s, persona.account.account_id).timeline if e.channel == "call"]
        assert (entry.kind, entry.direction, entry.attempt_id) == ("conversation", "inbound", call.attempt_id)


async def test_someone_else_calling_from_the_debtors_phone_hears_nothing_about_a_debt(
    ari: AriClient, engine: Engine, bot: parts.Bot
) -> None:
    # The debtor's spouse calls back from the debtor's number: asked for the debtor, told how to
    # have him call; never the debt, and the call is on the account as an inbound attempt.
    persona = PERSONAS["third_party"]
    call = await call_in(ari, engine, bot, "third_party", persona.account.phone)
    assert call.caller.account_id == persona.account.account_id
    assert call.attempt_id is not None and call.record is not None
    turns = stored_turns(engine, call.attempt_id)
    said = [text for who, text in turns if who == "bot"]
    assert any("David Miller" in text for text in said), said
    assert not any(DEBT_WORDS.search(text) for text in said), said
    assert "verified" not in call.record.path, call.record.path
    with Session(engine) as s:
        attempt = s.get_one(CallAttempt, call.attempt_id)
        assert (attempt.direction, attempt.right_party, attempt.disposition) == (
            "inbound",
            False,
            "third_party",
        )


async def test_a_debtor_whose_account_is_disputed_is_handed_to_a_person(
    ari: AriClient, engine: Engine, bot: parts.Bot
) -> None:
    # Collection stopped with the dispute: the bot does not collect from the caller, whoever it
    # is; it says a person will take the call, and a collector gets the follow-up.
    persona = PERSONAS["cooperative"]
    with Session(engine) as s, s.begin():
        s.add(AccountFlagRow(account_id=persona.account.account_id, flag="dispute", source="operator"))
    call = await call_in(ari, engine, bot, "cooperative", persona.account.phone)
    assert call.attempt_id is not None and call.record is not None
    said = [text for who, text in stored_turns(engine, call.attempt_id) if who == "bot"]
    assert any("One of our team needs to take your call" in text for text in said), said
    assert not any(DEBT_WORDS.search(text) or "John" in text for text in said), said
    with Session(engine) as s:
        [follow_up] = s.scalars(select(FollowUpRow)).all()
        assert (follow_up.account_id, follow_up.channel) == (persona.account.account_id, "call")
        assert "dispute" in follow_up.reason
        assert s.get_one(CallAttempt, call.attempt_id).direction == "inbound"


async def test_a_caller_id_of_no_account_hears_nothing_about_a_debt(
    ari: AriClient, engine: Engine, bot: parts.Bot
) -> None:
    call = await call_in(ari, engine, bot, "cooperative", "+12125550999")
    assert (call.caller.number, call.caller.account_id, call.attempt_id) == ("+12125550999", None, None)
    assert call.record is not None
    said = [t.text for t in call.record.turns if t.speaker == "bot"]
    assert any("could not find your details" in text for text in said), said
    assert not any(DEBT_WORDS.search(text) for text in said), said
    with Session(engine) as s:
        assert s.scalars(select(CallAttempt)).all() == []  # not an account's contact
