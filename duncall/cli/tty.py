"""What a line-oriented command says when it is left waiting on a terminal."""

from __future__ import annotations

import sys


def stdin_hint(what: str) -> None:
    """On stderr, when stdin is a terminal: the command reads it, what to type, how to end."""
    if sys.stdin is not None and sys.stdin.isatty():
        print(f"reading stdin: {what}; end with Ctrl-D (or pipe a file in)", file=sys.stderr)
