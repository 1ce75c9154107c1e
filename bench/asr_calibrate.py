"""Calibrate PocketSphinx's whole-phrase confidence per band on held-out audio.

Held-out audio: espeak-ng voices that neither the personas (en-us, en-gb, en-us+f3) nor the
telephone adaptation (those and en-us+m3, en-sc) use, each saying, for each listening
grammar a call uses (``identity``, ``confirm``, ``payment_plan``, each with ``open``, the
account's names filled in): phrases of the list, utterances of the NLU held-out set (off the
list, labelled with their intent) and phrases cut off after a few words (no intent: any
action taken on one is wrong).  Each clip is decoded twice as a call hears it: at 16 kHz by
the bundled model (``wideband``), and through the simulated G.711 line
(``bot.asr.line``: 300-3400 Hz, μ-law, line noise, packet loss) by the model with the
telephone adaptation (``telephone``).

A result is right when its meaning is the one said: the heard phrase's intent (from its
grammar) is the said utterance's.  The whole-phrase results of the fit voices give, per
band, an isotonic map from the decode's evidence to the share right (each block smoothed
toward one half by one right and one wrong); the check voices, never fitted, give the
reliability tables (calibrated and the former fixed scale), with every result counted:
fragments and language-model words too, at their capped confidences.  ``--write`` then
fits all five voices and writes the map into ``bot/asr/sphinx_calibration.py``.

    .venv/bin/python bench/asr_calibrate.py [--per-grammar 40] [--cache FILE] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.asr.line import telephone_line
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.sphinx_calibration import KINDS, Kind, calibrated, phrase_kind
from bot.asr.telephone import BANDS, Band, telephone_mllr_or_none
from bot.nlu.grammar import fill, load_grammar
from duncall.personas.render import ESPEAK_RATE_WPM
from foundation import paths

FIT_VOICES = ("en-us+m1", "en-gb-x-rp", "en-us+f2")
CHECK_VOICES = ("en-029", "en-us-nyc")
GRAMMARS = ("identity", "confirm", "payment_plan")
NAMES = (("john", "smith"), ("linda", "brown"), ("robert", "jones"), ("mary", "miller"), ("james", "wilson"))
BANDS_CHECK = (0.0, 0.5, 0.65, 0.75, 0.85, 0.95, 1.01)
OLD_WHOLE_PHRASE = (0.35, 0.95)  # the fixed scale whole phrases had before calibration
SEED = 20_261_208
PAD = bytes(32_000 * 3 // 10)  # the endpointer's pre-roll and tail
CALIBRATION_FILE = paths.REPO_ROOT / "bot" / "asr" / "sphinx_calibration.py"
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True, slots=True)
class Said:
    grammar: str
    text: str
    intent: str | None  # None: a cut-off phrase, nothing to act on
    first: str
    last: str


@dataclass(slots=True)
class Heard:
    voice: str
    band: str
    grammar: str
    said: str
    intent: str | None
    text: str
    whole_phrase: bool
    evidence: float  # whole phrases: the raw evidence; else the capped confidence as given
    heard_intent: str | None
    right: bool


def listen_set(grammar: str, first: str, last: str) -> dict[str, str]:
    """The phrases a call listens with in a state of ``grammar``, and each one's intent."""
    out: dict[str, str] = {}
    for name in (grammar, "open"):
        for phrase, intent in load_grammar("en", name).phrases():
            for filled in fill((phrase,), {"first_name": first, "last_name": last}):
                out.setdefault(" ".join(_WORD.findall(filled.lower())), intent.value)
    return out


