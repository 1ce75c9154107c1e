"""Intent classifier benchmark: held-out accuracy, confusion pairs, per-utterance latency.

    .venv/bin/python bench/nlu.py [--lang en|zh ...] [--set heldout|frozen ...] [--threads N]

Uses the built models (``duncall nlu train`` builds them; this script builds a
missing one first).  ``--set frozen`` scores the frozen set (written apart, never tuned on) instead
of, or with ``--set heldout`` beside, the dev set.  Each utterance is classified alone, as in a call,
through the full pipeline (model + slots), and timed.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lang", choices=("en", "zh"), action="append")
    parser.add_argument("--set", dest="sets", choices=("heldout", "frozen"), action="append")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()

    import torch

    from bot.nlu.classifier import NluClassifier
    from bot.nlu.evaluate import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    for lang in args.lang or ("en", "zh"):
        started = time.perf_counter()
        nlu = NluClassifier(langs=(lang,), build_missing=True)
        nlu.preload()
        load_s = time.perf_counter() - started
        meta = getattr(nlu.model(lang), "meta", {})
        trained = meta.get("train_seconds")
        print(f"{lang}: model {meta.get('tokens')}, trained in {trained} s, loaded in {load_s:.1f} s")
        for split in args.sets or ("heldout",):
            report = evaluate(lang, nlu, split)
            print(report.render())
            print(report.render_recall())
            for text, true, predicted in report.misses:
                print(f"    miss: {true} → {predicted}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
