"""Vosk: the production engine — streaming, with the dialogue state's phrases as its grammar.

This module is Vosk's edge: its JSON results, its word lists and its log
noise are translated here into ``Transcript`` / ``PartialTranscript`` and go
no further.

- A model is loaded once per language (seconds, hundreds of MB) and shared by
  every call; each utterance gets its own ``KaldiRecognizer`` (cheap).
- Grammar: the state's phrases, as Vosk words, plus ``[unk]`` so off-list
  speech comes out as unknown instead of being forced onto a phrase.  A phrase
  with a word the model does not know is left out (Vosk would silently drop
  the word and keep the rest of the phrase, which then matches other speech);
  if no phrase is left, the utterance is decoded freely.
- Mandarin is written without spaces but Vosk's words are segmented, so a
  phrase is split into the model's words by longest match, and the result's
  words are joined back without spaces.
- Vosk's final result is sometimes empty although the partials had the words
  (a known Vosk trait); the last non-empty partial is kept and used then.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.asr.base import Transcript
from bot.asr.streaming import PartialTranscript
from bot.audio import SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES
from bot.models import vosk_model_dir
from foundation.errors import ConfigError
from foundation.log import kv

log = logging.getLogger(__name__)

# A stream reports the end of speech when Vosk's own endpoint rules close a
# segment (the model's conf: ≥ 0.5 s of silence after words), or when the
# partial text has not changed for this long.  Vosk updates partials in
# ~240 ms batches, so much below 800 ms a pause between words reads as an end.
# The endpointer's VAD (ENDPOINT_SILENCE_MS) still closes the turn; this lets
# a caller close it sooner when the decoder says the words are done.
VOSK_ENDPOINT_SILENCE_MS = 800
PARTIAL_FALLBACK_CONFIDENCE = 0.5  # words from the last partial: right often, never certain
UNKNOWN = "[unk]"
UNSPACED_LANGS = frozenset({"zh", "yue", "ja"})  # written without spaces between words
MAX_WORD_CHARS = 8  # longest-match window for unspaced languages
_TOKEN_RE = re.compile(r"[\w']+")
_KALDI_LOG_LEVEL = -2  # errors only: Vosk logs every model load and grammar word at INFO/WARNING


def _vosk() -> Any:
    import vosk  # loading libvosk costs ~0.1 s; only when the engine is used

    vosk.SetLogLevel(_KALDI_LOG_LEVEL)
    return vosk


def phrase_words(phrase: str, lang: str, known: Callable[[str], bool]) -> list[str] | None:
    """``phrase`` as the model's words, or None when one of its words is not in the model.

    Unspaced languages are split by longest match against the vocabulary, so
    "我月底还" becomes "我 月底 还" for a model that has those words.
    """
    tokens = _TOKEN_RE.findall(phrase.lower())
    if not tokens:
        return None
    if lang not in UNSPACED_LANGS:
        return tokens if all(known(t) for t in tokens) else None
    words: list[str] = []
    for token in tokens:
        i = 0
        while i < len(token):
            for j in range(min(len(token), i + MAX_WORD_CHARS), i, -1):
                if known(token[i:j]):
                    words.append(token[i:j])
                    i = j
                    break
            else:
                return None
    return words


def grammar_json(phrases: Iterable[str], lang: str, known: Callable[[str], bool]) -> str | None:
    """The Vosk grammar for these phrases, or None when none of them can be said in the model's words."""
    out: list[str] = []
    for phrase in phrases:
        words = phrase_words(phrase, lang, known)
        if words:
            out.append(" ".join(words))
    if not out:
        return None
    out = list(dict.fromkeys(out))
    if known(UNKNOWN):  # some small models have no [unk] word; then the grammar is closed
        out.append(UNKNOWN)
    return json.dumps(out, ensure_ascii=False)


def join_words(words: Iterable[str], lang: str) -> str:
    kept = [w for w in words if w and w != UNKNOWN]
    return ("" if lang in UNSPACED_LANGS else " ").join(kept)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    conf: float


def _result_words(result_json: str) -> list[_Word]:
    """Vosk's ``Result``/``FinalResult`` JSON (with SetWords) as words; [unk] counts as no confidence."""
    out: list[_Word] = []
    for w in json.loads(result_json).get("result", []):
        text = str(w.get("word", ""))
        if text:
            out.append(_Word(text, 0.0 if text == UNKNOWN else float(w.get("conf", 0.0))))
    return out


