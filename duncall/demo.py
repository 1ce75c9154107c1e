"""`duncall demo`: a small bot campaign over the personas through the real Asterisk.

Each persona is a debtor account (imported through the normal account import)
with a phone that rings a simulated party in the sandbox.  Every dial passes
the compliance guards first; the sandbox campaign uses the ``sandbox`` rules
preset (the default rules with the calling window open all day, since the
personas' phones are in the sandbox, not in their time zones) so the demo runs
at any hour — the guards' other rules apply unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TextIO

from sqlalchemy import Engine

from bot.answer import converse
from bot.asr.registry import RoutingRecognizer, configured_recognizer
from bot.callbot import BotEngines, prepare_process_for_calls
from bot.grammars import phrases
from bot.nlu.types import IntentClassifier
from bot.tts.cache import PromptCache
from bot.tts.espeak import DEFAULT_RATE_WPM, EspeakSynthesizer
from dialer.call import AnsweredCall, AnswerKind
from dialer.campaign.runner import DialGate, TargetResult, run_campaign
from dialer.store.db import open_engine
from duncall.personas import Persona, load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.personas.render import CONTEXT
from foundation import paths
from foundation.contract import AccountView, ConversationRecord, DialTarget
from foundation.errors import ConfigError
from telephony.ari import AriClient
from telephony.live.registry import LiveCallRegistry

# Languages with an offline recognizer that is not the default (too inaccurate for one; README).
OFFLINE_HINT = {
    "zh": "to try them without a model: DUNCALL_ASR=en=pocketsphinx,zh=pocketsphinx-pinyin "
    "(grammar-only, offline; mishears many answers on phone audio)",
}
DEMO_CONCURRENCY = 4
# The last run's prompt cache, for the benchmarks' hit rate.
LAST_PROMPT_CACHE: PromptCache | None = None


def account_view(p: Persona) -> AccountView:
    a = p.account
    return AccountView(
        account_id=a.account_id,
        first_name=a.first_name,
        last_name=a.last_name,
        language=p.language,
        balance=Decimal(a.balance),
        currency=a.currency,
        due_date=a.due_date(dt.date.today()),
        days_past_due=a.days_past_due,
        timezone=a.timezone,
    )


def load_engines() -> tuple[BotEngines, IntentClassifier, RoutingRecognizer]:
    from bot.nlu import load_classifier  # heavy (transformers): only when a call is placed

    prepare_process_for_calls()
    prompts = PromptCache(EspeakSynthesizer(), paths.home() / "tts-cache", DEFAULT_RATE_WPM)
    recognizer = configured_recognizer()
    # Bridged calls are listed for supervisors (duncall.supervision) in the configured Redis.
    engines = BotEngines(recognizer, prompts, phrases, live=LiveCallRegistry.from_env())
    return engines, load_classifier(), recognizer


def ready_languages(
    langs: set[str], recognizer: RoutingRecognizer, classifier: IntentClassifier
) -> dict[str, str | None]:
    """Each language → None when its models load, else why not (e.g. no ASR model installed).

    Everything is loaded before the first dial: a missing model is said now, not as
    a dead call later, and the first debtor does not wait for a model to load.
    """
    ready: dict[str, str | None] = {}
    for lang in sorted(langs):
        try:
            recognizer.warm(lang)
            classifier.understand("hello", lang, dt.date.today())
            ready[lang] = None
        except ConfigError as exc:
            ready[lang] = exc.one_line()
    return ready


async def run_demo(
    personas: Sequence[Persona],
    gate_factory: Callable[[Engine], DialGate],
    db_url: str | None,
    out: TextIO,
) -> list[TargetResult]:
    ari = AriClient()
    await ari.connect()  # fail fast, before any state is written, if Asterisk is unreachable
    try:
        return await _run(ari, personas, gate_factory, db_url, out)
    finally:
        await ari.close()


async def _run(
    ari: AriClient,
    personas: Sequence[Persona],
    gate_factory: Callable[[Engine], DialGate],
    db_url: str | None,
    out: TextIO,
) -> list[TargetResult]:
    engine = open_engine(db_url)
    summary = import_persona_accounts(engine, persona_accounts(personas))
    print(f"accounts: {summary.one_line().split(': ', 1)[1]}", file=out)
    global LAST_PROMPT_CACHE
    engines, classifier, recognizer = load_engines()
    LAST_PROMPT_CACHE = engines.prompts
    ready = ready_languages({p.language for p in personas}, recognizer, classifier)
    for lang, why in ready.items():
        if why is not None:
            print(f"not calling the {lang} personas: {why}", file=out)
            if lang in OFFLINE_HINT:
                print(f"  ({OFFLINE_HINT[lang]})", file=out)
    if all(why is not None for why in ready.values()):
        raise ConfigError("no language has its speech models installed", "see the lines above")
    personas = [p for p in personas if ready[p.language] is None]
    by_id = {p.account.account_id: p for p in personas}
    today = dt.date.today()

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        p = by_id[target.account_id]
        return await converse(
            ari,
            call.channel_id,
            target.script,
            account_view(p),
            today,
            engines,
            classifier,
            machine=call.kind is AnswerKind.MACHINE,
        )

    targets = [
        DialTarget(p.account.account_id, p.account.phone, f"Local/{p.name}@{CONTEXT}", p.language, p.script)
        for p in personas
    ]
    return await run_campaign(
        ari, engine, targets, on_answer, gate_factory(engine), campaign_id=None, concurrency=DEMO_CONCURRENCY
    )


def summary_table(personas: Sequence[Persona], results: Sequence[TargetResult]) -> str:
    by_id = {p.account.account_id: p for p in personas}
    rows = [("persona", "outcome", "amd", "disposition", "flags", "turns", "p50 ms", "debtor said (ASR)")]
    for r in results:
        p = by_id[r.target.account_id]
        if not r.allowed:
            rows.append((p.name, "denied", "", ",".join(r.deny_reasons), "", "", "", ""))
            continue
        a = r.attempt
        assert a is not None
        conv = a.conversation
        said = " | ".join(t.text or f"#{t.dtmf}" for t in conv.turns if t.speaker == "debtor") if conv else ""
        lat = [t.latency_ms for t in conv.turns if t.latency_ms is not None] if conv else []
        rows.append(
            (
                p.name,
                a.outcome.value,
                a.amd_status or "",
                conv.disposition if conv else "",
                ",".join(conv.flags) if conv else "",
                str(len(conv.turns)) if conv else "0",
                f"{statistics.median(lat):.0f}" if lat else "",
                said[:70],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(
    names: Sequence[str],
    gate_factory: Callable[[Engine], DialGate],
    db_url: str | None,
    out: TextIO = sys.stdout,
) -> list[TargetResult]:
    personas = load_personas(paths.personas_dir())
    if names:
        unknown = sorted(set(names) - {p.name for p in personas})
        if unknown:
            from foundation.errors import InputError

            raise InputError(
                f"unknown persona(s): {', '.join(unknown)}",
                f"choose from {', '.join(p.name for p in personas)}",
            )
        personas = [p for p in personas if p.name in names]
    started = time.monotonic()
    results = asyncio.run(run_demo(personas, gate_factory, db_url, out))
    print(summary_table(personas, results), file=out)
    print(f"{len(results)} calls in {time.monotonic() - started:.1f} s", file=out)
    return results
