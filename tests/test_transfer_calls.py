"""A debtor asking for a person, called through the sandbox Asterisk, with no collector ready.

The ``asks_human`` persona says who it is, then "i want to talk to a real person", then "okay".
A collector has a desk phone, so the bot looks for a ready desk (none is): it must not say it is
connecting anyone; it says no colleague is free and offers a callback, and the "okay" keeps the
callback on the account — stored with the attempt, and holding the strategy's next call until
that day.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.store.db import make_engine
from dialer.store.models import CallAttempt
from dialer.store.repo import strategy_inputs
from dialer.strategy.config import load_strategy
from dialer.strategy.policy import next_action
from duncall import demo
from duncall.personas import load_personas
from duncall.sandbox import phones, runtime
from foundation import paths

pytestmark = [pytest.mark.asterisk, pytest.mark.audio, pytest.mark.redis, pytest.mark.slow]

PERSONA = next(p for p in load_personas(paths.personas_dir()) if p.name == "asks_human")
OFFER = (
    "No colleague is free right now. Would you like a colleague to phone you tomorrow? "
    "Press 1 for yes or 2 for no."
)


@pytest.fixture
def idle_desk() -> Iterator[str]:
    """A collector with a desk phone who is not ready: the bot has a desk to look for, none free."""
    if not runtime.is_running():
        pytest.skip("the Asterisk sandbox is not running (duncall asterisk up)")
    collector_id = f"t{uuid.uuid4().hex[:8]}"
    phones.make_phone(collector_id)
    phones.apply_sandbox()
    try:
        yield collector_id
    finally:
        phones.drop_phone(collector_id)
        phones.apply_sandbox()


def test_no_collector_ready_the_bot_offers_a_callback_and_it_is_on_the_account(
    tmp_path: pytest.TempPathFactory, idle_desk: str
) -> None:
    db_url = f"sqlite:///{tmp_path}/transfer.db"
    client = redis.Redis.from_url(os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    prefix = f"duncall-test-transfer:{uuid.uuid4().hex[:12]}:"
    try:
        (result,) = demo.run(
            ["asks_human"],
            db_url=db_url,
            guard_prefix=prefix,
            campaign_id=f"test-transfer-{uuid.uuid4().hex[:8]}",
            out=io.StringIO(),
        )
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    assert result.attempt is not None and result.attempt.conversation is not None
    conv = result.attempt.conversation
    bot_said = [t.text for t in conv.turns if t.speaker == "bot"]
    heard = " ".join(t.text for t in conv.turns if t.speaker == "debtor")
    assert "person" in heard.split(), heard
    assert OFFER in bot_said, bot_said
    assert not any("connecting" in t.lower() or "transfer you" in t.lower() for t in bot_said), bot_said
    assert bot_said[-1].startswith("We will call you back on"), bot_said
    assert conv.disposition == "callback" and conv.path[-2:] == ["transfer_unavailable", "transfer_callback"]

    engine = make_engine(db_url)
    with Session(engine) as db:
        attempt = db.scalars(
            select(CallAttempt).where(CallAttempt.account_id == PERSONA.account.account_id)
        ).one()
        assert attempt.disposition == "callback"
        zone = ZoneInfo(PERSONA.account.timezone)
        tomorrow = dt.datetime.now(zone).date() + dt.timedelta(days=1)
        assert attempt.callback_at is not None
        called_back = attempt.callback_at.replace(tzinfo=attempt.callback_at.tzinfo or dt.UTC)
        assert called_back.astimezone(zone) == dt.datetime.combine(tomorrow, dt.time(0), tzinfo=zone)
        # The account is not called again before the callback day.
        now = dt.datetime.now(dt.UTC)
        strategy = load_strategy(paths.strategies_dir() / "default.yaml")
        account, history = strategy_inputs(db, PERSONA.account.account_id, now)
        action = next_action(strategy, account, history, now)
        assert action.not_before is not None and action.not_before >= called_back, action
    engine.dispose()