class VoskStream:
    """One utterance being decoded as it arrives (see ``bot.asr.streaming``).

    ``recognizer`` is a ``vosk.KaldiRecognizer`` (or anything with its
    AcceptWaveform / Result / PartialResult / FinalResult methods).
    """

    def __init__(
        self,
        recognizer: Any,
        lang: str,
        *,
        endpoint_silence_ms: int = VOSK_ENDPOINT_SILENCE_MS,
        engine: str = "vosk",
        grammar: bool = False,
    ) -> None:
        self._rec = recognizer
        self._lang = lang
        self._endpoint_silence_ms = endpoint_silence_ms
        self._engine = engine
        self.grammar = grammar
        self._done: list[_Word] = []  # words of segments Vosk already finalised
        self._pending: list[str] = []  # the current segment's last non-empty partial
        self._last_reported: tuple[str, bool] = ("", False)
        self._last_change_s: float | None = None
        self._segment_closed = False  # Vosk's endpoint fired and no word came since
        self._fed_bytes = 0
        self._decode_s = 0.0
        self._finished = False

    @property
    def audio_ms(self) -> float:
        return self._fed_bytes / (SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES) * 1000

    def feed(self, pcm: bytes) -> PartialTranscript | None:
        if self._finished:
            raise RuntimeError("VoskStream.feed after finish")
        started = time.perf_counter()
        self._fed_bytes += len(pcm)
        if self._rec.AcceptWaveform(pcm):
            # Vosk's own endpoint closed a segment; the utterance goes on until the caller finishes it.
            self._close_segment(self._rec.Result())
            self._segment_closed = True
        else:
            # Partial words (SetPartialWords) would carry word times, but with them this Vosk
            # reports no partial until ~2 s into the audio; the text alone comes every frame, and
            # the moment it last changed stands in for the end of the last word.
            words = [w for w in str(json.loads(self._rec.PartialResult()).get("partial", "")).split() if w]
            if words and words != self._pending:
                self._pending = words
                self._last_change_s = self.audio_ms / 1000
                self._segment_closed = False
        self._decode_s += time.perf_counter() - started
        text = join_words([w.text for w in self._done] + self._pending, self._lang)
        if self._last_change_s is None:
            trailing_ms, ended = self.audio_ms, False
        else:
            trailing_ms = self.audio_ms - self._last_change_s * 1000
            ended = bool(text) and (self._segment_closed or trailing_ms >= self._endpoint_silence_ms)
        if (text, ended) == self._last_reported:
            return None
        self._last_reported = (text, ended)
        return PartialTranscript(text, self.audio_ms, trailing_ms, ended)

    def finish(self) -> Transcript:
        if self._finished:
            raise RuntimeError("VoskStream.finish called twice")
        self._finished = True
        started = time.perf_counter()
        self._close_segment(self._rec.FinalResult())
        self._decode_s += time.perf_counter() - started
        text = join_words((w.text for w in self._done), self._lang)
        confidence = sum(w.conf for w in self._done) / len(self._done) if text else 0.0
        return Transcript(
            text=text,
            confidence=max(0.0, min(1.0, confidence)),
            engine=self._engine,
            audio_ms=self.audio_ms,
            decode_ms=self._decode_s * 1000,
        )

    def _close_segment(self, result_json: str) -> None:
        words = _result_words(result_json)
        if not words and self._pending:
            # Vosk sometimes finalises a segment as empty right after partials that had the words.
            log.debug("vosk result empty after a partial; keeping the partial", extra=kv(lang=self._lang))
            words = [_Word(w, 0.0 if w == UNKNOWN else PARTIAL_FALLBACK_CONFIDENCE) for w in self._pending]
        self._done.extend(words)
        self._pending = []


class VoskRecognizer:
    """``Recognizer`` and ``StreamingRecognizer`` over Vosk, one model per language."""

    name = "vosk"

    def __init__(
        self, model_dirs: dict[str, Path] | None = None, endpoint_silence_ms: int = VOSK_ENDPOINT_SILENCE_MS
    ) -> None:
        self._model_dirs = dict(model_dirs or {})
        self.endpoint_silence_ms = endpoint_silence_ms
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._grammars: dict[tuple[str, tuple[str, ...]], str | None] = {}

    def model(self, lang: str) -> Any:
        """The loaded model for ``lang`` (loaded on first use; a bot may warm it at start)."""
        with self._lock:
            if lang not in self._models:
                path = self._model_dirs.get(lang) or vosk_model_dir(lang)
                started = time.perf_counter()
                try:
                    self._models[lang] = _vosk().Model(str(path))
                except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                    raise ConfigError(
                        f"Vosk could not load the model at {path} ({exc})",
                        "check the directory is a complete, unpacked Vosk model",
                    ) from None
                load_ms = round((time.perf_counter() - started) * 1000)
                log.info("vosk model loaded", extra=kv(lang=lang, path=str(path), load_ms=load_ms))
            return self._models[lang]

    def grammar(self, lang: str, phrases: tuple[str, ...]) -> str | None:
        """The Vosk grammar JSON used for these phrases (None: free decoding)."""
        key = (lang, phrases)
        if key not in self._grammars:
            model = self.model(lang)
            self._grammars[key] = grammar_json(phrases, lang, lambda w: model.vosk_model_find_word(w) >= 0)
            if phrases and self._grammars[key] is None:
                log.warning(
                    "no grammar phrase is in the Vosk model's vocabulary; decoding freely",
                    extra=kv(lang=lang, phrases=len(phrases)),
                )
        return self._grammars[key]

    def stream(self, lang: str, phrases: tuple[str, ...] = ()) -> VoskStream:
        model = self.model(lang)
        grammar = self.grammar(lang, phrases) if phrases else None
        vosk = _vosk()
        rec = (
            vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ, grammar)
            if grammar
            else vosk.KaldiRecognizer(model, SAMPLE_RATE_HZ)
        )
        rec.SetWords(True)
        return VoskStream(
            rec,
            lang,
            endpoint_silence_ms=self.endpoint_silence_ms,
            engine=self.name,
            grammar=grammar is not None,
        )

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        stream = self.stream(lang, phrases)
        # Fed whole: Vosk's own chunking is as good as 20 ms frames for audio already endpointed.
        stream.feed(pcm)
        return stream.finish()
