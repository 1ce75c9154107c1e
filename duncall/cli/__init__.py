"""The one ``duncall`` command.

Each area registers its subcommands from its own module (``duncall/cli/<area>.py``
exposing ``register(subparsers)``), so areas can grow without touching this file
more than one line.  Every expected failure is a ``DuncallError``: it is printed
as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from foundation import log
from foundation.errors import DuncallError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Beside each error's own exit_code (foundation.errors: 1 failure, 2 bad input or
# configuration, 3 service unavailable, 4 credentials refused); docs/cli.md has the table.
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: an unexpected exception, i.e. a bug
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left

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
    "inbound",
    "payments",
    "dnc",
    "kpi",
    "report",
    "experiment",
    "model",
    "audit",
    "messages",
    "assign",
    "privacy",
    "asr",
    "bot",
)


# Commands registered by an area module of another name.
AREA_OF_COMMAND = {
    "collectors": "assign",
    "supervisors": "assign",
    "worklist": "assign",
    "db": "accounts",
    "strategy": "accounts",
    "users": "serve",
    "promises": "payments",
    "simulate": "kpi",
    "erase": "privacy",
    "purge": "privacy",
}


class _FastPathMissed(Exception):
    """The one-area parser could not parse the command line: the full parser will (and says why)."""


class _OneAreaParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _FastPathMissed(message)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (``command`` given) of the one area that registers it.

    Importing every area costs a second of start-up (the bot, the console, the models); a
    command needs only its own.
    """
    areas: tuple[str, ...] = AREAS
    parser_class = argparse.ArgumentParser
    if command is not None:
        areas = (AREA_OF_COMMAND.get(command, command),)
        parser_class = _OneAreaParser
    parser = parser_class(prog="duncall", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--log-level",
        default=None,
        type=str.upper,  # `debug` and `DEBUG` alike
        choices=LOG_LEVELS,
        help="DEBUG, INFO, WARNING (default), ERROR (any case)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for area in areas:
        module = importlib.import_module(f"duncall.cli.{area}")
        module.register(sub)
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line parsed by its own area's parser when it names one, else by the full one.

    Help, errors and anything the one area does not know go to the full parser, so what a
    user reads is the same either way.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = _command_word(args)
    if command is not None and AREA_OF_COMMAND.get(command, command) in AREAS:
        try:
            return build_parser(command).parse_args(args)
        except _FastPathMissed:
            pass
    return build_parser().parse_args(args)


def _command_word(args: Sequence[str]) -> str | None:
    """The command (the first word that is not a global option or its value), if any."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--log-level":
            i += 2
            continue
        if word.startswith("--log-level="):
            i += 1
            continue
        return None if word.startswith("-") else word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit codes are the table in docs/cli.md."""
    args = parse(argv)
    try:
        log.setup(args.log_level)  # inside: a bad DUNCALL_* variable is a one-line error too
        code = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, inside the handler below
    except DuncallError as exc:
        print(f"duncall: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("duncall: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (`| head`, a pager) went away: stop quietly, as a pipeline expects.  Later
        # writes, and the interpreter's flush at exit, go to /dev/null instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        # Not an expected failure: a bug.  One line for the user; the traceback at --log-level DEBUG.
        logging.getLogger("duncall").debug("unexpected failure", exc_info=True)
        print(
            f"duncall: internal error: {type(exc).__name__} (a bug; run again with --log-level debug "
            "for the traceback, and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
