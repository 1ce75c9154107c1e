"""An account imported with days past due and no due date reaches every shipped script's balance."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from fakes.classifier import KeywordClassifier
from sqlalchemy.orm import Session

from bot.dialogue import DialogueSession, load_script
from dialer.accounts.importer import import_file
from dialer.creditors.store import add_creditors, read_file
from dialer.store.models import Account
from dialer.store.repo import read_account_view
from dialer.store.testing import temporary_database
from duncall.cli import main
from foundation import paths

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
IMPORT_DAY = dt.date(2026, 12, 7)
SCRIPTS = sorted(paths.scripts_dir().glob("*.*.yaml"))


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("due")
    out: dict[str, object] = {}
    with temporary_database("sqlite", tmp) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        with Session(engine) as s:
            a1003 = s.get(Account, "A-1003")  # days_past_due 45 and no due_date in the file
            assert a1003 is not None and a1003.due_date is not None and a1003.due_date_derived
            assert a1003.due_date == dt.date.today() - dt.timedelta(days=45)
            a1001 = s.get(Account, "A-1001")  # the file gave its due date: kept as given
            assert a1001 is not None and a1001.due_date == dt.date(2026, 10, 1) and not a1001.due_date_derived
            # A1003 speaks Chinese; the English scripts get the same facts under an English name.
            zh = read_account_view(s, "A-1003", IMPORT_DAY)
    out["zh"] = zh
    out["en"] = replace(zh, language="en", first_name="Wei", last_name="Wang", creditor="Acme Lending")
    return out


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_each_shipped_script_states_the_balance_without_a_due_date_in_the_file(
    path: Path, views: dict[str, object]
) -> None:
    script = load_script(path)
    account = views[script.lang]
    session = DialogueSession(script, account, IMPORT_DAY, KeywordClassifier())  # type: ignore[arg-type]
    said = [t.text for t in session.start()]
    for _ in range(6):
        if session.state == "balance" or session.done:
            break
        said += [t.text for t in session.dtmf("1")]
    assert session.state == "balance", said
    assert any("8,800" in t or "8800" in t or "八千八百" in t for t in said), said[-1]


def test_strategy_next_says_where_the_due_date_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    assert main(["creditors", "import", str(ROOT / "examples" / "creditors.yaml"), "--db", db]) == 0
    assert (
        main(["accounts", "import", "--db", db, "--no-progress", str(ROOT / "examples" / "accounts.csv")])
        == 0
    )
    capsys.readouterr()
    assert main(["strategy", "next", "A-1003", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "(derived: 45 days past due on import)" in out
