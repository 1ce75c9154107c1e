"""Where duncall finds its shipped data files, and keeps things outside them (caches, generated secrets).

The shipped data (scripts, grammars, personas, strategies, NLU data, the Asterisk
configuration) lives in top-level folders of the repository.  A wheel carries the
same folders as ``foundation/assets/<name>/`` (see setup.py); a checkout (editable
install, tests) is recognised by the ``pyproject.toml`` beside the packages.
"""

from __future__ import annotations

from pathlib import Path

from foundation.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / "assets"
IN_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()


def _shipped(folder: str, asset: str) -> Path:
    """The repository's ``folder`` in a checkout, else the installed ``foundation.assets.<asset>``."""
    return REPO_ROOT / folder if IN_CHECKOUT else ASSETS / asset


def home() -> Path:
    """Per-user state: the Asterisk sandbox, generated credentials, the default database."""
    base = get_settings().home
    path = base if base else Path.home() / ".cache" / "duncall"
    path.mkdir(parents=True, exist_ok=True)
    return path


def asterisk_config_dir() -> Path:
    return _shipped("asterisk-config", "asterisk_config")


def personas_dir() -> Path:
    return _shipped("personas", "personas")


def scripts_dir() -> Path:
    return _shipped("scripts", "scripts")


def grammars_dir() -> Path:
    return _shipped("grammars", "grammars")


def strategies_dir() -> Path:
    return _shipped("strategies", "strategies")


def nlu_data_dir() -> Path:
    return _shipped("data/nlu", "nlu_data")
