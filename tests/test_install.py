"""A non-editable install (as the Dockerfile makes) ships the data its commands read.

The project is installed for real into a fresh virtual environment outside the
repository; its dependencies come from the test's own environment through a ``.pth``
file, so nothing is downloaded.  The commands then run from another directory,
where no ``scripts/`` or ``dialer/rules/`` could be found by accident.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs a wheel: ~30 s, no services

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``duncall`` executable of a non-editable install of this checkout."""
    root = tmp_path_factory.mktemp("install")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies (torch among them) from the environment running the tests.
    Path(own_site, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # pip builds in the source tree (build/, *.egg-info); a copy of the tracked files keeps
    # that out of the checkout, and drops its editable-install metadata.
    source = root / "src"
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file() and not name.startswith(b"tests/"):
            dst = source / os.fsdecode(name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
    )
    return env_dir / "bin" / "duncall"


def run(duncall: Path, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUNCALL_", "PYTHON"))}
    env["DUNCALL_HOME"] = str(cwd / "home")
    return subprocess.run(
        [str(duncall), *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_the_install_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(installed.parent / "python"), "-c", "import foundation.paths as p; print(p.scripts_dir())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    shipped = Path(proc.stdout.strip())
    assert REPO not in shipped.parents and shipped.parts[-3:] == ("foundation", "assets", "scripts")
    assert sorted(p.name for p in shipped.glob("*.yaml")) == sorted(
        p.name for p in (REPO / "scripts").glob("*.yaml")
    )


def test_flow_check_reads_the_shipped_scripts(installed: Path, tmp_path: Path) -> None:
    proc = run(installed, tmp_path, "flow", "check")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    shipped = len(list((REPO / "scripts").glob("*.yaml")))
    assert f"{shipped} scripts checked, 0 with problems" in proc.stdout, proc.stdout


def test_guard_explain_with_a_shipped_preset(installed: Path, tmp_path: Path) -> None:
    request = {
        "phone": "+12125550123",
        "timezone": None,
        "at": "2026-03-10T15:00:00Z",
        "flags": ["do_not_call"],
        "attempts": [],
        "voice": "bot",
        "consent": True,
    }
    proc = run(installed, tmp_path, "guard", "explain", "--preset", "us", stdin=json.dumps(request) + "\n")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.splitlines()[0])
    assert answer == {"allowed": False, "reasons": ["flag:do_not_call"]}
