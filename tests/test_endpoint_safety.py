"""A mistyped or dangerous endpoint costs no compliance attempt and cannot route a call elsewhere.

The template's shape is refused before anything connects; a technology or trunk Asterisk has not
loaded is refused after the connection check and before the first reservation; a dial Asterisk
refuses anyway is recorded as ``not_placed``: the ledger keeps the decision, the caps forget it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.campaign.endpoints import check_endpoint
from dialer.campaign.facts import store_facts
from dialer.campaign.targets import endpoint_template, parse_endpoint_template
from dialer.creditors.store import add_creditors, read_file
from dialer.dial.pipeline import dial_one
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy import DEFAULT_RULES
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.repo import strategy_inputs
from dialer.store.testing import temporary_database
from duncall.cli import main
from foundation.contract import ConversationRecord, DialTarget
from foundation.errors import InputError
from telephony.ari.errors import AriBadRequest

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York


@pytest.mark.unit
@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("{number}", "names no channel technology"),
        ("{number}@carrier", "names no channel technology"),
        ("PJSIP/{number}@carrier&SIP/{number}@other", "not TECH/RESOURCE"),
        ("PJSIP/{number}@carrier@premium", "not TECH/RESOURCE"),
        ("PJSIP/{number},30", "not TECH/RESOURCE"),
        ("PJSIP/{number}{number}@carrier", "exactly once"),
        ("PJSIP/carrier@{number}", "not TECH/RESOURCE"),
        ("PJSIP/1234@carrier", "has no {number}"),
    ],
)
def test_a_template_that_could_not_work_or_could_reroute_is_refused(template: str, said: str) -> None:
    with pytest.raises(InputError, match=said.replace("{", r"\{").replace("}", r"\}")):
        parse_endpoint_template(template)


@pytest.mark.unit
def test_a_good_template_dials_digits_only() -> None:
    shape = parse_endpoint_template("PJSIP/{number}@carrier")
    assert (shape.tech, shape.trunk) == ("PJSIP", "carrier")
    endpoint = endpoint_template("PJSIP/{number}@carrier")
    assert endpoint("A-1", "+12125550123") == "PJSIP/12125550123@carrier"
    assert endpoint("A-1", "+1212@evil") is None


class _Modules:
    def __init__(self, modules: set[str], endpoints: set[str]) -> None:
        self.modules = modules
        self.endpoints = endpoints

    async def loaded_modules(self) -> set[str]:
        return self.modules

    async def endpoint_exists(self, tech: str, resource: str) -> bool:
        return f"{tech}/{resource}" in self.endpoints


@pytest.mark.unit
async def test_a_technology_or_trunk_asterisk_lacks_is_refused() -> None:
    ari: Any = _Modules({"chan_pjsip.so", "res_ari.so"}, {"PJSIP/carrier"})
    await check_endpoint(ari, parse_endpoint_template("PJSIP/{number}@carrier"))
    await check_endpoint(ari, parse_endpoint_template("Local/{number}@outbound"))
    with pytest.raises(InputError, match="no SIP channel driver loaded"):
        await check_endpoint(ari, parse_endpoint_template("SIP/{number}@carrier"))
    with pytest.raises(InputError, match="no PJSIP endpoint 'premium'"):
        await check_endpoint(ari, parse_endpoint_template("PJSIP/{number}@premium"))


@pytest.mark.unit
def test_a_number_only_endpoint_is_one_line_before_anything_connects(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUNCALL_ARI_URL", "http://127.0.0.1:9")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["campaign", "run", "--campaign", "c", "--endpoint", "{number}", "--db", db]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "names no channel technology" in err[0]
    assert not (tmp_path / "x.db").exists()  # nothing was opened, let alone written


class _Refusing:
    """Asterisk answering the originate with 400, as it does for a dial string it cannot parse."""

    app = "t"

    def __init__(self) -> None:
        self.hangups: list[str] = []

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[None]:
        yield None

    async def originate(self, endpoint: str, **kwargs: Any) -> None:
        raise AriBadRequest("POST", "/channels", 400, "Endpoint must be in the format tech/resource")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append(channel_id)


@pytest.fixture
def guarded(tmp_path: Path, redis_url: str, key_prefix: str) -> Iterator[tuple[Engine, Guard, redis.Redis]]:
    client = redis.Redis.from_url(redis_url)
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        yield (
            engine,
            Guard(client, Ledger.on(engine), DEFAULT_RULES, prefix=key_prefix, clock=lambda: NOW),
            client,
        )
    for key in client.scan_iter(f"{key_prefix}*", count=1000):
        client.delete(key)
    client.close()


async def _no_answer(_call: Any) -> ConversationRecord:
    raise AssertionError("nobody can answer a dial that was never placed")


@pytest.mark.redis
async def test_a_refused_originate_is_not_placed_and_costs_no_attempt(
    guarded: tuple[Engine, Guard, redis.Redis],
) -> None:
    engine, guard, client = guarded
    gate = GuardGate(guard, store_facts(engine))
    target = DialTarget(account_id="A-1001", number="+12125550123", endpoint="12125550123", script="early")
    attempt_id = str(uuid.uuid4())
    ari: Any = _Refusing()
    result = await dial_one(ari, engine, target, _no_answer, gate, attempt_id=attempt_id, clock=lambda: NOW)

    assert result.allowed and result.not_placed
    with Session(engine) as s:
        row = s.get(CallAttempt, attempt_id)
        assert row is not None and row.state == AttemptState.NOT_PLACED.value and row.dialed_at is None
        _state, history = strategy_inputs(s, "A-1001", NOW)
    assert history.attempts == ()  # no retry spacing from a call that never went out
    # The ledger keeps the allowing decision; the caps count only what reached the network.
    assert [d.allowed for d in guard.ledger.decisions("A-1001")] == [True]
    assert guard.ledger.attempts_since(NOW - dt.timedelta(days=30), "A-1001") == []
    assert not client.zscore(guard.keys.account("A-1001", "att"), attempt_id)
    assert not client.zscore(guard.keys.phone("+12125550123", "att"), attempt_id)
    # A rebuild of the counters from the ledger does not bring it back either.
    guard.invalidate()
    guard.rebuild()
    assert not client.zscore(guard.keys.account("A-1001", "att"), attempt_id)


@pytest.mark.redis
async def test_a_refused_originate_leaves_no_dialing_row(guarded: tuple[Engine, Guard, redis.Redis]) -> None:
    engine, guard, _client = guarded
    gate = GuardGate(guard, store_facts(engine), campaign_id=None)
    target = DialTarget(account_id="A-1002", number="+13125550144", endpoint="x")
    ari: Any = _Refusing()
    result = await dial_one(ari, engine, target, _no_answer, gate, campaign_id=None, clock=lambda: NOW)
    assert result.not_placed
    with Session(engine) as s:
        states = s.scalars(select(CallAttempt.state)).all()
    assert states == [AttemptState.NOT_PLACED.value]  # not left ``dialing`` for a later run to fail
