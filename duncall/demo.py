"""`duncall demo`: a small bot campaign over the personas through the real Asterisk.

The demo is a preset of ``duncall campaign run --personas``: the same session
(lease, recovery, campaign control, every dial through the guards), with each
persona imported through the normal account import and called once with the
script it was written for.  It uses the ``sandbox`` rules preset (the default
rules with the calling window open all day, since the personas' phones are in
the sandbox, not in their time zones) so it runs at any hour — the guards' other
rules apply unchanged — and it keeps its own database file and Redis prefix,
reset at each run, so it can be repeated.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from bot.asr.registry import RoutingRecognizer
from bot.callbot import BotEngines
from bot.nlu.types import IntentClassifier
from dialer.campaign.runner import TargetResult
from dialer.campaign.session import CampaignOptions
from duncall.compose import parts
from duncall.compose.campaign import CampaignRun, PersonaCalls
from duncall.compose.campaign import run as run_campaign
from duncall.personas import Persona
from duncall.personas.campaign import persona_view
from foundation import paths
from foundation.contract import AccountView

DEMO_CAMPAIGN = "demo"
DEMO_PREFIX = "duncall-demo:guard:"  # the demo's own guard counters and lease
DEMO_DB_FILE = "demo.db"
DEMO_CONCURRENCY = 4
ready_languages = parts.ready_languages


def account_view(p: Persona) -> AccountView:
    """A persona's account as a script reads it today (checks and benchmarks without a store)."""
    return persona_view(p, dt.date.today())


def load_engines() -> tuple[BotEngines, IntentClassifier, RoutingRecognizer]:
    bot = parts.bot()
    return bot.engines, bot.classifier, bot.recognizer


def preset(
    names: Sequence[str], db_url: str, guard_prefix: str = DEMO_PREFIX, campaign_id: str = DEMO_CAMPAIGN
) -> CampaignRun:
    """``campaign run --personas NAMES --rules sandbox``, each persona with its own script,
    personas whose language's models are missing left out (and said)."""
    return CampaignRun(
        options=CampaignOptions(campaign_id=campaign_id, concurrency=DEMO_CONCURRENCY),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=guard_prefix,
        personas=PersonaCalls(tuple(names), own_scripts=True, only_ready_languages=True),
    )


def run(
    names: Sequence[str],
    *,
    db_url: str,
    guard_prefix: str = DEMO_PREFIX,
    campaign_id: str = DEMO_CAMPAIGN,
    out: TextIO = sys.stdout,
) -> list[TargetResult]:
    """The demo campaign on ``db_url`` and ``guard_prefix`` as they are; prints its table."""
    spec = preset(names, db_url, guard_prefix, campaign_id)
    started = time.monotonic()
    result = asyncio.run(run_campaign(spec, say=lambda line: print(line, file=out)))
    print(summary_table(result.personas, result.results), file=out)
    print(f"{len(result.results)} calls in {time.monotonic() - started:.1f} s", file=out)
    return result.results


def main(names: Sequence[str], out: TextIO = sys.stdout) -> list[TargetResult]:
    """`duncall demo`: the demo campaign afresh (its database file and guard counters reset)."""
    client = parts.redis_client()
    db_path = paths.home() / DEMO_DB_FILE
    db_path.unlink(missing_ok=True)
    for key in client.scan_iter(match=DEMO_PREFIX + "*", count=1000):
        client.delete(key)
    print(
        f"store: {db_path}; guard rules: sandbox preset (default rules, calling window open all day)",
        file=out,
    )
    return run(names, db_url=f"sqlite:///{db_path}", out=out)


def summary_table(personas: Mapping[str, Persona], results: Sequence[TargetResult]) -> str:
    """One row per call: outcome, AMD verdict, disposition, flags, turns, median latency, what was heard."""
    rows = [("persona", "outcome", "amd", "disposition", "flags", "turns", "p50 ms", "debtor said (ASR)")]
    for r in results:
        p = personas[r.target.account_id]
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
