"""Champion/challenger: a seeded, stratified draw of the arms, each arm's numbers with intervals and
a z-test, the dialer giving the challenger's accounts the challenger script, and an audited
promotion (CLI and console), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.analytics.experiment import CHALLENGER, assign_arms, two_proportion_z, wilson
from dialer.analytics.experiments_store import create, promote_if_won, summaries
from dialer.analytics.report import default_buckets
from dialer.campaign.targets import endpoint_template, plan_targets
from dialer.store.audit_chain import verify
from dialer.store.models import Account, Creditor, PaymentRow, Phone
from dialer.store.models.analytics import ExperimentAssignmentRow
from dialer.store.models.console import AuditEntry
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from duncall.cli import main
from foundation import paths
from foundation.errors import InputError

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
CHAMPION, VARIANT = "early_collection_en", "mid_collection_en"  # a stand-in variant that exists


@pytest.mark.unit
def test_arms_are_seeded_and_stratified() -> None:
    accounts = [(f"A-{i}", "early" if i < 500 else "mid" if i < 800 else None) for i in range(1000)]
    arms = assign_arms(accounts, 0.2, seed=7)
    challengers = Counter(stratum for a, stratum in accounts if arms[a] == CHALLENGER)
    assert challengers == {"early": 100, "mid": 60, None: 40}  # the share in every bucket
    assert assign_arms(list(reversed(accounts)), 0.2, seed=7) == arms  # order does not matter
    other = assign_arms(accounts, 0.2, seed=8)
    assert other != arms and sum(v == CHALLENGER for v in other.values()) == 200


@pytest.mark.unit
def test_intervals_and_the_z_test() -> None:
    w = wilson(50, 100)
    assert (w.rate, round(w.low or 0, 4), round(w.high or 0, 4)) == (0.5, 0.4038, 0.5962)
    assert wilson(0, 0).rate is None and wilson(0, 10).low == 0.0
    t = two_proportion_z(30, 100, 45, 100)
    assert t is not None
    assert (round(t.difference, 2), round(t.z, 3), round(t.p_value, 4)) == (0.15, 2.191, 0.0285)
    assert t.significant() and two_proportion_z(0, 10, 0, 10) is None


def seed(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(creditor_id="acme", name="Acme", names={}, scripts={}, callback_number="+18005550100")
        )
        db.flush()
        for i in range(100):
            due = dt.date(2026, 3, 1) if i % 2 else dt.date(2026, 2, 20)  # 9 or 18 days past due: early
            db.add(
                Account(
                    account_id=f"X-{i:03d}", first_name="T", last_name="D", timezone=None, language="en",
                    balance=Decimal("100.00"), currency="USD", creditor_id="acme", payment_history=[], due_date=due,
                )
            )  # fmt: skip
            db.add(
                Phone(
                    account_id=f"X-{i:03d}", number=f"+1212555{i:04d}", position=0, phone_type="mobile",
                    ai_voice_consent=True, contact_type="debtor",
                )
            )  # fmt: skip


def pay(engine: Engine, arms: dict[str, str], challengers: int, champions: int) -> None:
    """The first ``challengers`` challenger accounts and ``champions`` champion accounts pay 50."""
    chosen = [a for a in sorted(arms) if arms[a] == CHALLENGER][:challengers]
    chosen += [a for a in sorted(arms) if arms[a] != CHALLENGER][:champions]
    with Session(engine) as db, db.begin():
        for account_id in chosen:
            db.add(
                PaymentRow(
                    payment_id=f"p-{account_id}", account_id=account_id, amount=Decimal("50.00"), currency="USD",
                    paid_at=NOW + dt.timedelta(days=3), received_at=NOW + dt.timedelta(days=3), source="file",
                )
            )  # fmt: skip


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


def writer(by: str) -> object:
    from duncall.console import audit

    return lambda session, action, target, detail: audit.record(session, NOW, by, action, target, **detail)


def scripts(engine: Engine, now: dt.datetime) -> dict[str, str]:
    strategy = load_strategy(paths.strategies_dir() / "default.yaml")
    plan = plan_targets(
        engine, strategy, endpoint_template("PJSIP/{number}@carrier"), now, use_schedule=False
    )
    return {t.account_id: t.script for t in plan.targets}


def test_an_experiment_from_draw_to_promotion(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        sizes = create(
            db, experiment_id="v2", champion=CHAMPION, challenger=VARIANT, share=0.5, seed=3, creditor="acme",
            buckets=default_buckets(), now=NOW, by="ana", audit=writer("ana"),  # type: ignore[arg-type]
        )  # fmt: skip
    assert sizes == {"champion": 50, "challenger": 50}
    with Session(engine) as db:
        arms = dict(db.execute(select(ExperimentAssignmentRow.account_id, ExperimentAssignmentRow.arm)).all())
        strata = Counter(
            db.execute(
                select(ExperimentAssignmentRow.stratum).where(ExperimentAssignmentRow.arm == CHALLENGER)
            ).scalars()
        )
    assert strata == {"early": 50}
    # While it runs, the dialer gives the challenger's accounts the variant, the others the champion.
    planned = scripts(engine, NOW)
    assert {a for a, s in planned.items() if s == VARIANT} == {
        a for a, arm in arms.items() if arm == CHALLENGER
    }
    assert sum(s == CHAMPION for s in planned.values()) == 50
    # No payment yet: nothing to test, and promotion is refused.
    with pytest.raises(InputError, match="not significantly higher \\(no test yet\\)"):
        promote_if_won(engine, "v2", force=False, now=NOW, by="ana", audit=writer("ana"))  # type: ignore[arg-type]
    pay(engine, arms, challengers=30, champions=10)
    doc = summaries(engine, "v2")[0].as_json()
    challenger, champion = doc["arms"]["challenger"], doc["arms"]["champion"]
    assert (challenger["payers"], champion["payers"]) == (30, 10)
    assert challenger["payer_rate"]["rate"] == 0.6 and challenger["collected"] == "1500.00"
    assert champion["collected_per_account"] == "10.00"
    test = doc["tests"]["payer_rate"]
    assert test["significant"] and round(test["z"], 2) == 4.08
    row, forced = promote_if_won(engine, "v2", force=False, now=NOW, by="ana", audit=writer("ana"))  # type: ignore[arg-type]
    assert (row.status, forced) == ("promoted", False)
    with Session(engine) as db:
        audit = {e.action: e for e in db.scalars(select(AuditEntry))}
        assert audit["experiment_create"].detail["challenger"] == 50
        promoted = audit["experiment_promote"]
        assert (promoted.user_name, promoted.target, promoted.detail["forced"]) == ("ana", "v2", False)
        assert promoted.detail["arms"]["challenger"]["payers"] == 30
        assert verify(db).rows == 2
    # Promoted: every account of the creditor gets the variant where the champion was chosen.
    assert set(scripts(engine, NOW).values()) == {VARIANT}
    with pytest.raises(InputError, match="is promoted, not running"):
        promote_if_won(engine, "v2", force=True, now=NOW, by="ana", audit=writer("ana"))  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_database("sqlite", tmp_path) as eng:
        seed(eng)
        db = str(eng.url)
    base = ["--db", db]
    assert (
        main(
            [
                "experiment",
                "create",
                "v2",
                "--champion",
                CHAMPION,
                "--challenger",
                VARIANT,
                "--share",
                "0.3",
                "--by",
                "ana",
                *base,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "v2: champion 70 accounts, challenger 30"
    assert main(["experiment", "create", "v3", "--champion", CHAMPION, "--challenger", "nope_en", *base]) == 2
    assert "no script file nope.en.yaml" in capsys.readouterr().err
    assert main(["experiment", "show", "v2", "--json", *base]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["arms"]["challenger"]["accounts"] == 30 and doc["tests"]["payer_rate"] is None
    assert main(["experiment", "promote", "v2", *base]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not significantly higher" in err
    assert main(["experiment", "promote", "v2", "--force", "--by", "ana", *base]) == 0
    assert capsys.readouterr().out.strip() == f"v2: {VARIANT} replaces {CHAMPION} (forced)"
    assert main(["experiment", "show", *base]) == 0
    assert "v2 (promoted)" in capsys.readouterr().out
    with Session(temporary_engine(db)) as s:
        forced = s.scalars(select(AuditEntry).where(AuditEntry.action == "experiment_promote")).one()
        assert (forced.user_name, forced.detail["forced"]) == ("ana", True)


def temporary_engine(url: str) -> Engine:
    from dialer.store.db import open_engine

    return open_engine(url)


@pytest.mark.unit
def test_the_console_shows_the_arms_and_audits_the_promotion(tmp_path: Path) -> None:
    from test_console_fixtures import make_env

    env = make_env(tmp_path)
    try:
        seed(env.engine)
        with Session(env.engine) as db, db.begin():
            create(
                db, experiment_id="v2", champion=CHAMPION, challenger=VARIANT, share=0.5, seed=3, creditor=None,
                buckets=default_buckets(), now=env.clock(), by="ana", audit=writer("ana"),  # type: ignore[arg-type]
            )  # fmt: skip
            arms = dict(
                db.execute(select(ExperimentAssignmentRow.account_id, ExperimentAssignmentRow.arm)).all()
            )
        supervisor = env.login("supervisor")
        listed = supervisor.get("/api/kpi/experiments").json()
        assert [x["experiment_id"] for x in listed] == ["v2"] and listed[0]["arms"]["challenger"][
            "accounts"
        ] == 50
        html = supervisor.get("/api/kpi/dashboard?from=2026-03-01&to=2026-03-10").text
        assert 'data-experiment="v2"' in html and 'data-arm="challenger"' in html
        assert "not enough data for a test" in html
        assert 'data-promote="v2"' in html  # a supervisor may promote ...
        qa = env.login("qa")
        assert qa.get("/api/kpi/experiments").json()[0]["arms"]["champion"]["collected"] is None
        assert qa.post("/api/kpi/experiments/v2/promote", json={}).status_code == 403
        qa_html = qa.get("/api/kpi/dashboard?from=2026-03-01&to=2026-03-10").text
        assert 'data-experiment="v2"' in qa_html and "data-promote" not in qa_html  # ... QA only reads
        refused = supervisor.post("/api/kpi/experiments/v2/promote", json={})
        assert refused.status_code == 400 and "not significantly higher" in refused.json()["error"]
        pay(env.engine, arms, challengers=30, champions=10)
        html = supervisor.get("/api/kpi/dashboard?from=2026-03-01&to=2026-03-10").text
        assert "(significant)" in html and "60.0% [" in html
        done = supervisor.post("/api/kpi/experiments/v2/promote", json={})
        assert done.status_code == 200 and done.json() == {
            "experiment_id": "v2",
            "status": "promoted",
            "forced": False,
        }
        with Session(env.engine) as db:
            row = db.scalars(select(AuditEntry).where(AuditEntry.action == "experiment_promote")).one()
            assert (row.user_name, row.target) == ("supervisor", "v2")
    finally:
        env.close()


@pytest.mark.unit
def test_a_strategy_experiment_plans_the_challengers_accounts_by_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The challenger: the default strategy renamed, with the mid stage's scripts in the early stage.
    default = (paths.strategies_dir() / "default.yaml").read_text()
    early = "scripts: {en: early_collection_en, zh: early_collection_zh}"
    assert default.count(early) == 1
    faster = tmp_path / "faster.yaml"
    faster.write_text(
        default.replace("name: default", "name: faster", 1).replace(
            early, "scripts: {en: mid_collection_en, zh: mid_collection_zh}"
        )
    )
    with temporary_database("sqlite", tmp_path) as eng:
        seed(eng)
        db = str(eng.url)
        base = ["--db", db]
        line = [
            "experiment",
            "create",
            "s1",
            "--kind",
            "strategy",
            "--champion",
            "default",
            "--by",
            "ana",
            *base,
        ]
        assert main([*line, "--challenger", str(paths.strategies_dir() / "default.yaml")]) == 2
        assert "named 'default', as the champion" in capsys.readouterr().err
        assert main([*line, "--challenger", str(faster), "--share", "0.4", "--seed", "2"]) == 0
        assert capsys.readouterr().out.strip() == "s1: champion 60 accounts, challenger 40"
        with Session(eng) as s:
            arms = dict(
                s.execute(select(ExperimentAssignmentRow.account_id, ExperimentAssignmentRow.arm)).all()
            )
        planned = scripts(eng, NOW)
        assert {a for a, sc in planned.items() if sc == VARIANT} == {
            a for a, arm in arms.items() if arm == CHALLENGER
        }
        assert sum(sc == CHAMPION for sc in planned.values()) == 60
        assert main(["experiment", "promote", "s1", "--force", *base]) == 0
        capsys.readouterr()
        assert set(scripts(eng, NOW).values()) == {VARIANT}  # promoted: the challenger's file for all
