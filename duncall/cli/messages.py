"""`duncall messages` subcommands: SMS and e-mail reminders through the guard.

messages check [DIR]          check every template (file:line per problem; exit 2 if any)
messages send                 one stage's message on one channel to many accounts, each decided by the
                              guard (window, opt-out, caps); a JSON summary
messages address ACCOUNT      add an e-mail address (--work: a work address, never written to) or --post
messages letter ACCOUNT       a US validation notice (Reg F §1006.34), or a 催收函 for a CNY account,
                              as a PDF in the vendor's folder
messages opt-out ACCOUNT      stop a channel for an account (an operator's record of the debtor's request)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"
CHANNELS = ("sms", "email")


def register(sub: Any) -> None:
    messages = sub.add_parser("messages", help="SMS and e-mail messages to debtors, through the guard")
    msg_sub = messages.add_subparsers(dest="messages_command", metavar="ACTION", required=True)

    check = msg_sub.add_parser("check", help="check message templates: file:line for each problem")
    check.add_argument(
        "dir", type=Path, nargs="?", default=None, help="templates folder (default: the shipped)"
    )
    check.set_defaults(func=_check)

    send = msg_sub.add_parser(
        "send", help="send one stage's message on one channel, each decided by the guard"
    )
    send.add_argument("--channel", choices=CHANNELS, required=True)
    send.add_argument("--stage", default="reminder", help="template stage (default: reminder)")
    pick = send.add_mutually_exclusive_group(required=True)
    pick.add_argument("--account", action="append", default=None, help="an account id (repeatable)")
    pick.add_argument("--creditor", default=None, help="every account of this creditor")
    pick.add_argument("--all", action="store_true", help="every account")
    send.add_argument("--campaign", default=None, help="campaign id written with each decision")
    send.add_argument("--rules", default="default", help="guard rules: a preset name or a YAML file")
    send.add_argument("--db", default=None, help=DB_HELP)
    send.set_defaults(func=_send)

    address = msg_sub.add_parser("address", help="add an e-mail or a mailing address to an account")
    address.add_argument("account")
    where = address.add_mutually_exclusive_group(required=True)
    where.add_argument("--email", default=None)
    where.add_argument("--post", default=None, help="mailing address, lines separated by '\\n' or ';'")
    address.add_argument("--work", action="store_true", help="a work address: the guard never e-mails it")
    address.add_argument("--db", default=None, help=DB_HELP)
    address.set_defaults(func=_address)

    letter = msg_sub.add_parser(
        "letter", help="a US validation notice (Reg F) or, for a CNY account, a 催收函, as a PDF in --out"
    )
    letter.add_argument("account")
    letter.add_argument("--collector-name", required=True)
    letter.add_argument("--collector-address", required=True, help="lines separated by ';'")
    letter.add_argument("--out", type=Path, required=True, help="the print vendor's upload folder")
    letter.add_argument(
        "--itemization-date", type=dt.date.fromisoformat, default=None, help="default: due date"
    )
    letter.add_argument("--sent-on", type=dt.date.fromisoformat, default=None, help="default: today")
    letter.add_argument("--collector-phone", default="", help="催收函: the collector's phone")
    letter.add_argument(
        "--pay-within-days", type=int, default=10, help="催收函: days from the letter to pay (default 10)"
    )
    letter.add_argument("--db", default=None, help=DB_HELP)
    letter.set_defaults(func=_letter)

    opt = msg_sub.add_parser("opt-out", help="stop a channel for an account")
    opt.add_argument("account")
    opt.add_argument("--channel", choices=CHANNELS, required=True)
    opt.add_argument("--reason", required=True, help="why, e.g. 'asked on the call of 7 Dec'")
    opt.add_argument("--db", default=None, help=DB_HELP)
    opt.set_defaults(func=_opt_out)


def _check(args: argparse.Namespace) -> int:
    from dialer.messaging.templates import TEMPLATES_DIR, check_tree

    root: Path = args.dir or TEMPLATES_DIR
    if not root.is_dir():
        raise InputError(
            f"{root}: no such folder", "give the templates folder (<creditor>/<language>/<stage>.<channel>)"
        )
    found = check_tree(root)
    for line in found:
        print(line)
    if not found:
        print(f"{root}: every template passes")
    return 2 if found else 0


def _send(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dialer.messaging.model import Channel
    from dialer.store.db import open_engine
    from dialer.store.models import Account
    from duncall.compose import parts
    from duncall.compose.messaging import messenger

    engine = open_engine(args.db)
    with Session(engine) as db:
        if args.account:
            accounts = list(dict.fromkeys(args.account))
            known = set(db.scalars(select(Account.account_id).where(Account.account_id.in_(accounts))))
            missing = [a for a in accounts if a not in known]
            if missing:
                raise InputError(
                    f"no account {', '.join(missing)}", "check the ids with `duncall accounts show`"
                )
        else:
            query = select(Account.account_id).order_by(Account.account_id)
            if args.creditor:
                query = query.where(Account.creditor_id == args.creditor)
            accounts = list(db.scalars(query))
    channel = Channel(args.channel)
    run = messenger(engine, parts.guard_rules(args.rules))
    summary = asyncio.run(run.send(accounts, channel, args.stage, campaign_id=args.campaign))
    print(json.dumps({"channel": channel.value, "stage": args.stage, **summary.as_json()}))
    return 0


def _address(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.store.db import open_engine
    from dialer.store.models import MessageAddressRow
    from dialer.store.repo import get_account

    if args.post is not None:
        lines = [line.strip() for line in args.post.replace("\\n", ";").split(";") if line.strip()]
        if not lines or len("\n".join(lines)) > 254:
            raise InputError("the mailing address is empty or longer than 254 characters", "give its lines")
        channel, address, kind = "letter", "\n".join(lines), "personal"
    else:
        address = args.email.strip()
        if address.count("@") != 1 or " " in address or len(address) > 254:
            raise InputError(f"{address!r} is not an e-mail address", "give it as name@domain")
        channel, kind = "email", "work" if args.work else "personal"
    with Session(open_engine(args.db)) as db, db.begin():
        get_account(db, args.account)
        db.merge(
            MessageAddressRow(
                account_id=args.account, channel=channel, address=address, kind=kind, position=0
            )
        )
    print(f"{args.account}: {'mailing' if channel == 'letter' else 'e-mail'} address added ({kind})")
    return 0


def _letter(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.messaging.letters import store_letter, validation_fields
    from dialer.store.db import open_engine
    from dialer.store.repo import get_account

    now = dt.datetime.now(dt.UTC)
    with Session(open_engine(args.db)) as db, db.begin():
        if get_account(db, args.account).currency == "CNY":
            return _collection_letter(args, db, now)
        notice = validation_fields(
            db,
            args.account,
            collector_name=args.collector_name,
            collector_address="\n".join(p.strip() for p in args.collector_address.split(";") if p.strip()),
            sent_on=args.sent_on or now.date(),
            itemization_date=args.itemization_date,
        )
        path = store_letter(db, notice, args.account, args.out, now)
    print(f"{path} (validation period ends {notice.validation_end})")
    return 0


def _collection_letter(args: argparse.Namespace, db: Any, now: dt.datetime) -> int:
    from dialer.messaging.letters_zh import collection_letter_fields, store_collection_letter

    if not 1 <= args.pay_within_days <= 90:
        raise InputError("--pay-within-days must be 1 to 90", "give the days the debtor has to pay")
    letter = collection_letter_fields(
        db,
        args.account,
        collector_name=args.collector_name,
        collector_address="\n".join(p.strip() for p in args.collector_address.split(";") if p.strip()),
        collector_phone=args.collector_phone,
        sent_on=args.sent_on or now.date(),
        pay_within_days=args.pay_within_days,
    )
    path = store_collection_letter(db, letter, args.account, args.out, now)
    print(f"{path} (催收函; pay by {letter.pay_by})")
    return 0


def _opt_out(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.store.db import open_engine
    from dialer.store.models import MessageEventRow, OptOutRow
    from dialer.store.repo import get_account

    now = dt.datetime.now(dt.UTC)
    with Session(open_engine(args.db)) as db, db.begin():
        get_account(db, args.account)
        if db.get(OptOutRow, (args.account, args.channel)) is not None:
            print(f"{args.account}: {args.channel} was already stopped", file=sys.stderr)
            return 0
        db.add(
            OptOutRow(
                account_id=args.account, channel=args.channel, at=now, source="operator", detail=args.reason
            )
        )
        db.add(
            MessageEventRow(
                message_id=None,
                account_id=args.account,
                channel=args.channel,
                at=now,
                kind="opt_out",
                detail=args.reason,
            )
        )
    print(f"{args.account}: no more {args.channel} messages")
    return 0
