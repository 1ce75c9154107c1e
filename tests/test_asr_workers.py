"""PocketSphinx in worker processes: same words as in process, the bot's threads keep running
while a decode is under way, and a worker that dies costs one utterance, not the bot."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from bot.asr.sphinx import SphinxRecognizer
from bot.asr.workers import SphinxWorkers
from foundation.errors import ConfigError, ServiceUnavailable
from tests.test_bot_speed import grammar, pcm, say, silence

pytestmark = pytest.mark.audio


@pytest.fixture(scope="module")
def workers() -> Iterator[SphinxWorkers]:
    pool = SphinxWorkers(1)
    pool.warm()
    yield pool
    pool.close()


def _utterance(text: str) -> bytes:
    return pcm(np.concatenate([silence(300), say(text), silence(500)]))


@pytest.mark.parametrize(
    ("text", "state", "heard"),
    [
        ("i can pay on friday", "promise", "i can pay on friday"),
        ("i already paid that", "promise", "i already paid that"),
        ("yes this is john speaking", "identity", "yes it is"),  # the identity grammar's closest phrase
    ],
)
def test_a_worker_hears_what_the_in_process_decoder_hears(
    workers: SphinxWorkers, text: str, state: str, heard: str
) -> None:
    audio = _utterance(text)
    here = SphinxRecognizer(pool_size=1, max_decoders=1).recognize(audio, "en", grammar(state))
    there = workers.recognize(audio, "en", grammar(state))
    assert there.text == here.text == heard
    assert there.confidence == here.confidence and there.engine == "pocketsphinx"


def test_the_bots_threads_keep_running_while_a_worker_decodes(workers: SphinxWorkers) -> None:
    # The full language model (no grammar) takes hundreds of ms on this audio: in process,
    # PocketSphinx holds the GIL for all of it and a thread beside it all but stops.
    audio = _utterance("i lost my job last month and i cannot pay the whole amount right now")
    spins = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal spins
        while not stop.is_set():
            spins += 1

    def spins_per_s_during(decode: object) -> float:
        nonlocal spins
        spinner = threading.Thread(target=spin)
        spins = 0
        stop.clear()
        spinner.start()
        started = time.perf_counter()
        decode()  # type: ignore[operator]
        elapsed = time.perf_counter() - started
        stop.set()
        spinner.join()
        return spins / elapsed

    local = SphinxRecognizer(pool_size=1, max_decoders=1)
    local.recognize(audio, "en")  # first decode on a fresh decoder pays for its set-up
    in_process = spins_per_s_during(lambda: local.recognize(audio, "en"))
    in_worker = spins_per_s_during(lambda: workers.recognize(audio, "en"))
    assert in_worker > 5 * in_process, (in_worker, in_process)


def test_a_dead_worker_fails_one_utterance_with_a_retryable_error_then_new_workers_decode() -> None:
    pool = SphinxWorkers(1)
    try:
        pool.warm()
        audio = _utterance("i already paid that")
        assert pool.recognize(audio, "en", grammar("promise")).text == "i already paid that"
        pid = next(iter(pool._executor()._processes))  # the worker process
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(ServiceUnavailable) as err:
            pool.recognize(audio, "en", grammar("promise"))
        assert err.value.retryable and "worker process died" in err.value.one_line()
        assert pool.recognize(audio, "en", grammar("promise")).text == "i already paid that"
    finally:
        pool.close()


def test_only_english_is_sent_to_the_workers(workers: SphinxWorkers) -> None:
    with pytest.raises(ConfigError) as err:
        workers.recognize(bytes(3200), "zh", ("是的",))
    assert "no model for language 'zh'" in err.value.one_line()
