"""`duncall flow` — check dialogue scripts and run them as text.

``duncall flow check [SCRIPT…] [--rules PRESET|FILE]`` validates scripts (all of ``scripts/``
by default) and prints every problem as ``file:line: what is wrong``; where the guard rules
say a recording notice is required (``recording_notice: true``, every shipped preset), a
script without one is a problem.

``duncall flow simulate SCRIPT --account FILE [--today YYYY-MM-DD]`` reads the
debtor's turns from stdin, one per line: an empty line is silence (no input),
``#dtmf 1`` a key press, ``#voicemail`` an answering machine.  It prints the
bot's turns as ``bot: …`` and ends with one JSON line holding the disposition,
the promise and the account flags.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.dialogue.engine import DialogueSession
from bot.dialogue.loader import check_scripts, find_script, load_script, script_files
from bot.dialogue.types import BotTurn, DialogueResult
from duncall.flows import VOICEMAIL, debtor_turn, load_account, load_classifier, result_json
from foundation import paths
from foundation.errors import ConfigError, InputError


def simulate(session: DialogueSession, lines: TextIO, out: TextIO, *, speech: bool = False) -> DialogueResult:
    def show(turns: list[BotTurn]) -> None:
        for turn in turns:
            print(f"bot: {turn.speech if speech else turn.text}", file=out)

    first = True
    for raw in lines:
        line = raw.rstrip("\r\n")
        if first:
            first = False
            if line.strip() == VOICEMAIL:
                show(session.voicemail())
                break
            show(session.start())
        if session.done:
            break
        show(debtor_turn(session, line.strip()))
        if session.done:
            break
    if first:
        show(session.start())
    result = session.result
    print(json.dumps(result_json(result), ensure_ascii=False), file=out)
    return result


def _cmd_simulate(args: argparse.Namespace) -> int:
    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    except ValueError:
        raise InputError(f"--today {args.today!r} is not a date", "write it as YYYY-MM-DD") from None
    account = load_account(Path(args.account), today)
    script = load_script(find_script(args.script, account.language))
    session = DialogueSession(script, account, today, load_classifier())
    simulate(session, sys.stdin, sys.stdout, speech=args.speech)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    files = [Path(s) for s in args.scripts] if args.scripts else script_files()
    if not files:
        raise ConfigError(f"no scripts in {paths.scripts_dir()}", "add <name>.<lang>.yaml files")
    for file in files:
        if not file.is_file():
            raise InputError(f"script file {file} not found", "give paths to .yaml scripts")
    from duncall.compose.parts import guard_rules

    rules = guard_rules(args.rules)
    report = check_scripts(files, notice_required=rules.recording_notice)
    for problem in report.problems:
        print(problem)
    bad = {p.path for p in report.problems}
    print(f"{len(report.checked)} scripts checked, {len(bad)} with problems, {len(report.problems)} problems")
    return 1 if report.problems else 0


def register(sub: Any) -> None:
    flow = sub.add_parser("flow", help="dialogue scripts: check them, run them as text")
    flow_sub = flow.add_subparsers(dest="flow_command", metavar="SUBCOMMAND", required=True)

    sim = flow_sub.add_parser(
        "simulate",
        help="run a script as text: debtor turns on stdin, bot turns and a JSON result on stdout",
        description=(
            "Reads the debtor's turns from stdin, one per line: an empty line is silence, "
            "`#dtmf 1` a key press, `#voicemail` an answering machine. Prints `bot: …` lines and "
            'ends with {"disposition": …, "promise": …, "flags": […]}.'
        ),
    )
    sim.add_argument(
        "script",
        metavar="SCRIPT",
        help="a script file, or a name (early_collection) in the account's language",
    )
    sim.add_argument("--account", required=True, metavar="FILE", help="account view as JSON or YAML")
    sim.add_argument("--today", metavar="YYYY-MM-DD", help="the call's date (default: today)")
    sim.add_argument(
        "--speech", action="store_true", help="print what TTS would say instead of the display text"
    )
    sim.set_defaults(func=_cmd_simulate)

    check = flow_sub.add_parser("check", help="validate scripts; prints file:line problems")
    check.add_argument(
        "scripts", nargs="*", metavar="SCRIPT", help="script files (default: every scripts/*.yaml)"
    )
    check.add_argument(
        "--rules",
        default="default",
        help="guard rules (preset name or YAML file) saying whether a recording notice is required "
        "(default: default)",
    )
    check.set_defaults(func=_cmd_check)
