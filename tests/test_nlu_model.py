"""The real intent models on the held-out sets, and `duncall nlu classify` end to end.

The models are built on first use when missing (`duncall nlu train` at set-up
avoids paying that here).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.nlu.classifier import NluClassifier
from bot.nlu.evaluate import evaluate
from foundation.contract import Intent

pytestmark = pytest.mark.slow

TARGETS = {"en": 0.95, "zh": 0.92}
WEDNESDAY = dt.date(2025, 5, 14)


@pytest.fixture(scope="module")
def nlu() -> Iterator[NluClassifier]:
    classifier = NluClassifier(build_missing=True)
    classifier.preload()
    yield classifier


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_held_out_accuracy(nlu: NluClassifier, lang: str) -> None:
    report = evaluate(lang, nlu)
    assert report.total >= 200
    assert report.accuracy >= TARGETS[lang], report.render()


def test_understanding_carries_intent_and_slots(nlu: NluClassifier) -> None:
    result = nlu.understand("yeah i can pay two hundred dollars next friday", "en", WEDNESDAY)
    assert result.intent is Intent.PROMISE_TO_PAY and result.confidence >= 0.5
    assert result.slots.date == dt.date(2025, 5, 23) and result.slots.amount == 200
    result = nlu.understand("我下周五还五百块", "zh", WEDNESDAY)
    assert result.intent is Intent.PROMISE_TO_PAY
    assert result.slots.date == dt.date(2025, 5, 23) and result.slots.amount == 500


def test_identity_state_reads_cut_off_recognizer_output(nlu: NluClassifier) -> None:
    expected = (Intent.AFFIRM, Intent.DENY, Intent.WRONG_NUMBER, Intent.THIRD_PARTY)
    result = nlu.understand("wrong numb", "en", WEDNESDAY, expected=expected, grammar="identity")
    assert result.intent is Intent.WRONG_NUMBER


def _duncall(
    args: list[str], stdin: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "duncall.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_classify_command_round_trip(nlu: NluClassifier) -> None:
    lines = ["i'll pay a hundred and fifty dollars on the fifteenth", "", "我已经还了", "stop calling me"]
    done = _duncall(
        ["nlu", "classify", "--lang", "en", "--today", "2025-05-14"], "\n".join(lines[:2] + lines[3:])
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    # One output line per input line: the blank line is answered as empty, not dropped.
    assert rows[1] == {"line": 2, "empty": True}
    rows = [rows[0], rows[2]]
    assert [r["text"] for r in rows] == [lines[0], lines[3]]
    assert rows[0]["intent"] == "promise_to_pay"
    assert rows[0]["slots"] == {"date": "2025-05-15", "amount": 150}
    assert rows[1]["intent"] == "stop_calling" and rows[1]["slots"] == {"date": None, "amount": None}
    assert all(0.0 <= r["confidence"] <= 1.0 for r in rows)
    done = _duncall(["nlu", "classify", "--lang", "zh", "--today", "2025-05-14"], lines[2] + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intent"] == "already_paid"


def test_classify_without_a_built_model_names_the_train_command(tmp_path: Path) -> None:
    done = _duncall(["nlu", "classify", "--lang", "en"], "yes\n", env={"DUNCALL_HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "duncall nlu train" in done.stderr
    assert done.stdout == ""


def test_training_is_deterministic() -> None:
    from dataclasses import replace

    import torch

    from bot.nlu.model import RECIPES, train

    short = replace(RECIPES["zh"], epochs=1)
    first, second = (train("zh", recipe=short).net.state_dict() for _ in range(2))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_ngram_training_is_deterministic_and_its_artifact_round_trips(tmp_path: Path) -> None:
    from dataclasses import replace

    import numpy as np

    from bot.nlu.lexical import LEXICAL_RECIPES, LexicalModel, train

    plain = replace(LEXICAL_RECIPES["zh"], augment_copies=0)
    first, second = train("zh", recipe=plain), train("zh", recipe=plain)
    assert first.vocab == second.vocab
    assert np.array_equal(first.coef, second.coef) and np.array_equal(first.intercept, second.intercept)
    first.save(tmp_path)
    loaded = LexicalModel.load(tmp_path)
    texts = ["我已经还了", "俺木有钱下个月再说", "你们是哪个公司的"]
    assert loaded.probabilities(texts) == first.probabilities(texts)
    assert loaded.labels == first.labels


def test_a_damaged_ngram_artifact_names_the_train_command(tmp_path: Path) -> None:
    from bot.nlu.lexical import LexicalModel
    from foundation.errors import ConfigError

    (tmp_path / "lexical.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be loaded") as caught:
        LexicalModel.load(tmp_path)
    assert "duncall nlu train" in caught.value.one_line()
