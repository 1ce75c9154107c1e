"""TTS benchmark: synthesis speed of the bot's voices on the shipped prompts.

Every `say`/`text` of the shipped scripts in one language (placeholders filled with an
example account's values), synthesized once by each voice: real-time factor (synthesis
time / audio time) p50/p95 and the first synthesis (model load included).  Run it on a
quiet machine: it measures CPU.

    .venv/bin/python bench/tts.py [--lang en] [--voices piper,espeak] [--limit 40]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bot.audio import SAMPLE_RATE_HZ
from bot.tts.base import Synthesizer
from bot.tts.espeak import DEFAULT_RATE_WPM, EspeakSynthesizer
from bot.tts.piper import PiperSynthesizer

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
EXAMPLE = {"first_name": "John", "last_name": "Smith", "creditor": "Acme Bank", "agent_name": "Alex"}


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            t
            for key, value in node.items()
            for t in ([value] if key in ("say", "text") and isinstance(value, str) else texts(value))
        ]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def prompts(lang: str, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for path in sorted(SCRIPTS.glob(f"*.{lang}.yaml")):
        for text in texts(yaml.safe_load(path.read_text(encoding="utf-8"))):
            filled = re.sub(r"\{([a-z_]+)\}", lambda m: EXAMPLE.get(m.group(1), "one hundred dollars"), text)
            seen.setdefault(filled, None)
    return list(seen)[:limit]


def measure(name: str, synth: Synthesizer, lang: str, items: list[str]) -> None:
    voice = synth.voice_for(lang)
    started = time.perf_counter()
    synth.synthesize("Hello.", voice, DEFAULT_RATE_WPM)
    first = time.perf_counter() - started
    rtf: list[float] = []
    audio_s = 0.0
    for text in items:
        started = time.perf_counter()
        pcm = synth.synthesize(text, voice, DEFAULT_RATE_WPM)
        took = time.perf_counter() - started
        seconds = len(pcm) / 2 / SAMPLE_RATE_HZ
        audio_s += seconds
        rtf.append(took / seconds if seconds else float("inf"))
    rtf.sort()
    p95 = rtf[min(len(rtf) - 1, round(0.95 * (len(rtf) - 1)))]
    print(
        f"{name:8} {len(items):>3} prompts, {audio_s:6.1f} s of audio: RTF p50 {statistics.median(rtf):.3f} "
        f"p95 {p95:.3f}; first synthesis (load included) {first:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--voices", default="piper,espeak")
    parser.add_argument("--limit", type=int, default=40)
    args = parser.parse_args()
    items = prompts(args.lang, args.limit)
    engines: dict[str, Synthesizer] = {"piper": PiperSynthesizer(), "espeak": EspeakSynthesizer()}
    for name in args.voices.split(","):
        measure(name, engines[name], args.lang, items)
    return 0


if __name__ == "__main__":
    sys.exit(main())
