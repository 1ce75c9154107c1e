"""Scoring a built model on the held-out set: accuracy, confusions, latency."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from bot.nlu.classifier import NluClassifier
from bot.nlu.data import load
from foundation.contract import Intent

EVAL_DAY = dt.date(2025, 5, 14)


@dataclass(frozen=True, slots=True)
class Report:
    lang: str
    total: int
    correct: int
    confusions: Counter[tuple[Intent, Intent]] = field(default_factory=Counter)  # (true, predicted)
    latencies_ms: tuple[float, ...] = ()
    misses: tuple[tuple[str, Intent, Intent], ...] = ()

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def render(self) -> str:
        lines = [
            f"{self.lang}: accuracy {self.accuracy:.1%} ({self.correct}/{self.total}); "
            f"latency p50 {self.percentile_ms(0.5):.1f} ms, p95 {self.percentile_ms(0.95):.1f} ms, "
            f"mean {statistics.fmean(self.latencies_ms) if self.latencies_ms else 0:.1f} ms"
        ]
        for (true, predicted), count in self.confusions.most_common():
            lines.append(f"  {true} → {predicted}: {count}")
        return "\n".join(lines)


def evaluate(lang: str, classifier: NluClassifier | None = None) -> Report:
    """Classify every held-out utterance one at a time, as the bot would."""
    nlu = classifier or NluClassifier(langs=(lang,))
    nlu.preload() if classifier is None else nlu.model(lang)
    examples = load(lang, "heldout")
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
    return Report(lang, len(examples), correct, confusions, tuple(latencies), tuple(misses))
