"""Champion/challenger experiments in the store: create (assign the arms), count, promote.

An experiment gives the challenger to a seeded, stratified share of accounts
(``dialer.analytics.experiment``).  A *script* experiment: while it runs, a campaign plan dials
those accounts with the challenger script wherever the strategy chooses the champion script.
A *strategy* experiment: the champion is a strategy's name (``name:`` in its file), the
challenger a strategy file; a campaign run with the champion strategy decides those accounts'
next step by the challenger's file instead.  Once promoted, every account in the experiment's
scope (its creditor's, or all) gets the challenger in the champion's place.  Creating and
promoting write audit rows through the caller's writer (the audit log lives in the application
layer), in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, distinct, func, insert, select
from sqlalchemy.orm import Session

from dialer.analytics.experiment import ARMS, CHALLENGER, ArmCounts, arm_summary, assign_arms, compare
from dialer.analytics.metrics import bucket_on, dpd_on
from dialer.analytics.queries import connect, refresh_facts
from dialer.assignment.model import Bucket
from dialer.store.models import Account, PaymentRow, PromiseRow
from dialer.store.models.analytics import AttemptFact, ExperimentAssignmentRow, ExperimentRow
from foundation.errors import InputError

# (session, action, target, detail) -> adds one audit row to the session's transaction
AuditWriter = Callable[[Session, str, str, dict[str, Any]], None]
RUNNING, PROMOTED, STOPPED = "running", "promoted", "stopped"
SCRIPT_NAME = re.compile(r"^(?P<base>[a-z0-9_]+)_(?P<lang>[a-z]{2})$")  # as a strategy names scripts
ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_script(name: str, scripts_dir: Path) -> None:
    """A script as strategies name them (``early_collection_en``) with a file in ``scripts_dir``."""
    m = SCRIPT_NAME.match(name)
    if m is None:
        raise InputError(
            f"script {name!r} is not named as a strategy names scripts", "e.g. early_collection_en"
        )
    if not (scripts_dir / f"{m['base']}.{m['lang']}.yaml").is_file():
        raise InputError(
            f"no script file {m['base']}.{m['lang']}.yaml for {name!r} in {scripts_dir}",
            "publish the script first (duncall flow, or the console's script editor)",
        )


KINDS = ("script", "strategy")


def create(
    db: Session,
    *,
    experiment_id: str,
    kind: str = "script",
    champion: str,
    challenger: str,
    share: float,
    seed: int,
    creditor: str | None,
    buckets: tuple[Bucket, ...],
    now: dt.datetime,
    by: str,
    audit: AuditWriter,
) -> dict[str, int]:
    """Assign every open account in scope not already in a running experiment; accounts per arm."""
    if not ID.match(experiment_id):
        raise InputError(f"experiment id {experiment_id!r} is not 1-64 letters, digits, _ . -", "e.g. ptp-v2")
    if not 0 < share < 1:
        raise InputError(f"--share {share} is not between 0 and 1", "e.g. --share 0.2")
    if kind not in KINDS:
        raise InputError(
            f"kind {kind!r} is not one of {', '.join(KINDS)}", "--kind script or --kind strategy"
        )
    if champion == challenger:
        raise InputError("the challenger is the champion", "name another script as the challenger")
    if db.get(ExperimentRow, experiment_id) is not None:
        raise InputError(f"experiment {experiment_id!r} exists", "choose another id")
    busy = (
        select(ExperimentAssignmentRow.account_id)
        .join(ExperimentRow, ExperimentRow.experiment_id == ExperimentAssignmentRow.experiment_id)
        .where(ExperimentRow.status == RUNNING)
    )
    # Open at ``now``: owing then (the balance now plus what was paid after ``now``, which is
    # nothing unless ``now`` is in the past, as in a simulation replayed).
    later = (
        select(PaymentRow.account_id, func.sum(PaymentRow.amount).label("paid"))
        .where(PaymentRow.paid_at > now)
        .group_by(PaymentRow.account_id)
        .subquery()
    )
    query = (
        select(Account.account_id, Account.due_date, Account.days_past_due)
        .outerjoin(later, later.c.account_id == Account.account_id)
        .where(Account.balance + func.coalesce(later.c.paid, 0) > 0, Account.account_id.not_in(busy))
    )
    if creditor is not None:
        query = query.where(Account.creditor_id == creditor)
    today = now.date()
    strata = [
        (account_id, bucket_on(buckets, dpd_on(today, due, dpd, today), False))
        for account_id, due, dpd in db.execute(query)
    ]
    if not strata:
        raise InputError(
            "no open account is free to take part", "check --creditor, or end a running experiment"
        )
    arms = assign_arms(strata, share, seed)
    db.add(
        ExperimentRow(
            experiment_id=experiment_id, kind=kind, champion=champion, challenger=challenger,
            share=share, seed=seed, creditor_id=creditor, status=RUNNING, created_at=now, created_by=by,
        )
    )  # fmt: skip
    db.flush()
    stratum_of = dict(strata)
    db.execute(
        insert(ExperimentAssignmentRow),
        [
            {"experiment_id": experiment_id, "account_id": a, "arm": arm, "stratum": stratum_of[a]}
            for a, arm in arms.items()
        ],
    )
    sizes = {arm: sum(1 for v in arms.values() if v == arm) for arm in ARMS}
    audit(
        db,
        "experiment_create",
        experiment_id,
        {
            "kind": kind,
            "champion": champion,
            "challenger": challenger,
            "share": share,
            "seed": seed,
            "creditor": creditor,
            **sizes,
        },
    )
    return sizes


def arm_counts(engine: Engine, experiment: ExperimentRow) -> dict[str, ArmCounts]:
    """Each arm's facts since the experiment started."""
    x = ExperimentAssignmentRow
    f = AttemptFact.__table__.c
    start = experiment.created_at
    mine = x.experiment_id == experiment.experiment_id
    values: dict[str, dict[str, Any]] = {arm: {} for arm in ARMS}
    with connect(engine) as conn:
        with conn.begin():
            refresh_facts(conn)
        for arm, n in conn.execute(select(x.arm, func.count()).where(mine).group_by(x.arm)):
            values[arm]["accounts"] = n
        for arm, n, answered, rpc in conn.execute(
            select(
                x.arm,
                func.count(),
                func.coalesce(func.sum(f.answered), 0),
                func.coalesce(func.sum(f.right_party), 0),
            )
            .select_from(AttemptFact.__table__.join(x, x.account_id == f.account_id))
            .where(mine, f.dialed_at >= start)
            .group_by(x.arm)
        ):
            values[arm].update(dialled=n, answered=answered, right_party=rpc)
        for arm, n in conn.execute(
            select(x.arm, func.count())
            .select_from(PromiseRow.__table__.join(x, x.account_id == PromiseRow.account_id))
            .where(mine, PromiseRow.created_at >= start)
            .group_by(x.arm)
        ):
            values[arm]["promises"] = n
        for arm, payers, amount in conn.execute(
            select(
                x.arm,
                func.count(distinct(PaymentRow.account_id)),
                func.coalesce(func.sum(PaymentRow.amount), 0),
            )
            .select_from(PaymentRow.__table__.join(x, x.account_id == PaymentRow.account_id))
            .where(mine, PaymentRow.paid_at >= start)
            .group_by(x.arm)
        ):
            values[arm].update(payers=payers, collected=Decimal(str(amount)).quantize(Decimal("0.01")))
    return {
        arm: ArmCounts(
            accounts=int(v.get("accounts", 0)),
            dialled=int(v.get("dialled", 0)),
            answered=int(v.get("answered", 0)),
            right_party=int(v.get("right_party", 0)),
            promises=int(v.get("promises", 0)),
            payers=int(v.get("payers", 0)),
            collected=v.get("collected", Decimal("0.00")),
        )
        for arm, v in values.items()
    }


