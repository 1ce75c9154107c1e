"""One language's scorer: the transformer and the n-gram model, blended.

Each gives a probability per intent; the blend is their weighted geometric mean,
``transformer ** (1 - BLEND) * n_grams ** BLEND``, renormalized, with the weight chosen on
the dev set (``heldout.tsv``) only.  A geometric rather than a plain mean because the
n-gram model spreads its probability more thinly: averaged, its softness would pull
every confident answer below the scripts' thresholds (a verifying yes needs 0.85), while
the geometric mean stays sure where both models point the same way and is unsure where
they disagree (on the dev set: as accurate as the plain mean, more right answers at
0.85 or above, a smaller calibration error).
"""

from __future__ import annotations

import math
from typing import Any

from bot.nlu.data import check_lang
from bot.nlu.lexical import LexicalModel, load_lexical
from bot.nlu.model import IntentModel, load_model
from foundation.contract import Intent

# The n-gram model's share, per language (chosen on the dev set; bench/RESULTS.md).
BLEND = {"en": 0.3, "zh": 0.5}
# A probability is floored before its logarithm: one model's "never" must not veto alone.
FLOOR = 1e-6


class BlendedModel:
    """Implements ``bot.nlu.classifier.Scorer`` over both of a language's models."""

    def __init__(self, neural: IntentModel, lexical: LexicalModel, weight: float) -> None:
        if neural.labels != lexical.labels:
            raise ValueError("the two intent models were trained on different label sets")
        self.neural = neural
        self.lexical = lexical
        self.weight = weight
        self.labels: tuple[Intent, ...] = neural.labels
        self.meta: dict[str, Any] = {**neural.meta, "lexical_weight": weight}

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        w = self.weight
        out: list[list[float]] = []
        for dense, sparse in zip(
            self.neural.probabilities(texts), self.lexical.probabilities(texts), strict=True
        ):
            logs = [
                (1 - w) * math.log(max(a, FLOOR)) + w * math.log(max(b, FLOOR))
                for a, b in zip(dense, sparse, strict=True)
            ]
            top = max(logs)
            weights = [math.exp(x - top) for x in logs]
            total = sum(weights)
            out.append([x / total for x in weights])
        return out


def load_blended(lang: str, build_missing: bool = False) -> BlendedModel:
    check_lang(lang)
    return BlendedModel(load_model(lang, build_missing), load_lexical(lang, build_missing), BLEND[lang])
