"""Phrase grammars (``grammars/<lang>/<name>.yaml``) as the recognizer's phrase lists."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from duncall import paths
from duncall.errors import ConfigError


@lru_cache(maxsize=64)
def phrases(lang: str, name: str, root: Path | None = None) -> tuple[str, ...]:
    path = (root or paths.grammars_dir()) / lang / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"grammar {lang}/{name} not found at {path}", "add it or fix the script's grammar name"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})", "fix the grammar file") from None
    intents = data.get("intents") if isinstance(data, dict) else None
    if not isinstance(intents, dict):
        raise ConfigError(f"{path}: no 'intents' mapping", "see grammars/en/confirm.yaml for the format")
    out: list[str] = []
    for items in intents.values():
        out.extend(str(p) for p in items or ())
    return tuple(dict.fromkeys(out))
