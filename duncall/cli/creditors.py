"""`duncall creditors` subcommands: the agency's clients, named by every call about their accounts.

creditors add ID --name NAME [--callback-number E164] [--caller-id E164] [...]   one creditor
creditors import FILE      a .yaml list or a .csv of creditors, all or nothing
creditors list             every creditor, one line each
creditors show ID          one creditor, every field
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    creditors = sub.add_parser("creditors", help="creditors (clients) the agency collects for")
    cred_sub = creditors.add_subparsers(dest="creditors_command", metavar="ACTION", required=True)
    add = cred_sub.add_parser("add", help="add one creditor (--replace to overwrite an existing one)")
    add.add_argument("creditor_id")
    add.add_argument("--name", required=True, help="the name a debtor knows the creditor by")
    add.add_argument("--names", default=None, help="the name per language where it differs: zh=…")
    add.add_argument(
        "--callback-number", default=None, help="E.164 number voicemails leave (without it: no calls)"
    )
    add.add_argument("--caller-id", default=None, help="E.164 number presented to debtors")
    add.add_argument("--timezone", default=None, help="IANA zone of the creditor's office")
    add.add_argument("--scripts", default=None, help="preferred script per stage: early=…;mid=…")
    add.add_argument("--rules-preset", default=None, help="name of the rules preset for its accounts")
    add.add_argument(
        "--allow-international",
        action="store_true",
        default=None,
        help="import its debtors' numbers outside the callback number's country (off: rejected)",
    )
    add.add_argument("--replace", action="store_true", help="overwrite a creditor of the same id")
    add.add_argument("--db", default=None, help=DB_HELP)
    add.set_defaults(func=_add)
    imp = cred_sub.add_parser("import", help="add creditors from a .yaml list or a .csv (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="overwrite creditors of the same ids")
    imp.add_argument("--db", default=None, help=DB_HELP)
    imp.set_defaults(func=_import)
    lst = cred_sub.add_parser("list", help="list creditors")
    lst.add_argument("--db", default=None, help=DB_HELP)
    lst.set_defaults(func=_list)
    show = cred_sub.add_parser("show", help="show one creditor")
    show.add_argument("creditor_id")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.add_argument("--db", default=None, help=DB_HELP)
    show.set_defaults(func=_show)


def _add(args: argparse.Namespace) -> int:
    from dialer.creditors.records import creditor
    from dialer.creditors.store import add_creditors
    from dialer.store.db import open_engine

    fields = {
        key: getattr(args, key)
        for key in ("creditor_id", "name", "names", "callback_number", "caller_id", "timezone", "scripts")
    }
    fields["rules_preset"] = args.rules_preset
    fields["allow_international"] = args.allow_international
    record = creditor({k: v for k, v in fields.items() if v is not None})
    add_creditors(open_engine(args.db), [record], replace=args.replace)
    print(f"creditor {record.creditor_id} stored")
    if record.callback_number is None:
        print(f"note: creditor {record.creditor_id} has no callback number: its accounts are not dialled")
    return 0


def _import(args: argparse.Namespace) -> int:
    from dialer.creditors.store import add_creditors, read_file
    from dialer.store.db import open_engine

    count = add_creditors(open_engine(args.db), read_file(args.file), replace=args.replace)
    print(f"{args.file}: {count} creditors stored")
    return 0


def _list(args: argparse.Namespace) -> int:
    from dialer.creditors.store import list_creditors
    from dialer.store.db import open_engine

    for c in list_creditors(open_engine(args.db)):
        print(
            f"{c.creditor_id}\t{c.name}\tcallback {c.callback_number or '-'}\tcaller id {c.caller_id or '-'}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from dialer.creditors.store import get_creditor
    from dialer.store.db import open_engine

    c = get_creditor(open_engine(args.db), args.creditor_id)
    if args.json:
        print(json.dumps(asdict(c), ensure_ascii=False, indent=2))
        return 0
    for key, value in asdict(c).items():
        if isinstance(value, dict):
            value = ";".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:<16}{value or '-'}")
    return 0
