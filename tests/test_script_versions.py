"""Script versions on calls: a campaign runs the published file or the version it is pinned to,
the version is fixed when the call starts, and a publish meanwhile changes only later calls."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.classifier import KeywordClassifier
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.dialogue.engine import DialogueSession
from dialer.campaign.scripts import pins_of, sha256_text
from dialer.store.db import open_engine
from dialer.store.models.console import AuditEntry
from duncall.cli import main
from duncall.console import scripts as console_scripts
from duncall.scripts_runtime import CallScripts, parse_pin, pin_versions
from foundation import paths
from foundation.contract import AccountView
from foundation.errors import InputError

pytestmark = pytest.mark.unit
STEM = "early_collection.en"
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
GOODBYE = "Thank you for your time, {first_name}. Goodbye."
ACCOUNT = AccountView(
    account_id="A-1",
    first_name="John",
    last_name="Smith",
    language="en",
    balance=Decimal("1250.00"),
    currency="USD",
    due_date=dt.date(2026, 3, 1),
    days_past_due=1,
    creditor="Acme Lending",
    callback_number="+18005550100",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(paths.scripts_dir() / f"{STEM}.yaml", scripts)
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine, scripts
    engine.dispose()


def shipped() -> str:
    return (paths.scripts_dir() / f"{STEM}.yaml").read_text(encoding="utf-8")


def variant(word: str) -> str:
    text = shipped()
    assert GOODBYE in text
    return text.replace(GOODBYE, f"Thank you for your time, {{first_name}}. {word}. Goodbye.")


def save(engine: Engine, scripts: Path, text: str, *, publish: bool) -> int:
    """Save (and publish) through the console's own functions, as a designer would."""
    with Session(engine) as db, db.begin():
        row = console_scripts.save(db, STEM, text, "dana", NOW, base_version=None)
        if publish:
            console_scripts.publish(db, scripts, STEM, row.version, "dana", NOW)
        return row.version


def goodbye_of(session: DialogueSession) -> str:
    """Run the promise path to its end (the keyword classifier's phrases) and return the last prompt."""
    session.start()
    for line in ("yes speaking", "I can pay 200 dollars on Friday", "yes", "no thanks"):
        if session.done:
            break  # no message channel on the call: no link is offered, so "no thanks" is not asked for
        turns = session.hear(line)
    assert session.done
    return turns[-1].text


def test_an_unpinned_campaign_runs_the_published_file_and_names_its_version(
    store: tuple[Engine, Path],
) -> None:
    engine, scripts = store
    versions = CallScripts(engine, "spring", scripts)
    shipped_run = versions.for_call("early_collection", "en")
    assert (shipped_run.version, shipped_run.pinned) == (0, False)  # no console save knows the file
    assert shipped_run.sha256 == sha256_text(shipped()) and shipped_run.stem == STEM
    save(engine, scripts, variant("Draft"), publish=False)  # a draft changes nothing on calls
    assert versions.for_call("early_collection", "en").version == 0
    v2 = save(engine, scripts, variant("Two"), publish=True)
    run = versions.for_call("early_collection", "en")
    assert (run.version, run.sha256) == (v2, sha256_text(variant("Two")))
    assert "Two. Goodbye." in goodbye_of(
        DialogueSession(run.script, ACCOUNT, NOW.date(), KeywordClassifier())
    )


def test_a_pinned_campaign_keeps_its_version_whatever_is_published(store: tuple[Engine, Path]) -> None:
    engine, scripts = store
    v1 = save(engine, scripts, variant("One"), publish=True)
    pin_versions(engine, "spring", {STEM: v1}, "ops", NOW)
    v2 = save(engine, scripts, variant("Two"), publish=True)
    pinned = CallScripts(engine, "spring", scripts).for_call("early_collection", "en")
    assert (pinned.version, pinned.pinned, pinned.sha256) == (v1, True, sha256_text(variant("One")))
    assert "One. Goodbye." in goodbye_of(
        DialogueSession(pinned.script, ACCOUNT, NOW.date(), KeywordClassifier())
    )
    other = CallScripts(engine, "autumn", scripts).for_call("early_collection", "en")
    assert (other.version, other.pinned) == (v2, False)
    assert pins_of(engine, "spring") == {STEM: v1}
    pin_versions(engine, "spring", {STEM: None}, "ops", NOW)  # =published: follow the file again
    assert CallScripts(engine, "spring", scripts).for_call("early_collection", "en").version == v2
    with Session(engine) as db:
        audit = db.scalars(select(AuditEntry).where(AuditEntry.action.like("script_%pin"))).all()
    assert [(a.user_name, a.action, a.target, a.detail["version"], a.detail["previous"]) for a in audit] == [
        ("ops", "script_pin", f"spring/{STEM}", v1, None),
        ("ops", "script_unpin", f"spring/{STEM}", None, v1),
    ]


def test_a_publish_during_a_call_does_not_change_that_call(store: tuple[Engine, Path]) -> None:
    engine, scripts = store
    v1 = save(engine, scripts, variant("One"), publish=True)
    versions = CallScripts(engine, None, scripts)
    run = versions.for_call("early_collection", "en")  # the call is answered
    session = DialogueSession(run.script, ACCOUNT, NOW.date(), KeywordClassifier())
    session.start()
    session.hear("yes speaking")
    save(engine, scripts, variant("Two"), publish=True)  # mid-call
    session.hear("I can pay 200 dollars on Friday")
    # Confirmed; the call has no message channel, so no link is offered and it says goodbye.
    last = session.hear("yes")[-1].text
    assert "One. Goodbye." in last and "Two" not in last and run.version == v1
    assert session.path[0] == "greeting" and session.path[-1] == "goodbye_promise"
    assert "Two. Goodbye." in goodbye_of(
        DialogueSession(
            versions.for_call("early_collection", "en").script, ACCOUNT, NOW.date(), KeywordClassifier()
        )
    )  # the next call gets the new version


def test_pins_are_checked_before_any_is_stored(store: tuple[Engine, Path]) -> None:
    engine, scripts = store
    v1 = save(engine, scripts, variant("One"), publish=False)
    with pytest.raises(InputError, match=r"has no saved version 7") as err:
        pin_versions(engine, "spring", {STEM: v1, "pre_due_reminder.en": 7}, "ops", NOW)
    assert "no version of pre_due_reminder.en was ever saved" in err.value.fix
    with pytest.raises(InputError, match="has no saved version 3") as err:
        pin_versions(engine, "spring", {STEM: 3}, "ops", NOW)
    assert err.value.fix == "its versions are 1–1"
    assert pins_of(engine, "spring") == {}  # nothing half-stored


@pytest.mark.parametrize(
    ("value", "expected"),
    [("early_collection.en=3", (STEM, 3)), (" early_collection.en = published ", (STEM, None))],
)
def test_pin_values_parse(value: str, expected: tuple[str, int | None]) -> None:
    assert parse_pin(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("early_collection.en", "is not NAME.LANG=VERSION"),
        ("early_collection=3", "is not NAME.LANG=VERSION"),
        ("early_collection.en=0", "is not a saved version number"),
        ("early_collection.en=latest", "is not a saved version number"),
    ],
)
def test_bad_pins_are_one_line_cli_errors(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["campaign", "run", "--campaign", "c", "--personas", "cooperative", "--script-version", value]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
