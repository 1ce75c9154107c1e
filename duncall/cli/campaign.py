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
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.errors import InputError

if TYPE_CHECKING:
    from dialer.campaign.runner import TargetResult
    from duncall.compose.campaign import AgentStaff

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
        default=None,
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
        "--desk",
        action="store_true",
        help="collectors at their desk pages take the answered calls (each with a desk phone: "
        "duncall collectors phone ID); instead of --agents",
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
        "--recording-notice",
        default=None,
        help="played to a person put through to an agent; the call is recorded after it (ARI media URI; "
        "default sound:duncall/recording-notice; 'none': no notice, so the call is not recorded)",
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
    from dialer.guards.guard import DEFAULT_PREFIX
    from duncall.compose import parts
    from duncall.compose.campaign import CampaignRun, PersonaCalls, run
    from duncall.scripts_runtime import parse_pin

    for value in args.script_version:
        parse_pin(value)  # a typo is said before anything connects

    if args.personas is None and args.endpoint is None:
        raise InputError(
            "no way to reach the stored accounts' phones",
            "pass --endpoint 'PJSIP/{number}@carrier', or --personas for the sandbox",
        )
    if args.personas is not None and args.endpoint is not None:
        # The personas ring the sandbox's own extensions; an endpoint would be silently ignored.
        raise InputError(
            "--personas and --endpoint do not go together: personas are dialled in the sandbox",
            "drop --endpoint for a sandbox run, or drop --personas to dial the stored accounts",
        )
    if args.endpoint is not None:
        from dialer.campaign.targets import parse_endpoint_template

        parse_endpoint_template(args.endpoint)  # its shape, before anything connects
    if args.answer == "hangup" and args.personas is None:
        # Hanging up on a person who answered is an abandoned call: only simulated debtors get it.
        raise InputError(
            "--answer hangup is for the sandbox personas only", "add --personas, or drop --answer"
        )
    if args.copies != 1 and args.personas is None:
        raise InputError("--copies needs --personas", "add --personas")
    agents = _agents(args)
    options = CampaignOptions(
        campaign_id=args.campaign,
        concurrency=_concurrency(args),
        calls_per_second=args.cps,
        ring_timeout_s=args.ring_timeout,
        use_schedule=not args.ignore_schedule,
    )
    # Configuration is checked before anything connects or dials.
    spec = CampaignRun(
        options=options,
        strategy=parts.strategy(args.strategy),
        rules=parts.guard_rules(args.rules or ("sandbox" if args.personas is not None else "default")),
        db_url=args.db,
        guard_prefix=args.guard_prefix or DEFAULT_PREFIX,
        personas=PersonaCalls(tuple(args.personas), args.copies) if args.personas is not None else None,
        endpoint=args.endpoint,
        answer=args.answer,
        script_pins=tuple(args.script_version),
        agents=agents,
    )
    result = asyncio.run(run(spec, on_result=_progress))
    for line in result.lines():
        print(line)
    return 1 if result.failed else 0


def _progress(r: TargetResult) -> None:
    if r.stopped:
        return  # counted in the summary
    what = r.attempt.outcome.value if r.attempt else "denied " + ",".join(r.deny_reasons)
    print(f"  {r.target.account_id}: {what}", file=sys.stderr)


def _agents(args: argparse.Namespace) -> AgentStaff | None:
    """Checked before anything connects: the agents, their phones, the pacing's expectations."""
    if args.mode == "agentless":
        if args.agents is not None or args.agent_endpoint is not None or args.desk:
            raise InputError(
                "--agents / --agent-endpoint / --desk need human agents", "add --mode progressive|predictive"
            )
        return None
    from dialer.agents.campaign import AgentCampaignOptions, PacingPrior
    from dialer.agents.connect import ABANDON_MESSAGE
    from dialer.agents.recording import RECORDING_NOTICE
    from dialer.pacing import PacingMode
    from dialer.pacing.sim import Range
    from duncall.compose.campaign import AgentStaff

    if args.desk and (args.agents is not None or args.agent_endpoint is not None):
        raise InputError(
            "--desk with --agents / --agent-endpoint", "the desks are the agents: pass one or the other"
        )
    if not args.desk and (args.agents is None or args.agents < 1):
        raise InputError(f"--mode {args.mode} without agents", "pass --agents N (1 or more), or --desk")
    if not args.desk and args.personas is None and args.agent_endpoint is None:
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
    options = AgentCampaignOptions(
        mode=PacingMode(args.mode),
        ring_timeout_s=args.ring_timeout,
        abandon_message=args.abandon_message or ABANDON_MESSAGE,
        recording_notice=None
        if args.recording_notice == "none"
        else (args.recording_notice or RECORDING_NOTICE),
        line_limit=_concurrency(args),
        prior=prior,
    )
    return AgentStaff(
        options, args.agents or 0, args.agent_endpoint, args.agent_handle, args.wrap_up, desk=args.desk
    )


def _concurrency(args: argparse.Namespace) -> int:
    if args.concurrency is not None:
        return int(args.concurrency)
    if args.mode == "agentless":
        return DEFAULT_CONCURRENCY
    from dialer.campaign.control import MAX_CONCURRENCY

    return min(MAX_CONCURRENCY, LINES_PER_AGENT * max(1, args.agents or 1))
