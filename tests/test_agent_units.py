"""Agent states, the campaign's abandon-rate windows read from the store, and the CLI's refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert

from dialer.agents.campaign import AgentCampaignOptions, PacingPrior
from dialer.agents.pool import AgentPool, AgentSpec, AgentState, agents_from_template, sandbox_agents
from dialer.agents.record import abandon_ledger
from dialer.call import AttemptResult
from dialer.dial.record import record_ended, record_reserved
from dialer.pacing import CampaignState, PacingMode
from dialer.store.db import open_engine
from dialer.store.models import Account, Campaign
from duncall.cli import main
from foundation.contract import CallOutcome, ConversationRecord, DialTarget, debtor_channel
from foundation.errors import InputError

pytestmark = pytest.mark.unit


def pool(n: int = 3, *, wrap_up_s: float = 5.0) -> AgentPool:
    return AgentPool(
        [AgentSpec(f"a{i}", f"PJSIP/a{i}") for i in range(1, n + 1)], now_s=0.0, wrap_up_s=wrap_up_s
    )


def test_an_agent_goes_ready_connecting_on_call_wrap_up_ready_and_reports_its_handle_time() -> None:
    agents = pool(1)
    spec = agents.claim("call-1", 10.0)
    assert spec is not None and agents.state_of("a1") is AgentState.CONNECTING
    assert agents.ready() == 0 and agents.busy_elapsed_s(10.5) == (0.0,)  # about to be busy: not free
    agents.connected("a1", 11.0)
    assert agents.busy_elapsed_s(41.0) == (30.0,) and agents.wrap_up_left_s(41.0) == ()
    agents.release("a1", 131.0)
    assert agents.state_of("a1") is AgentState.WRAP_UP and agents.advance(135.0) == []
    # In wrap-up the agent is ready at a known time (5 s after the call), which the pacing reads.
    assert agents.busy_elapsed_s(135.0) == () and agents.wrap_up_left_s(135.0) == (1.0,)
    assert agents.advance(136.0) == [125.0]  # connect -> ready: talk 120 s + wrap-up 5 s
    assert agents.state_of("a1") is AgentState.READY and agents.call_of("a1") is None


def test_the_longest_ready_agent_takes_the_next_call_and_nobody_ready_means_none() -> None:
    agents = pool(3, wrap_up_s=0.0)
    first = agents.claim("c1", 1.0)
    assert first is not None and first.agent_id == "a1"
    agents.connected("a1", 1.0)
    agents.release("a1", 2.0)
    agents.advance(2.0)  # a1 ready again, but most recently
    claimed = [agents.claim(f"c{i}", 3.0) for i in range(2, 5)]
    assert [c.agent_id for c in claimed if c] == ["a2", "a3", "a1"]
    assert agents.claim("c5", 3.0) is None


def test_a_phone_that_does_not_answer_takes_its_agent_out_of_rotation_for_a_while() -> None:
    agents = AgentPool([AgentSpec("a1", "PJSIP/a1")], now_s=0.0, away_s=60.0)
    assert agents.claim("c1", 1.0) is not None
    agents.unreachable("a1", 1.5)
    assert agents.claim("c2", 2.0) is None and agents.busy_elapsed_s(2.0) == ()
    agents.advance(61.4)
    assert agents.ready() == 0
    agents.advance(61.5)
    assert agents.ready() == 1


def test_wrong_transitions_and_pools_are_refused() -> None:
    agents = pool(1)
    with pytest.raises(InputError, match="not connecting"):
        agents.connected("a1", 1.0)
    with pytest.raises(InputError, match="released while ready"):
        agents.release("a1", 1.0)
    with pytest.raises(InputError, match="no agent"):
        agents.state_of("zz")
    with pytest.raises(InputError, match="no agents"):
        AgentPool([], now_s=0.0)
    with pytest.raises(InputError, match="share an id"):
        AgentPool([AgentSpec("a", "PJSIP/1"), AgentSpec("a", "PJSIP/2")], now_s=0.0)


def test_agent_endpoints_for_production_and_the_sandbox() -> None:
    assert [a.endpoint for a in agents_from_template(2, "PJSIP/agent{n}")] == ["PJSIP/agent1", "PJSIP/agent2"]
    assert sandbox_agents(1, 8)[0].endpoint == "Local/agent1-8@duncall-agents"
    with pytest.raises(InputError, match=r"no \{n\}"):
        agents_from_template(2, "PJSIP/agent")
    with pytest.raises(InputError):
        sandbox_agents(0, 8)


def test_options_refuse_agentless_and_a_bad_prior() -> None:
    with pytest.raises(InputError, match="agentless"):
        AgentCampaignOptions(mode=PacingMode.AGENTLESS)
    with pytest.raises(InputError, match="answer rate"):
        PacingPrior(answer_rate=0.0)
    with pytest.raises(InputError, match="ring time"):
        PacingPrior(ring_s=(25.0, 15.0))


def test_the_next_run_starts_from_the_abandons_already_in_the_windows(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'a.db'}")
    now = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        account = {"account_id": "A-1", "first_name": "J", "last_name": "S", "language": "en", "balance": 1}
        conn.execute(insert(Account), [{**account, "currency": "USD"}])
        for cid in ("camp", "another-campaign"):
            conn.execute(
                insert(Campaign),
                [{"campaign_id": cid, "name": cid, "strategy": "", "created_at": now}],
            )
    calls = [  # (hours ago, outcome): two days ago is outside Ofcom's 24 h, inside TSR's 30 days
        (48, CallOutcome.ABANDONED),
        (47, CallOutcome.ANSWERED),
        (5, CallOutcome.ANSWERED),
        (4, CallOutcome.ABANDONED),
        (3, CallOutcome.VOICEMAIL),  # a machine is no live answer: in neither count
        (2, CallOutcome.ANSWERED),
    ]
    target = DialTarget("A-1", "+12125550101", language="en")
    for i, (hours, outcome) in enumerate(calls):
        at = now - dt.timedelta(hours=hours)
        attempt = f"att-{i}"
        record_reserved(engine, target, attempt, "camp", at)
        conversation = ConversationRecord(language="en")
        ended = AttemptResult(
            attempt, debtor_channel(attempt), outcome, amd_status="HUMAN", conversation=conversation
        )
        record_ended(engine, target, ended, at)
    us, uk = abandon_ledger(engine, "camp", now).windows(now.timestamp())
    assert (us.rule.name, us.answered, us.abandoned) == ("us_tsr_30d", 5, 2)
    assert (uk.rule.name, uk.answered, uk.abandoned) == ("uk_ofcom_24h", 3, 1)
    other_us, _ = abandon_ledger(engine, "another-campaign", now).windows(now.timestamp())
    assert other_us.answered == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "predictive"], "without agents"),
        (["--mode", "progressive", "--agents", "0"], "without agents"),
        (["--agents", "3"], "need human agents"),
        (["--mode", "predictive", "--agents", "3", "--expect", "0.3,15-25"], "RATE,RING,HANDLE"),
        (["--mode", "predictive", "--agents", "3", "--expect", "0.3,25-15,120-180"], "--expect ring time"),
    ],
)
def test_cli_refuses_agent_campaigns_it_cannot_run_in_one_line(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["campaign", "run", "--campaign", "c", "--personas", "cooperative", *extra]) != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_needs_the_agents_phones_outside_the_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["campaign", "run", "--campaign", "c", "--endpoint", "PJSIP/{number}@x", "--mode", "predictive"]
    assert main([*argv, "--agents", "5"]) != 0
    assert "agents' phones" in capsys.readouterr().err


class _Decided(Exception):
    pass


async def test_the_campaign_tells_the_pacing_policy_when_each_agent_in_wrap_up_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from dialer.agents import campaign

    seen: list[CampaignState] = []

    def decide(state: CampaignState, config: object) -> object:
        seen.append(state)
        raise _Decided

    monkeypatch.setattr(campaign, "decide", decide)
    agents = AgentPool([AgentSpec("a1", "PJSIP/a1"), AgentSpec("a2", "PJSIP/a2")], now_s=0.0, wrap_up_s=600.0)
    now = time.monotonic()
    for agent, call in (("a1", "c1"), ("a2", "c2")):
        assert agents.claim(call, now - 100.0) is not None
        agents.connected(agent, now - 90.0)
    agents.release("a1", now - 10.0)  # a1 has talked 80 s and writes notes for 600 s; a2 is still talking
    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(ExceptionGroup) as raised:
        await campaign.run_agent_campaign(
            None,  # type: ignore[arg-type]  # nothing is dialled: the first decision stops the run
            engine,
            [DialTarget("A-1", "+12125550101", language="en")],
            None,  # type: ignore[arg-type]
            agents,
            AgentCampaignOptions(PacingMode.PREDICTIVE),
            campaign_id="wrap",
        )
    assert raised.group_contains(_Decided)
    (state,) = seen
    assert state.free_agents == 0 and state.wrap_up_s == 600.0
    assert len(state.busy_elapsed_s) == 1 and 90.0 <= state.busy_elapsed_s[0] < 120.0
    assert len(state.wrap_up_left_s) == 1 and 570.0 < state.wrap_up_left_s[0] <= 590.0
