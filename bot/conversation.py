"""One answered call's conversation: listen, endpoint, recognize, decide, speak.

``run`` starts the media listener as a named task beside the turn loop (which
waits on the next utterance and the next control event — DTMF, hangup — at
once), and cancels and awaits the listener when the turns end, however they end.
Timing goals (turn latency, barge-in) are measured here and kept on the
record; they are reported by the benchmarks, never asserted by timed tests.

Speed: with ``DUNCALL_ASR_STREAMING=1`` the debtor's words are decoded while
they speak (a streaming recognizer is fed 100 ms batches on the ASR threads
from the first voiced frame), so at the endpoint only the decoder's last step
is left (off by default: see ``streaming_enabled``); the intent
classifier runs on one dialogue thread, off the event loop that carries every
call's audio; the call's likely prompts are pre-rendered (account values at
call start, a promise's read-back as soon as it is heard).  Each reply keeps
where its latency went (``Turn.stages_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bot.asr.base import Recognizer, Transcript
from bot.asr.streaming import RecognitionStream, StreamingRecognizer, streaming_enabled
from bot.audio import duration_ms
from bot.dialogue.types import RECORDING_NOTICE, DialogueTurn
from bot.media.echo import EchoGuard
from bot.media.endpointer import (
    ENDPOINT_SILENCE_MS,
    START_WINDOW_MS,
    Endpointer,
    SpeechEnded,
    SpeechStarted,
)
from bot.nlu.grammar import fill
from bot.tts.cache import PromptCache
from foundation.contract import ConversationRecord, Turn
from foundation.errors import ConfigError
from foundation.log import kv, kv_pii

log = logging.getLogger(__name__)

OPEN_GRAMMAR = "open"  # grammars/<lang>/open.yaml: answers valid in every state
NO_INPUT_TIMEOUT_S = 6.0  # silence after the bot's prompt before a no-input re-prompt
UTTERANCE_QUEUE = 4  # endpointed utterances waiting for the turn loop; full → drop oldest
CONTROL_QUEUE = 16
MAX_CALL_S = 300.0  # no conversation holds a line longer than this
# A debtor waiting for a collector hears the holding line again after this much silence, until
# the desk accepts or the transfer gives up (its own limit, dialer.agents.transfer.ACCEPT_TIMEOUT_S,
# 15 s): a silent line for longer reads as a dropped call.  Nothing plays in between (the
# sandbox and the bot's media have no music on hold), so the interval is shorter than a
# music-backed queue's 20-30 s reassurance.
HOLD_REPEAT_S = 10.0
VOICEMAIL_BEEP_WAIT_S = 20.0  # how long to wait for the greeting and beep to finish
VOICEMAIL_QUIET_MS = 1200  # quiet after the greeting/beep before leaving the message
# Silence sent after each prompt. chan_websocket sends the far end no frames
# while we send none, and silence detectors on the far side (an IVR, a PBX's
# voicemail, the sandbox personas) only count silence they receive, as they
# would on an RTP line, which never stops.
PROMPT_TAIL_MS = 1500
# Between prompts of one bot turn: a sentence pause, short enough that no one
# takes it for the end of the bot's turn.
PROMPT_GAP_MS = 250
_TAIL = bytes(int(PROMPT_TAIL_MS / 1000 * 16_000) * 2)
_GAP = bytes(int(PROMPT_GAP_MS / 1000 * 16_000) * 2)
STREAM_BATCH_FRAMES = 5  # frames handed to the streaming recognizer at a time (100 ms)
# Shared by every call of the process.  ASR: decodes are short and in order per
# utterance; more threads than cores only buy waiting for a decoder to be made.
# Dialogue: one thread, so the classifier (and its tokenizer, not thread-safe) is
# never used by two calls at once, and never blocks the event loop.
_ASR_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="asr")
_DIALOGUE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialogue")
_T = TypeVar("_T")


class BotTurnLike(Protocol):
    # Read-only: the dialogue's turns are frozen dataclasses.
    @property
    def text(self) -> str: ...  # display form, for the transcript
    @property
    def speech(self) -> str: ...  # speakable form, for TTS ("" → use text)
    @property
    def interruptible(self) -> bool: ...


class Dialogue(Protocol):
    """What the conversation needs from a dialogue engine (bot.dialogue.DialogueSession)."""

    @property
    def done(self) -> bool: ...
    @property
    def grammar(self) -> str | None: ...

    def start(self) -> Sequence[BotTurnLike]: ...
    def hear(self, text: str, asr_confidence: float = 1.0) -> Sequence[BotTurnLike]: ...
    def no_input(self) -> Sequence[BotTurnLike]: ...
    def dtmf(self, digit: str) -> Sequence[BotTurnLike]: ...
    def voicemail(self) -> Sequence[BotTurnLike]: ...
    @property
    def turns(self) -> Sequence[DialogueTurn]:
        """The dialogue's own transcript."""
        ...


