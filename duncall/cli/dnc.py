"""`duncall dnc` subcommands: number-level suppression lists the guard reads before every dial.

dnc add NUMBER --reason …      suppress a number (on the internal list unless --list)
dnc remove NUMBER --reason …   clear a number (re-verified, or listed by mistake)
dnc import FILE --list NAME --source TEXT   load a list (a registry extract) from CSV
dnc check NUMBER [--json]      whether the number is suppressed, and why
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from foundation.errors import InputError

REJECTS_SHOWN = 20
KINDS = ("dnc", "disconnected", "reassigned")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _operator(args: argparse.Namespace) -> str:
    by: str = args.by or getpass.getuser()
    return by[:64]


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date {text!r} is not a date", "use YYYY-MM-DD, e.g. 2026-11-30") from None


def _add(args: argparse.Namespace) -> int:
    from dialer.policy.suppression import SuppressionKind
    from dialer.store.db import open_engine
    from dialer.suppression import lists
    from dialer.suppression.numbers import list_name_arg, number_arg

    number = number_arg(args.number, args.region)
    list_name = list_name_arg(args.list)
    kind = SuppressionKind(args.kind)
    reported_on = _date(args.date)
    if reported_on is not None and kind is SuppressionKind.DNC:
        raise InputError(
            "--date applies to disconnected and reassigned reports", "drop --date, or pass --kind"
        )
    result = lists.add(
        open_engine(args.db),
        number,
        reason=args.reason,
        by=_operator(args),
        now=_now(),
        list_name=list_name,
        kind=kind,
        reported_on=reported_on,
    )
    print(f"{number}: {result} on list {list_name} ({kind.value})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine
    from dialer.suppression import lists
    from dialer.suppression.numbers import list_name_arg, number_arg

    number = number_arg(args.number, args.region)
    list_name = list_name_arg(args.list) if args.list else None
    cleared = lists.clear(
        open_engine(args.db), number, reason=args.reason, by=_operator(args), now=_now(), list_name=list_name
    )
    print(f"{number}: cleared from {', '.join(cleared)}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from dialer.policy.suppression import SuppressionKind
    from dialer.store.db import open_engine
    from dialer.suppression.importer import RowError, import_file
    from dialer.suppression.numbers import list_name_arg

    list_name = list_name_arg(args.list)
    shown = 0

    def on_reject(item: RowError) -> None:
        nonlocal shown
        if shown < REJECTS_SHOWN:
            print(f"rejected {item.one_line()}", file=sys.stderr)
            shown += 1

    path: Path = args.file
    if not path.is_file():
        raise InputError(f"{path}: no such file", "give the path of a CSV file of numbers")
    summary = import_file(
        open_engine(args.db),
        path,
        list_name=list_name,
        source=args.source,
        by=_operator(args),
        now=_now(),
        kind=SuppressionKind(args.kind),
        region=args.region,
        on_reject=on_reject,
    )
    if summary.rejected > shown:
        print(f"… {summary.rejected - shown} more rejects", file=sys.stderr)
    print(summary.one_line())
    return 1 if summary.rejected else 0


def _check(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine
    from dialer.suppression import lists
    from dialer.suppression.numbers import number_arg

    number = number_arg(args.number, args.region)
    found = lists.status(open_engine(args.db), number)
    if args.json:
        out: dict[str, Any] = {
            "number": number,
            "suppressed": found.suppressed,
            "entries": [e.as_dict() for e in found.entries],
            "accounts": [
                {
                    "account_id": p.account_id,
                    "consent_date": p.consent_date.isoformat() if p.consent_date else None,
                    "suppressed": p.suppressed,
                }
                for p in found.phones
            ],
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{number}: {'suppressed' if found.suppressed else 'not suppressed'}")
    for e in found.entries:
        when = f" reported {e.reported_on}" if e.reported_on else ""
        print(
            f"  list {e.list_name} ({e.kind}{when}), source {e.source}: {e.reason} "
            f"— added {e.added_at:%Y-%m-%d %H:%M} by {e.added_by}"
        )
    for p in found.phones:
        consent = f"consent {p.consent_date}" if p.consent_date else "no consent date"
        verdict = "suppressed" if p.suppressed else "callable (consent after the report)"
        print(f"  account {p.account_id} ({consent}): {verdict}")
    return 0


def register(sub: Any) -> None:
    db_help = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"
    region_help = "region for numbers without +, e.g. US"
    dnc = sub.add_parser("dnc", help="number-level suppression (do-not-call) lists")
    dnc_sub = dnc.add_subparsers(dest="dnc_command", metavar="ACTION", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--db", default=None, help=db_help)
        parser.add_argument("--region", default=None, help=region_help)

    def who(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--by", default=None, help="who does this (default: the login name)")

    add = dnc_sub.add_parser("add", help="suppress a number")
    add.add_argument("number")
    add.add_argument("--reason", required=True, help="why (kept for the audit)")
    add.add_argument("--list", default="internal", help="list name (default: internal)")
    add.add_argument(
        "--kind",
        choices=KINDS,
        default="dnc",
        help="dnc: never call; disconnected/reassigned: void consent given before --date",
    )
    add.add_argument("--date", default=None, help="YYYY-MM-DD the number was reported (default: today)")
    common(add)
    who(add)
    add.set_defaults(func=_add)

    remove = dnc_sub.add_parser("remove", help="clear a number (re-verified, or listed by mistake)")
    remove.add_argument("number")
    remove.add_argument("--reason", required=True, help="why (kept for the audit)")
    remove.add_argument("--list", default=None, help="clear this list only (default: every list)")
    common(remove)
    who(remove)
    remove.set_defaults(func=_remove)

    imp = dnc_sub.add_parser(
        "import",
        help="load numbers from CSV onto a list",
        description=(
            "CSV: number[,date] per row (date YYYY-MM-DD); an optional header row names the columns "
            "(number or phone; date). Bad rows are reported with their line and skipped; the good rows "
            "are stored in one transaction; re-importing the same file changes nothing."
        ),
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--list", required=True, help="list name, e.g. us-dnc-2026-12")
    imp.add_argument("--source", required=True, help="where the list came from")
    imp.add_argument("--kind", choices=KINDS, default="dnc", help="what the list says (default: dnc)")
    common(imp)
    who(imp)
    imp.set_defaults(func=_import)

    check = dnc_sub.add_parser("check", help="whether a number is suppressed, and why")
    check.add_argument("number")
    check.add_argument("--json", action="store_true", help="one JSON object")
    common(check)
    check.set_defaults(func=_check)
