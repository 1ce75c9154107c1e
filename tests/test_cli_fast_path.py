"""A command is parsed by its own area's parser (start-up without the rest), with the same result."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from duncall import cli

pytestmark = pytest.mark.unit


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_found_in_the_area_the_fast_path_loads() -> None:
    for command in _commands(cli.build_parser()):
        area = cli.AREA_OF_COMMAND.get(command, command)
        assert area in cli.AREAS, f"{command}: add it to AREA_OF_COMMAND"
        assert command in _commands(cli.build_parser(command)), f"{command} is not registered by {area}"


@pytest.mark.parametrize(
    "argv",
    [
        ["assign", "run", "--dry-run", "--db", "sqlite:///x.db"],
        ["--log-level", "debug", "assign", "run", "--json"],
        ["--log-level=INFO", "collectors", "list", "--json"],
        ["worklist", "col0001", "--now", "2026-12-07T10:00:00Z"],
        ["guard", "check"],
    ],
)
def test_the_fast_path_parses_as_the_full_parser_does(argv: list[str]) -> None:
    assert vars(cli.parse(argv)) == vars(cli.build_parser().parse_args(argv))


def test_a_mistake_gets_the_full_parsers_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.parse(["assign", "run", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err
    with pytest.raises(SystemExit):
        cli.parse(["no-such-command"])
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


def test_assign_run_does_not_load_the_bot_or_the_console_app() -> None:
    code = (
        "import sys; from duncall.cli import parse; parse(['assign', 'run']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'torch', 'fastapi', 'telephony'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
