"""Answer → first bot audio over the SIP trunk, as the debtor hears it, per kind of answer.

Each case is N campaign calls (``PJSIP/{number}@carrier``, one at a time) to a sipp debtor on
loopback who answers and then: stays silent, says "hello", says "hello" on a line with steady
noise at about 9 dB SNR, stays silent on that noisy line, or plays a recorded greeting (on a
clean or a noisy line).  The clock is the carrier's: a packet capture on the loopback
interface (AF_PACKET, so run as root) takes the time of sipp's 200 OK to the INVITE and of
the first RTP packet Asterisk sends sipp that carries sound (μ-law, RMS above a floor), per
call.  Prints p50 / p95 / max per case, AMD's own verdicts, and the verdicts the dialer took
after the bot's ear had its say (``dialer.amd``): "MACHINE(LONGGREETING)>HUMAN" is AMD's
MACHINE overruled by the ear; "MACHINE(INITIALSILENCE)>NOTSURE" is a silent answer, which the
dialer never takes for a machine.

    .venv/bin/python bench/sip_answer.py [--calls 5] [--cases silent,hello,noisy]

BENCH_SHOW_HEARD=1 also prints what the bot's ear heard on each call AMD called a machine.

Needs the sandbox (`duncall asterisk up`), the trunk (`duncall asterisk trunk`, the default
DUNCALL_TRUNK_* settings: sipp on 127.0.0.1:5070) and sipp (tools/setup.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import socket
import statistics
import struct
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dialer.call import AttemptResult
from dialer.campaign.session import CampaignOptions
from duncall.compose import parts
from duncall.compose.campaign import CampaignRun, run
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import sipp, trunk
from foundation import paths

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOUND_RMS = 300.0  # a 20 ms packet louder than this carries sound, not line silence
HANGUP_MS = 6000  # the debtor hangs up this long after answering: enough to hear the first words

CASES = {
    "silent": sipp.Line(length_s=8.0),
    "hello": sipp.Line(words=(sipp.Words(0.3, "hello"),), length_s=8.0),
    "noisy": sipp.Line(words=(sipp.Words(0.3, "hello"),), length_s=8.0, noise_snr_db=9.0),
    "noisy_silent": sipp.Line(length_s=8.0, noise_snr_db=9.0),
    # A recorded greeting: must still be MACHINE (the bot then waits for the beep, which this
    # line never plays, so no bot audio is expected within the call).
    "voicemail": sipp.Line(
        words=(sipp.Words(0.5, "Hi, you have reached John. I can't take your call right now."),), length_s=8.0
    ),
    "noisy_voicemail": sipp.Line(
        words=(sipp.Words(0.5, "Hi, you have reached John. I can't take your call right now."),),
        length_s=8.0,
        noise_snr_db=9.0,
    ),
}


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    mag = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(sign != 0, -mag, mag).astype(np.float64)


ULAW = _ulaw_table()


@dataclass
class CallTimes:
    answered: float | None = None
    first_sound: float | None = None
    rtp_port: int | None = None


@dataclass
class Capture:
    """SIP answers and Asterisk's RTP towards sipp, seen on loopback."""

    sip_port: int
    calls: dict[str, CallTimes] = field(default_factory=dict)
    by_port: dict[int, str] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
        s.bind(("lo", 0))
        s.settimeout(0.2)
        while not self.stop.is_set():
            try:
                frame, addr = s.recvfrom(65535)
            except TimeoutError:
                continue
            now = time.monotonic()
            if addr[2] == PACKET_OUTGOING or len(frame) < 42 or frame[23] != 17:  # UDP only
                continue
            ihl = (frame[14] & 0x0F) * 4
            src, dst = struct.unpack("!HH", frame[14 + ihl : 18 + ihl])
            payload = frame[14 + ihl + 8 :]
            if src == self.sip_port:
                self._sip(payload, now)
            elif dst in self.by_port and len(payload) > 12 and payload[1] & 0x7F == 0:
                times = self.calls[self.by_port[dst]]
                if times.first_sound is None and times.answered is not None:
                    pcm = ULAW[np.frombuffer(payload[12:], dtype=np.uint8)]
                    if float(np.sqrt(np.mean(pcm**2))) > SOUND_RMS:
                        times.first_sound = now
        s.close()

    def _sip(self, payload: bytes, now: float) -> None:
        text = payload.decode("latin-1")
        if not text.startswith("SIP/2.0 200") or "INVITE" not in text.split("CSeq:", 1)[-1].split("\n", 1)[0]:
            return
        call_id = text.split("Call-ID:", 1)[1].split("\r\n", 1)[0].strip()
        times = self.calls.setdefault(call_id, CallTimes())
        if times.answered is None:
            times.answered = now
            port = int(text.split("m=audio ", 1)[1].split(" ", 1)[0])
            times.rtp_port = port
            self.by_port[port] = call_id


