"""`duncall db grant --app-role NAME`: the application's PostgreSQL role, which cannot rewrite
the audit log (``dialer/store/roles.py`` says exactly what it gets)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(db_sub: Any, db_help: str) -> None:
    grant = db_sub.add_parser(
        "grant",
        help="PostgreSQL: give the application's role what it needs and no more (audit rows: "
        "SELECT, INSERT only); run as the schema's owner",
    )
    grant.add_argument(
        "--app-role", required=True, metavar="NAME", help="the role the console and dialer log in as"
    )
    grant.add_argument(
        "--password-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="set the role's log-in password from this file (its first line), e.g. a compose secret",
    )
    grant.add_argument("--db", default=None, help=db_help + " — the owner's URL")
    grant.set_defaults(func=_grant)


def _grant(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine
    from dialer.store.roles import grant_app_role
    from foundation.errors import InputError

    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError):
            raise InputError(
                f"--password-file {args.password_file}: cannot read a password from it",
                "give a readable file whose first line is the password",
            ) from None
    engine = open_engine(args.db)
    try:
        report = grant_app_role(engine, args.app_role, password)
    finally:
        engine.dispose()
    for line in report.lines():
        print(line)
    return 0
