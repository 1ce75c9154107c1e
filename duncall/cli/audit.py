"""`duncall audit` subcommands: the console's audit log.

audit verify     walk the hash chain; "ok N rows", or the first broken link and exit 1
"""

from __future__ import annotations

import argparse
from typing import Any

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit log of console actions and reads of personal data")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the audit log's hash chain; exit 1 naming the first row changed or removed"
    )
    verify.add_argument("--db", default=None, help=DB_HELP)
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.store.audit_chain import verify
    from dialer.store.db import open_engine

    engine = open_engine(args.db)
    try:
        with Session(engine) as db:
            report = verify(db)  # AuditChainBroken: one line on stderr, exit 1
    finally:
        engine.dispose()
    print(report.line())
    return 0
