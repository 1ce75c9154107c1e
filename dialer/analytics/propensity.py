"""Payment propensity: the probability that an account pays within 30 days, learned from the store.

An account's **snapshot** is a week after its first call: the model sees the account as
imported (days past due, balance placed, payments before placement) and its first week of
calls (attempts, answers, right-party contacts, promises, evening versus daytime answers);
the **label** is a payment in the 30 days after the snapshot.  Accounts whose label window
has not closed are not used.  The split is by time: the earliest snapshots train, the latest
test, as the model will be used on accounts it has not seen.

The learner is scikit-learn's ``LogisticRegression`` (imputed, scaled); the measures are AUC, KS (the
largest gap between the payers' and non-payers' score distributions), the Brier score and a
reliability table (mean score against observed rate per band of scores).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from dialer.analytics.queries import connect, refresh_facts
from dialer.store.models import Account, PaymentRow, PromiseRow
from dialer.store.models.analytics import AttemptFact
from foundation.errors import InputError

SNAPSHOT_DAYS = 7
LABEL_DAYS = 30
EVENING_FROM_HOUR = 17
FEATURES = (
    "days_past_due",
    "log_balance",
    "past_payments",
    "attempts_week1",
    "answered_week1",
    "right_party_week1",
    "promises_week1",
    "day_answer_rate_week1",
    "evening_answer_rate_week1",
)
DEFAULT_BANDS = (("low", 0.0), ("medium", 0.2), ("high", 0.5))  # band name, lowest score in it
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class Dataset:
    account_ids: list[str]
    snapshots: list[dt.datetime]
    x: FloatArray
    y: np.ndarray[Any, np.dtype[np.int64]]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def build_dataset(engine: Engine, *, now: dt.datetime, labelled: bool = True) -> Dataset:
    """Every account first called at least ``SNAPSHOT_DAYS + LABEL_DAYS`` before ``now``, as features and label.

    ``labelled=False``: every account past its first week and not yet paid, to be scored (label 0).
    """
    first: dict[str, dt.datetime] = {}
    calls: dict[str, list[tuple[dt.datetime, int, int, int]]] = defaultdict(list)
    with connect(engine) as conn:
        with conn.begin():
            refresh_facts(conn)
        f = AttemptFact.__table__.c
        for account_id, dialed_at, answered, rpc, hour in conn.execute(
            select(f.account_id, f.dialed_at, f.answered, f.right_party, f.local_hour).order_by(
                f.account_id, f.dialed_at
            )
        ):
            at = _aware(dialed_at)
            first.setdefault(account_id, at)
            if at < first[account_id] + dt.timedelta(days=SNAPSHOT_DAYS):
                calls[account_id].append((at, answered, rpc, hour))
        promises: dict[str, list[dt.datetime]] = defaultdict(list)
        for account_id, created in conn.execute(select(PromiseRow.account_id, PromiseRow.created_at)):
            promises[account_id].append(_aware(created))
        payments: dict[str, list[dt.datetime]] = defaultdict(list)
        paid_total: dict[str, float] = defaultdict(float)
        for account_id, paid_at, amount in conn.execute(
            select(PaymentRow.account_id, PaymentRow.paid_at, PaymentRow.amount)
        ):
            payments[account_id].append(_aware(paid_at))
            paid_total[account_id] += float(amount)
        accounts = {
            a: (dpd, balance, history)
            for a, dpd, balance, history in conn.execute(
                select(Account.account_id, Account.days_past_due, Account.balance, Account.payment_history)
            )
        }
    ids: list[str] = []
    snaps: list[dt.datetime] = []
    rows: list[list[float]] = []
    labels: list[int] = []
    horizon = dt.timedelta(days=SNAPSHOT_DAYS + (LABEL_DAYS if labelled else 0))
    for account_id, start in first.items():
        if start + horizon > now or account_id not in accounts:
            continue
        snapshot = start + dt.timedelta(days=SNAPSHOT_DAYS)
        dpd, balance, history = accounts[account_id]
        paid = payments.get(account_id, [])
        paid_before = sum(1 for p in paid if p <= snapshot)
        if paid_before:
            continue  # paid in the first week: nothing left to predict
        week = calls[account_id]
        day = [c for c in week if c[3] < EVENING_FROM_HOUR]
        evening = [c for c in week if c[3] >= EVENING_FROM_HOUR]
        placed = float(balance) + float(paid_total.get(account_id, 0.0))  # as placed: payments lowered it
        rows.append(
            [
                float(dpd or 0),
                math.log1p(max(placed, 0.0)),
                float(len(history or [])),
                float(len(week)),
                float(sum(c[1] for c in week)),
                float(sum(c[2] for c in week)),
                float(sum(1 for p in promises.get(account_id, []) if start <= p < snapshot)),
                (sum(c[1] for c in day) / len(day)) if day else math.nan,
                (sum(c[1] for c in evening) / len(evening)) if evening else math.nan,
            ]
        )
        labels.append(int(any(snapshot < p <= snapshot + dt.timedelta(days=LABEL_DAYS) for p in paid)))
        ids.append(account_id)
        snaps.append(snapshot)
    return Dataset(ids, snaps, np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.array(labels))


def time_split(data: Dataset, test_share: float = 0.3) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Indexes of the earliest snapshots (train) and the latest ``test_share`` (test)."""
    order = np.argsort(np.array([s.timestamp() for s in data.snapshots]), kind="stable")
    cut = int(len(order) * (1 - test_share))
    return order[:cut], order[cut:]


