"""One run of a campaign: take the campaign's lease, reconcile what a dead run left,
plan targets with the strategy, dial them through the guard, summarise.

Running the same campaign again (after it finished, or after the dialer was
killed) is idempotent in the sense the rules care about: unfinished attempts
are settled first, accounts the strategy says to wait for are skipped, and the
guard denies redials its frequency rules forbid (``min_gap`` and the caps count
every allowed decision in the ledger, including the dead run's).

While Redis or the database is away the run is held (``dialer.campaign.outage``:
shown on the campaign's control record, lifted by itself once a probe of both
passes); a lost lease stops its dialling at once, and the calls already up end
and are recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dialer.campaign.control import CampaignControl, Control, check_limits
from dialer.campaign.facts import store_facts
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.fixed import fixed_plan
from dialer.campaign.lease import campaign_lease
from dialer.campaign.outage import Outage, Probe
from dialer.campaign.pacing import CpsPacer
from dialer.campaign.recovery import Reconciled, guard_sink, reconcile, settle_unrecorded
from dialer.campaign.runner import DialGate, OnAnswer, TargetResult, run_campaign
from dialer.campaign.targets import EndpointFor, Plan, plan_targets
from dialer.dial.nodes import NodePool
from dialer.guards.capacity import CapacityLimiter, CapacityLimits
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard, redis_unavailable
from dialer.payments.evaluate import evaluate_promises
from dialer.policy import Voice
from dialer.store.models import Campaign, CampaignStatus
from dialer.strategy.model import Strategy
from foundation.errors import InputError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient
from telephony.live.events import live_prefix as default_live_prefix
from telephony.live.registry import LiveCallRegistry

if TYPE_CHECKING:
    from dialer.agents.campaign import AgentDialing

CAMPAIGN_ID_MAX = 64
LEASE_LOST = "the campaign's lease was lost: another dialer may run it"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    campaign_id: str
    concurrency: int = 4
    calls_per_second: int = 10  # 0: no limit
    ring_timeout_s: int = 25
    use_schedule: bool = True  # honour the strategy's not_before (retry spacing)

    def __post_init__(self) -> None:
        if not self.campaign_id or len(self.campaign_id) > CAMPAIGN_ID_MAX:
            raise InputError(
                f"campaign id {self.campaign_id!r} must be 1–{CAMPAIGN_ID_MAX} characters",
                "pass --campaign NAME",
            )
        if self.concurrency < 1:
            raise InputError(
                f"concurrency {self.concurrency} must be at least 1", "pass --concurrency 1 or more"
            )
        if self.calls_per_second < 0:
            raise InputError(
                f"calls per second {self.calls_per_second} is negative", "pass --cps 0 (off) or more"
            )
        # The console's limits too: a supervisor can change a run's limits only within these.
        check_limits(self.concurrency, self.calls_per_second)
        if self.ring_timeout_s < 1:
            raise InputError(
                f"ring timeout {self.ring_timeout_s} s is too short", "pass --ring-timeout 15 or more"
            )


@dataclass
class Summary:
    campaign_id: str
    reconciled: Reconciled
    plan: Plan
    results: list[TargetResult] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def dialled(self) -> list[TargetResult]:
        return [r for r in self.results if r.allowed and not r.not_placed]

    @property
    def not_placed(self) -> int:
        """Allowed dials Asterisk refused before making a channel: no attempt was counted."""
        return sum(r.not_placed for r in self.results)

    @property
    def errors(self) -> int:
        """Targets whose dial failed on our side (logged by attempt id)."""
        return sum(bool(r.error) for r in self.results)

    @property
    def stopped(self) -> int:
        """Targets left undialled because a supervisor stopped the campaign."""
        return sum(r.stopped for r in self.results)

    def outcomes(self) -> Counter[str]:
        return Counter(
            r.attempt.outcome.value for r in self.results if r.attempt is not None and not r.not_placed
        )

    def denials(self) -> Counter[str]:
        return Counter(reason for r in self.results if _denied(r) for reason in r.deny_reasons)

    def lines(self) -> list[str]:
        def counts(c: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        denied = sum(_denied(r) for r in self.results)
        lines = [
            f"campaign {self.campaign_id}: {self.reconciled.one_line()}",
            f"targets {len(self.plan.targets)}; not planned: {counts(self.plan.skipped)}",
            f"dialled {len(self.dialled)}: {counts(self.outcomes())}",
            f"denied by the guard {denied}: {counts(self.denials())}",
        ]
        if self.not_placed:
            lines.append(
                f"not placed: {self.not_placed} (Asterisk refused the originate; no attempt counted — "
                "check --endpoint)"
            )
        if self.errors:
            lines.append(f"failed on the dialer's side: {self.errors} (see the log by attempt id)")
        if self.stopped:
            lines.append(f"stopped from the console: {self.stopped} targets not dialled")
        return [*lines, f"{len(self.results)} targets in {self.wall_s:.1f} s"]


def _denied(r: TargetResult) -> bool:
    return not r.allowed and not r.stopped and not r.error


def services_probe(client: redis.Redis, engine: Engine) -> Probe:
    """Passes once Redis and the database both answer (what every dial needs)."""

    def check() -> None:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise redis_unavailable(client, exc) from None
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                f"the database is unavailable ({type(exc).__name__})",
                "check the database (--db / DUNCALL_DATABASE_URL)",
            ) from None

    async def probe() -> None:
        await asyncio.to_thread(check)

    return probe


def _and_a_node(services: Probe, nodes: NodePool) -> Probe:
    """Passes once the services do and some Asterisk node is up (a held campaign waits for one)."""

    async def probe() -> None:
        await services()
        nodes.check_up()

    return probe


async def run_session(
    ari: AriClient,
    engine: Engine,
    client: redis.Redis,
    guard: Guard,
    strategy: Strategy,
    endpoint_for: EndpointFor,
    on_answer: OnAnswer,
    options: CampaignOptions,
    *,
    account_ids: list[str] | None = None,
    prefix: str,
    on_result: Callable[[TargetResult], None] | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    feed: CampaignFeed | None = None,
    live_prefix: str | None = None,
    agents: AgentDialing | None = None,
    scripts: Mapping[str, str] | None = None,
    nodes: NodePool | None = None,
) -> Summary:
    """One run; ``feed`` puts its calls on the live board, the control record (under
    ``live_prefix``) lets a supervisor pause, resume, stop it and change its limits.
    ``agents``: human agents take the answered calls, paced progressively or predictively
    (``dialer.agents``) instead of the bot's fixed concurrency.  ``scripts`` (account id →
    script): dial exactly these accounts, each with its script, instead of the strategy's plan
    (the sandbox personas, each written for one script).  ``nodes``: the bot's calls are spread
    over several Asterisk nodes (``dialer.dial.nodes``); ``ari`` is one of them."""
    started = time.monotonic()
    cid = options.campaign_id
    control_prefix = default_live_prefix() if live_prefix is None else live_prefix
    await asyncio.to_thread(_mark_campaign, engine, cid, Path(strategy.source).name or strategy.name, clock())
    control = CampaignControl(
        client,
        control_prefix,
        cid,
        concurrency=options.concurrency,
        cps=options.calls_per_second,
        clock=clock,
    )

    async def lease_lost() -> None:
        await control.halt(LEASE_LOST)

    async with campaign_lease(client, f"{prefix}campaign:{cid}:lease", on_lost=lease_lost):
        reconciled = await reconcile(
            ari,
            engine,
            cid,
            clock=clock,
            on_orphan=guard_sink(guard),
            nodes=nodes.clients() if nodes is not None else None,
        )
        # Promises judged before planning: a broken one escalates, a kept one holds, in this run's plan.
        await asyncio.to_thread(
            evaluate_promises, engine, grace_days=strategy.promise_grace_days, now=clock()
        )
        if scripts is not None:
            plan = await asyncio.to_thread(fixed_plan, engine, scripts, endpoint_for)
        else:
            plan = await asyncio.to_thread(
                plan_targets,
                engine,
                strategy,
                endpoint_for,
                clock(),
                account_ids=account_ids,
                use_schedule=options.use_schedule,
                with_agents=agents is not None,
            )
        for reason, count in sorted(plan.skipped.items()):
            if "creditor" in reason:  # the operator's to fix; said before anything is dialled
                log.warning("accounts not dialled", extra=kv(reason=reason, accounts=count))
        # Always a pacer (cps 0 grants every originate): a supervisor may set a rate mid-run.
        limiter = CapacityLimiter(
            client,
            CapacityLimits(max_concurrent=0, calls_per_second=options.calls_per_second),
            prefix=prefix,
        )
        pacer = CpsPacer(limiter, cid)

        def new_limits(changed: Control) -> None:
            limiter.limits = CapacityLimits(max_concurrent=0, calls_per_second=changed.cps)

        control.on_change = new_limits

        async def show_hold(reason: str) -> None:
            await (control.hold(reason) if reason else control.unhold())

        voice = Voice.BOT if agents is None else Voice.HUMAN  # the bot-voice consent rule is the bot's
        gate: DialGate = GuardGate(guard, store_facts(engine), voice=voice, campaign_id=cid)
        if feed is not None:
            gate = feed.gate(gate)
            on_answer = feed.answering(on_answer)
            on_result = feed.results(on_result)
        probe = services_probe(client, engine)
        if nodes is not None:
            probe = _and_a_node(probe, nodes)
        async with control, Outage(probe, notify=show_hold) as outage:
            if agents is not None:
                results = await agents.run(
                    ari,
                    engine,
                    plan.targets,
                    gate,
                    campaign_id=cid,
                    clock=clock,
                    pacer=pacer,
                    on_result=on_result,
                    admission=control,
                    outage=outage,
                    # Calls bridged to a collector are listed for supervisors, as the bot lists its own.
                    live=LiveCallRegistry(client, control_prefix),
                )
            else:
                results = await run_campaign(
                    ari,
                    engine,
                    plan.targets,
                    on_answer,
                    gate,
                    campaign_id=cid,
                    concurrency=options.concurrency,
                    clock=clock,
                    pacer=pacer,
                    ring_timeout_s=options.ring_timeout_s,
                    on_result=on_result,
                    admission=control,
                    outage=outage,
                    nodes=nodes,
                )
        try:
            # Decisions of this run whose attempt row the database refused while it was away
            # (only while the lease is ours: another dialer's decisions are its own to settle).
            if not control.halted:
                await settle_unrecorded(engine, cid, clock=clock)
        except SQLAlchemyError as exc:
            log.warning("unrecorded decisions left for the next start", extra=kv(error=type(exc).__name__))
    await asyncio.to_thread(_mark_campaign, engine, cid, None, clock(), CampaignStatus.FINISHED)
    return Summary(cid, reconciled, plan, results, time.monotonic() - started)


def _mark_campaign(
    engine: Engine,
    campaign_id: str,
    strategy: str | None,
    now: dt.datetime,
    status: CampaignStatus = CampaignStatus.RUNNING,
) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(Campaign, campaign_id)
        if row is None:
            row = Campaign(campaign_id=campaign_id, name=campaign_id, strategy=strategy or "", created_at=now)
            s.add(row)
        row.status = status.value
