"""PocketSphinx's confidence for a whole phrase of the grammar, calibrated per band.

The decode gives evidence (``bot.asr.sphinx.decode_evidence``: the words' share of the
speech and their acoustic fit, 0..1); the same evidence means more on clean wide-band
audio than on a G.711 line, and more for a short "yes" than for a long phrase a reply off
the list was forced onto.  ``KNOTS`` maps it, per band and per kind of phrase heard (an
affirmation — what right-party verification and every "did you say …?" hang on — or any
other), to the share of such results whose meaning (the phrase's intent) was the one said,
on held-out audio: voices that neither the personas nor the telephone adaptation use,
saying the grammar phrases with the account's names, the NLU held-out utterances (off the
list) and phrases cut off after a few words.  So a threshold means what it says: of the
results at 0.85 and above, about 85 in 100 or more were right.

``bench/asr_calibrate.py --write`` measures and rewrites ``KNOTS`` (isotonic fit, each
block's share smoothed toward one half); bench/RESULTS.md has the reliability tables.
A piece of a phrase or the language model's words are not calibrated here: they stay
capped below every verification and flag threshold (``bot.asr.sphinx``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Literal

from bot.asr.telephone import Band

Kind = Literal["affirm", "other"]
KINDS: tuple[Kind, ...] = ("affirm", "other")

# (evidence, share right) at the centre of each isotonic block, evidence ascending.
# Written by bench/asr_calibrate.py --write.
KNOTS: dict[tuple[Band, Kind], tuple[tuple[float, float], ...]] = {
    ("wideband", "affirm"): (
        (0.006, 0.143),
        (0.159, 0.444),
        (0.309, 0.5),
        (0.39, 0.6),
        (0.598, 0.875),
        (0.836, 0.941),
        (0.987, 0.966),
    ),
    ("wideband", "other"): (
        (0.0, 0.083),
        (0.132, 0.155),
        (0.256, 0.2),
        (0.301, 0.227),
        (0.44, 0.312),
        (0.549, 0.6),
        (0.61, 0.667),
        (0.684, 0.84),
        (0.73, 0.84),
        (0.756, 0.84),
        (0.799, 0.919),
        (0.887, 0.979),
        (0.981, 0.993),
    ),
    ("telephone", "affirm"): ((0.25, 0.25), (0.379, 0.667), (0.489, 0.75), (0.621, 0.911), (0.909, 0.975)),
    ("telephone", "other"): (
        (0.177, 0.154),
        (0.285, 0.25),
        (0.425, 0.252),
        (0.591, 0.333),
        (0.637, 0.4),
        (0.639, 0.5),
        (0.719, 0.517),
        (0.811, 0.524),
        (0.829, 0.611),
        (0.834, 0.611),
        (0.838, 0.667),
        (0.844, 0.75),
        (0.866, 0.822),
        (0.906, 0.86),
        (0.928, 0.889),
        (0.991, 0.997),
    ),
}


def calibrated(band: Band, kind: Kind, evidence: float) -> float:
    """The share of whole-phrase results of ``kind`` at this ``evidence`` that were right, in
    ``band`` (linear between the knots, flat past the ends)."""
    knots = KNOTS[(band, kind)]
    xs = [x for x, _ in knots]
    i = bisect_left(xs, evidence)
    if i == 0:
        return knots[0][1]
    if i == len(knots):
        return knots[-1][1]
    (x0, y0), (x1, y1) = knots[i - 1], knots[i]
    t = (evidence - x0) / (x1 - x0) if x1 > x0 else 1.0
    return round(y0 + t * (y1 - y0), 3)


def phrase_kind(text: str) -> Kind:
    """Whether ``text`` is one of the English grammars' affirmations ("yes this is john")."""
    return "affirm" if _affirmations().fullmatch(text) else "other"


@lru_cache(maxsize=1)
def _affirmations() -> re.Pattern[str]:
    from bot.nlu.grammar import STATE_GRAMMARS, load_grammar
    from foundation.contract import Intent

    alternatives: set[str] = set()
    for name in STATE_GRAMMARS:
        for phrase in load_grammar("en", name).intents.get(Intent.AFFIRM, ()):
            parts = re.split(r"\{[a-z_]+\}", phrase.lower())
            alternatives.add(r"[a-z']+".join(re.escape(p) for p in parts))
    return re.compile("|".join(sorted(alternatives)) or r"(?!)")
