"""The one ``duncall`` command.

Each area registers its subcommands from its own module (``duncall/cli/<area>.py``
exposing ``register(subparsers)``), so areas can grow without touching this file
more than one line.  Every expected failure is a ``DuncallError``: it is printed
as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from foundation import log
from foundation.errors import DuncallError

AREAS = (
    "asterisk",
    "demo",
    "guard",
    "accounts",
    "creditors",
    "pacing",
    "nlu",
    "flow",
    "models",
    "serve",
    "campaign",
    "payments",
    "dnc",
    "kpi",
    "model",
    "audit",
    "messages",
    "assign",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duncall", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default), ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for area in AREAS:
        module = importlib.import_module(f"duncall.cli.{area}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        log.setup(args.log_level)  # inside: a bad DUNCALL_* variable is a one-line error too
        code = args.func(args)
    except DuncallError as exc:
        print(f"duncall: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("duncall: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
