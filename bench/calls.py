"""Turn latency, barge-in and prompt-cache numbers measured through the real Asterisk.

Calls the personas (the demo's campaign: real AMD, chan_websocket media, PocketSphinx with
the state's grammar decoding while the debtor speaks, the intent classifier, the
early-collection script) and reports, the way Pipecat measures it, the time from the end
of the debtor's speech to the bot's first audio sent to Asterisk — which includes the
endpointer's trailing silence (ENDPOINT_SILENCE_MS) — with where it went per stage
(endpoint, asr, nlu, tts, send; see foundation.contract.Turn.stages_ms).  Barge-in is timed
from the debtor's first voiced frame reaching the bot to FLUSH_MEDIA sent, over
``--barge`` calls of the barge_in persona.  ``--cold-cache`` starts from an empty
prompt cache (a new campaign's first calls: the pre-renderer's work shows in the hit
rate).  Needs the sandbox up (`make setup`).

    .venv/bin/python bench/calls.py [--rounds 1] [--concurrency 4] [--barge 8] [--cold-cache] [PERSONA ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callrig import pct, personas_named, run_calls

from bot.media.endpointer import ENDPOINT_SILENCE_MS
from duncall.personas import load_personas
from foundation import paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("personas", nargs="*")
    ap.add_argument("--rounds", type=int, default=1, help="calls per persona")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--barge", type=int, default=8, help="calls of the barge_in persona (barge-in samples)")
    ap.add_argument("--cold-cache", action="store_true", help="start from an empty prompt cache")
    args = ap.parse_args()
    names = args.personas or [p.name for p in load_personas(paths.personas_dir()) if p.language == "en"]
    groups = [(p, args.rounds + (args.barge if p.name == "barge_in" else 0)) for p in personas_named(names)]
    if args.barge and "barge_in" not in names:
        groups += [(personas_named(["barge_in"])[0], args.barge)]
    # Decoders for the callers who may speak at once, made before the first dial (as a bot does at start).
    run = run_calls(groups, args.concurrency, cold_cache=args.cold_cache, decoders=args.concurrency + 1)
    calls = sum(n for _, n in groups)
    print(
        f"calls: {calls} ({len(groups)} personas), concurrency {args.concurrency}, {run.wall_s:.0f} s, "
        f"load average at the end {run.load_avg[0]:.1f}"
    )
    print(f"endpoint silence (included in latency): {ENDPOINT_SILENCE_MS} ms")
    lat = run.latencies()
    if lat:
        print(
            f"turn latency (debtor end of speech -> first bot audio sent): n={len(lat)} "
            f"p50={statistics.median(lat):.0f} ms p95={pct(lat, 0.95):.0f} ms max={max(lat):.0f} ms"
        )
        print(run.stage_line())
        for line in run.slow_turns():
            print(f"  slow: {line}")
    barge = run.barge_ins()
    if barge:
        print(
            f"barge-in (debtor's first voiced frame -> FLUSH_MEDIA sent): n={len(barge)} "
            f"p50={statistics.median(barge):.0f} ms p95={pct(barge, 0.95):.0f} ms max={max(barge):.0f} ms"
        )
    interrupted = sum(1 for c in run.conversations for t in c.turns if t.speaker == "bot" and t.interrupted)
    print(f"bot turns cut by barge-in: {interrupted}")
    cache = run.prompts
    total = cache.hits + cache.misses
    if total:
        print(
            f"prompt cache: {cache.hits}/{total} plays from the cache = {cache.hits / total:.0%} "
            f"({cache.prefetched} pre-rendered{', cold start' if args.cold_cache else ''})"
        )
    if run.asterisk_cpu_s is not None:
        print(
            f"cpu: asterisk {run.asterisk_cpu_s / run.wall_s:.0%} of a core, bot with its ASR workers {run.bot_cpu_s / run.wall_s:.0%}"
        )


if __name__ == "__main__":
    main()
