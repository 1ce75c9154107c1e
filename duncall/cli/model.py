"""`duncall model train|evaluate|score`: the payment-propensity score (dialer.analytics.propensity).

model train [--bands low:0,medium:0.2,high:0.5]   fit on the store's accounts, save the next version
model evaluate [--truth truth.csv]                the saved version's measures; beside a simulated
                                                  portfolio's true propensity (the ceiling)
model score [--apply]                             score accounts past their first week; --apply
                                                  sets each one's risk segment to propensity_<band>
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from duncall.cli.times import aware_time
from foundation import paths
from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def _models_root() -> Path:
    return paths.home() / "propensity"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "model",
        help="payment-propensity score: train, evaluate, score accounts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmds = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    train = cmds.add_parser(
        "train", help="fit on accounts whose 30-day outcome is known; save the next version"
    )
    train.add_argument(
        "--bands", default="low:0,medium:0.2,high:0.5", help="band:lowest score, rising from 0"
    )
    evaluate = cmds.add_parser("evaluate", help="AUC, KS, Brier and the reliability table of a saved version")
    evaluate.add_argument("--version", type=int, default=None, help="default: the newest")
    evaluate.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="a simulated portfolio's truth CSV (duncall simulate --truth)",
    )
    score = cmds.add_parser("score", help="score accounts past their first week with the newest version")
    score.add_argument(
        "--apply", action="store_true", help="set each account's risk segment to propensity_<band>"
    )
    for cmd, func in ((train, _train), (evaluate, _evaluate), (score, _score)):
        cmd.add_argument("--at", default=None, help="ISO time with offset to look from (default: now)")
        cmd.add_argument(
            "--models", type=Path, default=None, help="model folder (default: DUNCALL_HOME/propensity)"
        )
        cmd.add_argument("--json", action="store_true", help="the measures as JSON")
        cmd.add_argument("--db", default=None, help=DB_HELP)
        cmd.set_defaults(func=func)


def _print_measures(m: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(m, indent=2))
        return
    print(
        f"test accounts {m['accounts']} (paid {100 * m['paid_rate']:.1f}%): AUC {m['auc']:.3f}  KS {m['ks']:.3f}  "
        f"Brier {m['brier']:.4f}"
    )
    if "truth_auc" in m:
        print(f"true propensity on the same accounts: AUC {m['truth_auc']:.3f}  Brier {m['truth_brier']:.4f}")
    print("score band    accounts  mean score  paid rate")
    for row in m["reliability"]:
        print(
            f"{row['from']:.1f}-{row['to']:.1f}   {row['accounts']:9d}  {row['mean_score']:10.3f}  {row['paid_rate']:9.3f}"
        )


def _train(args: argparse.Namespace) -> int:
    from dialer.analytics import propensity
    from dialer.store.db import open_engine

    bands = propensity.parse_bands(args.bands)
    data = propensity.build_dataset(open_engine(args.db), now=aware_time(args.at, "--at"))
    model, result = propensity.train(data)
    folder = propensity.save(model, result, bands, args.models or _models_root())
    _print_measures(result, args.json)
    print(f"saved {folder}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from dialer.analytics import propensity
    from dialer.store.db import open_engine

    model, _meta, _ = propensity.load(args.models or _models_root(), args.version)
    data = propensity.build_dataset(open_engine(args.db), now=aware_time(args.at, "--at"))
    _, test = propensity.time_split(data)
    score = model.predict_proba(data.x[test])[:, 1]
    result = propensity.measures(data.y[test], score)
    if args.truth is not None:
        truth = _truth(args.truth)
        ids = [data.account_ids[int(i)] for i in test]
        missing = [a for a in ids if a not in truth]
        if missing:
            raise InputError(
                f"{args.truth}: no truth for account {missing[0]}",
                "give the CSV this portfolio was simulated with",
            )
        ceiling = propensity.measures(data.y[test], [truth[a] for a in ids])
        result["truth_auc"], result["truth_brier"] = ceiling["auc"], ceiling["brier"]
    _print_measures(result, args.json)
    return 0


def _truth(path: Path) -> dict[str, float]:
    if not path.is_file():
        raise InputError(f"{path}: no such file", "write one with duncall simulate --truth FILE")
    with path.open(newline="") as f:
        return {row["account_id"]: float(row["propensity"]) for row in csv.DictReader(f)}


def _score(args: argparse.Namespace) -> int:
    from sqlalchemy import update

    from dialer.analytics import propensity
    from dialer.store.db import open_engine
    from dialer.store.models import Account

    model, meta, folder = propensity.load(args.models or _models_root())
    bands = tuple((b["band"], float(b["from"])) for b in meta["bands"])
    engine = open_engine(args.db)
    data = propensity.build_dataset(engine, now=aware_time(args.at, "--at"), labelled=False)
    if not data.account_ids:
        print("no account is past its first week unpaid: nothing to score")
        return 0
    scores = model.predict_proba(data.x)[:, 1]
    counts: dict[str, int] = {}
    by_band: dict[str, list[str]] = {}
    for account_id, s in zip(data.account_ids, scores, strict=True):
        band = propensity.band_of(float(s), bands)
        counts[band] = counts.get(band, 0) + 1
        by_band.setdefault(band, []).append(account_id)
    if args.apply:
        with engine.begin() as conn:
            for band, ids in by_band.items():
                for i in range(0, len(ids), 1000):
                    conn.execute(
                        update(Account)
                        .where(Account.account_id.in_(ids[i : i + 1000]))
                        .values(risk_segment=f"propensity_{band}")
                    )
    summary = {
        "model": folder.name,
        "scored": len(data.account_ids),
        "bands": counts,
        "applied": bool(args.apply),
    }
    print(json.dumps(summary) if args.json else " ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