@dataclass(frozen=True, slots=True)
class Summary:
    experiment: ExperimentRow
    arms: dict[str, ArmCounts]

    def as_json(self) -> dict[str, Any]:
        e = self.experiment
        return {
            "experiment_id": e.experiment_id,
            "kind": e.kind,
            "champion": e.champion,
            "challenger": e.challenger,
            "share": e.share,
            "seed": e.seed,
            "creditor": e.creditor_id,
            "status": e.status,
            "created_at": e.created_at.isoformat(),
            "created_by": e.created_by,
            "ended_at": e.ended_at.isoformat() if e.ended_at else None,
            "ended_by": e.ended_by,
            "arms": {arm: arm_summary(c) for arm, c in self.arms.items()},
            "tests": compare(self.arms["champion"], self.arms["challenger"]),
        }


def summaries(engine: Engine, experiment_id: str | None = None) -> list[Summary]:
    with Session(engine) as db:
        query = select(ExperimentRow).order_by(ExperimentRow.created_at.desc(), ExperimentRow.experiment_id)
        if experiment_id is not None:
            query = query.where(ExperimentRow.experiment_id == experiment_id)
        rows = list(db.scalars(query))
        db.expunge_all()
    if experiment_id is not None and not rows:
        raise InputError(f"no experiment {experiment_id!r}", "list them with: duncall experiment show")
    return [Summary(row, arm_counts(engine, row)) for row in rows]


