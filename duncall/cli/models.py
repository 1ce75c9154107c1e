"""`duncall models pull|list|adapt`: the Vosk speech models each language needs, and the
PocketSphinx model's telephone adaptation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot import models


def register(sub: Any) -> None:
    parser = sub.add_parser("models", help="Vosk speech models: fetch and list")
    cmds = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    pull = cmds.add_parser("pull", help="download a Vosk model and make it its language's model")
    pull.add_argument("name", help="model name, e.g. vosk-model-small-en-us-0.15 (see `duncall models list`)")
    pull.add_argument("--lang", help="language code for a model not in the list (e.g. de)")
    pull.add_argument(
        "--zip",
        type=Path,
        dest="zip_path",
        help="install from a zip already downloaded (machines without internet)",
    )
    pull.add_argument("--sha256", help="expected SHA-256 of the zip; the pull fails on a mismatch")
    pull.add_argument("--base-url", default=models.VOSK_BASE_URL, help="where the model zips are served")
    pull.set_defaults(func=_pull)

    lst = cmds.add_parser("list", help="known models, and which language has one installed")
    lst.set_defaults(func=_list)

    adapt = cmds.add_parser(
        "adapt", help="adapt PocketSphinx's en-us model to 8 kHz telephone audio (MLLR; skipped when built)"
    )
    adapt.add_argument("--force", action="store_true", help="build again even if the inputs are unchanged")
    adapt.set_defaults(func=_adapt)


def _progress_bar(name: str) -> tuple[models.Progress, Any]:
    from tqdm import tqdm

    bar = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=None)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return update, bar


def _pull(args: argparse.Namespace) -> int:
    progress, bar = _progress_bar(args.name)
    try:
        link = models.pull(
            args.name,
            lang=args.lang,
            base_url=args.base_url,
            sha256=args.sha256,
            zip_path=args.zip_path,
            progress=progress,
        )
    finally:
        bar.close()
    print(f"{args.name} installed: {link} -> {link.resolve()}")
    return 0


def _list(args: argparse.Namespace) -> int:
    have = {m.lang: m for m in models.installed()}
    print(f"{'model':34} {'lang':5} {'size':>8}  note")
    for m in models.CATALOG:
        mark = " (installed)" if m.lang in have and have[m.lang].name == m.name else ""
        print(f"{m.name:34} {m.lang:5} {m.size_mb:>5} MB  {m.note}{mark}")
    print()
    if not have:
        print(f"no Vosk model installed (models live in {models.vosk_root()})")
    for lang, inst in sorted(have.items()):
        origin = models.env_var(lang) if inst.source == "env" else "pulled"
        print(f"{lang}: {inst.name} at {inst.path} ({origin})")
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from duncall import asr_adapt

    path, built, seconds = asr_adapt.build(force=args.force)
    print(f"telephone MLLR transform {'built' if built else 'up to date'}: {path} ({seconds:.0f} s)")
    return 0
