"""PocketSphinx in worker processes, so that a decode cannot stall the calls.

PocketSphinx holds the GIL for the whole of ``process_raw`` (measured: a thread
spinning beside a 0.85 s decode ran 1% of its usual count).  In the bot's process
that stops every call's audio, endpointing and dialogue for as long as a decode
takes, and when several debtors stop speaking together their decodes queue one
behind another.  Here each worker process owns one decoder, made and warmed with
every English state grammar when the worker starts, and the call's thread waits
for its result without holding the GIL.

``DUNCALL_ASR_WORKERS`` sets how many (``bot.asr.registry``): one per core is the
default.  0 decodes in the bot's own process, as a single-call tool wants (no
process start-up).  Whole utterances only: the live-stream path
(``DUNCALL_ASR_STREAMING``) needs the in-process engine.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from bot.asr.base import Transcript
from bot.asr.sphinx import SphinxRecognizer, check_lang
from foundation.errors import ServiceUnavailable

# The worker's own recognizer (one per process); made by ``_start_worker``.
_WORKER: SphinxRecognizer | None = None
# Every pool this process made and has not shut down itself.  Held here so that none is
# garbage-collected while the interpreter exits: its manager thread then closes a pipe
# that concurrent.futures' exit hook may be writing to (CPython 3.11: "Bad file descriptor").
_POOLS: list[ProcessPoolExecutor] = []
WORKER_START_TIMEOUT_S = 120.0  # spawn + import + decoder + every grammar primed (~3-5 s when idle)


def _start_worker(mllr: str | None) -> None:
    global _WORKER
    rec = SphinxRecognizer(pool_size=1, max_decoders=1, mllr=Path(mllr) if mllr else None)
    rec.warm(1)
    _WORKER = rec


def _prepare(lang: str, phrases: tuple[str, ...]) -> None:
    assert _WORKER is not None, "not a worker process started by SphinxWorkers"
    _WORKER.prepare(lang, phrases)


def _ready() -> int:
    return multiprocessing.current_process().pid or 0


def _recognize(pcm: bytes, lang: str, phrases: tuple[str, ...]) -> Transcript:
    assert _WORKER is not None, "not a worker process started by SphinxWorkers"
    return _WORKER.recognize(pcm, lang, phrases)


class SphinxWorkers:
    """``Recognizer`` over PocketSphinx decoders in ``workers`` processes (English, whole utterances).

    ``mllr``: the transform every worker's decoder loads (``bot.asr.telephone``: telephone calls)."""

    name = "pocketsphinx"

    def __init__(self, workers: int, mllr: Path | None = None) -> None:
        if workers < 1:
            raise ValueError("SphinxWorkers needs at least one worker")
        self.workers = workers
        self.mllr = mllr
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(str(self.mllr) if self.mllr else None,),
                )
                _POOLS.append(self._pool)
            return self._pool

    def warm(self) -> None:
        """Start every worker now (each primes its decoder), not on the first caller's words."""
        pool = self._executor()
        pids: set[int] = set()
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        try:
            # Workers are spawned on demand: keep one request per worker in flight until all answered.
            while len(pids) < self.workers and time.monotonic() < deadline:
                futures = [pool.submit(_ready) for _ in range(self.workers)]
                pids |= {f.result(timeout=WORKER_START_TIMEOUT_S) for f in futures}
        except (BrokenProcessPool, TimeoutError):
            self.close()
            raise ServiceUnavailable(
                "the speech recognition worker processes did not start",
                'a script that runs the bot must start it under `if __name__ == "__main__":` '
                "(workers are spawned); or set DUNCALL_ASR_WORKERS=0 to decode in process",
            ) from None

    def prepare(self, lang: str, phrases: tuple[str, ...]) -> None:
        """A call's own grammar compiled ahead of its answer: one request per worker (the pool
        hands them out; a worker that gets two just finds the grammar ready)."""
        check_lang(lang)
        pool = self._executor()
        for done in [pool.submit(_prepare, lang, phrases) for _ in range(self.workers)]:
            done.result(timeout=WORKER_START_TIMEOUT_S)

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        check_lang(lang)
        pool = self._executor()
        try:
            return pool.submit(_recognize, pcm, lang, phrases).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next utterance starts fresh workers
            raise ServiceUnavailable(
                "a speech recognition worker process died",
                "nothing to fix if it happens once (the next utterance starts new workers); "
                "if it repeats, check memory and the bot's log",
            ) from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            if pool in _POOLS:
                _POOLS.remove(pool)
