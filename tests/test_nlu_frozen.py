"""The frozen held-out sets: scored apart from the dev set, parsed against the contract, never
trained on; and `duncall nlu eval --set frozen` printing what they show."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.nlu import data
from bot.nlu.classifier import NluClassifier
from bot.nlu.evaluate import evaluate
from foundation.contract import Intent
from foundation.errors import ConfigError

# Each intent of the contract has at least this many frozen utterances per language.
MIN_PER_INTENT = 12
# Lines of the frozen sets identical (normalized) to a training line when they were frozen:
# short common answers ("no", "wrong number", "我破产了") that any author writes. Training
# text may lose some of them, never gain more.
MAX_SHARED_WITH_TRAIN = {"en": 30, "zh": 35}


@pytest.mark.unit
@pytest.mark.parametrize("lang", data.LANGS)
def test_frozen_set_covers_every_contract_intent(lang: str) -> None:
    examples = data.load(lang, "frozen")  # an unknown label would raise ConfigError here
    per_intent = Counter(e.intent for e in examples)
    assert {i: n for i, n in per_intent.items() if n < MIN_PER_INTENT} == {}
    assert set(per_intent) == set(Intent)
    assert len({e.text for e in examples}) == len(examples), "a frozen utterance is listed twice"


@pytest.mark.unit
@pytest.mark.parametrize("lang", data.LANGS)
def test_training_text_does_not_take_frozen_lines(lang: str) -> None:
    trained = {e.text for e in data.training_examples(lang)}
    shared = [e.text for e in data.load(lang, "frozen") if e.text in trained]
    assert len(shared) <= MAX_SHARED_WITH_TRAIN[lang], shared


@pytest.mark.unit
def test_training_reads_only_train_tsv(tmp_path: Path) -> None:
    lang_dir = tmp_path / "en"
    lang_dir.mkdir()
    (lang_dir / "train.tsv").write_text("# trained\naffirm\tyes that is me\n", encoding="utf-8")
    (lang_dir / "heldout.tsv").write_text("deny\tnope\n", encoding="utf-8")
    (lang_dir / "frozen.tsv").write_text("wrong_number\tno john here\n", encoding="utf-8")
    before = data.data_hash("en", tmp_path)

    assert data.training_examples("en", tmp_path) == [data.Example("yes that is me", Intent.AFFIRM)]
    # The artifact is named by the training file alone: editing a scored set never rebuilds it.
    (lang_dir / "frozen.tsv").write_text("wrong_number\tnobody called john\n", encoding="utf-8")
    assert data.data_hash("en", tmp_path) == before
    assert data.load("en", "frozen", tmp_path) == [data.Example("nobody called john", Intent.WRONG_NUMBER)]
    with pytest.raises(ConfigError, match="unknown NLU data set"):
        data.load("en", "../en/train", tmp_path)


class SaysOutOfScope:
    labels = tuple(Intent)

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        return [[0.9 if label is Intent.OUT_OF_SCOPE else 0.005 for label in self.labels] for _ in texts]


@pytest.mark.unit
def test_report_gives_recall_and_matrix_per_intent() -> None:
    classifier = NluClassifier(langs=("en",), models={"en": SaysOutOfScope()})
    report = evaluate("en", classifier, "frozen")
    frozen = data.load("en", "frozen")
    recall = report.recall()
    assert report.split == "frozen" and report.total == len(frozen)
    assert recall[Intent.AFFIRM] < 0.5 and set(recall) == set(Intent)
    assert report.worst(1)[0][1] == min(recall.values())
    matrix = report.render_matrix().splitlines()
    # One row per intent after the title and the column numbers; each row's cells sum to its support.
    assert len(matrix) == 2 + len(Intent)
    row = next(line for line in matrix if " affirm " in line)
    counts = [int(cell) for cell in row.split()[2:] if cell != "."]
    assert sum(counts) == sum(1 for e in frozen if e.intent is Intent.AFFIRM)
    assert "en (frozen set): accuracy" in report.render()


@pytest.mark.slow
def test_nlu_eval_prints_both_sets_for_mandarin() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "duncall.cli",
            "nlu",
            "eval",
            "--lang",
            "zh",
            "--set",
            "heldout",
            "--set",
            "frozen",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "zh (heldout set): accuracy" in done.stdout and "zh (frozen set): accuracy" in done.stdout
    assert done.stdout.count("confusion matrix") == 2 and done.stdout.count("recall per intent") == 2
