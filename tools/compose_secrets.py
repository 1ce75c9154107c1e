#!/usr/bin/env python3
"""Generate the secrets docker-compose.yml reads, once, before the first ``docker compose up``.

    python3 tools/compose_secrets.py [DIR]        (default: deploy/secrets)

Every password is random (32 bytes, URL-safe), every key new; nothing is a default. A file that
already exists is kept, so running it again only adds what is missing (a secret you replaced by
hand, such as the SIP certificate or pjsip_local, stays yours). Needs only Python and openssl.

The folder is made 0700 (only you read it on the host); the files inside are 0444 (pjsip_local,
which you edit, 0644) because a compose file secret is a bind mount that keeps the host's mode,
and the services read them as their own non-root users. PostgreSQL's key is copied with mode 0600 for its user at start.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "deploy" / "secrets"
ARI_USER = "duncall"
DB_USER = "duncall"  # owns the schema: migrations, the retention purge
DB_APP_USER = "duncall_app"  # the dialer and the console: cannot rewrite the audit log (duncall db grant)
DB_NAME = "duncall"
# The name the duncall services reach each service by on the compose network.
POSTGRES_HOST = "postgres"
REDIS_HOST = "redis"
SECRETS_MOUNT = "/run/secrets"

PJSIP_LOCAL_EMPTY = """\
; Your site's SIP: the allow-list, the carrier trunk, the supervisors' phones, the public address.
; Fill it in from deploy/asterisk-image/pjsip_local.conf.example, then
; `docker compose restart asterisk`. Until then every SIP request is refused and no trunk exists.
"""


def _password() -> str:
    return secrets.token_urlsafe(32)


def _self_signed(name: str, key: Path, cert: Path) -> None:
    """An EC P-256 key and a self-signed certificate for ``name`` (CN and subjectAltName)."""
    if shutil.which("openssl") is None:
        raise SystemExit("compose_secrets: error: openssl is not installed (apt-get install openssl)")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "825",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )


def generate(out: Path, sip_name: str = "duncall-sip") -> list[str]:
    """Write every missing secret into ``out``; returns the names written."""
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    existing = {p.name for p in out.iterdir()}
    values: dict[str, str] = {}

    def value(name: str) -> str:
        # A password another file is derived from is read back when it already exists.
        if name not in values:
            path = out / name
            values[name] = path.read_text().strip() if path.exists() else _password()
        return values[name]

    pg = value("postgres_password")
    redis = value("redis_password")
    ari = value("duncall_ari_password")
    app = value("duncall_app_password")
    texts = {
        "postgres_password": pg,
        # verify-full: the database's certificate must name "postgres" and be the one generated here.
        "duncall_database_url": (
            f"postgresql+psycopg://{DB_USER}:{pg}@{POSTGRES_HOST}:5432/{DB_NAME}"
            f"?sslmode=verify-full&sslrootcert={SECRETS_MOUNT}/postgres_tls_cert"
        ),
        "duncall_app_password": app,
        "duncall_app_database_url": (
            f"postgresql+psycopg://{DB_APP_USER}:{app}@{POSTGRES_HOST}:5432/{DB_NAME}"
            f"?sslmode=verify-full&sslrootcert={SECRETS_MOUNT}/postgres_tls_cert"
        ),
        "redis_password": redis,
        "redis_conf": f"requirepass {redis}\n",
        "duncall_redis_url": f"redis://:{redis}@{REDIS_HOST}:6379/0",
        "duncall_ari_password": ari,
        "asterisk_ari_users": (
            f"[{ARI_USER}]\ntype = user\nread_only = no\npassword = {ari}\npassword_format = plain\n"
        ),
        "duncall_metrics_token": value("duncall_metrics_token"),
        "pjsip_local": PJSIP_LOCAL_EMPTY,
    }
    written = []
    for name, text in texts.items():
        if name in existing:
            continue
        # pjsip_local is the one you edit (mode 0644); the folder's 0700 still keeps others out.
        mode = 0o644 if name == "pjsip_local" else 0o444
        _write(out / name, text if text.endswith("\n") else text + "\n", mode)
        written.append(name)
    for stem, cn in (("postgres_tls", POSTGRES_HOST), ("sip_tls", sip_name)):
        key, cert = out / f"{stem}_key", out / f"{stem}_cert"
        if key.exists() and cert.exists():
            continue
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            tkey, tcert = Path(tmp) / "key", Path(tmp) / "cert"
            _self_signed(cn, tkey, tcert)
            for made, final in ((tkey, key), (tcert, cert)):
                made.chmod(0o444)
                os.replace(made, final)
        written += [key.name, cert.name]
    return written


def _write(path: Path, text: str, mode: int) -> None:
    # Created private, then opened to the services' users: never readable by others mid-write.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "dir", nargs="?", type=Path, default=DEFAULT_DIR, help="where to write (default deploy/secrets)"
    )
    parser.add_argument(
        "--sip-name", default="duncall-sip", help="host name in the self-signed SIP TLS certificate"
    )
    args = parser.parse_args(argv)
    written = generate(args.dir, args.sip_name)
    if written:
        print(f"wrote {len(written)} secrets to {args.dir}: {', '.join(written)}")
    else:
        print(f"every secret already exists in {args.dir}; nothing written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
