"""`duncall experiment`: champion/challenger tests of a script or strategy variant.

experiment create ID --champion SCRIPT --challenger SCRIPT [--share 0.5] [--seed 1] [--creditor C]
experiment create ID --kind strategy --champion NAME --challenger FILE.yaml [...]
experiment show [ID] [--json]        each arm's numbers with 95 % intervals and the z-tests
experiment promote ID [--force]      the challenger replaces the champion (audited)

Scripts are named as strategies name them (early_collection_en); a strategy experiment's
champion is the campaign's strategy name (name: in its file), its challenger a strategy file.  The arms are a seeded,
stratified draw (by DPD bucket) over the open accounts in scope; a campaign run dials the
challenger arm with the challenger wherever the strategy picks the champion.  promote refuses
unless the challenger's payer rate is significantly higher (p < 0.05); --force promotes anyway
(the audit row says so).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
from typing import Any

from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    exp = sub.add_parser(
        "experiment",
        help="champion/challenger tests of a script variant (create, show, promote)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp_sub = exp.add_subparsers(dest="experiment_command", metavar="ACTION", required=True)
    create = exp_sub.add_parser("create", help="assign the arms and start the experiment")
    create.add_argument("experiment_id")
    create.add_argument("--kind", choices=("script", "strategy"), default="script")
    create.add_argument("--champion", required=True, help="the script in use, e.g. early_collection_en")
    create.add_argument("--challenger", required=True, help="the variant, e.g. early_collection_v2_en")
    create.add_argument("--share", type=float, default=0.5, help="share of accounts given the challenger")
    create.add_argument("--seed", type=int, default=1, help="the same seed and accounts give the same arms")
    create.add_argument("--creditor", default=None, help="only this creditor's accounts (default: all)")
    create.add_argument("--by", default=None, help="who starts it (default: the login name)")
    create.add_argument("--db", default=None, help=DB_HELP)
    create.set_defaults(func=_create)
    show = exp_sub.add_parser("show", help="each arm's numbers, intervals and tests")
    show.add_argument("experiment_id", nargs="?", default=None)
    show.add_argument("--json", action="store_true")
    show.add_argument("--db", default=None, help=DB_HELP)
    show.set_defaults(func=_show)
    promote = exp_sub.add_parser("promote", help="the challenger replaces the champion (audited)")
    promote.add_argument("experiment_id")
    promote.add_argument("--force", action="store_true", help="promote without a significant win")
    promote.add_argument("--by", default=None, help="who promotes it (default: the login name)")
    promote.add_argument("--db", default=None, help=DB_HELP)
    promote.set_defaults(func=_promote)


def _writer(by: str, now: dt.datetime) -> Any:
    from duncall.console import audit

    def write(session: Any, action: str, target: str, detail: dict[str, Any]) -> None:
        audit.record(session, now, by, action, target, **detail)

    return write


def _create(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.analytics.experiments_store import check_script, create
    from dialer.analytics.report import default_buckets
    from dialer.store.db import open_engine
    from foundation.settings import get_settings

    challenger = args.challenger
    if args.kind == "script":
        scripts_dir = get_settings().scripts_dir or _shipped_scripts()
        for name in (args.champion, args.challenger):
            check_script(name, scripts_dir)
    else:
        from pathlib import Path

        from dialer.strategy.config import load_strategy

        path = Path(args.challenger).resolve()
        loaded = load_strategy(path)  # a file that does not load is one line naming the field
        if loaded.name == args.champion:
            raise InputError(
                f"the challenger file's strategy is named {loaded.name!r}, as the champion",
                "give the challenger its own name: in its file",
            )
        challenger = str(path)
    now = dt.datetime.now(dt.UTC)
    by = args.by or getpass.getuser()
    with Session(open_engine(args.db)) as db, db.begin():
        sizes = create(
            db,
            experiment_id=args.experiment_id,
            kind=args.kind,
            champion=args.champion,
            challenger=challenger,
            share=args.share,
            seed=args.seed,
            creditor=args.creditor,
            buckets=default_buckets(),
            now=now,
            by=by,
            audit=_writer(by, now),
        )
    print(f"{args.experiment_id}: champion {sizes['champion']} accounts, challenger {sizes['challenger']}")
    return 0


def _shipped_scripts() -> Any:
    from foundation import paths

    return paths.scripts_dir()


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _show(args: argparse.Namespace) -> int:
    from dialer.analytics.experiments_store import summaries
    from dialer.store.db import open_engine

    docs = [s.as_json() for s in summaries(open_engine(args.db), args.experiment_id)]
    if args.json:
        print(json.dumps(docs if args.experiment_id is None else docs[0], indent=2))
        return 0
    for doc in docs:
        print(
            f"{doc['experiment_id']} ({doc['status']}): {doc['champion']} vs {doc['challenger']}, share {doc['share']}"
        )
        for arm, a in doc["arms"].items():
            payer = a["payer_rate"]
            print(
                f"  {arm:10} accounts {a['accounts']:>6}  payers {a['payers']:>5} "
                f"{_pct(payer['rate'])} [{_pct(payer['low'])}, {_pct(payer['high'])}]  "
                f"contact {_pct(a['contact_rate']['rate'])}  collected {a['collected']}"
            )
        test = doc["tests"]["payer_rate"]
        if test is None:
            print("  payer rate: no test yet")
        else:
            print(
                f"  payer rate: difference {100 * test['difference']:+.1f} points, z {test['z']:.2f}, p {test['p_value']:.3g}"
            )
    return 0


def _promote(args: argparse.Namespace) -> int:
    from dialer.analytics.experiments_store import promote_if_won
    from dialer.store.db import open_engine

    now = dt.datetime.now(dt.UTC)
    by = args.by or getpass.getuser()
    row, forced = promote_if_won(
        open_engine(args.db), args.experiment_id, force=args.force, now=now, by=by, audit=_writer(by, now)
    )
    print(f"{row.experiment_id}: {row.challenger} replaces {row.champion}" + (" (forced)" if forced else ""))
    return 0
