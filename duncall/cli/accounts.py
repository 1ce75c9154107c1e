"""`duncall accounts`, `duncall db` and `duncall strategy` subcommands.

accounts import FILE   stream a CSV / JSON Lines file into the store (rejects listed, summary at the end)
accounts show ID       one account with its phones and flags
db upgrade             run the schema migrations (the app also upgrades on first use)
strategy check FILE    validate a strategy YAML and show its dpd coverage
strategy next ID       the next collection action for one stored account
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any, TextIO

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
    show.add_argument("--db", default=None, help=db_help)
    show.set_defaults(func=_show)

    db = sub.add_parser("db", help="durable store maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="migrate the schema to the newest revision")
    up.add_argument("--db", default=None, help=db_help)
    up.set_defaults(func=_upgrade)

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


def _import(args: argparse.Namespace) -> int:
    from dialer.accounts.importer import Reject, RejectsFile, import_file
    from dialer.store.db import open_engine

    path: Path = args.file
    if not path.is_file():
        raise InputError(f"{path}: no such file", "give the path of a .csv or .jsonl account file")
    engine = open_engine(args.db)
    rejects_path: Path = args.rejects or path.with_name(path.name + ".rejects.csv")
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
    return 1 if summary.rejected else 0


def _show(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine, session_factory
    from dialer.store.repo import get_account

    with session_factory(open_engine(args.db))() as session:
        a = get_account(session, args.account_id)
        print(f"account     {a.account_id}")
        print(f"name        {a.first_name} {a.last_name}".rstrip())
        print(f"language    {a.language}    timezone {a.timezone or '(unknown)'}")
        print(f"balance     {a.balance} {a.currency}")
        dpd = a.days_past_due if a.days_past_due is not None else "-"
        print(f"due date    {a.due_date or '-'}    days past due (imported) {dpd}")
        print(f"product     {a.product or '-'}    risk segment {a.risk_segment or '-'}")
        flags = ", ".join(f"{f.flag} ({f.source})" for f in a.flags) or "none"
        print(f"flags       {flags}")
        for p in a.phones:
            consent = f"AI-voice consent {p.consent_date}" if p.ai_voice_consent else "no AI-voice consent"
            print(f"phone       {p.number}  {p.phone_type}  {p.contact_type}  {consent}")
        for pay in a.payment_history:
            print(f"payment     {pay['date']}  {pay['amount']}")
    return 0


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
    from dialer.store.repo import strategy_inputs
    from dialer.strategy.config import load_strategy
    from dialer.strategy.policy import next_action

    strategy = load_strategy(args.strategy)
    now = _parse_now(args.now)
    with session_factory(open_engine(args.db))() as session:
        state, history = strategy_inputs(session, args.account_id, now)
    action = next_action(strategy, state, history, now)
    print(f"action      {action.kind.value}")
    if action.stage is not None:
        print(f"stage       {action.stage.value}")
        print(f"script      {action.script}    channel {action.channel.value if action.channel else '-'}")
    if action.not_before is not None:
        print(f"not before  {action.not_before.isoformat(timespec='minutes')}")
    print(f"reason      {action.reason}")
    return 0


def _parse_now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--now {text!r} is not an ISO date-time", "use e.g. 2026-11-25T10:00:00+00:00"
        ) from None
    if value.tzinfo is None:
        raise InputError(f"--now {text!r} has no UTC offset", "add one, e.g. +00:00") from None
    return value
