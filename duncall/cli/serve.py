"""`duncall serve` runs the web console; `duncall users` manages who may log in to it.

No account ships with duncall: the first admin is made with
``duncall users add NAME --role admin`` (the password is read from stdin when it is
not a terminal, otherwise prompted for twice).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy import select

from foundation.errors import InputError


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("no password on stdin", "pipe the password as one line, e.g. `… < pwfile`")
        return password
    first = getpass.getpass(f"password for {args.name}: ")
    second = getpass.getpass("again: ")
    if first != second:
        raise InputError("the two passwords differ", "run the command again")
    return first


def _cmd_users_add(args: argparse.Namespace) -> int:
    from duncall.console import audit
    from duncall.console.auth import add_user, check_new_user, parse_role
    from duncall.console.settings import ConsoleSettings
    from duncall.console.state import Console
    from duncall.passwords import check_password

    role = parse_role(args.role)
    password = _read_password(args)
    check_new_user(args.name, password)
    check_password(password, [args.name, "duncall"])
    console = Console(ConsoleSettings(database_url=args.db))
    now = console.now()
    with console.transaction() as db:
        add_user(db, args.name, role, password, now)
        audit.record(db, now, f"cli:{getpass.getuser()}", "user_add", args.name, role=role.value)
    print(f"user {args.name} added with role {role.value}")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from dialer.store.models.console import ConsoleUser
    from duncall.console.settings import ConsoleSettings
    from duncall.console.state import Console

    console = Console(ConsoleSettings(database_url=args.db))
    with console.transaction() as db:
        users = db.scalars(select(ConsoleUser).order_by(ConsoleUser.name)).all()
        for u in users:
            print("\t".join([u.name, u.role, *(["disabled"] if u.disabled else [])]))
    if not users:
        print("no users yet; add the first admin with `duncall users add NAME --role admin`")
    return 0


def _say_where(host: str, port: int, settings: Any) -> None:
    """At start: where the console is, and how to make the first admin when there is none."""
    from dialer.store.models.console import ConsoleUser
    from duncall.console.state import Console

    shown = f"[{host}]" if ":" in host else host
    print(f"duncall console: http://{shown}:{port}/ (Ctrl-C stops it)", flush=True)
    with Console(settings).transaction() as db:
        anyone = db.scalars(select(ConsoleUser.name).limit(1)).first()
    if anyone is None:
        print(
            "no console users yet: add the first admin with `duncall users add NAME --role admin`",
            flush=True,
        )


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from duncall.console.app import create_app
    from duncall.console.hardening import check_listen
    from duncall.console.settings import from_env

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is not a TCP port", "use 1–65535")
    settings = from_env(database_url=args.db)
    # Beyond loopback only behind a TLS proxy: refused before anything listens.
    check_listen(args.host, settings.tls_proxy)
    app = create_app(settings)
    _say_where(args.host, args.port, settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.uvicorn_log_level)
    return 0


def register(sub: Any) -> None:
    from duncall.console.settings import DEFAULT_HOST, DEFAULT_PORT

    serve = sub.add_parser("serve", help="run the web console (supervisors, script designers, QA)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--db", metavar="URL", help="database URL (default: DUNCALL_DATABASE_URL or the home file)"
    )
    serve.add_argument("--uvicorn-log-level", default="warning", help=argparse.SUPPRESS)
    serve.set_defaults(func=_cmd_serve)

    users = sub.add_parser("users", help="console users: add the first admin, list users")
    users_sub = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)
    add = users_sub.add_parser("add", help="add a console user (password from stdin or a prompt)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, help="admin | supervisor | designer | qa")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin even on a terminal"
    )
    add.add_argument("--db", metavar="URL", help="database URL")
    add.set_defaults(func=_cmd_users_add)
    lst = users_sub.add_parser("list", help="list console users")
    lst.add_argument("--db", metavar="URL", help="database URL")
    lst.set_defaults(func=_cmd_users_list)