def heldout() -> list[tuple[str, str]]:
    rows = []
    for line in (paths.nlu_data_dir() / "en" / "heldout.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            intent, text = line.split("\t", 1)
            rows.append((text.strip(), intent.strip()))
    return rows


def utterances(voice: str, per_grammar: int) -> list[Said]:
    rng = random.Random(f"{SEED}-{voice}")
    off = heldout()
    out: list[Said] = []
    for grammar in GRAMMARS:
        first, last = rng.choice(NAMES)
        listed = sorted(listen_set(grammar, first, last).items())
        for text, intent in rng.sample(listed, min(per_grammar, len(listed))):
            out.append(Said(grammar, text, intent, first, last))
        for text, intent in rng.sample(off, per_grammar):
            out.append(Said(grammar, text, intent, first, last))
        longer = [t for t, _ in listed if len(t.split()) >= 3]
        for text in rng.sample(longer, min(per_grammar // 4, len(longer))):
            words = text.split()
            cut = " ".join(words[: rng.randint(1, len(words) - 1)])
            # A cut that is itself a listed phrase ("yes" of "yes it's john") means what it says.
            out.append(Said(grammar, cut, dict(listed).get(cut), first, last))
    return out


def speak(text: str, voice: str, rate: int, tmp: Path) -> bytes:
    wav = tmp / "c.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True, capture_output=True
    )
    raw = subprocess.run(
        ["sox", str(wav), "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return PAD + raw + PAD


def decode_all(per_grammar: int) -> list[Heard]:
    mllr = telephone_mllr_or_none()
    if mllr is None:
        raise SystemExit(
            "bench/asr_calibrate.py: the telephone adaptation is not built (duncall models adapt)"
        )
    engines = {
        "wideband": SphinxRecognizer(pool_size=1, raw_confidence=True),
        "telephone": SphinxRecognizer(pool_size=1, mllr=mllr, raw_confidence=True),
    }
    out: list[Heard] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="duncall-bench-cal-") as tmp:
        for voice in FIT_VOICES + CHECK_VOICES:
            rng = random.Random(f"{SEED}-{voice}-rate")
            said_all = utterances(voice, per_grammar)
            for n, said in enumerate(said_all):
                listening = listen_set(said.grammar, said.first, said.last)
                grammar = tuple(listening)
                pcm = speak(said.text, voice, ESPEAK_RATE_WPM + rng.randint(-20, 20), Path(tmp))
                audio = {"wideband": pcm, "telephone": telephone_line(pcm, seed=SEED + n)}
                for band in BANDS:
                    got = engines[band].recognize(audio[band], "en", grammar)
                    whole = got.text in listening
                    heard_intent = listening.get(got.text) if whole else None
                    right = said.intent is not None and heard_intent == said.intent
                    out.append(
                        Heard(voice, band, said.grammar, said.text, said.intent, got.text, whole,
                              got.confidence, heard_intent, right)
                    )  # fmt: skip
            print(f"{voice}: {len(said_all)} clips, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out


def isotonic(points: list[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Pool-adjacent-violators on (evidence, right): blocks as (mean evidence, smoothed share)."""
    blocks: list[list[float]] = []  # [sum_x, rights, n]
    for x, ok in sorted(points):
        blocks.append([x, float(ok), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, r, n = blocks.pop()
            blocks[-1] = [blocks[-1][0] + sx, blocks[-1][1] + r, blocks[-1][2] + n]
    knots: list[tuple[float, float]] = []
    for sx, r, n in blocks:
        share = (r + 1) / (n + 2)  # smoothing may undo the order of a small block: keep it rising
        knots.append((round(sx / n, 3), round(max(share, knots[-1][1] if knots else 0.0), 3)))
    return knots


Knots = dict[tuple[Band, Kind], list[tuple[float, float]]]


def confidence(h: Heard, knots: Knots | None) -> float:
    """The confidence a call gets for ``h``: calibrated with ``knots`` (None: the old fixed scale)."""
    if not h.whole_phrase:
        return h.evidence
    if knots is None:
        low, high = OLD_WHOLE_PHRASE
        return low + (high - low) * h.evidence
    import bot.asr.sphinx_calibration as cal

    saved = cal.KNOTS
    cal.KNOTS = {key: tuple(k) for key, k in knots.items()}
    try:
        return calibrated(h.band, phrase_kind(h.text), h.evidence)  # type: ignore[arg-type]
    finally:
        cal.KNOTS = saved


def table(rows: list[Heard], knots: Knots | None, title: str) -> None:
    print(f"\n{title}")
    print(f"| confidence | {' | '.join(BANDS)} |")
    print("|---|" + "---|" * len(BANDS))
    for lo, hi in itertools.pairwise(BANDS_CHECK):
        cells = []
        for band in BANDS:
            got = [h.right for h in rows if h.band == band and lo <= confidence(h, knots) < hi]
            cells.append(f"{sum(got)}/{len(got)} ({sum(got) / len(got):.0%})" if got else "-")
        label = f"≥ {lo:.2f}" if hi > 1 else f"{lo:.2f}-{hi:.2f}"
        print(f"| {label} | {' | '.join(cells)} |")


def write(knots: Knots) -> None:
    text = CALIBRATION_FILE.read_text()
    body = "".join(f"    {key!r}: {tuple(tuple(k) for k in knots[key])!r},\n" for key in knots)
    new = re.sub(
        r"KNOTS: dict\[tuple\[Band, Kind\], tuple\[tuple\[float, float\], \.\.\.\]\] = \{\n.*?\n\}\n",
        "KNOTS: dict[tuple[Band, Kind], tuple[tuple[float, float], ...]] = {\n" + body + "}\n",
        text,
        flags=re.S,
    )
    CALIBRATION_FILE.write_text(new)
    print(f"wrote {CALIBRATION_FILE} (run ruff format on it)", file=sys.stderr)


def fit_knots(rows: list[Heard], label: str) -> Knots:
    knots: Knots = {}
    for band in BANDS:
        for kind in KINDS:
            points = [
                (h.evidence, h.right)
                for h in rows
                if h.band == band and h.whole_phrase and phrase_kind(h.text) == kind
            ]
            knots[(band, kind)] = isotonic(points)
            print(f"{label}: {band}, {kind}: {len(points)} whole phrases, knots {knots[(band, kind)]}")
    return knots


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--per-grammar", type=int, default=40, help="listed and held-out utterances per grammar and voice"
    )
    ap.add_argument("--cache", type=Path, help="JSON of decoded results: read when it exists, else written")
    ap.add_argument("--write", action="store_true", help="rewrite KNOTS in bot/asr/sphinx_calibration.py")
    args = ap.parse_args()
    if args.cache and args.cache.is_file():
        rows = [Heard(**r) for r in json.loads(args.cache.read_text())]
    else:
        rows = decode_all(args.per_grammar)
        if args.cache:
            args.cache.write_text(json.dumps([asdict(r) for r in rows]))
    fit = [h for h in rows if h.voice in FIT_VOICES]
    check = [h for h in rows if h.voice in CHECK_VOICES]
    knots = fit_knots(fit, "fit voices")
    print(f"\nfit voices {', '.join(FIT_VOICES)}: {len(fit) // len(BANDS)} clips; "
          f"check voices {', '.join(CHECK_VOICES)}: {len(check) // len(BANDS)} clips")  # fmt: skip
    table(check, None, "check voices, the former fixed scale: share right per confidence band")
    table(check, knots, "check voices, calibrated: share right per confidence band")
    for band in BANDS:
        sure = [h for h in check if h.band == band and confidence(h, knots) >= 0.85]
        said_none = [h for h in check if h.band == band and h.intent is None]
        passed = [h for h in said_none if confidence(h, knots) >= 0.85]
        print(
            f"{band}: at ≥ 0.85 {sum(h.right for h in sure)}/{len(sure)} right; "
            f"cut-off phrases at ≥ 0.85: {len(passed)}/{len(said_none)}"
        )
    if args.write:
        # Checked above on voices it never saw; what ships is fitted on all five (more errors
        # to learn from at low evidence, where the affirmations are few).
        write(fit_knots(rows, "all voices"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
