"""Message templates per creditor, language and stage, checked like scripts.

A template is one file, ``<root>/<creditor>/<language>/<stage>.<channel>`` (the creditor
``_default`` applies to every creditor without its own), cut into parts by lines of the
form ``--- subject``, ``--- text`` and ``--- html``.  Each part is a Jinja2 template with a
strict undefined: a variable the context lacks is an error, never an empty string.

``check_template`` rejects, each with ``file:line``:

* a part that does not compile;
* a part a third party may read (an e-mail's subject, an SMS on a lock screen) that names
  the debt: a debt variable (``balance``, ``promised_amount`` …) or a debt word;
* a text or HTML part without ``{{ opt_out }}`` (Reg F §1006.6(e): every electronic message
  says how to stop them);
* a forbidden phrase (``forbidden_phrases.yaml`` beside this module).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta

from dialer.messaging.model import Channel, Rendered
from foundation.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
FORBIDDEN_FILE = Path(__file__).resolve().parent / "forbidden_phrases.yaml"
DEFAULT_CREDITOR = "_default"
PART_RE = re.compile(r"^---\s*(\w+)\s*$")
JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)  # words inside are names, not text
PARTS = {Channel.EMAIL: ("subject", "text", "html"), Channel.SMS: ("text",)}
REQUIRED = {Channel.EMAIL: ("subject", "text", "html"), Channel.SMS: ("text",)}
# Parts anyone near the debtor may see: a shared inbox's subject list, a phone's lock screen.
THIRD_PARTY_PARTS = {Channel.EMAIL: ("subject",), Channel.SMS: ("text",)}
OPT_OUT_PARTS = {Channel.EMAIL: ("text", "html"), Channel.SMS: ("text",)}
DEBT_VARIABLES = frozenset(
    {"balance", "amount", "promised_amount", "instalment_amount", "days_past_due", "due_date", "currency"}
)
DEBT_WORDS = (
    "debt",
    "owe",
    "overdue",
    "past due",
    "collection",
    "collector",
    "balance",
    "arrears",
    "delinquen",
    "欠款",
    "欠费",
    "逾期",
    "催收",
    "债务",
    "还款",
)
FIX = "see dialer/messaging/templates/_default for a template that passes"


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    source: str
    first_line: int  # 1-based line of the part's first source line in the file


@dataclass(frozen=True, slots=True)
class Template:
    path: Path
    channel: Channel
    parts: dict[str, jinja2.Template]

    def render(self, context: Mapping[str, Any]) -> Rendered:
        """Render every part; a variable the context lacks is a ``ConfigError`` naming the file."""
        out: dict[str, str] = {}
        for name, template in self.parts.items():
            try:
                out[name] = template.render(**context).strip()
            except jinja2.UndefinedError as exc:
                raise ConfigError(
                    f"{self.path}: part {name}: {exc.message}",
                    "use only the variables listed in docs/messaging.md",
                ) from None
        return Rendered(self.channel, out["text"], out.get("subject"), out.get("html"))


def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=autoescape, keep_trailing_newline=False
    )


_TEXT_ENV = _environment(False)
_HTML_ENV = _environment(True)


def split_parts(text: str) -> list[Part]:
    parts: list[Part] = []
    name: str | None = None
    start = 0
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = PART_RE.match(line)
        if match:
            if name is not None:
                parts.append(Part(name, "\n".join(lines), start))
            name, start, lines = match.group(1), number + 1, []
        elif name is not None:
            lines.append(line)
    if name is not None:
        parts.append(Part(name, "\n".join(lines), start))
    return parts


def channel_of(path: Path) -> Channel:
    try:
        return Channel(path.suffix.lstrip("."))
    except ValueError:
        raise ConfigError(
            f"{path}: unknown channel {path.suffix!r}",
            f"name templates <stage>.{' or <stage>.'.join(c.value for c in Channel)}",
        ) from None


@functools.lru_cache(maxsize=4)
def forbidden_phrases(path: Path = FORBIDDEN_FILE) -> tuple[str, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(p.lower() for phrases in data.values() for p in phrases)


def _line_of(part: Part, needle: str) -> int:
    for offset, line in enumerate(part.source.splitlines()):
        if needle in line.lower():
            return part.first_line + offset
    return part.first_line


def problems(path: Path, text: str) -> list[str]:
    """Every reason the template at ``path`` may not be used, each ``file:line: message``."""
    channel = channel_of(path)
    parts = split_parts(text)
    found: list[str] = []
    names = [p.name for p in parts]
    if not parts:
        return [f"{path}:1: no parts: start each with a line such as '--- text'"]
    for part in parts:
        if part.name not in PARTS[channel]:
            found.append(
                f"{path}:{part.first_line - 1}: unknown part {part.name!r} for {channel} "
                f"(parts: {', '.join(PARTS[channel])})"
            )
    for missing in [n for n in REQUIRED[channel] if n not in names]:
        found.append(f"{path}:1: the {missing} part is missing")
    for part in parts:
        env = _HTML_ENV if part.name == "html" else _TEXT_ENV
        try:
            ast = env.parse(part.source)
        except jinja2.TemplateSyntaxError as exc:
            found.append(f"{path}:{part.first_line + (exc.lineno or 1) - 1}: {exc.message}")
            continue
        variables = meta.find_undeclared_variables(ast)
        lowered = JINJA_RE.sub(" ", part.source).lower()
        if part.name in THIRD_PARTY_PARTS[channel]:
            for var in sorted(variables & DEBT_VARIABLES):
                found.append(
                    f"{path}:{_line_of(part, var)}: the {part.name} of an {channel} may be read by others: "
                    f"it must not show {var}"
                )
            for word in DEBT_WORDS:
                if word in lowered:
                    found.append(
                        f"{path}:{_line_of(part, word)}: the {part.name} of an {channel} may be read by "
                        f"others: it must not say {word!r}"
                    )
        if part.name in OPT_OUT_PARTS[channel] and "opt_out" not in variables:
            last = part.first_line + max(0, len(part.source.splitlines()) - 1)
            found.append(f"{path}:{last}: the {part.name} part lacks the opt-out line: add {{{{ opt_out }}}}")
        for phrase in forbidden_phrases():
            if phrase in lowered:
                found.append(f"{path}:{_line_of(part, phrase)}: forbidden phrase {phrase!r}")
    return found


def load_template(path: Path) -> Template:
    """The checked template at ``path``; the first problem is a ``ConfigError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read template {path} ({exc.strerror})", "check the path") from None
    found = problems(path, text)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConfigError(found[0] + more, FIX)
    channel = channel_of(path)
    parts = {
        p.name: (_HTML_ENV if p.name == "html" else _TEXT_ENV).from_string(p.source)
        for p in split_parts(text)
    }
    return Template(path, channel, parts)


