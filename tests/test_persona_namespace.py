"""Persona accounts live in a namespace of their own: a sandbox run never touches stored accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.creditors.store import add_creditors, read_file
from dialer.store.models import Account, Phone
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.personas import load_personas
from duncall.personas.campaign import SANDBOX_CREDITOR, import_persona_accounts, persona_accounts
from foundation import paths
from foundation.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        add_creditors(eng, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(eng, ROOT / "examples" / "accounts.csv").rejected == 0
        yield eng


def _snapshot(engine: Engine) -> dict[str, tuple[object, ...]]:
    with Session(engine) as s:
        accounts = {
            a.account_id: (a.first_name, a.last_name, a.balance, a.creditor_id, a.due_date)
            for a in s.scalars(select(Account))
        }
        for p in s.scalars(select(Phone)):
            accounts[f"{p.account_id}:{p.number}"] = (p.account_id, p.number)
    return accounts


@pytest.mark.unit
def test_persona_ids_and_creditor_are_their_own() -> None:
    personas = load_personas(paths.personas_dir())
    examples = {
        line.split(",", 1)[0] for line in (ROOT / "examples" / "accounts.csv").read_text().splitlines()
    }
    ids = [p.account.account_id for p in personas]
    assert all(i.startswith("P-") for i in ids)
    assert not set(ids) & examples
    assert len(set(ids)) == len(ids)


@pytest.mark.unit
def test_persona_import_leaves_stored_accounts_unchanged(store: Engine) -> None:
    before = _snapshot(store)
    assert {"A-1001", "A-1002", "A-1003"} <= set(before)
    accounts = persona_accounts(load_personas(paths.personas_dir()), copies=2)
    summary = import_persona_accounts(store, accounts)
    assert summary.rejected == 0
    after = _snapshot(store)
    assert {k: v for k, v in after.items() if k in before} == before
    with Session(store) as s:
        personas_stored = s.scalars(select(Account).where(Account.account_id.like("P-%"))).all()
    assert len(personas_stored) == len(accounts)
    assert {a.creditor_id for a in personas_stored} == {SANDBOX_CREDITOR.creditor_id}


@pytest.mark.unit
def test_persona_import_refuses_an_id_held_by_another_creditor(store: Engine, tmp_path: Path) -> None:
    own = tmp_path / "own.csv"
    header = (ROOT / "examples" / "accounts.csv").read_text().splitlines()[0]
    own.write_text(
        header + "\nP-1001,Real,Person,+12125550177:mobile:yes:2024-01-15,America/New_York,en,"
        "99.00,USD,2026-10-01,,credit_card,low,,,acme-lending\n"
    )
    assert import_file(store, own).rejected == 0
    before = _snapshot(store)
    with pytest.raises(InputError, match="P-1001"):
        import_persona_accounts(store, persona_accounts(load_personas(paths.personas_dir())))
    assert _snapshot(store) == before


@pytest.mark.unit
def test_persona_run_with_asterisk_down_writes_nothing(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 9 of loopback: the connection check fails before any import.
    monkeypatch.setenv("DUNCALL_ARI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DUNCALL_ARI_USER", "nobody")
    monkeypatch.setenv("DUNCALL_ARI_PASSWORD", "nothing")
    db = str(store.url)
    before = _snapshot(store)
    code = main(["campaign", "run", "--campaign", "t-down", "--personas", "--db", db])
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("duncall: error:")
    assert _snapshot(store) == before
    with Session(store) as s:
        assert s.scalars(select(Account).where(Account.account_id.like("P-%"))).first() is None


@pytest.mark.unit
def test_personas_with_an_endpoint_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["campaign", "run", "--campaign", "t", "--personas", "--endpoint", "PJSIP/{number}@carrier"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--personas and --endpoint do not go together" in err[0]
