"""The script schema (``scripts/schema.json``): structural problems, each at its line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache

import jsonschema
import jsonschema.exceptions

from bot.dialogue.model import Problem
from bot.dialogue.yamlsource import YamlSource
from foundation import paths
from foundation.errors import ConfigError

SCHEMA_PATH = paths.scripts_dir() / "schema.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    try:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the script schema {SCHEMA_PATH}: {exc}", "restore scripts/schema.json"
        ) from exc
    return jsonschema.Draft202012Validator(schema)


def _path_text(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


def schema_problems(where: str, source: YamlSource) -> list[Problem]:
    """Every way ``source`` breaks the schema, worded for a script author rather than as jsonschema says it."""
    problems = []
    for error in _validator().iter_errors(source.data):
        loc = tuple(error.absolute_path)
        if error.validator == "oneOf" and len(loc) == 2 and loc[0] == "states":
            message = (
                f"state {loc[1]!r} must have exactly one of `on` (wait for the debtor), "
                "`next` (go straight on) or `end` (finish with a disposition)"
            )
        elif error.validator == "oneOf" and error.context:
            best = jsonschema.exceptions.best_match(error.context)
            loc = tuple(best.absolute_path)
            message = f"{_path_text(loc)}: {best.message}"
        elif "propertyNames" in error.schema_path and isinstance(error.instance, str):
            # jsonschema reports a bad key at its mapping; point at the key itself.
            allowed = error.schema.get("enum")
            hint = (
                f"; use one of {', '.join(allowed)}"
                if allowed
                else f" (must match {error.schema.get('pattern')})"
            )
            message = f"{_path_text(loc)}: unknown name {error.instance!r}{hint}"
            loc = (*loc, error.instance)
        elif error.validator == "enum" and isinstance(error.validator_value, list):
            choices = ", ".join(map(str, error.validator_value))
            message = f"{_path_text(loc)}: {error.instance!r} is not one of {choices}"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            extra = [k for k in error.instance if k not in allowed]
            message = f"{_path_text(loc)}: unknown key {extra[0]!r}" if extra else error.message
            if extra:
                loc = (*loc, extra[0])
        else:
            message = f"{_path_text(loc)}: {error.message}"
        problems.append(Problem(where, source.line(loc), message))
    return problems
