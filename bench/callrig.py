"""Bot calls through the real sandbox Asterisk, for the speed benchmarks (bench/calls.py, bench/concurrency.py).

The demo's campaign path (guards, originate, AMD, chan_websocket media, PocketSphinx
with the state's grammar, the intent classifier, the early-collection script), with
what a benchmark needs besides: persona copies (many calls to the same simulated
debtor, each its own account and number), its own ARI app name and guard prefix (so it
never disturbs other users of the sandbox), a prompt cache directory of its choice
(cold: a fresh one), and the CPU used by Asterisk and by this process while it ran.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from bot.answer import converse
from bot.asr.registry import configured_recognizer
from bot.asr.sphinx import SphinxRecognizer
from bot.callbot import BotEngines, prepare_process_for_calls
from bot.dialogue.loader import find_script, load_script
from bot.grammars import phrases
from bot.nlu import load_classifier
from bot.tts.cache import PromptCache
from bot.tts.espeak import DEFAULT_RATE_WPM, EspeakSynthesizer
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.facts import store_facts
from dialer.campaign.pacing import CpsPacer
from dialer.campaign.runner import TargetResult, run_campaign
from dialer.guards.capacity import CapacityLimiter, CapacityLimits
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from duncall import demo
from duncall.personas import Persona, load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths, settings
from foundation.contract import ConversationRecord, DialTarget, Turn
from telephony.ari import AriClient

SCRIPT = "early_collection"
STAGES = ("endpoint", "asr", "nlu", "tts", "send")
TICK = os.sysconf("SC_CLK_TCK")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def script_grammars(lang: str) -> tuple[tuple[str, ...], ...]:
    """The phrase lists the conversation decodes the script's states with (state grammar + open)."""
    script = load_script(find_script(SCRIPT, lang))
    names = sorted({s.grammar for s in script.states.values() if s.grammar})
    return tuple(tuple(dict.fromkeys(phrases(lang, n) + phrases(lang, "open"))) for n in names)


def personas_named(names: Sequence[str]) -> list[Persona]:
    every = {p.name: p for p in load_personas(paths.personas_dir())}
    unknown = sorted(set(names) - set(every))
    if unknown:
        raise SystemExit(f"unknown persona(s): {', '.join(unknown)}; choose from {', '.join(sorted(every))}")
    return [every[n] for n in names]


def asterisk_pid() -> int | None:
    from duncall.sandbox.runtime import _pid, sandbox

    return _pid(sandbox())


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def bot_cpu_seconds() -> float:
    """This process and its live children (the PocketSphinx workers, ``bot.asr.workers``)."""
    return cpu_seconds("self") + sum(cpu_seconds(c.pid) for c in multiprocessing.active_children() if c.pid)


@dataclass
class Run:
    results: list[TargetResult]
    wall_s: float
    prompts: PromptCache
    asterisk_cpu_s: float | None
    bot_cpu_s: float  # the bot's process and its ASR worker processes
    load_avg: tuple[float, float, float]
    peak_calls: int
    conversations: list[ConversationRecord] = field(default_factory=list)

    def bot_turns(self) -> list[Turn]:
        return [
            t for c in self.conversations for t in c.turns if t.speaker == "bot" and t.latency_ms is not None
        ]

    def latencies(self) -> list[float]:
        return [t.latency_ms for t in self.bot_turns() if t.latency_ms is not None]

    def barge_ins(self) -> list[float]:
        return [b for c in self.conversations for b in c.barge_ins]

    def slow_turns(self, over_ms: float = 1000) -> list[str]:
        """Replies slower than ``over_ms``: which persona, which prompt, where the time went."""
        out = []
        for r in self.results:
            conv = r.attempt.conversation if r.attempt else None
            for t in conv.turns if conv else []:
                if t.speaker == "bot" and t.latency_ms is not None and t.latency_ms > over_ms:
                    out.append(
                        f"{r.target.account_id} {t.latency_ms:.0f} ms {t.stages_ms} after {t.text[:40]!r}"
                    )
        return out

    def stage_line(self) -> str:
        turns = self.bot_turns()
        parts = []
        for stage in STAGES:
            vals = [t.stages_ms[stage] for t in turns if stage in t.stages_ms]
            if vals:
                parts.append(f"{stage} {statistics.median(vals):.0f}/{pct(vals, 0.95):.0f}")
        return "stages p50/p95 ms: " + ", ".join(parts)


