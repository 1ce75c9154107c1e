"""Prompt cache keyed by (text, voice, rate): a repeated prompt costs nothing.

Two levels: a bounded in-memory LRU, and files under the duncall home so a
restarted bot keeps its warm prompts.  Hit/miss counts feed the benchmark:
they count only prompts asked for when they are about to be played.

Pre-rendering: ``prefetch`` queues a call's likely prompts (rendered with the
account's values at call start, and again after each turn) for one
background thread, which synthesizes them one at a time and pauses while a
prompt is being fetched for playing — so a prompt needed now waits behind at
most one pre-render.  A prompt asked for while it is
being synthesized waits for that synthesis instead of doing it twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future
from pathlib import Path
from typing import Literal

from bot.tts.base import Synthesizer
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

MEMORY_ENTRIES = 512
SYNTH_ATTEMPTS = 3
PREFETCH_QUEUE = 2048  # pre-renders waiting; when full the oldest are dropped (they are only guesses)

Source = Literal["memory", "file", "made", "waited"]


class PromptCache:
    def __init__(self, synth: Synthesizer, directory: Path | None, rate_wpm: int) -> None:
        self.synth = synth
        self.directory = directory
        self.rate_wpm = rate_wpm
        self.hits = 0
        self.misses = 0
        self.prefetched = 0  # prompts synthesized ahead of need
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[bytes]] = {}
        self._todo: deque[tuple[str, str]] = deque(maxlen=PREFETCH_QUEUE)
        self._wake = threading.Condition(self._lock)
        self._urgent = 0  # get() calls in progress (prompts about to play)
        self._worker: threading.Thread | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def key(self, text: str, voice: str) -> str:
        return hashlib.sha256(f"{self.synth.name}|{voice}|{self.rate_wpm}|{text}".encode()).hexdigest()[:24]

    def get(self, text: str, lang: str) -> bytes:
        """The prompt's audio, synthesized now if it is not cached (blocking)."""
        with self._lock:
            self._urgent += 1
        try:
            pcm, how = self._fetch(text, lang)
        finally:
            with self._lock:
                self._urgent -= 1
                self._wake.notify_all()
        with self._lock:
            if how in ("memory", "file"):
                self.hits += 1
            else:
                self.misses += 1
        return pcm

    def cached(self, text: str, lang: str) -> bool:
        """Whether the prompt is in memory already (a play would cost nothing)."""
        k = self.key(text, self.synth.voice_for(lang))
        with self._lock:
            return k in self._mem

    def prefetch(self, texts: list[str], lang: str) -> int:
        """Queue prompts for background synthesis; returns how many were queued."""
        queued = 0
        with self._lock:
            for text in texts:
                if text and self.key(text, self.synth.voice_for(lang)) not in self._mem:
                    self._todo.append((text, lang))
                    queued += 1
            if queued:
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._prefetch_loop, name="tts-prefetch", daemon=True
                    )
                    self._worker.start()
                self._wake.notify()
        return queued

    def _prefetch_loop(self) -> None:
        while True:
            with self._lock:
                # A prompt needed now goes first: pre-rendering waits while one is being fetched.
                while not self._todo or self._urgent:
                    self._wake.wait()
                text, lang = self._todo.popleft()
            try:
                _, how = self._fetch(text, lang)
            except DuncallError as exc:
                log.warning("prompt pre-render failed", extra=kv(error=type(exc).__name__))
                continue
            if how == "made":
                with self._lock:
                    self.prefetched += 1

    def _fetch(self, text: str, lang: str) -> tuple[bytes, Source]:
        """(audio, where it came from) — memory, then file, then one synthesis per key at a time."""
        voice = self.synth.voice_for(lang)
        k = self.key(text, voice)
        with self._lock:
            pcm = self._mem.get(k)
            if pcm is not None:
                self._mem.move_to_end(k)
                return pcm, "memory"
            pending = self._inflight.get(k)
            owner = pending is None
            if pending is None:
                pending = self._inflight[k] = Future()
        if not owner:
            # Someone (the pre-renderer, another call) is making it right now: not free, but sooner.
            return pending.result(), "waited"
        try:
            pcm, how = self._load_or_make(k, text, voice)
            with self._lock:
                self._mem[k] = pcm
                if len(self._mem) > MEMORY_ENTRIES:
                    self._mem.popitem(last=False)
            pending.set_result(pcm)
            return pcm, how
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight.pop(k, None)

    def _load_or_make(self, k: str, text: str, voice: str) -> tuple[bytes, Source]:
        path = self.directory / f"{k}.sln16" if self.directory is not None else None
        cached = path.read_bytes() if path is not None and path.exists() else b""
        if cached:
            return cached, "file"
        pcm = self._synthesize(text, voice)
        if path is not None:
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(pcm)
            tmp.replace(path)
        return pcm, "made"

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
