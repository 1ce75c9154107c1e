"""`duncall nlu` subcommands: train the intent models, classify utterances, score them."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from foundation.errors import InputError

LANG_CHOICES = ("en", "zh")


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

    evaluate = actions.add_parser("eval", help="accuracy and confusions on the held-out set")
    evaluate.add_argument("--lang", choices=LANG_CHOICES, action="append")
    evaluate.set_defaults(func=_evaluate)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _train(args: argparse.Namespace) -> int:
    from bot.nlu import model
    from bot.nlu.evaluate import evaluate

    for lang in args.lang or LANG_CHOICES:
        if args.if_missing and (model.artifact_dir(lang) / "meta.json").exists():
            print(f"{lang}: built already at {model.artifact_dir(lang)}")
            continue
        print(f"{lang}: training …", flush=True)
        directory = model.build(lang, progress=True)
        report = evaluate(lang)
        print(f"{lang}: held-out accuracy {report.accuracy:.1%} ({report.total} utterances) → {directory}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from bot.nlu.classifier import NluClassifier

    classifier = NluClassifier(langs=(args.lang,))
    classifier.preload()
    today = args.today or dt.date.today()
    for number, line in enumerate(sys.stdin, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if len(text) > 1000:
            raise InputError(f"line {number} is {len(text)} characters long", "give one utterance per line")
        result = classifier.understand(text, args.lang, today, grammar=args.grammar)
        out = {
            "text": result.text,
            "intent": str(result.intent),
            "confidence": result.confidence,
            "slots": {
                "date": result.slots.date.isoformat() if result.slots.date else None,
                "amount": _number(result.slots.amount),
            },
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


def _evaluate(args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import evaluate

    for lang in args.lang or LANG_CHOICES:
        print(evaluate(lang).render())
    return 0
