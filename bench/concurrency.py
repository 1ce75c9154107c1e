"""N bot calls at once on this machine, Asterisk included: turn latency, CPU, and what limits it.

Each call is a persona answering through the real sandbox Asterisk (Local channels, the
persona's speech played by Asterisk from files) to the bot: AMD, chan_websocket media,
webrtcvad, PocketSphinx with the state's JSGF grammar (in worker processes, ``bot.asr.workers``),
the intent classifier, TTS from the prompt cache (pre-rendered per call), the
early-collection script.  All N calls are dialled together (concurrency N) from a mix
of the conversational personas, so N conversations overlap for most of the run.

Reports turn latency p50/p95 (end of the debtor's speech → first bot audio sent,
including the 500 ms endpoint silence) with its per-stage breakdown, the peak number of
calls up at once, the CPU of the asterisk process and of the bot (this process and its ASR
workers) as a share
of one core (the machine has 2), and the load average — the machine may be shared.

Load rig: the personas are Local channels on the same Asterisk.  Originated with no
formats they ran at slin192 and Asterisk's resampling took both cores at peak; the ARI
client now originates them at slin48 (``telephony/ari/rest.py``): ~30% of one core for 30
calls.  A SIP load rig (sipp) on another machine would leave the bot and Asterisk alone.

``--cps N`` dials through the campaign's own CPS pacer instead of all at once (the
default, the worst case: copies of the same persona then speak in lock-step).

    .venv/bin/python bench/concurrency.py [--calls 30] [--cps 0] [--decoders 12] [--cold-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callrig import pct, personas_named, run_calls

# Personas that hold a conversation of several turns (not busy / no answer / voicemail).
TALKERS = (
    "cooperative",
    "already_paid",
    "hardship",
    "dispute",
    "stop_calling",
    "asks_human",
    "barge_in",
    "wrong_number",
    "third_party",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=30, help="calls dialled at once")
    ap.add_argument(
        "--decoders",
        type=int,
        default=-1,
        help="in-process PocketSphinx (DUNCALL_ASR_WORKERS=0): decoders made before dialling "
        "(default: half the calls)",
    )
    ap.add_argument("--cold-cache", action="store_true", help="start from an empty prompt cache")
    ap.add_argument(
        "--cps",
        type=int,
        default=0,
        help="originates per second through the campaign's pacer (0: all N at once, the worst case)",
    )
    args = ap.parse_args()
    people = personas_named(TALKERS)
    counts = [
        args.calls // len(people) + (1 if i < args.calls % len(people) else 0) for i in range(len(people))
    ]
    groups = [(p, n) for p, n in zip(people, counts, strict=True) if n]
    decoders = args.calls // 2 + 1 if args.decoders < 0 else args.decoders
    load_before = os.getloadavg()
    run = run_calls(groups, args.calls, cold_cache=args.cold_cache, decoders=decoders, cps=args.cps)
    answered = sum(1 for r in run.results if r.attempt and r.attempt.conversation)
    how = "at once" if args.cps <= 0 else f"at {args.cps} per second"
    print(
        f"calls: {args.calls} dialled {how}, {answered} conversations, peak {run.peak_calls} up together, "
        f"{run.wall_s:.0f} s"
    )
    print(f"load average: {load_before[0]:.1f} before, {run.load_avg[0]:.1f} at the end (2 cores, shared)")
    lat = run.latencies()
    if lat:
        over = sum(1 for v in lat if v > 1000)
        print(
            f"turn latency: n={len(lat)} p50={statistics.median(lat):.0f} ms p95={pct(lat, 0.95):.0f} ms "
            f"max={max(lat):.0f} ms; over 1 s: {over}"
        )
        print(run.stage_line())
    barge = run.barge_ins()
    if barge:
        print(f"barge-in: n={len(barge)} p50={statistics.median(barge):.0f} ms max={max(barge):.0f} ms")
    dropped = sum(c.dropped_frames for c in run.conversations)
    print(f"inbound frames dropped (bot too slow to read them): {dropped}")
    cache = run.prompts
    total = cache.hits + cache.misses
    if total:
        print(
            f"prompt cache: {cache.hits}/{total} = {cache.hits / total:.0%} ({cache.prefetched} pre-rendered)"
        )
    ast = f"{run.asterisk_cpu_s / run.wall_s:.0%}" if run.asterisk_cpu_s is not None else "?"
    print(
        f"cpu (share of one core, 200% = the whole machine): asterisk {ast}, bot with its ASR workers {run.bot_cpu_s / run.wall_s:.0%}"
    )


if __name__ == "__main__":
    main()
