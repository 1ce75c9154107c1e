"""One way to read a YAML configuration file into a pydantic model.

Every configuration file (guard rules, strategies, personas, the QA form, grammars,
the console's phrase list) is read here: safe YAML only, validated by a frozen
pydantic model that forbids unknown keys, and any problem raised as one
``ConfigError`` whose text is ``file:line: field: message`` with a fix beside it.
The line comes from the YAML node the failing field was written on, so a mistake
in a 200-line file is found without searching.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from foundation.errors import ConfigError

Loc = Sequence[int | str]
M = TypeVar("M", bound=BaseModel)

_DURATION_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Strict(BaseModel):
    """Base of every configuration model: a misspelt key is an error, and a loaded value never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: object) -> dt.timedelta:
    """``30m``, ``4h``, ``2d``, ``45s`` or a whole number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"duration {value!r} must look like 30m, 4h or 2d (or a number of seconds)")
    return dt.timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])


def where(loc: Loc) -> str:
    """A pydantic error location as the field path a person would write: ``stages[2].retry_after.busy``.

    pydantic adds the validator or union member it tried (``function-after[…]``, ``union[…]``)
    to the location; those say nothing about the file and are left out.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "union[")) and not part.endswith("]"):
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed YAML file and its node tree, to find the line any value was written on."""

    data: Any
    source: str
    root: yaml.Node | None = None

    def line(self, loc: Loc) -> int | None:
        """The 1-based line of the value at ``loc`` (or of its nearest ancestor written in the file)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                continue  # a pydantic tag (union member, validator) or a key the file lacks
            key_line, node = child
            line = key_line
        return line

    def error(self, loc: Loc, message: str, fix: str) -> ConfigError:
        """``file:line: field: message`` for a problem found after validation (or by it)."""
        line = self.line(loc)
        field = where(loc)
        at = f"{self.source}:{line}" if line is not None else self.source
        return ConfigError(f"{at}: {field + ': ' if field else ''}{message}", fix)


def _child(node: yaml.Node, part: int | str) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                # An error about a mapping entry points at its key, not at the first line of its value.
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child.start_mark.line + 1, child
    return None


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Safe YAML (no Python objects) with its node tree kept; a syntax error names the line."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
        raise ConfigError(f"{at}: not valid YAML ({problem})", "fix the YAML syntax") from None
    except ValueError as exc:  # PyYAML builds dates itself and lets e.g. "month must be in 1..12" escape
        raise ConfigError(f"{source}: {exc}", "fix the value (dates are YYYY-MM-DD)") from None
    finally:
        loader.dispose()
    return YamlDocument(data, source, root)


def read_yaml(path: Path, what: str = "configuration file") -> YamlDocument:
    """:func:`parse_yaml` of a file; an unreadable file is a ``ConfigError`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path} ({exc.strerror})", "check the path") from None
    return parse_yaml(text, str(path))


def validate(model: type[M], doc: YamlDocument, fix: str) -> M:
    """``model`` from the document; the first error as ``file:line: field: message (and N more)``."""
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.source}: must be a mapping (of {model.__name__} fields)", fix)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise validation_error(exc, doc, fix) from None


def validation_error(exc: ValidationError, doc: YamlDocument, fix: str) -> ConfigError:
    first = exc.errors()[0]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return doc.error(first["loc"], message + more, fix)


def load_model(model: type[M], path: Path, fix: str, what: str = "configuration file") -> M:
    """Read, parse and validate one YAML file into ``model``."""
    return validate(model, read_yaml(path, what), fix)
