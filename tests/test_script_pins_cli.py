"""`duncall campaign run --script-version`: a pin to a version that does not exist refuses the
run in one line and stores nothing; a good pin is stored for the campaign's later runs."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.campaign.scripts import pins_of
from dialer.store.db import open_engine
from dialer.store.models import CallAttempt
from duncall.cli import main
from duncall.console import scripts as console_scripts
from foundation import paths
from foundation.settings import ari_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.redis]
STEM = "early_collection.en"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, list[str]]:
    tag = uuid.uuid4().hex[:10]
    ari = ari_settings()
    # An ARI app of the test's own: Asterisk sends an app's events to its latest WebSocket only.
    for key, value in {
        "DUNCALL_ARI_URL": ari.base_url,
        "DUNCALL_ARI_USER": ari.username,
        "DUNCALL_ARI_PASSWORD": ari.password,
        "DUNCALL_ARI_APP": f"test-pins-{tag}",
        "DUNCALL_LIVE_PREFIX": f"duncall-test-pins:{tag}:live:",
    }.items():
        monkeypatch.setenv(key, value)
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    argv = ["campaign", "run", "--campaign", f"pins-{tag}", "--personas", "cooperative", "--db", db_url]
    argv += ["--guard-prefix", f"duncall-test-pins:{tag}:", "--answer", "hangup", "--ignore-schedule"]
    return db_url, argv


def test_a_pin_to_a_missing_version_refuses_the_run(
    cli_env: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    db_url, argv = cli_env
    assert main([*argv, "--script-version", f"{STEM}=5"]) != 0
    err = capsys.readouterr().err
    assert f"{STEM} has no saved version 5" in err and len(err.strip().splitlines()) == 1
    engine = open_engine(db_url)
    assert pins_of(engine, argv[3]) == {}
    with Session(engine) as db:
        assert db.scalars(select(CallAttempt)).all() == []  # nothing dialled
    engine.dispose()


def test_a_good_pin_is_kept_for_the_campaign(cli_env: tuple[str, list[str]]) -> None:
    db_url, argv = cli_env
    engine = open_engine(db_url)
    text = (paths.scripts_dir() / f"{STEM}.yaml").read_text(encoding="utf-8").replace("Sam", "Alex")
    with Session(engine) as db, db.begin():
        console_scripts.save(db, STEM, text, "dana", dt.datetime.now(dt.UTC), base_version=None)
    assert main([*argv, "--script-version", f"{STEM}=1"]) == 0
    assert pins_of(engine, argv[3]) == {STEM: 1}
    assert main([*argv, "--script-version", f"{STEM}=published"]) == 0  # the guard may deny the redial
    assert pins_of(engine, argv[3]) == {}
    engine.dispose()
