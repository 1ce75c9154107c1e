"""`duncall nlu` subcommands: train the intent models, classify utterances, score them."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time
import unicodedata
from typing import Any

from duncall.cli.tty import stdin_hint

LANG_CHOICES = ("en", "zh")
SET_CHOICES = ("heldout", "frozen")
MAX_UTTERANCE_CHARS = 1000


def register(sub: Any) -> None:
    nlu = sub.add_parser("nlu", help="intent classifier: train, classify, evaluate")
    actions = nlu.add_subparsers(dest="nlu_command", metavar="ACTION", required=True)

    train = actions.add_parser(
        "train", help="train the intent models from data/nlu (seeded, a few minutes on CPU)"
    )
    train.add_argument(
        "--lang", choices=LANG_CHOICES, action="append", help="only this language (repeatable)"
    )
    train.add_argument(
        "--if-missing", action="store_true", help="skip languages whose model is already built"
    )
    train.set_defaults(func=_train)

    classify = actions.add_parser(
        "classify", help="one utterance per stdin line in, one JSON object per line out"
    )
    classify.add_argument("--lang", choices=LANG_CHOICES, required=True)
    classify.add_argument(
        "--today", type=_date, default=None, help="the call's date, YYYY-MM-DD (default: today)"
    )
    classify.add_argument("--grammar", default=None, help="the dialogue state's grammar, e.g. confirm")
    classify.set_defaults(func=_classify)

    evaluate = actions.add_parser(
        "eval", help="accuracy, per-intent recall, confusion matrix and latency on a scored set"
    )
    evaluate.add_argument("--lang", choices=LANG_CHOICES, action="append")
    evaluate.add_argument(
        "--set",
        dest="sets",
        choices=SET_CHOICES,
        action="append",
        help="heldout (the dev set, the default) or frozen (written apart, never tuned on); repeatable",
    )
    evaluate.add_argument("--misses", action="store_true", help="also print every misclassified utterance")
    evaluate.set_defaults(func=_evaluate)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _train(args: argparse.Namespace) -> int:
    from bot.nlu import lexical, model
    from bot.nlu.evaluate import evaluate

    for lang in args.lang or LANG_CHOICES:
        neural_built = (model.artifact_dir(lang) / "meta.json").exists()
        lexical_built = (lexical.artifact_dir(lang) / "lexical.json").exists()
        if args.if_missing and neural_built and lexical_built:
            print(f"{lang}: built already at {model.artifact_dir(lang)} and {lexical.artifact_dir(lang)}")
            continue
        print(f"{lang}: training …", flush=True)
        directory = (
            model.artifact_dir(lang) if args.if_missing and neural_built else model.build(lang, progress=True)
        )
        started = time.monotonic()
        lexical_dir = lexical.build(lang)
        print(f"{lang}: n-gram model in {time.monotonic() - started:.1f} s → {lexical_dir}", flush=True)
        report = evaluate(lang)
        print(f"{lang}: held-out accuracy {report.accuracy:.1%} ({report.total} utterances) → {directory}")
        frozen = evaluate(lang, split="frozen")
        print(f"{lang}: frozen-set accuracy {frozen.accuracy:.1%} ({frozen.total} utterances)")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from bot.nlu.classifier import NluClassifier

    classifier = NluClassifier(langs=(args.lang,))
    classifier.preload()
    today = args.today or dt.date.today()
    stdin_hint("one utterance per line")
    # Bytes that are not UTF-8 become U+FFFD, so a binary line is a line like any other (and is
    # refused as "not text" below) instead of ending the run with a decode error.
    lines = (
        io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        if hasattr(sys.stdin, "buffer")
        else sys.stdin
    )
    bad = 0
    for number, line in enumerate(lines, start=1):
        # One output line per input line, always: line N of the output answers line N of the input.
        text = line.rstrip("\r\n")
        problem = _not_an_utterance(text)
        if problem == "empty":
            print(json.dumps({"line": number, "empty": True}), flush=True)
            continue
        if problem:
            bad += 1
            print(f"duncall: error: line {number}: {problem}", file=sys.stderr)
            print(json.dumps({"line": number, "error": f"line {number}: {problem}"}), flush=True)
            continue
        result = classifier.understand(text, args.lang, today, grammar=args.grammar)
        out = {
            "text": result.text,
            "intent": str(result.intent),
            "confidence": result.confidence,
            "slots": {
                "date": result.slots.date.isoformat() if result.slots.date else None,
                "amount": _number(result.slots.amount),
            },
            "also": [{"intent": str(i), "confidence": c} for i, c in result.also],
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
    if bad:
        print(f"duncall: error: {bad} line(s) not classified; see their output lines", file=sys.stderr)
        return 2
    return 0


def _not_an_utterance(text: str) -> str:
    """Why ``text`` is no utterance ("" when it is one): empty, too long, or not text at all."""
    if not text.strip():
        return "empty"
    if len(text) > MAX_UTTERANCE_CHARS:
        return f"{len(text)} characters long (one utterance per line, at most {MAX_UTTERANCE_CHARS})"
    if "\ufffd" in text or any(unicodedata.category(c) == "Cc" and c != "\t" for c in text):
        return "not text (undecodable bytes or control characters)"
    if not any(c.isalpha() or c.isdigit() for c in text):
        return "no words in it"
    return ""


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


def _evaluate(args: argparse.Namespace) -> int:
    from bot.nlu.classifier import NluClassifier
    from bot.nlu.evaluate import evaluate

    for lang in args.lang or LANG_CHOICES:
        classifier = NluClassifier(langs=(lang,))
        classifier.preload()
        for split in args.sets or ("heldout",):
            report = evaluate(lang, classifier, split)
            print(report.render())
            print(report.render_recall())
            print(report.render_matrix())
            if args.misses:
                for text, true, predicted in report.misses:
                    print(f"    miss: {true} → {predicted}: {text}")
    return 0
