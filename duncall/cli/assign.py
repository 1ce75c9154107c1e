"""`duncall assign`, `duncall collectors` and `duncall worklist`: who works which account.

collectors import FILE                 collectors and teams from .yaml or .csv; bad rows named by line
collectors add ID --name N --capacity C [--team T] [--languages en;zh] [...]   one collector
collectors list [--json]               every collector with skills, capacity and open cases
collectors absent ID --until TIME | --back   mark an absence (their accounts move on the next run)
collectors phone ID [--rotate]         their desk phone: a PJSIP WebRTC endpoint with a generated password
assign run [--dry-run] [--json]        apply the rules: what moves and why, every move audited
assign move ACCOUNT --to COLLECTOR --reason TEXT [--by USER]   a supervisor's reassignment
assign show COLLECTOR [--json]         a collector's portfolio
worklist COLLECTOR [--json]            their queue, most urgent first, with what may happen now
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from foundation import paths
from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"
DEFAULT_RULES = paths.strategies_dir() / "assignment.yaml"
DEFAULT_STRATEGY = paths.strategies_dir() / "default.yaml"
MOVES_SHOWN = 50  # a run's text output lists this many moves, then counts the rest


def register(sub: Any) -> None:
    _register_collectors(sub)
    _register_supervisors(sub)
    assign = sub.add_parser("assign", help="case assignment: which collector works which account")
    assign_sub = assign.add_subparsers(dest="assign_command", metavar="ACTION", required=True)
    run = assign_sub.add_parser("run", help="place new accounts, apply escalations and absences (audited)")
    run.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="assignment rules YAML")
    run.add_argument("--dry-run", action="store_true", help="print what would move; write nothing")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object")
    run.add_argument("--by", default=None, help="who runs it, for the audit log (default: the login user)")
    run.add_argument("--db", default=None, help=DB_HELP)
    run.set_defaults(func=_run)
    move = assign_sub.add_parser("move", help="a supervisor moves one account to a collector (audited)")
    move.add_argument("account_id")
    move.add_argument("--to", required=True, dest="collector_id", help="the collector who takes it")
    move.add_argument("--reason", required=True, help="why (kept in the audit log)")
    move.add_argument("--by", default=None, help="the supervisor (default: the login user)")
    move.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="assignment rules YAML")
    move.add_argument("--db", default=None, help=DB_HELP)
    move.set_defaults(func=_move)
    show = assign_sub.add_parser("show", help="a collector's portfolio: the accounts they hold")
    show.add_argument("collector_id")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.add_argument("--db", default=None, help=DB_HELP)
    show.set_defaults(func=_show)
    worklist = sub.add_parser(
        "worklist", help="a collector's queue, most urgent first, and what may happen now"
    )
    worklist.add_argument("collector_id")
    worklist.add_argument(
        "--rules", type=Path, default=DEFAULT_RULES, help="assignment rules YAML (priority)"
    )
    worklist.add_argument("--strategy", type=Path, default=DEFAULT_STRATEGY, help="collection strategy YAML")
    worklist.add_argument("--guard-rules", default=None, help="guard rules preset or file (default: default)")
    worklist.add_argument("--now", default=None, help="evaluate at this time (ISO 8601 with offset)")
    worklist.add_argument("--json", action="store_true", help="print it as JSON")
    worklist.add_argument("--db", default=None, help=DB_HELP)
    worklist.set_defaults(func=_worklist)


def _register_supervisors(sub: Any) -> None:
    supervisors = sub.add_parser(
        "supervisors", help="supervisors' browser phones (the live board's softphone)"
    )
    sup_sub = supervisors.add_subparsers(dest="supervisors_command", metavar="ACTION", required=True)
    phone = sup_sub.add_parser(
        "phone",
        help="make a console supervisor's browser phone (a PJSIP WebRTC endpoint supervisor-USER)",
    )
    phone.add_argument("user", help="the console user (role supervisor or admin)")
    phone.add_argument("--rotate", action="store_true", help="replace the password (the page logs in again)")
    phone.add_argument("--db", default=None, help=DB_HELP)
    phone.set_defaults(func=_supervisor_phone)


def _register_collectors(sub: Any) -> None:
    collectors = sub.add_parser("collectors", help="collectors and teams: skills, capacity, absences")
    col_sub = collectors.add_subparsers(dest="collectors_command", metavar="ACTION", required=True)
    imp = col_sub.add_parser(
        "import", help="collectors and teams from .yaml or .csv (bad rows named by line)"
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--db", default=None, help=DB_HELP)
    imp.set_defaults(func=_import)
    add = col_sub.add_parser("add", help="add or replace one collector")
    add.add_argument("collector_id")
    add.add_argument("--name", required=True)
    add.add_argument("--capacity", required=True, type=int, help="most open cases held at once")
    add.add_argument("--team", default=None)
    add.add_argument("--console-user", default=None, help="their console log-in")
    for skill in ("languages", "buckets", "creditors", "licences"):
        add.add_argument(f"--{skill}", default="", help=f"{skill}, ';'-separated (empty: any)")
    add.add_argument("--balance-min", default=None)
    add.add_argument("--balance-max", default=None)
    add.add_argument("--hours-per-week", default=None, type=int)
    add.add_argument("--db", default=None, help=DB_HELP)
    add.set_defaults(func=_add)
    lst = col_sub.add_parser("list", help="every collector with skills, capacity and open cases")
    lst.add_argument("--json", action="store_true", help="print them as JSON")
    lst.add_argument("--db", default=None, help=DB_HELP)
    lst.set_defaults(func=_list)
    absent = col_sub.add_parser("absent", help="mark a collector absent until a time (or back now)")
    absent.add_argument("collector_id")
    group = absent.add_mutually_exclusive_group(required=True)
    group.add_argument("--until", default=None, help="ISO 8601 time with offset, e.g. 2026-12-10T09:00:00Z")
    group.add_argument("--back", action="store_true", help="the collector is back")
    absent.add_argument("--by", default=None, help="who records it (default: the login user)")
    absent.add_argument("--db", default=None, help=DB_HELP)
    absent.set_defaults(func=_absent)
    phone = col_sub.add_parser(
        "phone", help="make the collector's desk phone (a PJSIP WebRTC endpoint with a generated password)"
    )
    phone.add_argument("collector_id")
    phone.add_argument("--rotate", action="store_true", help="replace the password (the desk logs in again)")
    phone.add_argument("--db", default=None, help=DB_HELP)
    phone.set_defaults(func=_phone)


def _operator(args: argparse.Namespace) -> str:
    import getpass

    return str(args.by) if getattr(args, "by", None) else getpass.getuser()


def _audit_writer(by: str, now: dt.datetime) -> Any:
    from duncall.console import audit

    def write(session: Any, action: str, target: str, detail: dict[str, Any]) -> None:
        audit.record(session, now, by, action, target, **detail)

    return write


def _session(url: str | None) -> Any:
    from dialer.store.db import open_engine, session_factory

    return session_factory(open_engine(url))()


def _import(args: argparse.Namespace) -> int:
    from dialer.assignment.roster import import_roster

    with _session(args.db) as session, session.begin():
        summary = import_roster(session, args.file)
    for reject in summary.rejects:
        print(reject.one_line(), file=sys.stderr)
    print(summary.one_line())
    return 1 if summary.rejects else 0


def _add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from dialer.assignment.roster import CollectorRow, save
    from dialer.store.models import Team

    data: dict[str, Any] = {
        "collector_id": args.collector_id,
        "name": args.name,
        "capacity": args.capacity,
        "team": args.team,
        "console_user": args.console_user,
        "balance_min": args.balance_min,
        "balance_max": args.balance_max,
        "hours_per_week": args.hours_per_week,
    }
    for skill in ("languages", "buckets", "creditors", "licences"):
        data[skill] = [p.strip() for p in getattr(args, skill).split(";") if p.strip()]
    try:
        row = CollectorRow.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"--{field.replace('_', '-')}: {first['msg']}", "fix the value") from None
    with _session(args.db) as session, session.begin():
        if row.team is not None and session.get(Team, row.team) is None:
            session.add(Team(team_id=row.team, name=row.team))
            session.flush()
        save(session, row)
    print(f"collector {row.collector_id} saved")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from dialer.assignment.store import loads
    from dialer.store.models import Collector

    with _session(args.db) as session:
        held = loads(session)
        rows = list(session.scalars(select(Collector).order_by(Collector.collector_id)))
    now = dt.datetime.now(dt.UTC)
    out = [
        {
            "collector_id": c.collector_id,
            "name": c.name,
            "team": c.team_id,
            "capacity": c.capacity,
            "open_cases": held.get(c.collector_id, 0),
            "available": c.active and not (c.absent_until is not None and _aware(c.absent_until) > now),
            "absent_until": _aware(c.absent_until).isoformat() if c.absent_until else None,
            "languages": c.languages,
            "buckets": c.buckets,
            "creditors": c.creditors,
            "licences": c.licences,
            "balance_min": str(c.balance_min) if c.balance_min is not None else None,
            "balance_max": str(c.balance_max) if c.balance_max is not None else None,
        }
        for c in rows
    ]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if not out:
        print("no collectors (add them: duncall collectors import FILE)")
    for c in out:
        skills = " ".join(
            f"{k}={';'.join(c[k])}" for k in ("languages", "buckets", "creditors", "licences") if c[k]
        )
        state = "" if c["available"] else f" ABSENT until {c['absent_until'] or 'further notice'}"
        print(
            f"{c['collector_id']}  team={c['team'] or '-'}  {c['open_cases']}/{c['capacity']} cases"
            f"{'  ' + skills if skills else ''}{state}"
        )
    return 0


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _absent(args: argparse.Namespace) -> int:
    from dialer.store.models import Collector
    from duncall.cli.times import aware_time

    now = dt.datetime.now(dt.UTC)
    until = None if args.back else aware_time(args.until, "--until")
    by = _operator(args)
    with _session(args.db) as session, session.begin():
        row = session.get(Collector, args.collector_id)
        if row is None:
            raise InputError(f"no collector {args.collector_id!r}", "list them with: duncall collectors list")
        row.absent_until = until
        _audit_writer(by, now)(
            session,
            "collector_absent" if until else "collector_back",
            args.collector_id,
            {"until": until.isoformat() if until else None},
        )
    print(
        f"{args.collector_id} absent until {until.isoformat()} (run duncall assign run to move their accounts)"
        if until
        else f"{args.collector_id} is back"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    import time

    from dialer.assignment.config import load_rules
    from dialer.assignment.policy import plan as make_plan
    from dialer.assignment.policy import spread
    from dialer.assignment.store import apply, case_facts, collector_specs, holdings, needs_jurisdiction

    rules = load_rules(args.rules)
    now = dt.datetime.now(dt.UTC)
    by = _operator(args)
    started = time.perf_counter()
    with _session(args.db) as session, session.begin():
        collectors = collector_specs(session, now)
        if not collectors:
            raise InputError(
                "no collectors in the database", "add them first: duncall collectors import FILE"
            )
        cases = case_facts(session, rules, now.date(), where_from=needs_jurisdiction(rules, collectors))
        result = make_plan(rules, collectors, cases, holdings(session))
        if not args.dry_run:
            apply(session, result.moves, cases, now, by, _audit_writer(by, now))
        if args.dry_run:
            session.rollback()
    elapsed = time.perf_counter() - started
    imbalance = spread(rules, collectors, result.loads)
    reasons = Counter(m.reason for m in result.moves)
    if args.json:
        print(
            json.dumps(
                {
                    "dry_run": args.dry_run,
                    "accounts": len(cases),
                    "collectors": len(collectors),
                    "kept": result.kept,
                    "moved": len(result.moves),
                    "by_reason": dict(sorted(reasons.items())),
                    "moves": [
                        {
                            "account_id": m.account_id,
                            "from": m.from_collector,
                            "to": m.to_collector,
                            "reason": m.reason,
                            "why": m.why,
                        }
                        for m in result.moves
                    ],
                    "unplaced": [
                        {"account_id": u.account_id, "holder": u.holder, "why": u.why}
                        for u in result.unplaced
                    ],
                    "loads": result.loads,
                    "spread": imbalance,
                    "tolerance": rules.tolerance,
                    "seconds": round(elapsed, 3),
                }
            )
        )
        return 0
    verb = "would move" if args.dry_run else "moved"
    for m in result.moves[:MOVES_SHOWN]:
        print(
            f"{m.account_id}: {m.from_collector or '-'} -> {m.to_collector or '(released)'}  [{m.reason}] {m.why}"
        )
    if len(result.moves) > MOVES_SHOWN:
        print(f"… and {len(result.moves) - MOVES_SHOWN} more (--json lists every move)")
    for u in result.unplaced[:MOVES_SHOWN]:
        print(
            f"{u.account_id}: not placed ({'stays with ' + u.holder if u.holder else 'unassigned'}): {u.why}"
        )
    by_reason = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "nothing"
    print(
        f"{len(cases)} accounts, {len(collectors)} collectors: {verb} {len(result.moves)} ({by_reason}), "
        f"kept {result.kept}, not placed {len(result.unplaced)} in {elapsed:.1f}s"
    )
    if imbalance > rules.tolerance:
        print(
            f"loads are {imbalance:.1f} cases apart, beyond the tolerance of {rules.tolerance} "
            "(held accounts stay put; skills or capacity narrow the pools)"
        )
    return 0


def _move(args: argparse.Namespace) -> int:
    from dialer.assignment.config import load_rules
    from dialer.assignment.store import reassign

    rules = load_rules(args.rules)
    now = dt.datetime.now(dt.UTC)
    by = _operator(args)
    if not args.reason.strip():
        raise InputError("--reason is empty", "say why the account moves; it is kept in the audit log")
    with _session(args.db) as session, session.begin():
        move = reassign(
            session,
            rules,
            args.account_id,
            args.collector_id,
            now,
            by,
            args.reason.strip(),
            _audit_writer(by, now),
        )
    print(f"{move.account_id}: {move.from_collector or '-'} -> {move.to_collector} (manual, by {by})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from dialer.assignment.store import portfolio
    from dialer.store.models import Collector

    with _session(args.db) as session:
        if session.get(Collector, args.collector_id) is None:
            raise InputError(f"no collector {args.collector_id!r}", "list them with: duncall collectors list")
        rows = portfolio(session, args.collector_id)
    out: list[dict[str, Any]] = [
        {
            "account_id": r.account_id,
            "assigned_at": _aware(r.assigned_at).isoformat(),
            "reason": r.reason,
            "manual": r.manual,
            "bucket": r.bucket,
        }
        for r in rows
    ]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for r in out:
        print(
            f"{r['account_id']}  since {r['assigned_at'][:16]}  {r['reason']}{' (manual)' if r['manual'] else ''}"
            f"  bucket {r['bucket'] or '-'}"
        )
    print(f"{args.collector_id}: {len(out)} accounts")
    return 0


def _worklist(args: argparse.Namespace) -> int:
    from dialer.assignment.config import load_rules
    from dialer.assignment.worklist import build
    from dialer.policy.config import load_preset
    from dialer.policy.config import load_rules as load_guard_rules
    from dialer.store.db import open_engine
    from dialer.strategy.config import load_strategy
    from duncall.cli.times import aware_time

    rules = load_rules(args.rules)
    strategy = load_strategy(args.strategy)
    name = args.guard_rules or "default"
    guard_rules = load_guard_rules(name) if name.endswith((".yaml", ".yml")) else load_preset(name)
    now = aware_time(args.now, "--now")
    items = build(open_engine(args.db), args.collector_id, rules, strategy, guard_rules, now)
    if args.json:
        print(json.dumps([i.as_json(phone_type_key="type") for i in items], indent=2))
        return 0
    if not items:
        print(f"{args.collector_id} holds no accounts (duncall assign run places them)")
        return 0
    for item in items:
        marks = ", ".join(
            m
            for m in (
                "callback due" if item.callback_due else "",
                f"{item.broken_promises} broken promise(s)" if item.broken_promises else "",
            )
            if m
        )
        print(
            f"{item.rank:>3}. {item.account_id}  {item.balance} {item.currency}  dpd {item.dpd}  "
            f"risk {item.risk or '-'}{'  [' + marks + ']' if marks else ''}"
        )
        when = item.strategy_not_before
        later = f" (not before {when:%Y-%m-%d %H:%M} UTC)" if when is not None and when > now else ""
        print(f"     strategy: {item.strategy}{later}")
        for n in item.numbers:
            if n.callable_now:
                state = "callable now"
            elif n.next_at is not None:
                state = f"callable from {n.next_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC ({', '.join(n.reasons)})"
            else:
                state = f"not within a week ({', '.join(n.reasons)})"
            near = f"; near: {'; '.join(n.caps_near)}" if n.caps_near else ""
            print(f"     {n.phone_type:<6} {n.number}: {state}{near}")
    return 0


def _supervisor_phone(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from dialer.store.models.console import ConsoleUser
    from duncall.console.roles import Permission, Role, can
    from duncall.sandbox import phones

    with _session(args.db) as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == args.user))
        if user is None:
            raise InputError(
                f"no console user {args.user!r}", "add it first: duncall users add NAME --role supervisor"
            )
        if not can(Role(user.role), Permission.LIVE_SUPERVISE):
            raise InputError(
                f"console user {args.user!r} is {user.role}: it may not supervise calls",
                "give the phone to a supervisor or an admin",
            )
    phone, new = phones.make_supervisor_phone(args.user, rotate=args.rotate)
    applied = phones.apply_sandbox()
    made = "new password" if new else "unchanged"
    # The password stays in the phones file: the console hands it to the supervisor's own live board.
    print(f"{args.user}: endpoint {phone.endpoint} ({made}); {applied}")
    return 0


def _phone(args: argparse.Namespace) -> int:
    from dialer.store.models import Collector
    from duncall.sandbox import phones

    with _session(args.db) as session:
        if session.get(Collector, args.collector_id) is None:
            raise InputError(f"no collector {args.collector_id!r}", "list them with: duncall collectors list")
    phone, new = phones.make_phone(args.collector_id, rotate=args.rotate)
    applied = phones.apply_sandbox()
    made = "new password" if new else "unchanged"
    # The password stays in the phones file: the console hands it to the collector's own desk page.
    print(f"{args.collector_id}: endpoint {phone.endpoint} ({made}); {applied}")
    return 0
