"""A campaign run put together: the store, Redis, the guard, Asterisk, what answers, the session.

``CampaignRun`` says what to run (``duncall campaign run`` fills it from its flags,
``duncall demo`` is one preset of it); ``run`` makes the parts, imports the sandbox
personas when asked, and runs ``dialer.campaign.session.run_session`` — the lease,
the recovery of a dead run, the strategy's plan (or each persona's own script),
campaign control, every dial through the guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import getpass
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot.media import answer_ear
from dialer import listening
from dialer.campaign.endpoints import check_endpoint
from dialer.campaign.feed import CampaignFeed
from dialer.campaign.runner import OnAnswer, TargetResult
from dialer.campaign.session import CampaignOptions, Summary, run_session
from dialer.campaign.targets import EndpointFor, endpoint_map, endpoint_template, parse_endpoint_template
from dialer.guards.guard import DEFAULT_PREFIX
from duncall.compose import parts
from duncall.compose.answer import bot_answer, hang_up_at_once
from duncall.personas import Persona, load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths
from foundation.errors import ConfigError, InputError
from foundation.settings import get_settings
from telephony.live.events import LivePublisher, live_prefix

if TYPE_CHECKING:
    from bot.asr.registry import RoutingRecognizer
    from dialer.agents.campaign import AgentCampaignOptions, AgentDialing
    from dialer.policy import Rules
    from dialer.strategy.model import Strategy

# Languages with an offline recognizer that is not the default (too inaccurate for one; README).
OFFLINE_HINT = {
    "zh": "to try them without a model: DUNCALL_ASR=en=pocketsphinx,zh=pocketsphinx-pinyin "
    "(grammar-only, offline; mishears many answers on phone audio)",
}


@dataclass(frozen=True, slots=True)
class PersonaCalls:
    """Call sandbox personas (imported into the store) instead of the stored accounts."""

    names: tuple[str, ...] = ()  # empty: every persona in personas/
    copies: int = 1  # accounts per persona, each with its own number
    # Each persona once with the script it was written for, whatever the strategy says (the demo).
    own_scripts: bool = False
    # Personas whose language's models do not load are left out, said up front (the demo).
    only_ready_languages: bool = False


@dataclass(frozen=True, slots=True)
class AgentStaff:
    """Human agents take the answered calls, paced progressively or predictively."""

    options: AgentCampaignOptions
    count: int
    endpoint: str | None  # agent N's phone template; None: sandbox stand-ins
    handle_s: float  # sandbox: seconds each stand-in talks
    wrap_up_s: float
    desk: bool = False  # collectors at their desk pages take the calls (every one with a desk phone)

    def dialing(self) -> AgentDialing:
        from dialer.agents.campaign import AgentDialing
        from dialer.agents.pool import AgentPool, agents_from_template, sandbox_agents

        if self.desk:
            from dialer.agents.desk import DeskBoard, DeskPool
            from duncall.sandbox.phones import load_phones
            from foundation import services
            from telephony.live.events import live_prefix

            # The console's desk pages move the same Redis states (the live board's prefix).
            board = DeskBoard(services.redis_client(), live_prefix())
            endpoints = {collector: phone.endpoint for collector, phone in load_phones().items()}
            return AgentDialing(DeskPool(board, endpoints), self.options)
        if self.endpoint is not None:
            specs = agents_from_template(self.count, self.endpoint)
        else:
            specs = sandbox_agents(self.count, self.handle_s)
        return AgentDialing(AgentPool(specs, now_s=time.monotonic(), wrap_up_s=self.wrap_up_s), self.options)


@dataclass(frozen=True, slots=True)
class CampaignRun:
    options: CampaignOptions
    strategy: Strategy
    rules: Rules
    db_url: str | None = None  # None: the configured database
    guard_prefix: str = DEFAULT_PREFIX
    personas: PersonaCalls | None = None
    endpoint: str | None = None  # what Asterisk dials for a stored account, e.g. PJSIP/{number}@carrier
    answer: Literal["bot", "hangup"] = "bot"
    script_pins: tuple[str, ...] = ()  # NAME.LANG=N
    agents: AgentStaff | None = None
    # What the run and its guard take for "now"; None: the wall clock.  Not a CLI option: only
    # tests move it (a later run, past the frequency caps), never an operator.
    clock: Callable[[], dt.datetime] | None = None


@dataclass
class RunResult:
    summary: Summary
    personas: dict[str, Persona] = field(default_factory=dict)  # account id → persona
    agent_lines: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[TargetResult]:
        return self.summary.results

    def lines(self) -> list[str]:
        return self.summary.lines() + self.agent_lines

    @property
    def failed(self) -> bool:
        """Nothing was dialled, and not because the guard or a supervisor said so."""
        s = self.summary
        stopped_only = bool(s.results) and s.stopped == len(s.results)
        return bool(s.results) and not s.dialled and not s.denials() and not stopped_only


def select_personas(names: tuple[str, ...]) -> list[Persona]:
    personas = load_personas(paths.personas_dir())
    if not names:
        return personas
    unknown = sorted(set(names) - {p.name for p in personas})
    if unknown:
        raise InputError(
            f"unknown persona(s): {', '.join(unknown)}",
            f"choose from {', '.join(p.name for p in personas)}",
        )
    return [p for p in personas if p.name in names]


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _quiet(_line: str) -> None:
    pass


async def run(
    spec: CampaignRun,
    *,
    say: Callable[[str], None] = _quiet,
    on_result: Callable[[TargetResult], None] | None = None,
) -> RunResult:
    """One run of ``spec``; ``say`` hears what is worth telling before the first dial."""
    if spec.personas is not None and spec.endpoint is not None:
        raise InputError(
            "--personas and --endpoint do not go together: personas are dialled in the sandbox",
            "drop --endpoint for a sandbox run, or drop --personas to dial the stored accounts",
        )
    personas = select_personas(spec.personas.names) if spec.personas is not None else []
    client = parts.redis_client()
    engine = parts.store(spec.db_url)
    guard = parts.guard(client, engine, spec.rules, spec.guard_prefix)
    if spec.clock is not None:
        guard.clock = spec.clock
    # Several Asterisk nodes (DUNCALL_ASTERISK_NODES): each call goes to one with a free channel.
    nodes = parts.node_pool(client, spec.guard_prefix)
    if nodes is not None:
        await nodes.start()  # fails fast when no node answers; one that does not starts down
        ari = nodes.primary
    else:
        ari = parts.ari_client()
        await ari.connect()  # fail fast, before anything is written, if Asterisk is unreachable
    try:
        if spec.endpoint is not None:
            # Before the first reservation: a technology or trunk Asterisk lacks costs no attempt.
            await check_endpoint(ari, parse_endpoint_template(spec.endpoint))
        by_account: dict[str, Persona] = {}
        account_ids: list[str] | None = None
        scripts: dict[str, str] | None = None
        if spec.personas is not None:
            accounts = persona_accounts(personas, spec.personas.copies)
            summary = await asyncio.to_thread(import_persona_accounts, engine, accounts)
            if summary.rejected:
                raise ConfigError(
                    f"persona accounts rejected by the import: {summary.one_line()}", "check personas/*.yaml"
                )
            say(f"accounts: {summary.one_line().split(': ', 1)[1]}")
            by_account = {a.account_id: a.persona for a in accounts}
            endpoint_for: EndpointFor = endpoint_map({a.account_id: a.endpoint for a in accounts})
        elif spec.endpoint is not None:
            endpoint_for = endpoint_template(spec.endpoint)
        else:
            raise InputError(
                "no way to reach the stored accounts' phones",
                "pass --endpoint 'PJSIP/{number}@carrier', or --personas for the sandbox",
            )
        # DUNCALL_BOT=remote: the bot workers (``duncall bot serve``) talk; this process loads no model.
        remote = spec.answer == "bot" and get_settings().bot == "remote"
        bot = await asyncio.to_thread(parts.bot) if spec.answer == "bot" and not remote else None
        if spec.personas is not None:
            calling = by_account
            if bot is not None and spec.personas.only_ready_languages:
                calling = _ready(by_account, bot, say)
            elif bot is not None:
                await asyncio.to_thread(
                    _warm, bot, {p.language for p in calling.values()}, _persona_recognizer(bot)
                )
            account_ids = list(calling)
            if spec.personas.own_scripts:
                scripts = {account_id: p.script for account_id, p in calling.items()}
        if bot is not None and spec.personas is None:
            await asyncio.to_thread(_warm, bot, None)
        if spec.script_pins:
            # Stored once every other input passed its checks and Asterisk answered: a refused
            # run leaves no pin behind.
            from duncall.scripts_runtime import parse_pin, pin_versions

            pins = dict(parse_pin(v) for v in spec.script_pins)
            await asyncio.to_thread(
                pin_versions,
                engine,
                spec.options.campaign_id,
                pins,
                getpass.getuser(),
                dt.datetime.now(dt.UTC),
            )
        if spec.answer == "bot" and spec.rules.recording_notice:
            # Before the first reservation, on the versions this run will use (pins included): a
            # script that would record without telling is refused.
            from duncall.scripts_runtime import check_recording_notices

            stems = [
                (script.removesuffix(f"_{lang}"), lang)
                for stage in spec.strategy.stages
                for lang, script in stage.scripts.items()
            ] + [(s.removesuffix(f"_{lang}"), lang) for lang, s in spec.strategy.hardship_scripts.items()]
            stems += [(by_account[a].script, by_account[a].language) for a in (scripts or {})]
            await asyncio.to_thread(check_recording_notices, engine, spec.options.campaign_id, stems)
        agents = spec.agents.dialing() if spec.agents is not None else None
        if agents is not None:
            from duncall.agent_transcripts import AgentTranscriber

            # Each recorded call's two sides transcribed for QA once its attempt is stored.
            agents.after_call = AgentTranscriber(ari, engine, bot.recognizer if bot is not None else None)
        async with contextlib.AsyncExitStack() as stack, LivePublisher(client, live_prefix()) as publisher:
            feed = CampaignFeed(publisher, spec.options.campaign_id)
            if remote:
                from duncall.botservice.jobs import BotJobs
                from duncall.botservice.remote import remote_answer

                jobs = BotJobs(parts.async_redis(), live_prefix())
                stack.push_async_callback(jobs.client.aclose)
                on_answer: OnAnswer = remote_answer(ari, jobs, campaign_id=spec.options.campaign_id)
                listening.EAR.set(answer_ear.listen)
            elif bot is None:
                on_answer = hang_up_at_once(ari)
            else:
                on_answer = bot_answer(ari, engine, bot, feed, campaign_id=spec.options.campaign_id)
                # The bot hears each answer while AMD runs: a MACHINE that is only a noisy line
                # is taken for the person it is (``dialer.amd``).
                listening.EAR.set(answer_ear.listen)
            summary_ = await run_session(
                ari,
                engine,
                client,
                guard,
                spec.strategy,
                endpoint_for,
                on_answer,
                spec.options,
                account_ids=account_ids,
                prefix=spec.guard_prefix,
                on_result=on_result,
                feed=feed,
                agents=agents,
                scripts=scripts,
                clock=spec.clock or _wall_clock,
                nodes=nodes,
            )
    finally:
        await (nodes.close() if nodes is not None else ari.close())
    return RunResult(summary_, by_account, agents.result.lines() if agents else [])


def _warm(bot: parts.Bot, langs: set[str] | None, recognizer: RoutingRecognizer | None = None) -> None:
    """What the demo does before its first dial, for every bot run: each language's decoders
    made with every state grammar compiled and run once, and the intent model loaded — the
    first debtor's first answer otherwise pays for it (1.4-1.6 s instead of ~0.6 s).  A
    language whose models are missing is skipped here; its calls say why when they come.
    ``recognizer``: the band's router the calls will use (default: the configured band)."""
    from bot.nlu.data import LANGS

    parts.ready_languages(
        set(LANGS) if langs is None else langs,
        recognizer or bot.recognizer,
        bot.classifier,
        bot.engines.prompts.synth,
    )


def _persona_recognizer(bot: parts.Bot) -> RoutingRecognizer:
    """The recognizer the personas' calls get: their Local channels' format decides their band
    (``DUNCALL_LOCAL_CHANNEL_FORMAT``; ulaw: telephone), so that band's decoders are the ones
    made before the first dial."""
    from bot.asr.telephone import call_band

    return bot.recognizer.for_band(call_band(get_settings().local_channel_format))


def _ready(by_account: dict[str, Persona], bot: parts.Bot, say: Callable[[str], None]) -> dict[str, Persona]:
    """The personas whose language's models load; the others are said, not called."""
    ready = parts.ready_languages(
        {p.language for p in by_account.values()},
        _persona_recognizer(bot),
        bot.classifier,
        bot.engines.prompts.synth,
    )
    for lang, why in ready.items():
        if why is not None:
            say(f"not calling the {lang} personas: {why}")
            if lang in OFFLINE_HINT:
                say(f"  ({OFFLINE_HINT[lang]})")
    if all(why is not None for why in ready.values()):
        raise ConfigError("no language has its speech models installed", "see the lines above")
    return {a: p for a, p in by_account.items() if ready[p.language] is None}
