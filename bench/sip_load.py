"""N debtors at once over the SIP trunk: turn latency, what the bot heard, and CPU per call.

One sipp process answers N campaign calls (``PJSIP/{number}@carrier``, all dialled together at
the campaign's pace) and plays each the same line as G.711 μ-law RTP: "hello" at the answer,
then "no you have the wrong number" after the bot's greeting (the debtor's words placed in
time, as in ``tests/test_sip_calls.py``: sipp cannot hear the bot).  So N conversations run
in lock-step, the worst case for the bot.  The production path throughout: the campaign
(guards, store), AMD with the bot's ear, chan_websocket media, PocketSphinx in worker
processes, the intent classifier, the early-collection script.

Per N it prints: turn latency p50 / p95 (the debtor's end of speech → the bot's first audio
sent, the 500 ms endpoint silence included), word error rate of what the bot heard against
what the debtor said after AMD (words said after the call ended are not counted), the share
of calls that ended as ``wrong_number``, the peak of this run's debtor channels up at once,
and CPU as a share of one core (the machine has 2) for Asterisk, the bot (this process and
its ASR workers) and sipp over the span the calls were up (first call up → last call gone,
so the bot's start-up is left out), in total and per call (divided by the peak), with the
load average before and after — the machine and its Asterisk are shared, and every figure
depends on what else runs (Asterisk's CPU includes other users' calls).  Under each row: the
turns' stages (endpoint, asr, nlu, tts, send) p50/p95 with the slowest turn, and how the calls
ended (outcome / AMD's verdict / disposition).

    .venv/bin/python bench/sip_load.py [--calls 1,2,4,8] [--target-ms 800]

Needs the sandbox (`duncall asterisk up`), its trunk (`duncall asterisk trunk`) and sipp.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import redis
from callrig import STAGES, asterisk_pid, cpu_seconds, pct
from sip_words import wer, words

from dialer.campaign.runner import TargetResult
from dialer.campaign.session import CampaignOptions
from duncall.compose import parts
from duncall.compose.campaign import CampaignRun, run
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import sipp, trunk
from foundation import paths, settings
from foundation.contract import ChannelPrefix, Turn

LINE = sipp.Line(
    words=(
        sipp.Words(0.4, "hello"),
        sipp.Words(9.0, "no you have the wrong number"),
        sipp.Words(17.0, "i do not know him"),
    ),
    length_s=30.0,
)
HEARD_FROM_S = 2.5  # words said before this are said while AMD runs: the bot is not listening yet
SAMPLE_S = 0.5


@dataclass
class Round:
    calls: int
    results: list[TargetResult]
    busy: Busy
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def latencies(self) -> list[float]:
        return [
            t.latency_ms
            for r in self.results
            if r.attempt and r.attempt.conversation
            for t in r.attempt.conversation.turns
            if t.speaker == "bot" and t.latency_ms is not None
        ]

    def bot_turns(self) -> list[Turn]:
        return [
            t
            for r in self.results
            if r.attempt and r.attempt.conversation
            for t in r.attempt.conversation.turns
            if t.speaker == "bot" and t.latency_ms is not None
        ]

    def stages(self) -> str:
        """Where the turns' time went, p50/p95 ms per stage, and the slowest turn's stages."""
        turns = self.bot_turns()
        parts = []
        for stage in STAGES:
            vals = [t.stages_ms[stage] for t in turns if stage in t.stages_ms]
            if vals:
                parts.append(f"{stage} {statistics.median(vals):.0f}/{pct(vals, 0.95):.0f}")
        slowest = max(turns, key=lambda t: t.latency_ms or 0.0, default=None)
        worst = f"; slowest {slowest.latency_ms:.0f} ms {slowest.stages_ms}" if slowest else ""
        ends = Counter(
            f"{r.attempt.outcome}/{r.attempt.amd_verdict or '-'}/"
            f"{r.attempt.conversation.disposition if r.attempt.conversation else '-'}"
            for r in self.results
            if r.attempt
        )
        return "    stages p50/p95 ms: " + ", ".join(parts) + worst + f"\n    ends: {dict(ends)}"

    def word_errors(self) -> tuple[int, int]:
        """(edit distance, reference words) summed over the calls."""
        errors = total = 0
        for r in self.results:
            a = r.attempt
            if a is None or a.conversation is None:
                continue
            ended = a.duration_s or 0.0
            said = words(" ".join(w.text for w in LINE.words if HEARD_FROM_S <= w.at_s < ended - 0.5))
            heard = words(" ".join(t.text for t in a.conversation.turns if t.speaker == "debtor"))
            errors += round(wer(said, heard) * max(1, len(said)))
            total += len(said)
        return errors, total

    def wrong_number(self) -> int:
        return sum(
            1
            for r in self.results
            if r.attempt and r.attempt.conversation and r.attempt.conversation.disposition == "wrong_number"
        )


@dataclass
class Busy:
    """While this run's calls were up: the most at once, and CPU seconds over that span."""

    peak: int = 0
    span_s: float = 0.0
    asterisk_cpu_s: float | None = None
    bot_cpu_s: float = 0.0
    sipp_cpu_s: float = 0.0


def _cpu(asterisk: int | None, sipp_pid: int) -> tuple[float, float | None, float, float]:
    return (
        time.monotonic(),
        cpu_seconds(asterisk) if asterisk else None,
        bot_cpu_seconds(),
        cpu_seconds(sipp_pid),
    )


