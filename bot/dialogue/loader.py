"""Finding, reading and checking scripts: one file per script and language (``early_collection.en.yaml``).

A script may also be checked from its text (a console draft, a saved version a
campaign is pinned to) without a file: the checks are the same, and a problem names
the label it was given instead of a path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.dialogue.build import build_script
from bot.dialogue.check import semantic_problems
from bot.dialogue.model import Problem, Script, ScriptError
from bot.dialogue.schema import schema_problems
from bot.dialogue.yamlsource import YamlSyntaxError, parse_yaml
from foundation import paths
from foundation.errors import ConfigError


def check_text(
    text: str, origin: Path, file_name: str, *, notice_required: bool = False
) -> tuple[Script | None, list[Problem]]:
    """Every problem in a script's ``text``, and the script itself when it is usable.

    ``origin`` names it in problems (and becomes ``Script.path``); ``file_name`` is the
    ``<name>.<lang>.yaml`` it is saved as, which must agree with what the script declares.
    ``notice_required``: the rules require a recording notice (``check.semantic_problems``).
    """
    where = str(origin)
    try:
        source = parse_yaml(text)
    except YamlSyntaxError as exc:
        return None, [Problem(where, exc.line, exc.message)]
    problems = schema_problems(where, source)
    if problems:
        return None, sorted(problems)
    script = build_script(origin, source)
    problems = semantic_problems(where, source, script, file_name, notice_required=notice_required)
    return (None if problems else script), sorted(problems)


def check_script(path: str | Path, *, notice_required: bool = False) -> tuple[Script | None, list[Problem]]:
    """Every problem in one script file, and the script itself when it is usable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 1, f"cannot read the script: {exc}")]
    return check_text(text, path, path.name, notice_required=notice_required)


def _loaded(script: Script | None, problems: list[Problem], where: str) -> Script:
    if problems or script is None:
        raise ScriptError(problems or [Problem(where, 1, "script could not be loaded")])
    return script


def load_script(path: str | Path, *, notice_required: bool = False) -> Script:
    """Load and check one script file; raise ``ScriptError`` listing every problem."""
    return _loaded(*check_script(path, notice_required=notice_required), str(path))


def parse_script(
    text: str, name: str, lang: str, label: str | None = None, *, notice_required: bool = False
) -> Script:
    """Check and load a script from its text, as ``duncall flow check`` would the file
    ``<name>.<lang>.yaml``; raise ``ScriptError`` listing every problem.

    ``label`` (``early_collection.en@v3``) names it in messages; by default the file name.
    """
    file_name = f"{name}.{lang}.yaml"
    origin = Path(label or file_name)
    return _loaded(*check_text(text, origin, file_name, notice_required=notice_required), str(origin))


def find_script(name_or_path: str, lang: str) -> Path:
    """``early_collection`` + ``zh`` → ``scripts/early_collection.zh.yaml``; a path is taken as is."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(
                f"script file {candidate} not found", "give a path to a .yaml script or a script name"
            )
        return candidate
    path = paths.scripts_dir() / f"{name_or_path}.{lang}.yaml"
    if not path.is_file():
        names = sorted({p.name.split(".")[0] for p in paths.scripts_dir().glob("*.yaml")})
        raise ConfigError(
            f"no script {name_or_path!r} in language {lang!r}", f"known scripts: {', '.join(names)}"
        )
    return path


def script_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or paths.scripts_dir()).glob("*.yaml"))


@dataclass
class CheckReport:
    checked: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_scripts(files: Sequence[Path], *, notice_required: bool = False) -> CheckReport:
    report = CheckReport()
    for file in files:
        _, problems = check_script(file, notice_required=notice_required)
        report.checked.append(file)
        report.problems.extend(problems)
    return report