def measures(
    y: Sequence[int] | np.ndarray[Any, Any], score: Sequence[float] | FloatArray, bins: int = 10
) -> dict[str, Any]:
    """AUC, KS, Brier and the reliability table of ``score`` against outcomes ``y``."""
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

    y_arr = np.asarray(y)
    s = np.asarray(score, dtype=np.float64)
    if len(set(y_arr.tolist())) < 2:
        raise InputError(
            "the test set has only one outcome", "simulate or collect more accounts, or wait for labels"
        )
    fpr, tpr, _ = roc_curve(y_arr, s)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    for lo, hi in itertools.pairwise(edges):
        inside = (s >= lo) & ((s < hi) if hi < 1.0 else (s <= hi))
        if inside.any():
            table.append(
                {
                    "from": round(float(lo), 2),
                    "to": round(float(hi), 2),
                    "accounts": int(inside.sum()),
                    "mean_score": round(float(s[inside].mean()), 4),
                    "paid_rate": round(float(y_arr[inside].mean()), 4),
                }
            )
    return {
        "accounts": len(y_arr),
        "paid_rate": round(float(y_arr.mean()), 4),
        "auc": round(float(roc_auc_score(y_arr, s)), 4),
        "ks": round(float(np.max(tpr - fpr)), 4),
        "brier": round(float(brier_score_loss(y_arr, np.clip(s, 0.0, 1.0))), 4),
        "reliability": table,
    }


def train(data: Dataset, *, seed: int = 1) -> tuple[Any, dict[str, Any]]:
    """Fit on the earliest snapshots, measure on the latest; returns the model and its measures."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_idx, test_idx = time_split(data)
    if len(train_idx) < 50 or len(test_idx) < 20:
        raise InputError(
            f"only {len(data.y)} accounts have a closed 30-day outcome",
            "the model needs a few hundred: simulate a portfolio (duncall simulate) or wait",
        )
    # A regularised logistic regression: calibrated by construction, quick on a loaded machine,
    # and hard to overfit on the few hundred accounts a new agency has.  A rate with no calls
    # to divide (no evening call in the first week) takes the training median.
    model = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
    )
    model.fit(data.x[train_idx], data.y[train_idx])
    score = model.predict_proba(data.x[test_idx])[:, 1]
    result = measures(data.y[test_idx], score)
    result["train_accounts"] = len(train_idx)
    result["train_until"] = data.snapshots[int(train_idx[-1])].isoformat()
    result["test_from"] = data.snapshots[int(test_idx[0])].isoformat()
    return model, result


def band_of(score: float, bands: Sequence[tuple[str, float]] = DEFAULT_BANDS) -> str:
    """The highest band whose lower bound the score reaches."""
    name = bands[0][0]
    for band, lowest in bands:
        if score >= lowest:
            name = band
    return name


def parse_bands(text: str) -> tuple[tuple[str, float], ...]:
    """``"low:0,medium:0.2,high:0.5"`` → bands by lowest score; they must rise from 0."""
    bands: list[tuple[str, float]] = []
    for part in text.split(","):
        name, _, lowest = part.strip().partition(":")
        try:
            bands.append((name.strip(), float(lowest)))
        except ValueError:
            raise InputError(
                f"band {part!r} is not name:lowest_score", "e.g. low:0,medium:0.2,high:0.5"
            ) from None
    if not bands or bands[0][1] != 0.0 or any(b[1] <= a[1] for a, b in itertools.pairwise(bands)):
        raise InputError(f"bands {text!r} must start at 0 and rise", "e.g. low:0,medium:0.2,high:0.5")
    return tuple(bands)


def save(model: Any, result: dict[str, Any], bands: Sequence[tuple[str, float]], root: Path) -> Path:
    """Write the model as the next version under ``root`` (``v1``, ``v2``, …); returns its folder."""
    import joblib

    root.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name[1:]) for p in root.glob("v*") if p.name[1:].isdigit()]
    folder = root / f"v{max(versions, default=0) + 1}"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    meta = {
        "features": list(FEATURES),
        "snapshot_days": SNAPSHOT_DAYS,
        "label_days": LABEL_DAYS,
        "bands": [{"band": b, "from": lo} for b, lo in bands],
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "measures": result,
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def load(root: Path, version: int | None = None) -> tuple[Any, dict[str, Any], Path]:
    import joblib

    versions = sorted(int(p.name[1:]) for p in root.glob("v*") if p.name[1:].isdigit())
    if not versions:
        raise InputError(f"no trained propensity model under {root}", "run `duncall model train` first")
    chosen = version if version is not None else versions[-1]
    folder = root / f"v{chosen}"
    if not folder.is_dir():
        raise InputError(
            f"no model version {chosen} under {root}", f"versions: {', '.join(map(str, versions))}"
        )
    return joblib.load(folder / "model.joblib"), json.loads((folder / "model.json").read_text()), folder
