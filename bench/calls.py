"""Turn latency, barge-in and prompt-cache numbers measured through the real Asterisk.

Runs the personas (the demo's campaign: real AMD, chan_websocket media, PocketSphinx with
the state's grammar, the intent classifier, the early-collection script) ROUNDS times and
reports, the way Pipecat measures it, the time from the end of the debtor's speech to the
bot's first audio sent to Asterisk — which includes the endpointer's trailing silence
(ENDPOINT_SILENCE_MS).  Needs the sandbox up (`make setup`).

    .venv/bin/python bench/calls.py [--rounds 2] [--concurrency 4] [PERSONA ...]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.media.endpointer import ENDPOINT_SILENCE_MS
from dialer.campaign.facts import store_facts
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy.config import load_preset
from duncall import demo, paths, settings
from duncall.personas import load_personas


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("personas", nargs="*")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    names = args.personas or [p.name for p in load_personas(paths.personas_dir()) if p.language == "en"]
    demo.DEMO_CONCURRENCY = args.concurrency
    client = redis.Redis.from_url(settings.redis_url())
    latencies: list[float] = []
    barge: list[float] = []
    hits = misses = 0
    started = time.monotonic()
    for rnd in range(args.rounds):
        prefix = f"duncall-bench:{uuid.uuid4().hex[:8]}:"
        db = Path(f"/tmp/duncall-bench-{uuid.uuid4().hex[:8]}.db")

        def gate(engine: Engine, prefix: str = prefix) -> GuardGate:
            rules = load_preset("sandbox")
            return GuardGate(Guard(client, Ledger.on(engine), rules, prefix=prefix), store_facts(engine))

        results = demo.main(names, gate, f"sqlite:///{db}", out=io.StringIO())
        for r in results:
            conv = r.attempt.conversation if r.attempt else None
            if conv is None:
                continue
            latencies += [t.latency_ms for t in conv.turns if t.latency_ms is not None]
            barge += conv.barge_ins
        cache = demo.LAST_PROMPT_CACHE
        if cache is not None:
            hits, misses = hits + cache.hits, misses + cache.misses
        db.unlink(missing_ok=True)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        print(f"round {rnd + 1}: {len(results)} calls", file=sys.stderr)
    wall = time.monotonic() - started
    print(
        f"calls: {len(names) * args.rounds} over {args.rounds} round(s), concurrency {args.concurrency}, {wall:.0f} s"
    )
    print(f"endpoint silence (included in latency): {ENDPOINT_SILENCE_MS} ms")
    if latencies:
        print(
            f"turn latency (debtor end of speech -> first bot audio sent): n={len(latencies)} "
            f"p50={statistics.median(latencies):.0f} ms p95={pct(latencies, 0.95):.0f} ms max={max(latencies):.0f} ms"
        )
    if barge:
        print(
            f"barge-in (debtor speech start -> FLUSH_MEDIA sent): n={len(barge)} p50={statistics.median(barge):.0f} ms max={max(barge):.0f} ms"
        )
    total = hits + misses
    if total:
        print(f"prompt cache: {hits}/{total} hits = {hits / total:.0%}")


if __name__ == "__main__":
    main()