class TemplateSet:
    """Finds and caches the template for a creditor, language, stage and channel."""

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        self.root = root
        self._cache: dict[tuple[str, str, str, Channel], Template | None] = {}

    def path_for(self, creditor: str | None, language: str, stage: str, channel: Channel) -> Path | None:
        for owner in (creditor, DEFAULT_CREDITOR):
            if owner is None:
                continue
            path = self.root / owner / language / f"{stage}.{channel.value}"
            if path.is_file():
                return path
        return None

    def find(self, creditor: str | None, language: str, stage: str, channel: Channel) -> Template | None:
        key = (creditor or DEFAULT_CREDITOR, language, stage, channel)
        if key not in self._cache:
            path = self.path_for(creditor, language, stage, channel)
            self._cache[key] = load_template(path) if path is not None else None
        return self._cache[key]

    def get(self, creditor: str | None, language: str, stage: str, channel: Channel) -> Template:
        found = self.find(creditor, language, stage, channel)
        if found is None:
            raise ConfigError(
                f"no {channel} template for creditor {creditor or DEFAULT_CREDITOR}, language {language}, "
                f"stage {stage} under {self.root}",
                f"add {self.root}/{creditor or DEFAULT_CREDITOR}/{language}/{stage}.{channel.value}",
            )
        return found


def check_tree(root: Path) -> list[str]:
    """Every problem of every template under ``root`` (``duncall messages check``)."""
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {f".{c.value}" for c in Channel}:
            found.extend(problems(path, path.read_text(encoding="utf-8")))
    return found
