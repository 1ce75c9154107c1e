"""Mandarin grammar recognition (PocketSphinx + pinyin dictionary) on espeak-ng Mandarin speech.

Three sets of utterances, each rendered by espeak-ng's ``cmn-latn-pinyin``
voice (the personas' voice) at several speeds, pitches and voice variants, and
converted to 16 kHz slin with sox:

- grammar: every phrase of ``grammars/zh/*.yaml``, decoded with its state's
  grammar plus the open grammar, as a call decodes it.  Phrase accuracy is
  exact recovery of the phrase; intent accuracy is whether the recognized
  phrase belongs to the same intent.
- heldout: the NLU held-out utterances (``data/nlu/zh/heldout.tsv``: colloquial,
  mostly NOT in any grammar), decoded with all five grammars together.  Only the
  intent of the phrases heard can be right here; CER shows how far the words are.
- persona: the Mandarin personas' replies as the sandbox renders them, decoded
  with the grammar of the state each answers.

Dev / test: utterances are split by a hash of their text, and the voice
variants differ (``DEV_VOICES`` / ``TEST_VOICES``); the phone tables in
``bot/asr/pinyin.py`` were tuned on dev only.  Personas are test only.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein

from bot.grammars import phrases as grammar_phrases
from bot.nlu.data import load as load_nlu
from bot.nlu.data import normalize
from bot.nlu.grammar import STATE_GRAMMARS, load_grammar
from foundation.contract import Intent

BYTES_PER_S = 32_000
VOICE = "cmn-latn-pinyin"
MIN_CONFIDENCE = 0.5  # scripts' min_confidence: below it the dialogue re-prompts
PHONE_BAND = True  # render through 8 kHz, as PSTN calls carry it (see ``render``)


@dataclass(frozen=True, slots=True)
class Voice:
    variant: str  # espeak-ng voice variant ("" = the default male voice)
    rate_wpm: int
    pitch: int  # espeak-ng -p, 0..99 (50 default)

    @property
    def name(self) -> str:
        return f"{VOICE}{'+' + self.variant if self.variant else ''}"

    def label(self) -> str:
        return f"{self.name}/{self.rate_wpm}/{self.pitch}"


DEV_VOICES = (Voice("", 155, 50), Voice("", 130, 40), Voice("f2", 165, 55))
TEST_VOICES = (Voice("", 175, 60), Voice("f3", 145, 50), Voice("m3", 160, 35))


@dataclass(frozen=True, slots=True)
class Utterance:
    kind: str  # grammar | heldout | persona
    text: str
    intent: Intent | None  # expected intent (None: persona replies)
    grammar: tuple[str, ...]  # the phrases the decoder may choose from
    split: str  # dev | test


@dataclass
class Score:
    kind: str
    split: str
    n: int = 0
    exact: int = 0
    intent_ok: int = 0
    intent_n: int = 0
    char_errors: int = 0
    ref_chars: int = 0
    rtf: list[float] = field(default_factory=list)
    confidences: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, right intent)


def split_of(text: str) -> str:
    return "dev" if hashlib.sha1(text.encode()).digest()[0] % 2 == 0 else "test"


def phrase_intents() -> dict[str, Intent]:
    out: dict[str, Intent] = {}
    for name in STATE_GRAMMARS:
        for phrase, intent in load_grammar("zh", name).phrases():
            out.setdefault(phrase, intent)
    return out


def state_grammar(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(grammar_phrases("zh", name) + grammar_phrases("zh", "open")))


def utterances(persona_replies: list[tuple[str, str | None]]) -> list[Utterance]:
    """Every utterance of the three sets; ``persona_replies`` is (text, answered grammar) per reply."""
    out: list[Utterance] = []
    seen: set[tuple[str, str]] = set()
    for name in STATE_GRAMMARS:
        for phrase, intent in load_grammar("zh", name).phrases():
            if (phrase, name) in seen:
                continue
            seen.add((phrase, name))
            out.append(Utterance("grammar", phrase, intent, state_grammar(name), split_of(phrase)))
    everything = tuple(dict.fromkeys(p for name in STATE_GRAMMARS for p in grammar_phrases("zh", name)))
    for ex in load_nlu("zh", "heldout"):
        out.append(Utterance("heldout", ex.text, ex.intent, everything, split_of(ex.text)))
    for text, answered in persona_replies:
        if answered:
            out.append(Utterance("persona", text, None, state_grammar(answered), "test"))
    return out


def render(text: str, voice: Voice, folder: Path, phone: bool = PHONE_BAND) -> bytes:
    """espeak-ng → sox → 16 kHz slin, cached in ``folder`` by voice and text.

    ``phone``: through 8 kHz and back, as a PSTN (G.711) call carries it.  The sandbox's
    Local channels carry 48 kHz (slin48) and the bot hears 16 kHz: the wideband case.
    """
    key = hashlib.sha256(f"{voice.label()}|{text}".encode()).hexdigest()[:20]
    target = folder / f"{key}{'.8k' if phone else ''}.sln16"
    if not target.exists():
        wav = folder / f"{key}.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice.name,
                "-s",
                str(voice.rate_wpm),
                "-p",
                str(voice.pitch),
                "-w",
                str(wav),
                text,
            ],
            check=True,
            capture_output=True,
        )
        tmp = folder / f"{key}.tmp"
        rate = ["rate", "8000", "rate", "16000"] if phone else []
        subprocess.run(
            [
                "sox",
                str(wav),
                "-t",
                "raw",
                "-r",
                "16000",
                "-e",
                "signed",
                "-b",
                "16",
                "-c",
                "1",
                str(tmp),
                *rate,
            ],
            check=True,
            capture_output=True,
        )
        wav.unlink()
        tmp.replace(target)
    return target.read_bytes()


def cases(items: list[Utterance], split: str, folder: Path) -> Iterator[tuple[Utterance, Voice, bytes]]:
    voices = DEV_VOICES if split == "dev" else TEST_VOICES
    for u in items:
        if u.split != split:
            continue
        if u.kind == "persona":
            yield u, Voice("", 155, 50), render(u.text, Voice("", 155, 50), folder)
            continue
        for v in voices:
            yield u, v, render(u.text, v, folder)


def same_sound(a: str, b: str) -> bool:
    """Homophones (他 / 她 tā) are the same answer to a recognizer without tones."""
    return bool(a) and lazy_pinyin(a) == lazy_pinyin(b)


def heard_intent(text: str, intents: dict[str, Intent], grammar: tuple[str, ...]) -> Intent | None:
    """The intent of the longest grammar phrase in what was heard (the recognizer joins phrases)."""
    best = None
    for phrase in sorted(grammar, key=len, reverse=True):
        if phrase in text:
            best = intents.get(phrase)
            break
    return best


def run(
    split: str,
    persona_replies: list[tuple[str, str | None]],
    folder: Path | None = None,
    verbose: bool = False,
    kinds: tuple[str, ...] = ("grammar", "heldout", "persona"),
) -> list[Score]:
    from bot.asr.mandarin import MandarinGrammarRecognizer

    rec = MandarinGrammarRecognizer(pool_size=1)
    intents = phrase_intents()
    items = utterances(persona_replies)
    scores: dict[str, Score] = {}
    with tempfile.TemporaryDirectory(prefix="duncall-bench-zh-") as tmp:
        where = folder or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        warm = render("是的", DEV_VOICES[0], where)
        rec.recognize(warm, "zh", state_grammar("confirm"))
        for u, voice, pcm in cases([u for u in items if u.kind in kinds], split, where):
            s = scores.setdefault(u.kind, Score(u.kind, split))
            started = time.perf_counter()
            heard = rec.recognize(pcm, "zh", u.grammar)
            s.rtf.append((time.perf_counter() - started) / (len(pcm) / BYTES_PER_S))
            ref, hyp = normalize(u.text, "zh"), normalize(heard.text, "zh")
            s.n += 1
            s.exact += ref == hyp or same_sound(ref, hyp)
            s.char_errors += Levenshtein.distance(ref, hyp)
            s.ref_chars += len(ref)
            if u.intent is not None:
                got = heard_intent(hyp, intents, u.grammar)
                s.intent_n += 1
                s.intent_ok += got is u.intent
                s.confidences.append((heard.confidence, got is u.intent))
            if verbose and ref != hyp:
                print(
                    f"  {u.kind:8} {voice.label():28} {u.text} → {heard.text or '∅'} ({heard.confidence:.2f})"
                )
    return list(scores.values())
