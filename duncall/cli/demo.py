"""`duncall demo` — a small bot campaign over the personas through the real Asterisk."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="call the simulated debtors through the sandbox Asterisk and print what happened"
    )
    p.add_argument("personas", nargs="*", help="persona names (default: all of personas/)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from duncall import demo

    results = demo.main(args.personas)
    failed = [r for r in results if not r.allowed or r.attempt is None]
    return 1 if failed and len(failed) == len(results) else 0
