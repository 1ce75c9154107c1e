"""Strategy YAML validation: errors name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dialer.strategy.config import coverage_gaps, load_strategy, parse_strategy
from dialer.strategy.model import StageName
from duncall.cli import main
from foundation.contract import CallOutcome
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit

DEFAULT = Path(__file__).resolve().parent.parent / "strategies" / "default.yaml"


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT.read_text())
    return data


def check(data: object) -> None:
    parse_strategy(yaml.safe_dump(data), "s.yaml")


def test_default_strategy_loads_and_covers_every_dpd() -> None:
    strategy = load_strategy(DEFAULT)
    assert strategy.stages[0].name is StageName.PRE_DUE
    assert {s.name for s in strategy.stages} == set(StageName)
    assert coverage_gaps(strategy, None, lo=-5) == [] and coverage_gaps(strategy, "high", lo=-5) == []
    early = strategy.stages[1]
    assert early.retry_after[CallOutcome.ABANDONED].total_seconds() == 72 * 3600


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["stages"][2].update(retry_after={"busy": "soon"}),
            r"stages\[2\]\.retry_after\.busy: .*30m, 4h or 2d",
        ),
        (lambda d: d["stages"][0].update(stage="final"), r"stages\[0\]\.stage: "),
        (lambda d: d["stages"][1].update(channel="sms"), r"stages\[1\]\.channel: "),
        (lambda d: d["stages"][1].update(dpd_max=-1), r"stages\[1\]: dpd_max -1 is below dpd_min 1"),
        (lambda d: d["stages"][1].update(max_attempts=0), r"stages\[1\]\.max_attempts: "),
        (lambda d: d["stages"][1].update(colour="red"), r"stages\[1\]\.colour: Extra inputs"),
        (
            lambda d: d["stages"][1].update(scripts={"zh": "x_zh"}),
            r"stages\[1\]\.scripts: an en script is required",
        ),
        (
            lambda d: d["stages"][1].update(scripts={"en": "x", "fr": "y"}),
            r"stages\[1\]\.scripts: unknown language fr",
        ),
        (
            lambda d: d["stages"][1].update(scripts={"en": "Early Script"}),
            r"stages\[1\]\.scripts: script name .Early Script. for en must be lowercase",
        ),
        (
            lambda d: d["stages"][1].update(dpd_max=40),
            r"stages\[1\] \(early\) and stages\[3\] \(mid\) cover overlapping",
        ),
        (lambda d: d.pop("hardship_scripts"), r"hardship_scripts: Field required"),
        (lambda d: d.update(stages=[]), r"stages: "),
        (lambda d: d.update(promise_grace_days=-1), r"promise_grace_days: "),
    ],
)
def test_invalid_strategy_names_file_and_field(mutate: object, message: str) -> None:
    data = default_data()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=r"^s\.yaml:\d+: " + message):
        check(data)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstages:\n  - stage: early\n    dpd_min: [1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_strategy(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_strategy(tmp_path / "none.yaml")


def test_cli_check_reports_valid_and_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategy", "check", str(DEFAULT)]) == 0
    assert "strategy 'default' is valid, 6 stages" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    data = default_data()
    data["stages"][0]["retry_after"] = {"busy": "x"}
    bad.write_text(yaml.safe_dump(data))
    assert main(["strategy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("duncall: error: ") and "stages[0].retry_after.busy" in err and "Traceback" not in err
    )


def test_every_script_the_default_strategy_names_ships(capsys: pytest.CaptureFixture[str]) -> None:
    # A stage naming a script with no file would fail only after the debtor answered.
    assert main(["strategy", "check", str(DEFAULT)]) == 0
    assert "has no file" not in capsys.readouterr().err


def test_strategy_check_names_a_missing_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = default_data()
    data["stages"][1]["scripts"] = {"en": "nonexistent_call_en", "zh": "early_collection_zh"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["strategy", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "stage early: script nonexistent_call_en has no file" in err
    assert "nonexistent_call.en.yaml" in err
