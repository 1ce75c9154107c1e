"""Debtors on the far side of the carrier trunk: sipp answering over SIP with G.711 μ-law RTP.

A *line* is what one debtor sends after answering: words spoken at set times (espeak-ng,
resampled to 8 kHz), over silence or over steady noise at a chosen signal-to-noise ratio,
rendered into one μ-law WAV that sipp's ``rtp_stream`` action plays as PCMU (payload 0) from
the moment the call is answered.  sipp cannot hear when the bot stops talking, so the replies
are placed in time; the bot's side (turns, latencies, AMD verdict) is what the tests and
``bench/`` read.  The scenario (``tests/sip/debtor.xml``) answers the INVITE after ringing,
plays the line and waits for the bot's BYE.  sipp is Debian's ``sip-tester``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation import paths
from foundation.errors import ConfigError

RATE_HZ = 8000
ESPEAK_RATE_WPM = 155  # as the Local-channel personas speak (duncall.personas.render)
SCENARIO = "tests/sip/debtor.xml"  # waits for the bot's BYE
SCENARIO_HANGS_UP = "tests/sip/debtor_hangs_up.xml"  # hangs up itself after a set time
SIPP_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Words:
    at_s: float  # seconds after the answer
    text: str


@dataclass(frozen=True, slots=True)
class Line:
    """What one debtor sends after answering."""

    words: tuple[Words, ...] = ()
    length_s: float = 30.0  # then silence (or noise) ends and the debtor waits for the BYE
    noise_snr_db: float | None = None  # steady noise this far below the speech's level
    voice: str = "en-us"
    speech_rms: float = 3000.0  # the level words are scaled to (16-bit), noise is set from it


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise ConfigError(f"{tool} is not installed", "run tools/setup.sh (sip-tester, espeak-ng, sox)")
    return found


def speak(text: str, voice: str) -> np.ndarray:
    """espeak-ng's words as 8 kHz 16-bit samples (float64)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = Path(tmp) / "w.wav", Path(tmp) / "w.raw"
        subprocess.run(
            [_need("espeak-ng"), "-v", voice, "-s", str(ESPEAK_RATE_WPM), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                _need("sox"),
                str(wav),
                "-t",
                "raw",
                "-r",
                str(RATE_HZ),
                "-e",
                "signed",
                "-b",
                "16",
                "-c",
                "1",
                str(raw),
            ],
            check=True,
            capture_output=True,
        )
        return np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float64)


def render(line: Line, out: Path, seed: int = 0) -> Path:
    """The line as one 8 kHz μ-law WAV at ``out``."""
    total = np.zeros(int(line.length_s * RATE_HZ))
    for w in line.words:
        clip = speak(w.text, line.voice)
        active = clip[np.abs(clip) > 100]
        rms = float(np.sqrt(np.mean(active**2))) if active.size else 1.0
        clip *= line.speech_rms / rms
        start = int(w.at_s * RATE_HZ)
        end = min(start + clip.size, total.size)
        total[start:end] += clip[: end - start]
    if line.noise_snr_db is not None:
        # Steady noise: white noise through a gentle low-pass (a line's hiss and hum are not flat).
        rng = np.random.default_rng(seed)
        noise = np.convolve(rng.standard_normal(total.size), np.ones(4) / 4, mode="same")
        noise *= line.speech_rms / 10 ** (line.noise_snr_db / 20) / float(np.sqrt(np.mean(noise**2)))
        total += noise
    pcm = np.clip(total, -32768, 32767).astype("<i2")
    with tempfile.TemporaryDirectory() as tmp:
        lin = Path(tmp) / "lin.wav"
        with wave.open(str(lin), "wb") as w16:
            w16.setnchannels(1)
            w16.setsampwidth(2)
            w16.setframerate(RATE_HZ)
            w16.writeframes(pcm.tobytes())
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_need("sox"), str(lin), "-r", str(RATE_HZ), "-c", "1", "-e", "mu-law", "-b", "8", str(out)],
            check=True,
            capture_output=True,
        )
    return out


def scenario_text(
    audio: Path, ring_ms: int = 500, wait_bye_ms: int = 120_000, hangup_ms: int | None = None
) -> str:
    """The UAS scenario with this call's audio, ringing time and patience (or hang-up time) filled in."""
    name = SCENARIO if hangup_ms is None else SCENARIO_HANGS_UP
    template = (paths.REPO_ROOT / name).read_text()  # a checkout-only tool, as tests/ is
    return (
        template.replace("@AUDIO@", str(audio))
        .replace("@RING_MS@", str(ring_ms))
        .replace("@WAIT_BYE_MS@", str(wait_bye_ms))
        .replace("@HANGUP_MS@", str(hangup_ms))
    )


@dataclass
class SippDebtor:
    """A running sipp that answers calls on ``port`` with one line each; ``calls`` ends it."""

    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log(self) -> str:
        errs = sorted(self.workdir.glob("*errors.log"))
        return errs[0].read_text(errors="replace")[-2000:] if errs else ""


@contextmanager
def debtor(
    line: Line,
    *,
    port: int,
    calls: int = 1,
    concurrent: int = 1,
    ring_ms: int = 500,
    rtp_port: int = 16000,  # the first of the RTP ports sipp takes, two per call
    workdir: Path | None = None,
    trace: bool = False,
    hangup_ms: int | None = None,
) -> Iterator[SippDebtor]:
    """sipp answering up to ``calls`` calls on 127.0.0.1:``port``, each playing ``line``."""
    with tempfile.TemporaryDirectory(prefix="duncall-sipp-") as tmp:
        work = workdir or Path(tmp)
        audio = render(line, work / "line.wav")
        scen = work / "debtor.xml"
        scen.write_text(
            scenario_text(audio, ring_ms, wait_bye_ms=int(line.length_s * 1000) + 60_000, hangup_ms=hangup_ms)
        )
        cmd = [
            _need("sipp"),
            "-sf", str(scen),
            "-i", SIPP_HOST,
            "-p", str(port),
            "-mi", SIPP_HOST,
            "-mp", str(rtp_port),
            "-m", str(calls),
            "-l", str(concurrent),
            "-nostdin",
            "-trace_err",
            *(["-trace_msg"] if trace else []),  # every SIP message into <workdir>/*_messages.log
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.3)  # the socket is bound before the first INVITE is sent
        try:
            yield SippDebtor(proc, port, work)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
