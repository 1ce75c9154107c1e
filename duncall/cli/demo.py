"""`duncall demo` — a small bot campaign over the personas through the real Asterisk."""

from __future__ import annotations

import argparse
from typing import Any

from foundation import paths


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="call the simulated debtors through the sandbox Asterisk and print what happened"
    )
    p.add_argument("personas", nargs="*", help="persona names (default: all of personas/)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from sqlalchemy import Engine

    from dialer.campaign.facts import store_facts
    from dialer.guards.gate import GuardGate
    from dialer.guards.guard import Guard
    from dialer.guards.ledger import Ledger
    from dialer.policy.config import load_preset
    from duncall import demo
    from foundation import settings

    client = settings.redis_client()
    # The demo campaign keeps its own state (database file and Redis prefix) and
    # starts afresh each run, so it can be repeated; every dial still passes the guards.
    db_path = paths.home() / "demo.db"
    db_path.unlink(missing_ok=True)
    prefix = "duncall-demo:guard:"
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    db_url = f"sqlite:///{db_path}"
    rules = load_preset("sandbox")
    print(f"store: {db_path}; guard rules: sandbox preset (default rules, calling window open all day)")

    def gate(engine: Engine) -> GuardGate:
        return GuardGate(Guard(client, Ledger.on(engine), rules, prefix=prefix), store_facts(engine))

    results = demo.main(args.personas, gate, db_url)
    failed = [r for r in results if not r.allowed or r.attempt is None]
    return 1 if failed and len(failed) == len(results) else 0