def run_calls(
    groups: Sequence[tuple[Persona, int]],
    concurrency: int,
    *,
    cold_cache: bool,
    decoders: int = 0,
    cps: int = 0,
) -> Run:
    """Call each persona of ``groups`` that many times (copies), ``concurrency`` calls at a time.

    ``decoders``: PocketSphinx decoders to make before the first dial (a bot sized for
    that many callers speaking at once); otherwise they are made as callers speak.
    ``cps``: originates per second through the campaign's own pacer (0: all at once).
    """
    return asyncio.run(_run(groups, concurrency, cold_cache, decoders, cps))


async def _run(
    groups: Sequence[tuple[Persona, int]], concurrency: int, cold_cache: bool, decoders: int, cps: int
) -> Run:
    tag = uuid.uuid4().hex[:8]
    db = Path(tempfile.gettempdir()) / f"duncall-bench-{tag}.db"
    cache_dir = (
        Path(tempfile.mkdtemp(prefix="duncall-bench-tts-")) if cold_cache else paths.home() / "tts-cache"
    )
    engine = open_engine(f"sqlite:///{db}")
    accounts = [a for p, copies in groups for a in persona_accounts([p], copies)]
    personas = [p for p, _ in groups]
    import_persona_accounts(engine, accounts)
    client = redis.Redis.from_url(settings.redis_url())
    prefix = f"duncall-bench:{tag}:"
    gate = GuardGate(
        Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=prefix), store_facts(engine)
    )
    pacer = None
    if cps > 0:
        limiter = CapacityLimiter(
            client, CapacityLimits(max_concurrent=0, calls_per_second=cps), prefix=prefix
        )
        pacer = CpsPacer(limiter, f"bench-{tag}")
    prompts = PromptCache(EspeakSynthesizer(), cache_dir, DEFAULT_RATE_WPM)
    recognizer = configured_recognizer()
    prepare_process_for_calls()
    engines = BotEngines(recognizer, prompts, phrases)
    classifier = load_classifier()
    demo.ready_languages({p.language for p in personas}, recognizer, classifier)
    sphinx = recognizer.engine_for("en")
    if decoders and isinstance(sphinx, SphinxRecognizer):
        sphinx.warm(decoders, script_grammars("en"))
    by_account = {a.account_id: a.persona for a in accounts}
    today = dt.date.today()
    live = 0
    peak = 0

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        try:
            return await converse(
                ari,
                call.channel_id,
                target.script,
                demo.account_view(by_account[target.account_id]),
                today,
                engines,
                classifier,
                machine=call.kind is AnswerKind.MACHINE,
            )
        finally:
            live -= 1

    targets = [DialTarget(a.account_id, a.number, a.endpoint, a.persona.language, SCRIPT) for a in accounts]
    ari = AriClient(replace(settings.ari_settings(), app=f"bench-calls-{tag}"))
    await ari.connect()
    pid = asterisk_pid()
    ast0 = cpu_seconds(pid) if pid else 0.0
    bot0 = bot_cpu_seconds()
    started = time.monotonic()
    try:
        results = await run_campaign(
            ari, engine, targets, on_answer, gate, concurrency=concurrency, pacer=pacer
        )
    finally:
        await ari.close()
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        db.unlink(missing_ok=True)
    wall = time.monotonic() - started
    load = os.getloadavg()
    run = Run(
        results=results,
        wall_s=wall,
        prompts=prompts,
        asterisk_cpu_s=(cpu_seconds(pid) - ast0) if pid else None,
        bot_cpu_s=bot_cpu_seconds() - bot0,
        load_avg=load,
        peak_calls=peak,
    )
    run.conversations = [r.attempt.conversation for r in results if r.attempt and r.attempt.conversation]
    return run
