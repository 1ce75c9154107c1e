"""`duncall accounts`, `duncall db` and `duncall strategy` subcommands.

accounts import FILE   stream a CSV / JSON Lines file into the store (rejects listed, summary at the end)
accounts show ID       one account: phones and their status, flags (who, when, why), promises,
                       plans, the timeline of attempts with the guard's reasons (--json: the same)
accounts flag set|clear ID FLAG --reason TEXT --by USER    an operator's flag, audited
accounts phone set ID NUMBER STATUS --reason TEXT --by USER a number's status, audited
db upgrade             run the schema migrations (the app also upgrades on first use)
strategy check FILE    validate a strategy YAML and show its dpd coverage
strategy next ID       the next collection action for one stored account
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from duncall.cli.times import aware_time
from foundation import paths
from foundation.errors import InputError

REJECTS_SHOWN = 20
DEFAULT_STRATEGY = paths.strategies_dir() / "default.yaml"


def register(sub: Any) -> None:
    db_help = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"

    accounts = sub.add_parser("accounts", help="import and inspect debtor accounts")
    acc_sub = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    imp = acc_sub.add_parser(
        "import", help="import accounts from a .csv or .jsonl file (see docs/accounts-schema.md)"
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--db", default=None, help=db_help)
    imp.add_argument(
        "--rejects", type=Path, default=None, help="rejects CSV (default: FILE.rejects.csv when any)"
    )
    imp.add_argument("--batch-size", type=int, default=2000, help="rows per transaction (default 2000)")
    imp.add_argument("--default-region", default=None, help="region for numbers without +, e.g. US or CN")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    imp.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes validating rows (default: one per core for files over 8 MB; 0: none)",
    )
    imp.set_defaults(func=_import)
    show = acc_sub.add_parser("show", help="show one account")
    show.add_argument("account_id")
    show.add_argument("--json", action="store_true", help="print the account page as JSON")
    show.add_argument("--db", default=None, help=db_help)
    show.set_defaults(func=_show)

    flag = acc_sub.add_parser("flag", help="set or clear an account flag (audited; a reason is required)")
    flag_sub = flag.add_subparsers(dest="flag_command", metavar="ACTION", required=True)
    for action, what in (("set", "set a flag"), ("clear", "clear a flag")):
        f = flag_sub.add_parser(action, help=what)
        f.add_argument("account_id")
        f.add_argument("flag", help="dispute, cease_contact, attorney, bankruptcy, deceased or do_not_call")
        _operator_args(f, db_help)
        f.set_defaults(func=_flag_set if action == "set" else _flag_clear)
    phone = acc_sub.add_parser("phone", help="a number's status on an account (audited)")
    phone_sub = phone.add_subparsers(dest="phone_command", metavar="ACTION", required=True)
    ps = phone_sub.add_parser(
        "set", help="set a number's status: active, wrong_number, disconnected, reassigned or blocked"
    )
    ps.add_argument("account_id")
    ps.add_argument("number", help="the number in E.164, as the account lists it")
    ps.add_argument("status")
    _operator_args(ps, db_help)
    ps.set_defaults(func=_phone_set)

    db = sub.add_parser("db", help="durable store maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="migrate the schema to the newest revision")
    up.add_argument("--db", default=None, help=db_help)
    up.set_defaults(func=_upgrade)
    from duncall.cli import dbroles

    dbroles.register(db_sub, db_help)

    strategy = sub.add_parser("strategy", help="collection strategy files and decisions")
    st_sub = strategy.add_subparsers(dest="strategy_command", metavar="ACTION", required=True)
    check = st_sub.add_parser("check", help="validate a strategy YAML file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)
    nxt = st_sub.add_parser("next", help="the next action for an account")
    nxt.add_argument("account_id")
    nxt.add_argument(
        "--strategy", type=Path, default=DEFAULT_STRATEGY, help="strategy YAML (default: default.yaml)"
    )
    nxt.add_argument("--now", default=None, help="ISO time with offset to decide at (default: now)")
    nxt.add_argument("--db", default=None, help=db_help)
    nxt.set_defaults(func=_next)
    from duncall.cli import ladder

    ladder.register(st_sub, DEFAULT_STRATEGY)


def _import(args: argparse.Namespace) -> int:
    from dialer.accounts.importer import Reject, RejectsFile, import_file
    from dialer.store.db import open_engine

    path: Path = args.file
    if not path.is_file():
        raise InputError(f"{path}: no such file", "give the path of a .csv or .jsonl account file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)", "export the accounts again: a file needs its rows")
    rejects_path: Path = args.rejects or path.with_name(path.name + ".rejects.csv")
    _check_writable(rejects_path, "--rejects")
    engine = open_engine(args.db)
    handle: TextIO | None = None
    writer: RejectsFile | None = None
    shown = 0

    def on_reject(item: Reject) -> None:
        nonlocal handle, writer, shown
        if writer is None:
            handle = rejects_path.open("w", newline="", encoding="utf-8")
            writer = RejectsFile(handle)
        writer(item)
        if shown < REJECTS_SHOWN:
            bar.write(f"rejected {item.one_line()}", file=sys.stderr)
            shown += 1

    from tqdm import tqdm

    bar = tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        desc="import",
        file=sys.stderr,
        disable=args.no_progress or None,  # None: off when stderr is not a terminal
    )
    try:
        summary = import_file(
            engine,
            path,
            batch_size=args.batch_size,
            default_region=args.default_region,
            on_reject=on_reject,
            progress=bar.update,
            workers=args.workers,
        )
    finally:
        bar.close()
        if handle is not None:
            handle.close()
    if summary.rejected > shown:
        print(f"… {summary.rejected - shown} more rejects", file=sys.stderr)
    if summary.rejected:
        print(f"rejects written to {rejects_path}", file=sys.stderr)
    print(summary.one_line())
    if summary.rows == 0:
        raise InputError(f"{path} has no account rows", "check that it is the export you meant")
    return 1 if summary.rejected else 0


def _check_writable(path: Path, option: str) -> None:
    """Before anything is imported: a rejects file that cannot be written is said up front."""
    parent = path.parent
    if not parent.is_dir():
        raise InputError(
            f"{option} {path}: the directory {parent} does not exist", "create it or choose another"
        )
    if path.is_dir() or not os.access(path if path.exists() else parent, os.W_OK):
        raise InputError(f"{option} {path}: cannot write there", "choose a file in a writable directory")


def _operator_args(p: argparse.ArgumentParser, db_help: str) -> None:
    p.add_argument("--reason", required=True, help="why (kept with the change and in the audit log)")
    p.add_argument("--by", default=None, help="who makes the change (default: the login user)")
    p.add_argument("--db", default=None, help=db_help)


def _operator(args: argparse.Namespace) -> str:
    import getpass

    return str(args.by) if args.by is not None else getpass.getuser()


def _flag_set(args: argparse.Namespace) -> int:
    return _flag(args, clear=False)


def _flag_clear(args: argparse.Namespace) -> int:
    return _flag(args, clear=True)


def _flag(args: argparse.Namespace, *, clear: bool) -> int:
    from dialer.accounts import state
    from dialer.store.db import open_engine, session_factory
    from duncall.console import audit

    flag = state.parse_flag(args.flag)
    by, now = _operator(args), dt.datetime.now(dt.UTC)
    with session_factory(open_engine(args.db))() as session, session.begin():
        if clear:
            state.clear_flag(session, args.account_id, flag, by, args.reason)
        else:
            state.set_flag(session, args.account_id, flag, by, args.reason, now)
        # The audit row commits with the change, or neither does.
        action = "account_flag_clear" if clear else "account_flag_set"
        audit.record(session, now, by, action, args.account_id, flag=flag.value, reason=args.reason.strip())
    print(f"{args.account_id}: flag {flag.value} {'cleared' if clear else 'set'} by {by}")
    return 0


def _phone_set(args: argparse.Namespace) -> int:
    from dialer.accounts import state
    from dialer.store.db import open_engine, session_factory
    from duncall.console import audit

    status = state.parse_phone_status(args.status)
    by, now = _operator(args), dt.datetime.now(dt.UTC)
    with session_factory(open_engine(args.db))() as session, session.begin():
        state.set_phone_status(session, args.account_id, args.number, status, by, args.reason, now)
        audit.record(
            session,
            now,
            by,
            "account_phone_status",
            args.account_id,
            number=args.number,
            status=status.value,
            reason=args.reason.strip(),
        )
    print(f"{args.account_id}: {args.number} is {status.value} (set by {by})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from dialer.accounts.page import account_page
    from dialer.store.db import open_engine, session_factory
    from dialer.store.repo import get_account

    with session_factory(open_engine(args.db))() as session:
        if args.json:
            import json

            print(json.dumps(account_page(session, args.account_id).as_json(), ensure_ascii=False, indent=2))
            return 0
        page = account_page(session, args.account_id)
        a = get_account(session, args.account_id)
        print(f"account     {a.account_id}")
        print(f"name        {a.first_name} {a.last_name}".rstrip())
        print(f"language    {a.language}    timezone {a.timezone or '(unknown)'}")
        print(f"balance     {a.balance} {a.currency}")
        dpd = a.days_past_due if a.days_past_due is not None else "-"
        print(f"due date    {a.due_date or '-'}    days past due (imported) {dpd}")
        print(f"product     {a.product or '-'}    risk segment {a.risk_segment or '-'}")
        c = a.creditor
        if c is None:
            print("creditor    - (not dialled until a re-import names one)")
        else:
            print(
                f"creditor    {c.creditor_id} ({c.name})    callback {c.callback_number or '- (not dialled)'}"
            )
        if not page.flags:
            print("flags       none")
        for f in page.flags:
            print(f"flag        {f.name} ({f.source}){_who_when_why(f.by, f.set_at, f.reason)}")
        status = {line.number: line for line in page.phones}
        for p in a.phones:
            consent = f"AI-voice consent {p.consent_date}" if p.ai_voice_consent else "no AI-voice consent"
            line = status[p.number]
            print(
                f"phone       {p.number}  {p.phone_type}  {p.contact_type}  {consent}  {line.status}"
                f"{_who_when_why(line.by, line.set_at, line.reason)}"
                + (f"  sms unreachable ({line.sms_failures} failed in a row)" if line.sms_unreachable else "")
            )
        for pr in page.promises:
            print(f"promise     {pr.amount} {pr.currency} due {pr.due}  {pr.status}  ({pr.channel or '-'})")
        for plan in page.plans:
            print(f"plan        {plan.total} {plan.currency} in {len(plan.instalments)}  {plan.status}")
            for i in plan.instalments:
                print(f"  #{i.seq:<3}      {i.due}  {i.amount}  {i.status}")
        for pay in a.payment_history:
            print(f"payment     {pay['date']}  {pay['amount']}  (imported history)")
        for e in page.timeline:
            said = f"  {e.disposition}" if e.disposition else ""
            why = f"  guard: {','.join(e.reasons)}" if e.reasons else ""
            back = f"  call back {e.callback_at:%Y-%m-%d %H:%M}Z" if e.callback_at else ""
            into = "  (inbound)" if e.direction == "inbound" else ""
            print(
                f"{e.at:%Y-%m-%d %H:%M}Z  {e.channel}  {e.kind:<12} {e.outcome or '-'}{said}{why}{back}{into}"
            )
    return 0


def _who_when_why(by: str | None, at: dt.datetime | None, reason: str | None) -> str:
    parts = [
        f"by {by}" if by else "",
        f"at {at:%Y-%m-%d %H:%M}Z" if at else "",
        f"— {reason}" if reason else "",
    ]
    text = " ".join(p for p in parts if p)
    return f"  {text}" if text else ""


def _upgrade(args: argparse.Namespace) -> int:
    from dialer.store.db import current_revision, make_engine, upgrade

    engine = make_engine(args.db)
    upgrade(engine)
    print(f"{engine.url.render_as_string(hide_password=True)}: at revision {current_revision(engine)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from dialer.strategy.config import coverage_gaps, load_strategy

    strategy = load_strategy(args.file)
    print(f"{args.file}: strategy {strategy.name!r} is valid, {len(strategy.stages)} stages")
    for s in strategy.stages:
        upper = s.dpd_max if s.dpd_max is not None else "∞"
        segments = ",".join(sorted(s.risk_segments)) if s.risk_segments else "any"
        print(
            f"  {s.name.value:<10} dpd {s.dpd_min}..{upper:<5} segments {segments:<8} {s.channel.value:<9} "
            f"max {s.max_attempts} attempts  scripts {', '.join(s.scripts.values())}"
        )
    segments_named = sorted({seg for s in strategy.stages for seg in (s.risk_segments or ())})
    for segment in [None, *segments_named]:
        gaps = [g for g in coverage_gaps(strategy, segment, lo=0) if g]
        if gaps:
            ranges = ", ".join(f"{lo}..{hi}" for lo, hi in gaps)
            print(f"  note: no stage covers dpd {ranges} for segment {segment or 'any'}")
    missing = _missing_scripts(strategy)
    for where, name, path in missing:
        print(
            f"{args.file}: {where}: script {name} has no file {path} (add it, or name a script in scripts/)",
            file=sys.stderr,
        )
    return 1 if missing else 0


def _missing_scripts(strategy: Any) -> list[tuple[str, str, Path]]:
    """Scripts the strategy names with no file: such a call would fail only once answered."""
    from foundation import paths

    named = [(f"stage {s.name.value}", s.scripts) for s in strategy.stages]
    named.append(("hardship_scripts", strategy.hardship_scripts))
    out: list[tuple[str, str, Path]] = []
    for where, scripts in named:
        for lang, name in scripts.items():
            # Strategy names carry the language (early_collection_en); files are early_collection.en.yaml.
            path = paths.scripts_dir() / f"{name.removesuffix(f'_{lang}')}.{lang}.yaml"
            if not path.is_file() and (where, name, path) not in out:
                out.append((where, name, path))
    return out


def _next(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine, session_factory
    from dialer.store.models import Account
    from dialer.store.repo import strategy_inputs
    from dialer.strategy.config import load_strategy
    from dialer.strategy.policy import next_action

    strategy = load_strategy(args.strategy)
    now = aware_time(args.now, "--now")
    with session_factory(open_engine(args.db))() as session:
        state, history = strategy_inputs(session, args.account_id, now)
    action = next_action(strategy, state, history, now)
    with session_factory(open_engine(args.db))() as session:
        account = session.get(Account, args.account_id)
    if account is not None and account.due_date is not None:
        how = (
            f" (derived: {account.days_past_due} days past due on import)" if account.due_date_derived else ""
        )
        print(f"due date    {account.due_date.isoformat()}{how}")
    print(f"action      {action.kind.value}")
    if action.stage is not None:
        print(f"stage       {action.stage.value}")
        print(f"script      {action.script}    channel {action.channel.value if action.channel else '-'}")
    if action.not_before is not None:
        print(f"not before  {action.not_before.isoformat(timespec='minutes')}")
    print(f"reason      {action.reason}")
    return 0
