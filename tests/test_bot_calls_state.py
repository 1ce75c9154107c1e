"""Calls through the sandbox Asterisk leave their result on the account: after
one persona campaign, stop calling is a stored cease_contact, the wrong number is blocked (a
"no" to the name at the right number is not), the promise,
the plan and the callback are stored; a second campaign half a year later — past every
frequency cap and the strategy's look-back — dials neither, and the ledger says why."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.campaign.runner import TargetResult
from dialer.store.db import make_engine
from dialer.store.models.guards import GuardDecisionRow
from duncall import demo
from duncall.compose.campaign import run as run_campaign
from duncall.personas import load_personas
from foundation import paths

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.slow]

PERSONAS = {p.name: p for p in load_personas(paths.personas_dir())}
CALLED = ["cooperative", "denies_name", "hardship", "mid_callback", "stop_calling", "wrong_number"]
ASR_SPEC = "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk"  # as tests/test_bot_calls.py hears them
# Wide-band legs: over 8 kHz μ-law the right-party answers of cooperative and hardship were
# heard below verify_confidence in one run of two (tests/test_bot_calls.py, WIDEBAND_ONLY).
LINE_FORMAT = "slin48"
LATER = dt.timedelta(days=181)


def _id(name: str) -> str:
    return PERSONAS[name].account.account_id


@dataclasses.dataclass
class Runs:
    db_url: str
    first: list[TargetResult]
    second: list[TargetResult]
    after_first: dict[str, dict[str, Any]]  # each persona's account page between the runs


def _page(db_url: str, name: str) -> dict[str, Any]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return account_page(s, _id(name)).as_json()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Runs]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
    client = redis.Redis.from_url(os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    run_id = uuid.uuid4().hex[:12]
    prefix = f"duncall-test-state:{run_id}:"
    names = ("DUNCALL_ASR", "DUNCALL_ARI_APP", "DUNCALL_LOCAL_CHANNEL_FORMAT")
    before = {k: os.environ.get(k) for k in names}
    os.environ["DUNCALL_ASR"] = ASR_SPEC
    os.environ["DUNCALL_ARI_APP"] = f"test-state-{run_id}"  # the shared app's events are others'
    os.environ["DUNCALL_LOCAL_CHANNEL_FORMAT"] = LINE_FORMAT
    try:
        first_spec = demo.preset(CALLED, db_url, prefix, f"test-state-{run_id}-1")
        first = asyncio.run(run_campaign(first_spec)).results
        # The accounts as the first run left them (the second adds its own calls' results).
        after_first = {name: _page(db_url, name) for name in CALLED}
        started = dt.datetime.now(dt.UTC)
        later = started + LATER
        second_spec = dataclasses.replace(
            demo.preset(CALLED, db_url, prefix, f"test-state-{run_id}-2"),
            # The guard's and the run's clock half a year on: no frequency cap still counts the first run.
            clock=lambda: later + (dt.datetime.now(dt.UTC) - started),
        )
        second = asyncio.run(run_campaign(second_spec)).results
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield Runs(db_url, first, second, after_first)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def _result(results: list[TargetResult], name: str) -> TargetResult:
    return next(r for r in results if r.target.account_id == _id(name))


def test_the_first_run_leaves_each_result_on_its_account(
    runs: Runs,
) -> None:
    first, after_first = runs.first, runs.after_first
    for name in CALLED:
        r = _result(first, name)
        assert r.allowed and r.attempt is not None and r.attempt.conversation is not None, name
        assert r.attempt.conversation.disposition == PERSONAS[name].expect.disposition, name

    stop = after_first["stop_calling"]
    assert [(f["name"], f["by"]) for f in stop["flags"]] == [("cease_contact", "call")]

    wrong = after_first["wrong_number"]
    assert [(p["number"], p["status"]) for p in wrong["phones"]] == [
        (PERSONAS["wrong_number"].account.phone, "wrong_number")
    ]
    assert wrong["flags"] == []

    cooperative = after_first["cooperative"]
    conv = _result(first, "cooperative").attempt.conversation
    assert conv is not None and conv.promise is not None
    assert [(p["amount"], p["due"], p["status"], p["channel"]) for p in cooperative["promises"]] == [
        (
            str(Decimal(conv.promise["amount"]).quantize(Decimal("0.01"))),
            conv.promise["date"],
            "pending",
            "call",
        )
    ]
    # "i can pay two hundred dollars on friday": the amount said (not the balance), and
    # Friday, a date after the call, in the debtor's week.
    assert Decimal(conv.promise["amount"]) == Decimal("200")
    assert dt.date.fromisoformat(conv.promise["date"]).weekday() == 4

    hardship = after_first["hardship"]
    offered = _result(first, "hardship").attempt.conversation.plan
    assert offered is not None and len(offered.instalments) > 1
    (plan,) = hardship["plans"]
    assert plan["status"] == "active" and Decimal(plan["total"]) == Decimal("2400.00")
    assert [(i["due"], i["amount"]) for i in plan["instalments"]] == [
        (i.due.isoformat(), str(i.amount)) for i in offered.instalments
    ]
    assert sum(Decimal(i["amount"]) for i in plan["instalments"]) == Decimal("2400.00")
    dues = [dt.date.fromisoformat(i["due"]) for i in plan["instalments"]]
    assert dues == sorted(dues) and len({(d.year, d.month) for d in dues}) == len(dues)  # one a month

    # "No" to the name, "yes" to the number: a third party at the right number — the number
    # stays dialable and no flag is set.
    denied = after_first["denies_name"]
    assert [(p["number"], p["status"]) for p in denied["phones"]] != [
        (PERSONAS["denies_name"].account.phone, "wrong_number")
    ], denied["phones"]
    assert denied["flags"] == []

    callback = after_first["mid_callback"]
    backs = [e["callback_at"] for e in callback["timeline"] if e["callback_at"]]
    assert len(backs) == 1 and dt.datetime.fromisoformat(backs[0]) >= dt.datetime.now(dt.UTC) - dt.timedelta(
        days=1
    )


def test_half_a_year_later_neither_is_dialled_and_the_ledger_says_why(
    runs: Runs,
) -> None:
    db_url, second = runs.db_url, runs.second
    stop, wrong = _result(second, "stop_calling"), _result(second, "wrong_number")
    assert not stop.allowed and stop.attempt is None and stop.deny_reasons == ["flag:cease_contact"]
    assert not wrong.allowed and wrong.attempt is None and wrong.deny_reasons == ["phone_blocked"]
    # The clock really moved past every cap: the other personas were dialled again — the one
    # who said no to the name too (not a wrong number).
    assert _result(second, "cooperative").allowed
    assert _result(second, "denies_name").allowed

    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            denied = {
                (d.account_id, d.reasons)
                for d in s.scalars(select(GuardDecisionRow).where(GuardDecisionRow.allowed.is_(False)))
            }
    finally:
        engine.dispose()
    assert denied == {(_id("stop_calling"), "flag:cease_contact"), (_id("wrong_number"), "phone_blocked")}
    timeline = _page(db_url, "wrong_number")["timeline"]
    assert [(e["kind"], e["reasons"]) for e in timeline][-1] == ("denied", ["phone_blocked"])