async def _watch(stop: asyncio.Event, sipp_pid: int) -> Busy:
    """Samples this run's debtor channels (its own ARI app's; the Asterisk is shared) and CPU
    from the first call up to the last one's end, so the bot's start-up is not counted."""
    s = settings.ari_settings()
    url = f"{s.base_url.rstrip('/')}/ari/applications/{s.app}"
    asterisk = asterisk_pid()
    busy = Busy()
    first = last = None
    async with httpx.AsyncClient(auth=(s.username, s.password), timeout=5) as http:
        while not stop.is_set():
            try:
                ids = (await http.get(url)).json().get("channel_ids", [])
            except (httpx.HTTPError, ValueError):
                ids = []
            up = sum(1 for c in ids if ChannelPrefix.DEBTOR.owns(c))
            if up:
                last = _cpu(asterisk, sipp_pid)
                first = first or last
                busy.peak = max(busy.peak, up)
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_S)
            except TimeoutError:
                pass
    if first is not None and last is not None and last[0] > first[0]:
        busy.span_s = last[0] - first[0]
        if first[1] is not None and last[1] is not None:
            busy.asterisk_cpu_s = last[1] - first[1]
        busy.bot_cpu_s = last[2] - first[2]
        busy.sipp_cpu_s = last[3] - first[3]
    return busy


async def _campaign(spec: CampaignRun, sipp_pid: int) -> tuple[list[TargetResult], Busy]:
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(stop, sipp_pid), name="watch-calls")
    try:
        result = await run(spec)
    finally:
        stop.set()
    return result.results, await watcher


def bot_cpu_seconds() -> float:
    return cpu_seconds("self") + sum(cpu_seconds(c.pid) for c in multiprocessing.active_children() if c.pid)


def one_round(n: int, work: Path) -> Round:
    persona = {p.name: p for p in load_personas(paths.personas_dir())}["wrong_number"]
    tag = uuid.uuid4().hex[:8]
    db_url = f"sqlite:///{work / f'load-{n}-{tag}.db'}"
    import_persona_accounts(parts.store(db_url), persona_accounts([persona], copies=n))
    prefix = f"duncall-bench-sip-load:{tag}:"
    spec = CampaignRun(
        options=CampaignOptions(campaign_id=f"bench-sip-load-{n}-{tag}", concurrency=n),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=prefix,
        endpoint=f"PJSIP/{{number}}@{trunk.TRUNK}",
    )
    (work / str(n)).mkdir(exist_ok=True)
    load_before = os.getloadavg()
    try:
        with sipp.debtor(
            LINE, port=trunk.trunk_config().port, calls=n, concurrent=n, workdir=work / str(n)
        ) as debtor:
            results, busy = asyncio.run(_campaign(spec, debtor.proc.pid))
    finally:
        client = redis.Redis.from_url(settings.redis_url())
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    return Round(n, results, busy, load_before, os.getloadavg())


def _share(cpu_s: float | None, span_s: float, calls: int) -> str:
    """CPU over the span the calls were up, as a share of one core: total (per call)."""
    if cpu_s is None or span_s <= 0:
        return "-"
    total = 100 * cpu_s / span_s
    return f"{total:.0f}% ({total / max(1, calls):.1f}%/call)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", default="1,2,4,8", help="comma-separated numbers of simultaneous calls")
    ap.add_argument("--target-ms", type=float, default=800.0, help="turn latency p95 goal")
    args = ap.parse_args()
    sizes = [int(x) for x in args.calls.split(",")]
    faulthandler.dump_traceback_later(300 + 90 * len(sizes), exit=True)  # a hung run says where
    os.environ.setdefault("DUNCALL_ASR", "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk")
    # An ARI app of its own: another process on the shared app would take this one's events.
    os.environ["DUNCALL_ARI_APP"] = f"bench-sip-load-{os.getpid()}"
    trunk.apply_sandbox()
    print(
        f"{'N':>3} {'peak':>4} {'turns':>5} {'p50 ms':>6} {'p95 ms':>6} {'WER':>6} {'wrong#':>6} "
        f"{'asterisk CPU':>16} {'bot CPU':>16} {'sipp CPU':>14} {'span s':>6}  load 1-min before→after"
    )
    best = 0
    with tempfile.TemporaryDirectory(prefix="bench-sip-load-") as tmp:
        for n in sizes:
            r = one_round(n, Path(tmp))
            lat = r.latencies()
            errors, total = r.word_errors()
            p50 = statistics.median(lat) if lat else float("nan")
            p95 = pct(lat, 0.95) if lat else float("nan")
            if lat and p95 <= args.target_ms and r.wrong_number() == n:
                best = max(best, n)
            b = r.busy
            print(
                f"{n:3} {b.peak:4} {len(lat):5} {p50:6.0f} {p95:6.0f} "
                f"{(errors / total if total else float('nan')):6.1%} {r.wrong_number():3}/{n:<2} "
                f"{_share(b.asterisk_cpu_s, b.span_s, b.peak):>16} {_share(b.bot_cpu_s, b.span_s, b.peak):>16} "
                f"{_share(b.sipp_cpu_s, b.span_s, b.peak):>14} {b.span_s:6.1f}  "
                f"{r.load_before[0]:.1f}→{r.load_after[0]:.1f}",
                flush=True,
            )
            print(r.stages(), flush=True)
    print(
        f"largest N with p95 turn latency ≤ {args.target_ms:.0f} ms and every call understood: {best or '-'}"
    )


if __name__ == "__main__":
    main()
