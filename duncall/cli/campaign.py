"""`duncall campaign run` — an agentless bot campaign, every dial through the guards.

Accounts come from the store (dialled at ``--endpoint``), or with ``--personas``
from the sandbox personas (imported into the store, each dialled at
``Local/<persona>@duncall-personas``).  Re-running the same ``--campaign`` after
it finished or after the dialer was killed settles the unfinished attempts
first and never redials what the rules forbid.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.errors import ConfigError, InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dialer.agents.campaign import AgentCampaignOptions, AgentDialing
    from dialer.call import AnsweredCall
    from dialer.campaign.feed import CampaignFeed
    from dialer.campaign.runner import OnAnswer, TargetResult
    from dialer.campaign.session import CampaignOptions
    from dialer.policy import Rules
    from dialer.strategy.model import Strategy
    from duncall.personas import Persona
    from foundation.contract import ConversationRecord, DialTarget
    from telephony.ari import AriClient

DEFAULT_STRATEGY = Path(__file__).resolve().parents[2] / "strategies" / "default.yaml"
ANSWER_MODES = ("bot", "hangup")
PACING_MODES = ("agentless", "progressive", "predictive")
DEFAULT_CONCURRENCY = 4  # bot calls at once
LINES_PER_AGENT = 3  # trunk lines an agent campaign may hold per agent, by default


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("campaign", help="run bot campaigns over the stored accounts")
    csub = p.add_subparsers(dest="campaign_command", metavar="COMMAND", required=True)
    run = csub.add_parser(
        "run",
        help="dial the accounts the strategy says to call now, each through the guards; "
        "safe to re-run after a crash",
    )
    run.add_argument("--campaign", required=True, help="campaign id; re-running it resumes it")
    run.add_argument(
        "--personas",
        nargs="*",
        default=None,
        metavar="NAME",
        help="sandbox: call these personas (none named: all) instead of the stored accounts",
    )
    run.add_argument(
        "--copies", type=int, default=1, help="sandbox: accounts per persona, each with its own number"
    )
    run.add_argument(
        "--endpoint",
        default=None,
        help="what Asterisk dials for a stored account, e.g. 'PJSIP/{number}@carrier'",
    )
    run.add_argument(
        "--rules",
        default=None,
        help="guard rules: a preset name or a YAML file (default: sandbox with --personas, else default)",
    )
    run.add_argument(
        "--strategy",
        type=Path,
        default=DEFAULT_STRATEGY,
        help="strategy YAML (default: strategies/default.yaml)",
    )
    run.add_argument(
        "--ignore-schedule",
        action="store_true",
        help="dial accounts even when the strategy's retry spacing says later (the guard still decides)",
    )
    run.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="live calls at once: bot calls K (default 4); with human agents, trunk lines (default 3 per agent)",
    )
    run.add_argument(
        "--cps", type=int, default=10, help="originates per second toward Asterisk (0: no limit)"
    )
    run.add_argument(
        "--ring-timeout", type=int, default=25, help="seconds to ring before no answer (default 25)"
    )
    run.add_argument(
        "--answer",
        choices=ANSWER_MODES,
        default="bot",
        help="bot: the dialogue engine talks; hangup: end answered calls at once (sandbox load runs only)",
    )
    run.add_argument(
        "--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or ~/.cache/duncall)"
    )
    run.add_argument("--guard-prefix", default=None, help="Redis key prefix of the guard counters")
    run.add_argument(
        "--script-version",
        action="append",
        default=[],
        metavar="NAME.LANG=N",
        help="pin the campaign's calls to a saved script version (kept for later runs; "
        "NAME.LANG=published follows the published file again), e.g. early_collection.en=3",
    )
    run.add_argument(
        "--mode",
        choices=PACING_MODES,
        default="agentless",
        help="agentless: the bot takes the answered calls (default); progressive: one call per ready "
        "human agent; predictive: dial ahead of agents, abandonment held under 3%%",
    )
    run.add_argument("--agents", type=int, default=None, help="human agents (progressive / predictive)")
    run.add_argument(
        "--agent-endpoint",
        default=None,
        help="agent N's phone, in auto-answer, e.g. 'PJSIP/agent{n}' (with --personas: sandbox stand-ins)",
    )
    run.add_argument(
        "--agent-handle",
        type=float,
        default=20.0,
        help="sandbox: seconds each stand-in agent talks (default 20)",
    )
    run.add_argument(
        "--wrap-up", type=float, default=5.0, help="seconds of wrap-up after each call (default 5)"
    )
    run.add_argument(
        "--abandon-message",
        default=None,
        help="what a person hears when no agent is free (ARI media URI; default sound:duncall/abandon-message)",
    )
    run.add_argument(
        "--expect",
        default="0.3,15-25,120-180",
        metavar="RATE,RING,HANDLE",
        help="predictive: answer rate, ring seconds (dial to a person) and handle seconds (talk + wrap-up) "
        "the campaign expects until it has measured its own (default 0.3,15-25,120-180)",
    )
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dialer.campaign.session import CampaignOptions
    from duncall.scripts_runtime import parse_pin

    for value in args.script_version:
        parse_pin(value)  # a typo is said before anything connects

    if args.personas is None and args.endpoint is None:
        raise InputError(
            "no way to reach the stored accounts' phones",
            "pass --endpoint 'PJSIP/{number}@carrier', or --personas for the sandbox",
        )
    if args.answer == "hangup" and args.personas is None:
        # Hanging up on a person who answered is an abandoned call: only simulated debtors get it.
        raise InputError(
            "--answer hangup is for the sandbox personas only", "add --personas, or drop --answer"
        )
    if args.copies != 1 and args.personas is None:
        raise InputError("--copies needs --personas", "add --personas")
    agent_options = _agent_options(args)
    options = CampaignOptions(
        campaign_id=args.campaign,
        concurrency=_concurrency(args),
        calls_per_second=args.cps,
        ring_timeout_s=args.ring_timeout,
        use_schedule=not args.ignore_schedule,
    )
    from dialer.policy.config import load_preset, load_rules
    from dialer.strategy.config import load_strategy

    # Configuration is checked before anything connects or dials.
    strategy = load_strategy(args.strategy)
    rules_name = args.rules or ("sandbox" if args.personas is not None else "default")
    is_file = rules_name.endswith((".yaml", ".yml")) or Path(rules_name).is_file()
    rules = load_rules(rules_name) if is_file else load_preset(rules_name)
    summary_lines, failed = asyncio.run(_campaign(args, options, strategy, rules, agent_options))
    for line in summary_lines:
        print(line)
    return 1 if failed else 0


async def _campaign(
    args: argparse.Namespace,
    options: CampaignOptions,
    strategy: Strategy,
    rules: Rules,
    agent_options: AgentCampaignOptions | None = None,
) -> tuple[list[str], bool]:

    from dialer.campaign.feed import CampaignFeed
    from dialer.campaign.session import run_session
    from dialer.campaign.targets import endpoint_map, endpoint_template
    from dialer.guards.guard import DEFAULT_PREFIX, Guard
    from dialer.guards.ledger import Ledger
    from dialer.store.db import open_engine
    from duncall.personas import load_personas
    from duncall.personas.campaign import import_persona_accounts, persona_accounts
    from foundation import paths, settings
    from telephony.ari import AriClient
    from telephony.live.events import LivePublisher, live_prefix

    client = settings.redis_client()
    prefix = args.guard_prefix or DEFAULT_PREFIX
    engine = open_engine(args.db)
    guard = Guard(client, Ledger.on(engine), rules, prefix=prefix)
    personas_by_account: dict[str, Persona] = {}
    account_ids: list[str] | None = None
    if args.personas is not None:
        personas = load_personas(paths.personas_dir())
        if args.personas:
            unknown = sorted(set(args.personas) - {p.name for p in personas})
            if unknown:
                raise InputError(
                    f"unknown persona(s): {', '.join(unknown)}",
                    f"choose from {', '.join(p.name for p in personas)}",
                )
            personas = [p for p in personas if p.name in args.personas]
        accounts = persona_accounts(personas, args.copies)
        summary = await asyncio.to_thread(import_persona_accounts, engine, accounts)
        if summary.rejected:
            raise ConfigError(
                f"persona accounts rejected by the import: {summary.one_line()}", "check personas/*.yaml"
            )
        personas_by_account = {a.account_id: a.persona for a in accounts}
        account_ids = [a.account_id for a in accounts]
        endpoint_for = endpoint_map({a.account_id: a.endpoint for a in accounts})
    else:
        endpoint_for = endpoint_template(args.endpoint)

    ari = AriClient()
    await ari.connect()  # fail fast, before anything is written, if Asterisk is unreachable
    try:
        if args.script_version:
            # Stored once every other input passed its checks and Asterisk answered: a refused
            # run leaves no pin behind.
            from duncall.scripts_runtime import parse_pin, pin_versions

            pins = dict(parse_pin(v) for v in args.script_version)
            await asyncio.to_thread(
                pin_versions, engine, options.campaign_id, pins, getpass.getuser(), dt.datetime.now(dt.UTC)
            )
        agents = _agents(args, agent_options)
        async with LivePublisher(client, live_prefix()) as publisher:
            feed = CampaignFeed(publisher, options.campaign_id)
            if args.answer == "hangup":
                on_answer: OnAnswer = _hang_up_at_once(ari)
            else:
                on_answer = await _bot(
                    ari, engine, personas_by_account, feed, campaign_id=options.campaign_id
                )

            def progress(r: TargetResult) -> None:
                if r.stopped:
                    return  # counted in the summary
                what = r.attempt.outcome.value if r.attempt else "denied " + ",".join(r.deny_reasons)
                print(f"  {r.target.account_id}: {what}", file=sys.stderr)

            result = await run_session(
                ari,
                engine,
                client,
                guard,
                strategy,
                endpoint_for,
                on_answer,
                options,
                account_ids=account_ids,
                prefix=prefix,
                on_result=progress,
                feed=feed,
                agents=agents,
            )
    finally:
        await ari.close()
    stopped_only = bool(result.results) and result.stopped == len(result.results)
    failed = bool(result.results) and not result.dialled and not result.denials() and not stopped_only
    return result.lines() + (agents.result.lines() if agents else []), failed


def _agent_options(args: argparse.Namespace) -> AgentCampaignOptions | None:
    """Checked before anything connects: the agents, their phones, the pacing's expectations."""
    if args.mode == "agentless":
        if args.agents is not None or args.agent_endpoint is not None:
            raise InputError(
                "--agents / --agent-endpoint need human agents", "add --mode progressive|predictive"
            )
        return None
    from dialer.agents.campaign import AgentCampaignOptions, PacingPrior
    from dialer.agents.connect import ABANDON_MESSAGE
    from dialer.pacing import PacingMode
    from dialer.pacing.sim import Range

    if args.agents is None or args.agents < 1:
        raise InputError(f"--mode {args.mode} without agents", "pass --agents N (1 or more)")
    if args.personas is None and args.agent_endpoint is None:
        raise InputError(
            "no way to reach the agents' phones", "pass --agent-endpoint 'PJSIP/agent{n}', or --personas"
        )
    parts = args.expect.split(",")
    if len(parts) != 3:
        raise InputError(
            f"--expect {args.expect!r} is not RATE,RING,HANDLE", "write it like 0.3,15-25,120-180"
        )
    try:
        rate = float(parts[0])
    except ValueError:
        raise InputError(f"--expect answer rate {parts[0]!r} is not a number", "e.g. 0.3") from None
    ring = Range.parse(parts[1], "--expect ring time")
    handle = Range.parse(parts[2], "--expect handle time", minimum=1.0)
    prior = PacingPrior(answer_rate=rate, ring_s=(ring.low, ring.high), handle_s=(handle.low, handle.high))
    return AgentCampaignOptions(
        mode=PacingMode(args.mode),
        ring_timeout_s=args.ring_timeout,
        abandon_message=args.abandon_message or ABANDON_MESSAGE,
        line_limit=_concurrency(args),
        prior=prior,
    )


