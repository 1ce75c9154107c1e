"""`duncall asr lm`: build PocketSphinx's domain language model (bot.asr.domain_lm)."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    asr = sub.add_parser("asr", help="speech recognition: the domain language model")
    actions = asr.add_subparsers(dest="asr_command", metavar="ACTION", required=True)
    lm = actions.add_parser(
        "lm",
        help="build the domain language model from the NLU training text and the grammars (IRSTLM)",
    )
    lm.add_argument(
        "--if-missing", action="store_true", help="skip when the model for the current text is built"
    )
    lm.set_defaults(func=_lm)


def _lm(args: argparse.Namespace) -> int:
    from bot.asr.domain_lm import build, sentences

    started = time.perf_counter()
    path, built = build("en", if_missing=args.if_missing)
    if built:
        seconds = time.perf_counter() - started
        print(f"en: domain language model from {len(sentences('en'))} sentences in {seconds:.1f} s → {path}")
    else:
        print(f"en: built already at {path}")
    return 0
