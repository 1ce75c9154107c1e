"""Scoring a built model on a scored set: accuracy, per-intent recall, confusions, latency.

Two scored sets per language, never trained on: ``heldout`` (the dev set, tuned
against) and ``frozen`` (written apart and never edited to raise a score).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from bot.nlu.classifier import NluClassifier
from bot.nlu.data import LABELS, SCORED_SPLITS, load, training_examples
from foundation.contract import Intent

EVAL_DAY = dt.date(2025, 5, 14)
DEFAULT_SPLIT = "heldout"
# The matrix's cells are this wide: up to 999 utterances of one intent.
_CELL = 4


@dataclass(frozen=True, slots=True)
class Report:
    lang: str
    total: int
    correct: int
    confusions: Counter[tuple[Intent, Intent]] = field(default_factory=Counter)  # (true, predicted)
    latencies_ms: tuple[float, ...] = ()
    misses: tuple[tuple[str, Intent, Intent], ...] = ()
    split: str = DEFAULT_SPLIT
    support: Counter[Intent] = field(default_factory=Counter)  # utterances per true intent
    # Utterances identical (once normalized) to a training line, and how many of them are right:
    # short common answers ("no", "wrong number") cannot be kept out, but they flatter the score.
    seen: int = 0
    seen_correct: int = 0

    @property
    def unseen_accuracy(self) -> float:
        unseen = self.total - self.seen
        return (self.correct - self.seen_correct) / unseen if unseen else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def hits(self, intent: Intent) -> int:
        missed = sum(n for (true, _), n in self.confusions.items() if true == intent)
        return self.support[intent] - missed

    def recall(self) -> dict[Intent, float]:
        """Per intent in the set: the share of its utterances classified as it."""
        return {i: self.hits(i) / self.support[i] for i in LABELS if self.support[i]}

    def worst(self, n: int = 5) -> list[tuple[Intent, float]]:
        return sorted(self.recall().items(), key=lambda item: (item[1], -self.support[item[0]]))[:n]

    def render(self) -> str:
        lines = [
            f"{self.lang} ({self.split} set): accuracy {self.accuracy:.1%} ({self.correct}/{self.total}); "
            f"latency p50 {self.percentile_ms(0.5):.1f} ms, p95 {self.percentile_ms(0.95):.1f} ms, "
            f"mean {statistics.fmean(self.latencies_ms) if self.latencies_ms else 0:.1f} ms"
        ]
        if self.seen:
            lines.append(
                f"  {self.seen} of {self.total} identical to a training line; accuracy on the other "
                f"{self.total - self.seen}: {self.unseen_accuracy:.1%}"
            )
        for (true, predicted), count in self.confusions.most_common():
            lines.append(f"  {true} → {predicted}: {count}")
        return "\n".join(lines)

    def render_recall(self) -> str:
        width = max((len(i) for i in self.recall()), default=0)
        lines = ["  recall per intent:"]
        for intent, value in self.recall().items():
            lines.append(
                f"    {intent:<{width}}  {self.hits(intent):>3}/{self.support[intent]:<3} {value:6.1%}"
            )
        return "\n".join(lines)

    def render_matrix(self) -> str:
        """Rows are the true intents, columns the predicted ones (numbered as the rows);
        only intents that occur in the set or among the predictions are shown."""
        predicted = {p for (_, p) in self.confusions}
        shown = [i for i in LABELS if self.support[i] or i in predicted]
        width = max((len(i) for i in shown), default=0)
        header = " " * (width + 8) + "".join(f"{n:>{_CELL}}" for n in range(1, len(shown) + 1))
        lines = ["  confusion matrix (rows: true, columns: predicted, numbered as the rows):", header]
        for row, true in enumerate(shown, start=1):
            cells = []
            for col in shown:
                count = self.hits(true) if col == true else self.confusions[(true, col)]
                cells.append(f"{count if count else '.':>{_CELL}}")
            lines.append(f"  {row:>3}  {true:<{width}} " + "".join(cells))
        return "\n".join(lines)


def evaluate(lang: str, classifier: NluClassifier | None = None, split: str = DEFAULT_SPLIT) -> Report:
    """Classify every utterance of a scored set one at a time, as the bot would."""
    if split not in SCORED_SPLITS:
        raise ValueError(f"{split!r} is not a scored set ({', '.join(SCORED_SPLITS)})")
    nlu = classifier or NluClassifier(langs=(lang,))
    nlu.preload() if classifier is None else nlu.model(lang)
    examples = load(lang, split)
    trained_on = {example.text for example in training_examples(lang)}
    confusions: Counter[tuple[Intent, Intent]] = Counter()
    latencies: list[float] = []
    misses: list[tuple[str, Intent, Intent]] = []
    for example in examples:
        started = time.perf_counter()
        result = nlu.understand(example.text, lang, EVAL_DAY)
        latencies.append((time.perf_counter() - started) * 1000)
        if result.intent != example.intent:
            confusions[(example.intent, result.intent)] += 1
            misses.append((example.text, example.intent, result.intent))
    correct = len(examples) - sum(confusions.values())
    support = Counter(example.intent for example in examples)
    missed = {text for text, _, _ in misses}
    seen = [example.text for example in examples if example.text in trained_on]
    seen_correct = sum(1 for text in seen if text not in missed)
    return Report(
        lang,
        len(examples),
        correct,
        confusions,
        tuple(latencies),
        tuple(misses),
        split,
        support,
        len(seen),
        seen_correct,
    )