def _concurrency(args: argparse.Namespace) -> int:
    if args.concurrency is not None:
        return int(args.concurrency)
    if args.mode == "agentless":
        return DEFAULT_CONCURRENCY
    from dialer.campaign.control import MAX_CONCURRENCY

    return min(MAX_CONCURRENCY, LINES_PER_AGENT * max(1, args.agents or 1))


def _agents(args: argparse.Namespace, options: AgentCampaignOptions | None) -> AgentDialing | None:
    if options is None:
        return None
    import time

    from dialer.agents.campaign import AgentDialing
    from dialer.agents.pool import AgentPool, agents_from_template, sandbox_agents

    if args.agent_endpoint is not None:
        specs = agents_from_template(args.agents, args.agent_endpoint)
    else:
        specs = sandbox_agents(args.agents, args.agent_handle)
    return AgentDialing(AgentPool(specs, now_s=time.monotonic(), wrap_up_s=args.wrap_up), options)


def _hang_up_at_once(ari: AriClient) -> OnAnswer:
    from foundation.contract import ConversationRecord, DialTarget
    from telephony.ari.errors import AriError

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        try:
            await ari.hangup(call.channel_id)
        except AriError:
            pass  # the persona hung up first
        return ConversationRecord(language=target.language, hangup_by="bot")

    return on_answer


