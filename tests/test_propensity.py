"""The payment-propensity score on a small simulated portfolio: trained on the earliest accounts,
measured on the latest, compared with the simulator's true propensity; bands written as risk segments."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialer.analytics.load import load_portfolio, truth_csv
from dialer.analytics.portfolio import simulate
from dialer.analytics.propensity import band_of, measures, parse_bands
from dialer.store.db import open_engine
from dialer.store.models import Account
from duncall.cli import main
from foundation.errors import InputError

pytestmark = pytest.mark.unit
AT = "2026-08-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("propensity")
    portfolio = simulate(1000, start=dt.date(2026, 1, 1), days=120, seed=3)
    db = f"sqlite:///{folder / 'sim.db'}"
    load_portfolio(open_engine(db), portfolio, now=dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    truth_csv(portfolio, folder / "truth.csv")
    return db, folder


@pytest.mark.slow
def test_train_then_evaluate_beside_the_true_propensity(
    store: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, folder = store
    models = folder / "models"
    assert main(["model", "train", "--db", db, "--at", AT, "--models", str(models), "--json"]) == 0
    out = capsys.readouterr().out
    trained = json.loads(out[: out.rindex("}") + 1])
    assert (models / "v1" / "model.joblib").is_file()
    meta = json.loads((models / "v1" / "model.json").read_text())
    assert meta["measures"]["auc"] == trained["auc"] and meta["bands"][0] == {"band": "low", "from": 0.0}
    # Trained on the earliest snapshots, tested on the latest.
    assert trained["train_until"] <= trained["test_from"]
    assert main(["model", "evaluate", "--db", db, "--at", AT, "--models", str(models), "--truth", str(folder / "truth.csv"), "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["auc"] == trained["auc"]
    # The model learns something real, and no more than the true propensity knows.
    assert 0.55 < result["auc"] <= result["truth_auc"] + 0.03
    assert 0.0 <= result["brier"] < 0.25 and 0.0 < result["ks"] < 1.0
    assert sum(r["accounts"] for r in result["reliability"]) == result["accounts"]
    assert main(["model", "train", "--db", db, "--at", AT, "--models", str(models)]) == 0
    assert (models / "v2" / "model.json").is_file()  # a new version, the old one kept


@pytest.mark.slow
def test_score_apply_writes_the_band_as_risk_segment(
    store: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, folder = store
    models = folder / "scoring"
    assert main(["model", "train", "--db", db, "--at", AT, "--models", str(models)]) == 0
    capsys.readouterr()
    assert main(["model", "score", "--apply", "--db", db, "--at", AT, "--models", str(models), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scored"] > 100 and set(summary["bands"]) <= {"low", "medium", "high"}
    with open_engine(db).connect() as conn:
        segments = dict(
            conn.execute(select(Account.risk_segment, func.count()).group_by(Account.risk_segment)).all()
        )
    assert {f"propensity_{b}": n for b, n in summary["bands"].items()}.items() <= segments.items()


def test_bands_and_measures() -> None:
    bands = parse_bands("low:0,medium:0.2,high:0.5")
    assert [band_of(s, bands) for s in (0.0, 0.19, 0.2, 0.7)] == ["low", "low", "medium", "high"]
    for bad in ("low:0.1,high:0.5", "low:0,high:0.2,mid:0.1", "low"):
        with pytest.raises(InputError):
            parse_bands(bad)
    perfect = measures([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert (perfect["auc"], perfect["ks"]) == (1.0, 1.0)
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4, abs=1e-4)