def promote(
    db: Session, experiment_id: str, *, now: dt.datetime, by: str, audit: AuditWriter, summary: dict[str, Any]
) -> ExperimentRow:
    """End a running experiment with the challenger promoted: from now on it replaces the champion
    in the experiment's scope.  Audited with the arms' numbers as they stood."""
    row = db.get(ExperimentRow, experiment_id)
    if row is None:
        raise InputError(f"no experiment {experiment_id!r}", "list them with: duncall experiment show")
    if row.status != RUNNING:
        raise InputError(
            f"experiment {experiment_id!r} is {row.status}, not running", "only a running one is promoted"
        )
    promoted = db.scalars(
        select(ExperimentRow).where(
            ExperimentRow.status == PROMOTED,
            ExperimentRow.kind == row.kind,
            ExperimentRow.champion == row.champion,
            ExperimentRow.creditor_id.is_(None)
            if row.creditor_id is None
            else ExperimentRow.creditor_id == row.creditor_id,
        )
    ).first()
    if promoted is not None:
        raise InputError(
            f"{row.champion} was already replaced by {promoted.challenger} (experiment {promoted.experiment_id})",
            "test against the promoted challenger instead",
        )
    row.status, row.ended_at, row.ended_by = PROMOTED, now, by
    audit(db, "experiment_promote", experiment_id, summary)
    return row


@dataclass(frozen=True, slots=True)
class Swaps:
    """What a campaign plan swaps: running experiments' challenger accounts, promoted challengers.

    Keys are (kind, …): a script experiment's champion is a script, a strategy experiment's a
    strategy's name (its challenger the path of the challenger's file)."""

    by_account: dict[tuple[str, str], tuple[str, str]]  # (kind, account) → (champion, challenger)
    promoted: dict[tuple[str, str | None, str], str]  # (kind, creditor or None, champion) → challenger

    def _swap(self, kind: str, account_id: str, creditor: str | None, champion: str) -> str | None:
        swap = self.by_account.get((kind, account_id))
        if swap is not None and swap[0] == champion:
            return swap[1]
        return self.promoted.get((kind, creditor, champion)) or self.promoted.get((kind, None, champion))

    def script_for(self, account_id: str, creditor: str | None, script: str) -> str:
        return self._swap("script", account_id, creditor, script) or script

    def strategy_file_for(self, account_id: str, creditor: str | None, strategy_name: str) -> str | None:
        """The challenger strategy's file for this account, if an experiment gives it one."""
        return self._swap("strategy", account_id, creditor, strategy_name)


def script_swaps(db: Session) -> Swaps:
    by_account: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, account_id, champion, challenger in db.execute(
        select(
            ExperimentRow.kind,
            ExperimentAssignmentRow.account_id,
            ExperimentRow.champion,
            ExperimentRow.challenger,
        )
        .join(ExperimentRow, ExperimentRow.experiment_id == ExperimentAssignmentRow.experiment_id)
        .where(ExperimentRow.status == RUNNING, ExperimentAssignmentRow.arm == CHALLENGER)
    ):
        by_account[(kind, account_id)] = (champion, challenger)
    promoted = {
        (kind, creditor, champion): challenger
        for kind, creditor, champion, challenger in db.execute(
            select(
                ExperimentRow.kind,
                ExperimentRow.creditor_id,
                ExperimentRow.champion,
                ExperimentRow.challenger,
            ).where(ExperimentRow.status == PROMOTED)
        )
    }
    return Swaps(by_account, promoted)


def promote_if_won(
    engine: Engine, experiment_id: str, *, force: bool, now: dt.datetime, by: str, audit: AuditWriter
) -> tuple[ExperimentRow, bool]:
    """Promote when the challenger's payer rate is significantly higher (p < 0.05), or ``force``;
    the audit row carries the arms, the tests and whether it was forced.  (row, forced)."""
    doc = summaries(engine, experiment_id)[0].as_json()
    test = doc["tests"]["payer_rate"]
    won = test is not None and bool(test["significant"]) and float(test["difference"]) > 0
    if not won and not force:
        shown = (
            "no test yet"
            if test is None
            else f"difference {100 * float(test['difference']):+.1f} points, p {float(test['p_value']):.3g}"
        )
        raise InputError(
            f"the challenger's payer rate is not significantly higher ({shown})",
            "wait for more accounts, or force the promotion (--force; the console: force)",
        )
    detail = {"forced": not won, "arms": doc["arms"], "tests": doc["tests"]}
    with Session(engine) as db, db.begin():
        row = promote(db, experiment_id, now=now, by=by, audit=audit, summary=detail)
        db.flush()
        db.expunge(row)
    return row, not won
