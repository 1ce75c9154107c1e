"""`duncall db grant --app-role NAME`: the application's PostgreSQL role, which cannot rewrite
the audit log (``dialer/store/roles.py`` says exactly what it gets)."""

from __future__ import annotations

import argparse
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
    grant.add_argument("--db", default=None, help=db_help + " — the owner's URL")
    grant.set_defaults(func=_grant)


def _grant(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine
    from dialer.store.roles import grant_app_role

    engine = open_engine(args.db)
    try:
        report = grant_app_role(engine, args.app_role)
    finally:
        engine.dispose()
    for line in report.lines():
        print(line)
    return 0