def run_case(name: str, line: sipp.Line, calls: int, work: Path) -> tuple[list[float], Counter[str]]:
    persona = {p.name: p for p in load_personas(paths.personas_dir())}["cooperative"]
    tag = uuid.uuid4().hex[:8]
    db_url = f"sqlite:///{work / f'{name}-{tag}.db'}"
    import_persona_accounts(parts.store(db_url), persona_accounts([persona], copies=calls))
    spec = CampaignRun(
        options=CampaignOptions(campaign_id=f"bench-sip-{name}-{tag}", concurrency=1),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=f"duncall-bench-sip:{tag}:",
        endpoint=f"PJSIP/{{number}}@{trunk.TRUNK}",
    )
    cap = Capture(trunk.trunk_config().port)
    sniffer = threading.Thread(target=cap.run, name="capture", daemon=True)
    sniffer.start()
    try:
        with sipp.debtor(line, port=cap.sip_port, calls=calls, workdir=work / name, hangup_ms=HANGUP_MS):
            result = asyncio.run(run(spec))
    finally:
        cap.stop.set()
        sniffer.join(2)
    delays = [t.first_sound - t.answered for t in cap.calls.values() if t.answered and t.first_sound]
    missing = sum(1 for t in cap.calls.values() if t.first_sound is None)
    verdicts = Counter(_verdict(r.attempt) if r.attempt else "not dialled" for r in result.results)
    if missing:
        verdicts["no bot audio heard"] += missing
    if os.environ.get("BENCH_SHOW_HEARD"):
        for r in result.results:
            if r.attempt is not None and r.attempt.line_heard:
                print(f"  {name}: {r.attempt.line_heard}", flush=True)
    return delays, verdicts


def _verdict(attempt: AttemptResult[Any]) -> str:
    """AMD's own status and cause, and the dialer's when it took the answer otherwise:
    "MACHINE(LONGGREETING)>HUMAN" (the bot's ear), "MACHINE(INITIALSILENCE)>NOTSURE" (silence)."""
    status, _, cause = (attempt.amd_verdict or "-").partition("/")
    amd = f"{status}({cause.split('-', 1)[0]})" if cause else status
    taken = attempt.amd_status or "-"
    return amd if taken == status else f"{amd}>{taken}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=5, help="calls per case")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    args = ap.parse_args()
    # A hung run says where.
    faulthandler.dump_traceback_later(120 + 30 * args.calls * len(args.cases.split(",")), exit=True)
    os.environ.setdefault("DUNCALL_ASR", "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk")
    # An ARI app of its own: another process on the shared app would take this one's events.
    os.environ["DUNCALL_ARI_APP"] = f"bench-sip-answer-{os.getpid()}"
    trunk.apply_sandbox()
    print(f"{'case':15} {'calls':>5} {'p50 s':>6} {'p95 s':>6} {'max s':>6}  verdicts (AMD>taken)")
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        for name in args.cases.split(","):
            (Path(tmp) / name).mkdir()
            delays, verdicts = run_case(name, CASES[name], args.calls, Path(tmp))
            if delays:
                q = statistics.quantiles(delays, n=20, method="inclusive") if len(delays) > 1 else delays * 19
                shown = f"{statistics.median(delays):6.2f} {q[18]:6.2f} {max(delays):6.2f}"
            else:
                shown = f"{'-':>6} {'-':>6} {'-':>6}"
            print(f"{name:15} {len(delays):5} {shown}  {dict(verdicts)}", flush=True)


if __name__ == "__main__":
    main()
