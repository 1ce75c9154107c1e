"""Package discovery and package data (the rest of the metadata is in pyproject.toml).

Why a setup.py: the data folders stay at the top of the repository (``scripts/``,
``grammars/`` … are what people edit and what the docs point at), yet ``pip install .``
(non-editable, as the Dockerfile does) must ship them.  setuptools' ``package_dir``
maps each folder to a resource package ``foundation.assets.<name>`` inside the wheel,
so an installed duncall finds them beside its code (``foundation.paths``) without
copying or symlinking anything in the repository.  Data files (``share/duncall``)
would land in an install-prefix-dependent place instead.  pyproject.toml alone cannot
add mapped packages to the ones ``packages.find`` discovers, hence this file.
"""

from setuptools import find_packages, setup

# resource package under foundation.assets -> folder in the repository
ASSETS = {
    "scripts": "scripts",
    "grammars": "grammars",
    "personas": "personas",
    "strategies": "strategies",
    "nlu_data": "data/nlu",
    "asterisk_config": "asterisk-config",
}

setup(
    packages=[
        *find_packages(include=["foundation*", "telephony*", "dialer*", "bot*", "duncall*"]),
        *(f"foundation.assets.{name}" for name in ASSETS),
    ],
    package_dir={f"foundation.assets.{name}": folder for name, folder in ASSETS.items()},
    package_data={
        **{f"foundation.assets.{name}": ["*", "**/*"] for name in ASSETS},
        # Alembic reads its environment and revisions as files, not as a package.
        "dialer": [
            "rules/*.yaml",
            "messaging/forbidden_phrases.yaml",
            "messaging/templates/*/*/*",
            "store/alembic.ini",
            "store/migrations/*.mako",
            "store/migrations/*.py",
            "store/migrations/versions/*.py",
        ],
        "duncall.console": ["*.yaml", "static/*"],
    },
)
