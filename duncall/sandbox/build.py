"""Building the chroot: idempotent, and never half-built.

The tree is assembled in ``root.tmp`` and renamed to ``root`` only when every
step succeeded, so an interrupted build is simply started again.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from foundation.errors import ConfigError, ServiceUnavailable

SUITE = "sid"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("asterisk", "asterisk-modules")
# Bump when the build steps change so old trees are rebuilt.
BUILD_VERSION = "1"
# The mirror serves a dated snapshot whose Release file reads as expired.
APT_OPTS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Acquire::Retries=3")


def marker(root: Path) -> Path:
    return root / ".duncall-built"


def is_built(root: Path) -> bool:
    m = marker(root)
    return m.exists() and m.read_text().strip() == BUILD_VERSION


def _run(cmd: list[str], what: str, fix: str, log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise ServiceUnavailable(f"{what} failed (exit {proc.returncode}; log: {log})", fix)


def build(root: Path, log: Path) -> None:
    """Create the chroot with Asterisk 22 installed, unless it is already there."""
    if is_built(root):
        return
    if shutil.which("debootstrap") is None:
        raise ConfigError(
            "debootstrap is not installed", "run tools/setup.sh (or apt-get install debootstrap)"
        )
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        _umount_all(tmp)
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    retry = "check that the Debian mirror is reachable, then run `duncall asterisk up` again"
    _run(
        ["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, str(tmp), MIRROR],
        "debootstrap of the Asterisk chroot",
        retry,
        log,
    )
    proc_dir = tmp / "proc"
    proc_dir.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=False)
    try:
        env_cmd = ["chroot", str(tmp), "env", "DEBIAN_FRONTEND=noninteractive"]
        _run([*env_cmd, "apt-get", *APT_OPTS, "update"], "apt-get update in the chroot", retry, log)
        _run(
            [*env_cmd, "apt-get", *APT_OPTS, "install", "-y", "--no-install-recommends", *PACKAGES],
            "installing Asterisk in the chroot",
            retry,
            log,
        )
        _run([*env_cmd, "apt-get", "clean"], "apt-get clean", retry, log)
    finally:
        _umount_all(tmp)
    for d in ("var/run/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/lib/asterisk"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    marker(tmp).write_text(BUILD_VERSION + "\n")
    if root.exists():
        _umount_all(root)
        shutil.rmtree(root)
    tmp.rename(root)


def _umount_all(root: Path) -> None:
    proc_dir = root / "proc"
    if proc_dir.is_dir() and _is_mounted(proc_dir):
        subprocess.run(["umount", "-l", str(proc_dir)], check=False)


def _is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def mount_proc(root: Path) -> None:
    proc_dir = root / "proc"
    proc_dir.mkdir(exist_ok=True)
    if not _is_mounted(proc_dir):
        subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)


def umount_proc(root: Path) -> None:
    _umount_all(root)
