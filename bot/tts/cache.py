"""Prompt cache keyed by (text, voice, rate): a repeated prompt costs nothing.

Two levels: a bounded in-memory LRU, and files under the duncall home so a
restarted bot keeps its warm prompts.  Hit/miss counts feed the benchmark.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from bot.tts.base import Synthesizer
from duncall.errors import ServiceUnavailable

MEMORY_ENTRIES = 512
SYNTH_ATTEMPTS = 2


class PromptCache:
    def __init__(self, synth: Synthesizer, directory: Path | None, rate_wpm: int) -> None:
        self.synth = synth
        self.directory = directory
        self.rate_wpm = rate_wpm
        self.hits = 0
        self.misses = 0
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def key(self, text: str, voice: str) -> str:
        return hashlib.sha256(f"{self.synth.name}|{voice}|{self.rate_wpm}|{text}".encode()).hexdigest()[:24]

    def get(self, text: str, lang: str) -> bytes:
        voice = self.synth.voice_for(lang)
        k = self.key(text, voice)
        with self._lock:
            pcm = self._mem.get(k)
            if pcm is not None:
                self._mem.move_to_end(k)
                self.hits += 1
                return pcm
        path = self.directory / f"{k}.sln16" if self.directory is not None else None
        cached = path.read_bytes() if path is not None and path.exists() else b""
        if cached:
            pcm = cached
            self.hits += 1
        else:
            pcm = self._synthesize(text, voice)
            self.misses += 1
            if path is not None:
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pcm)
                tmp.replace(path)
        with self._lock:
            self._mem[k] = pcm
            if len(self._mem) > MEMORY_ENTRIES:
                self._mem.popitem(last=False)
        return pcm

    def _synthesize(self, text: str, voice: str) -> bytes:
        """Synthesize, once more if the engine returned no audio (seen under load); never cache silence."""
        for _ in range(SYNTH_ATTEMPTS):
            pcm = self.synth.synthesize(text, voice, self.rate_wpm)
            if pcm:
                return pcm
        raise ServiceUnavailable(
            f"the TTS engine {self.synth.name} returned no audio for a {len(text)}-character prompt",
            "check that espeak-ng works (`espeak-ng -w /tmp/x.wav hello`)",
        )

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
