"""Where duncall keeps things outside the repository (caches, generated secrets)."""

from __future__ import annotations

from pathlib import Path

from foundation.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """Per-user state: the Asterisk sandbox, generated credentials, the default database."""
    base = get_settings().home
    path = base if base else Path.home() / ".cache" / "duncall"
    path.mkdir(parents=True, exist_ok=True)
    return path


def asterisk_config_dir() -> Path:
    return REPO_ROOT / "asterisk-config"


def personas_dir() -> Path:
    return REPO_ROOT / "personas"


def scripts_dir() -> Path:
    return REPO_ROOT / "scripts"


def grammars_dir() -> Path:
    return REPO_ROOT / "grammars"