class MediaLike(Protocol):
    dropped_frames: int

    def frames(self) -> Any: ...
    async def play(self, pcm: bytes) -> float: ...
    async def wait_played(self) -> None: ...
    async def flush(self) -> None: ...
    @property
    def closed(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Utterance:
    pcm: bytes
    speech_end_at: float  # monotonic time the debtor stopped speaking
    endpoint_at: float = 0.0  # monotonic time the endpointer closed it (speech end + trailing silence)
    heard: asyncio.Task[Transcript] | None = field(default=None, compare=False)  # decoded while spoken


async def _off_loop(pool: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.wrap_future(pool.submit(fn, *args))


class LiveDecode:
    """One utterance decoded while it is spoken: frames go to a stream in 100 ms batches, in order.

    ``task`` gives the transcript once ``end`` was called and the last batch is
    decoded.  Cancelled (the call ended), it still finishes the stream so the
    recognizer gets its decoder back.
    """

    def __init__(
        self, engine: StreamingRecognizer, lang: str, phrases: tuple[str, ...], first: bytes
    ) -> None:
        self._engine = engine
        self._lang = lang
        self._phrases = phrases
        self._frames: list[bytes] = [first] if first else []
        self._ready = asyncio.Event()
        self._ready.set()
        self._ended = False
        self.task: asyncio.Task[Transcript] = asyncio.create_task(self._run(), name="live-decode")

    def add(self, pcm: bytes) -> None:
        self._frames.append(pcm)
        if len(self._frames) >= STREAM_BATCH_FRAMES:
            self._ready.set()

    def end(self) -> asyncio.Task[Transcript]:
        self._ended = True
        self._ready.set()
        return self.task

    async def _run(self) -> Transcript:
        opening: Future[RecognitionStream] = _ASR_THREADS.submit(
            self._engine.stream, self._lang, self._phrases
        )
        try:
            stream = await asyncio.wrap_future(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_finish_abandoned)
            raise
        feeding: Future[object] | None = None
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                batch, self._frames = b"".join(self._frames), []
                if batch:
                    feeding = _ASR_THREADS.submit(stream.feed, batch)
                    await asyncio.wrap_future(feeding)
                if self._ended and not self._frames:
                    break
        except BaseException:
            # Abandoned: finish after the batch still being decoded, never beside it.
            if feeding is not None and not feeding.done():
                feeding.add_done_callback(lambda _: _ASR_THREADS.submit(stream.finish))
            else:
                _ASR_THREADS.submit(stream.finish)
            raise
        return await _off_loop(_ASR_THREADS, stream.finish)


def _log_failure(done: Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("grammar not prepared ahead", extra=kv(error=repr(done.exception())))


def _finish_abandoned(opening: Future[RecognitionStream]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        _ASR_THREADS.submit(opening.result().finish)


class CallEnded(Exception):
    """The far end hung up or the media socket closed."""


class Conversation:
    def __init__(
        self,
        media: MediaLike,
        dialogue: Dialogue,
        recognizer: Recognizer,
        prompts: PromptCache,
        lang: str,
        grammar_phrases: Any,
        endpoint_silence_ms: int = ENDPOINT_SILENCE_MS,
        on_turn: Callable[[Turn], None] | None = None,
        on_notice_played: Callable[[], None] | None = None,
        on_transfer: Callable[[str, Sequence[Turn]], Awaitable[bool]] | None = None,
        hold_repeat_s: float = HOLD_REPEAT_S,
    ) -> None:
        self.media = media
        self.dialogue = dialogue
        self.recognizer = recognizer
        self.prompts = prompts
        self.lang = lang
        self.grammar_phrases = grammar_phrases  # callable (lang, name) -> tuple[str, ...]
        self.endpointer = Endpointer(endpoint_silence_ms=endpoint_silence_ms)
        self.record = ConversationRecord(language=lang)
        self.control: asyncio.Queue[str] = asyncio.Queue(maxsize=CONTROL_QUEUE)
        self._utterances: asyncio.Queue[Utterance] = asyncio.Queue(maxsize=UTTERANCE_QUEUE)
        self._speaking_interruptible: bool | None = None  # None: bot silent
        self._barged = asyncio.Event()
        self._speech_until = 0.0  # monotonic time the current prompt's speech (not its tail) ends
        self._echo = EchoGuard()
        self._frame_times: deque[float] = deque(maxlen=START_WINDOW_MS // 20)
        self._live: LiveDecode | None = None  # the utterance being decoded as it is spoken
        self._streaming = _streaming_engine(recognizer, lang) if streaming_enabled() else None
        self._grammar = dialogue.grammar  # the state the dialogue listens in (read by the listener)
        self._marks: dict[str, float] = {}  # this turn's stage times (monotonic), for Turn.stages_ms
        self._t0 = time.monotonic()
        self._ended = asyncio.Event()
        # Sees each turn as it is recorded (the live board); must not block: it runs on the call's loop.
        self._on_turn = on_turn
        # Told once the recording notice has played (it is never interrupted): the call's
        # recording starts then.  Must not block.
        self._on_notice_played = on_notice_played
        # Asked for a collector when the dialogue wants a transfer (the queue, the turns so far):
        # True once one has accepted the call.  None: no transfer on this call.
        self._on_transfer = on_transfer
        self.hold_repeat_s = hold_repeat_s  # silence between holding lines while the desk rings
        self.transferred = False  # a collector took the call from the bot

    def _add_turn(self, turn: Turn) -> None:
        self.record.turns.append(turn)
        if self._on_turn is not None:
            self._on_turn(turn)

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def far_end_hung_up(self) -> None:
        self._ended.set()

    # --- listener -------------------------------------------------------------------

    async def _listen(self) -> None:
        async for frame in self.media.frames():
            self._frame_times.append(frame.received_at)
            floor = self._echo.floor(frame.received_at) if self._speaking_interruptible is not None else 0.0
            event = self.endpointer.feed(frame.pcm, floor)
            if event is None:
                if self._live is not None:
                    self._live.add(frame.pcm)
            elif isinstance(event, SpeechStarted):
                # The first voiced frame of the start window: when the debtor began to speak.
                began = self._frame_times[max(0, len(self._frame_times) - 1 - event.first_voiced_ago)]
                if self._streaming is not None:
                    self._live = LiveDecode(
                        self._streaming, self.lang, self._phrases(self._grammar), event.pcm
                    )
                log.debug(
                    "debtor speech started",
                    extra=kv(
                        bot_speaking=self._speaking_interruptible is not None,
                        interruptible=self._speaking_interruptible,
                        prompt_left_ms=round((self._speech_until - time.monotonic()) * 1000),
                    ),
                )
                if self._speaking_interruptible is None:
                    continue
                if time.monotonic() >= self._speech_until:
                    # The prompt itself has played; only its silent tail is left.
                    await self.media.flush()
                    self._echo.stopped(time.monotonic())
                    self._barged.set()
                elif self._speaking_interruptible:
                    await self.media.flush()
                    flushed = time.monotonic()
                    self._echo.stopped(flushed)
                    # From the debtor's first voiced frame reaching us to FLUSH_MEDIA sent.
                    self.record.barge_ins.append((flushed - began) * 1000)
                    self._barged.set()
            elif isinstance(event, SpeechEnded):
                end_at = frame.received_at - self.endpointer.endpoint_silence_ms / 1000
                heard = None
                if self._live is not None:
                    self._live.add(frame.pcm)
                    heard, self._live = self._live.end(), None
                if self._utterances.full():
                    dropped = self._utterances.get_nowait()
                    if dropped.heard is not None:
                        dropped.heard.cancel()
                self._utterances.put_nowait(Utterance(event.pcm, end_at, frame.received_at, heard))
        self._ended.set()

    # --- speaking ----------------------------------------------------------------------

    async def _speak(self, turns: Sequence[BotTurnLike], after: Utterance | None) -> None:
        for i, turn in enumerate(turns):
            if self.media.closed:
                raise CallEnded
            pcm = await asyncio.to_thread(self.prompts.get, turn.speech or turn.text, self.lang)
            audio_ready = time.monotonic()
            self._barged.clear()
            self._speaking_interruptible = turn.interruptible
            started = self._now()
            sent_at = await self.media.play(pcm + (_TAIL if i == len(turns) - 1 else _GAP))
            self._echo.playing(pcm, sent_at)
            self._speech_until = sent_at + duration_ms(pcm) / 1000
            latency = (sent_at - after.speech_end_at) * 1000 if (after is not None and i == 0) else None
            stages: dict[str, float] = {}
            if latency is not None and after is not None:
                stages = self._stages(after, audio_ready, sent_at)
            played = asyncio.create_task(self.media.wait_played(), name="wait-played")
            barged = asyncio.create_task(self._barged.wait(), name="wait-barge")
            ended = asyncio.create_task(self._ended.wait(), name="wait-ended")
            try:
                await asyncio.wait({played, barged, ended}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (played, barged, ended):
                    t.cancel()
            interrupted = (
                self._barged.is_set() and turn.interruptible and time.monotonic() < self._speech_until
            )
            self._speaking_interruptible = None
            self._add_turn(
                Turn(
                    "bot",
                    turn.text,
                    started,
                    self._now(),
                    latency_ms=latency,
                    interrupted=interrupted,
                    stages_ms=stages,
                )
            )
            log.info(
                "bot turn", extra=kv_pii({"text": turn.text}, latency_ms=latency, interrupted=interrupted)
            )
            if self._ended.is_set():
                raise CallEnded
            if getattr(turn, "action", None) == RECORDING_NOTICE and self._on_notice_played is not None:
                self._recording_starts()
            if self._barged.is_set() and (interrupted or i == len(turns) - 1):
                return  # the debtor has the floor; the rest of these turns are dropped

    def _recording_starts(self) -> None:
        """Turn times count from the recording's start (QA seeks the recording by them), so
        the notice, said before it, keeps negative times."""
        shift = self._now()
        self._t0 += shift
        self.record.turns[:] = [
            dataclasses.replace(
                t, started_s=t.started_s - shift, ended_s=None if t.ended_s is None else t.ended_s - shift
            )
            for t in self.record.turns
        ]
        if self._on_notice_played is not None:
            self._on_notice_played()

    # --- turn loop ----------------------------------------------------------------------

    async def _next_input(self) -> Utterance | str | None:
        """An utterance, a DTMF digit, or None on no-input timeout."""
        utt = asyncio.create_task(self._utterances.get(), name="next-utterance")
        ctl = asyncio.create_task(self.control.get(), name="next-control")
        ended = asyncio.create_task(self._ended.wait(), name="ended")
        try:
            done, _ = await asyncio.wait(
                {utt, ctl, ended}, timeout=NO_INPUT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for t in (utt, ctl, ended):
                t.cancel()
        if ctl in done:
            return ctl.result()
        if utt in done:
            return utt.result()
        if ended in done:
            raise CallEnded
        if self.endpointer.in_speech:
            # The debtor is mid-sentence: not a no-input; wait for the endpoint.
            return await self._next_input()
        return None

    def _stages(self, after: Utterance, audio_ready: float, sent_at: float) -> dict[str, float]:
        marks = self._marks
        points = [
            ("endpoint", after.endpoint_at),
            ("asr", marks.get("asr", 0.0)),
            ("nlu", marks.get("nlu", 0.0)),
            ("tts", audio_ready),
            ("send", sent_at),
        ]
        out: dict[str, float] = {}
        prev = after.speech_end_at
        for name, at in points:
            if at:
                out[name] = round((at - prev) * 1000, 1)
                prev = at
        return out

    def _phrases(self, name: str | None) -> tuple[str, ...]:
        if not name:
            return ()
        # The state's expected answers, plus what a debtor may say in any state
        # (stop calling, a person please, I already paid…), with the account's words
        # ("yes this is {first_name}") filled in for this call.
        both = tuple(dict.fromkeys(self.grammar_phrases(self.lang, name) + self._open_phrases()))
        return fill(both, getattr(self.dialogue, "grammar_values", {}))

    async def _recognize(self, utt: Utterance) -> Transcript:
        if utt.heard is not None:
            return await utt.heard
        phrases = self._phrases(self.dialogue.grammar)
        return await _off_loop(_ASR_THREADS, self.recognizer.recognize, utt.pcm, self.lang, phrases)

    def _listening(self) -> None:
        """After each dialogue step: the grammar to decode the next words with; prompts to pre-render."""
        self._grammar = self.dialogue.grammar
        likely = getattr(self.dialogue, "likely_speech", None)
        if callable(likely) and not self.dialogue.done:
            self.prompts.prefetch(likely(), self.lang)

    def _open_phrases(self) -> tuple[str, ...]:
        try:
            return tuple(self.grammar_phrases(self.lang, OPEN_GRAMMAR))
        except ConfigError:
            return ()

    async def _turns(self) -> None:
        opening = self.dialogue.start()
        self._listening()
        prepare = getattr(self.recognizer, "prepare", None)
        if callable(prepare) and self._grammar:
            # The first answer's grammar names the account ("yes this is john"): compiled
            # while the greeting plays, so the answer is not what pays for it.
            ready = _ASR_THREADS.submit(prepare, self.lang, self._phrases(self._grammar))
            ready.add_done_callback(_log_failure)
        await self._speak(opening, None)
        while not self.dialogue.done:
            got = await self._next_input()
            if got is None:
                replies = self.dialogue.no_input()
                self._listening()
                await self._speak(replies, None)
                await self._hand_over()
            elif isinstance(got, str):
                self._add_turn(Turn("debtor", "", self._now(), dtmf=got))
                replies = self.dialogue.dtmf(got)
                self._listening()
                await self._speak(replies, None)
                await self._hand_over()
            else:
                self._marks = {}
                heard = await self._recognize(got)
                self._marks["asr"] = time.monotonic()
                started = self._now() - heard.audio_ms / 1000
                log.info(
                    "debtor turn", extra=kv_pii({"text": heard.text}, decode_ms=round(heard.decode_ms, 1))
                )
                replies = await _off_loop(_DIALOGUE_THREAD, self.dialogue.hear, heard.text, heard.confidence)
                self._marks["nlu"] = time.monotonic()
                self._listening()
                intent, intent_conf, slots = last_understanding(self.dialogue.turns)
                self._add_turn(
                    Turn(
                        "debtor",
                        heard.text,
                        started,
                        self._now(),
                        asr_confidence=heard.confidence,
                        intent=intent,
                        intent_confidence=intent_conf,
                        slots=slots,
                    )
                )
                await self._speak(replies, got)
                await self._hand_over()

    async def _hand_over(self) -> None:
        """The dialogue wants a collector: ask for one, then say only what is true.

        "Connecting you" is said once a collector has accepted (they hear it too); otherwise
        the dialogue's alternative (a callback offered).
        """
        queue = getattr(self.dialogue, "transfer_wanted", None)
        if queue is None:
            return
        accepted = False
        if self._on_transfer is not None:
            # The holding line plays while the desk rings: the debtor never waits in silence.
            hold = getattr(self.dialogue, "transfer_hold", None)
            holding = hold() if callable(hold) else []
            on_transfer, so_far = self._on_transfer, list(self.record.turns)

            async def ask() -> bool:
                return await on_transfer(queue, so_far)

            offer = asyncio.create_task(ask(), name="transfer-offer")
            try:
                with contextlib.suppress(CallEnded):  # the offer settles first, then the end is seen
                    await self._hold(holding, offer)
            except BaseException:
                offer.cancel()
                raise
            accepted = await offer
        self.transferred = accepted
        replies = self.dialogue.transfer_outcome(accepted)  # type: ignore[attr-defined]
        if self._ended.is_set():
            raise CallEnded
        self._listening()
        await self._speak(replies, None)

    async def _hold(self, holding: Sequence[BotTurnLike], offer: asyncio.Task[bool]) -> None:
        """The holding line, then again after each ``hold_repeat_s`` of waiting, until the offer
        settles (a collector accepted, or the transfer's own limit passed)."""
        while True:
            await self._speak(holding, None)
            if not holding:
                await asyncio.wait({offer})
                return
            done, _ = await asyncio.wait({offer}, timeout=self.hold_repeat_s)
            if done:
                return
            if self._ended.is_set():
                raise CallEnded

    async def run(self) -> ConversationRecord:
        """Run until the dialogue ends or the far end hangs up."""
        async with asyncio.timeout(MAX_CALL_S):
            listener = asyncio.create_task(self._listen(), name="conversation-listener")
            try:
                await self._turns()
                self.record.hangup_by = "bot"
            except CallEnded:
                self.record.hangup_by = "debtor"
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if self.record.hangup_by == "debtor":
                await self._last_words()
            self._drop_pending()
        self.record.dropped_frames = self.media.dropped_frames
        log.info(
            "conversation ended", extra=kv(turns=len(self.record.turns), hangup_by=self.record.hangup_by)
        )
        return self.record

    async def _last_words(self) -> None:
        """What the debtor said just before hanging up goes into the transcript (QA needs it)."""
        pending: list[Utterance] = []
        while not self._utterances.empty():
            pending.append(self._utterances.get_nowait())
        cut = self.endpointer.flush()
        if cut is not None:
            live, self._live = self._live, None
            pending.append(Utterance(cut.pcm, time.monotonic(), heard=live.end() if live else None))
        for utt in pending:
            heard = await self._recognize(utt)
            if heard.text:
                self._add_turn(
                    Turn(
                        "debtor",
                        heard.text,
                        self._now() - heard.audio_ms / 1000,
                        self._now(),
                        asr_confidence=heard.confidence,
                    )
                )

    def _drop_pending(self) -> None:
        """Decodes nobody will read any more (the call is over) give their decoders back."""
        if self._live is not None:
            self._live.task.cancel()
            self._live = None
        while not self._utterances.empty():
            utt = self._utterances.get_nowait()
            if utt.heard is not None:
                utt.heard.cancel()

    async def leave_voicemail(self) -> ConversationRecord:
        """Wait out the greeting and beep, then leave the dialogue's limited-content message."""
        quiet_needed = VOICEMAIL_QUIET_MS / 1000
        last_sound = time.monotonic()
        deadline = last_sound + VOICEMAIL_BEEP_WAIT_S
        frames = aiter(self.media.frames())
        try:
            while True:
                # A line that stops sending audio is quiet too: wait for the next frame only as long
                # as the quiet span (or the deadline) still needs, not until the far end hangs up.
                wait = min(deadline, last_sound + quiet_needed) - time.monotonic()
                if wait <= 0:
                    break
                try:
                    frame = await asyncio.wait_for(anext(frames), timeout=wait)
                except (TimeoutError, StopAsyncIteration):
                    break
                if self.endpointer.feed(frame.pcm) is not None or self.endpointer.in_speech:
                    last_sound = frame.received_at
                if frame.received_at - last_sound >= quiet_needed or frame.received_at > deadline:
                    break
        finally:
            close = getattr(frames, "aclose", None)
            if close is not None:
                await close()
        try:
            listener = asyncio.create_task(self._listen(), name="voicemail-listener")
            try:
                await self._speak(self.dialogue.voicemail(), None)
                self.record.hangup_by = "bot"
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
                self._drop_pending()
        except CallEnded:
            self.record.hangup_by = "debtor"
        return self.record


def last_understanding(
    turns: Sequence[DialogueTurn],
) -> tuple[str | None, float | None, dict[str, str | None]]:
    """Intent, confidence and slots of the debtor's latest understood turn, as the call record keeps them."""
    for turn in reversed(turns):
        u = turn.understanding
        if turn.speaker == "debtor" and u is not None:
            slots = {
                "date": u.slots.date.isoformat() if u.slots.date else None,
                "amount": str(u.slots.amount) if u.slots.amount is not None else None,
            }
            return str(u.intent), float(u.confidence), slots
        if turn.speaker == "bot":
            continue
        break
    return None, None, {}


def _streaming_engine(recognizer: Recognizer, lang: str) -> StreamingRecognizer | None:
    """The engine that can decode ``lang`` while it is spoken, if there is one."""
    pick = getattr(recognizer, "streaming_for", None)  # bot.asr.registry.RoutingRecognizer
    if callable(pick):
        try:
            engine = pick(lang)
        except ConfigError:
            return None
        return engine if isinstance(engine, StreamingRecognizer) else None
    return recognizer if isinstance(recognizer, StreamingRecognizer) else None
