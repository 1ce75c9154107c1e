"""`duncall asterisk` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Registered by the area's owner; nothing to add yet."""
    _ = (sub, argparse)