async def _bot(
    ari: AriClient,
    engine: Engine,
    personas: dict[str, Persona],
    feed: CampaignFeed | None = None,
    *,
    campaign_id: str | None = None,
) -> OnAnswer:
    """The dialogue engine on every answered call (the demo's wiring, for any stored account).

    Each call runs the campaign's pinned script version, else the published file, read
    when the call is answered and kept to its end (``duncall.scripts_runtime``).
    """
    from dataclasses import replace

    from sqlalchemy.orm import Session

    from bot.answer import converse
    from dialer.call import AnswerKind
    from dialer.store.models import Account
    from duncall.demo import account_view, load_engines
    from duncall.scripts_runtime import CallScripts
    from foundation.contract import AccountView

    engines, classifier, _recognizer = await asyncio.to_thread(load_engines)
    today = dt.date.today()
    versions = CallScripts(engine, campaign_id)

    def view(account_id: str) -> AccountView:
        persona = personas.get(account_id)
        if persona is not None:
            return replace(account_view(persona), account_id=account_id)
        with Session(engine) as s:
            a = s.get(Account, account_id)
            if a is None:
                raise InputError(f"account {account_id} vanished from the store", "re-import it")
            return AccountView(
                account_id=a.account_id,
                first_name=a.first_name,
                last_name=a.last_name,
                language=a.language,
                balance=a.balance,
                currency=a.currency,
                due_date=a.due_date,
                days_past_due=(today - a.due_date).days if a.due_date else (a.days_past_due or 0),
                timezone=a.timezone,
            )

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        # The strategy names scripts per language (early_collection_en); the bot's files are
        # early_collection.en.yaml.
        name = target.script.removesuffix(f"_{target.language}")
        account = await asyncio.to_thread(view, target.account_id)
        run = await asyncio.to_thread(versions.for_call, name, account.language)
        record = await converse(
            ari,
            call.channel_id,
            name,
            account,
            today,
            engines,
            classifier,
            machine=call.kind is AnswerKind.MACHINE,
            on_turn=feed.turn_hook(target) if feed is not None else None,
            loaded=run.script,
        )
        record.script, record.script_version, record.script_sha256 = run.stem, run.version, run.sha256
        return record

    return on_answer
