"""The production deployment (docker-compose.yml, the Dockerfiles, tools/compose_secrets.py).

No container engine runs here, so the compose file is checked two ways: ``docker compose
config`` (or Debian's ``docker-compose config``) validates and interpolates it with generated
secrets, and the YAML is read to check what an operator relies on: start order by health checks,
no password in the file, the database and Redis unreachable from outside, non-root images.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.errors import ConfigError
from foundation.settings import database_url, get_settings, redis_url

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
GENERATOR = REPO / "tools" / "compose_secrets.py"
PRODUCTION_PJSIP = REPO / "deploy" / "asterisk-image" / "etc" / "pjsip.conf"
DUMMY_ENV = {
    "SIP_PUBLISH_ADDRESS": "203.0.113.10",
    "DIALER_CAMPAIGN": "spring",
    "DIALER_ENDPOINT": "PJSIP/{number}@carrier",
}
ONE_SHOT = "no"  # restart policy of a service that runs once (the migration)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _generate(out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), str(out)], capture_output=True, text=True, check=True
    )
    return done.stdout


def _compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# --- docker compose config ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the compose file beside freshly generated secrets, as an operator has it."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    _generate(tmp_path / "deploy" / "secrets")
    return tmp_path


def _config(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed (tools/setup.sh installs the latter)"
        )
    clean = {k: v for k, v in os.environ.items() if k not in DUMMY_ENV}
    return subprocess.run(
        [*binary, "config"], cwd=project, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_compose_config_accepts_the_file_with_generated_secrets(project: Path) -> None:
    done = _config(project, DUMMY_ENV)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) >= {"postgres", "redis", "migrate", "asterisk", "dialer", "console"}
    # Interpolated as the operator set it, the dial string template intact.
    dialer = resolved["services"]["dialer"]["command"]
    assert dialer[dialer.index("--endpoint") + 1] == "PJSIP/{number}@carrier"
    assert dialer[dialer.index("--campaign") + 1] == "spring"


def test_compose_config_refuses_to_guess_what_the_operator_must_set(project: Path) -> None:
    done = _config(project, {k: v for k, v in DUMMY_ENV.items() if k != "SIP_PUBLISH_ADDRESS"})
    assert done.returncode != 0
    assert "set SIP_PUBLISH_ADDRESS" in done.stderr
    text = COMPOSE.read_text()
    for name in DUMMY_ENV:  # each is required the same way, with a message naming it
        assert f"${{{name}:?set {name} " in text


# --- start order ----------------------------------------------------------------------------------


def _depends(service: dict[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must be a mapping with a condition per service, not a list"
    return deps


def test_every_service_is_health_checked_or_runs_once() -> None:
    for name, service in _services().items():
        one_shot = service.get("restart") == ONE_SHOT
        assert one_shot or "healthcheck" in service, f"{name} has no healthcheck and is not a one-shot"


def test_every_dependency_waits_for_health_or_completion() -> None:
    services = _services()
    for name, service in services.items():
        for dep, spec in _depends(service).items():
            condition = (spec or {}).get("condition")
            assert condition in ("service_healthy", "service_completed_successfully"), (
                f"{name} starts as soon as {dep} is created (condition {condition!r})"
            )
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep}'s health, which is never checked"
                )
            else:
                assert services[dep].get("restart") == ONE_SHOT, (
                    f"{name} waits for {dep} to end; it never does"
                )


def _start_order() -> list[str]:
    services = _services()
    order: list[str] = []
    pending = dict(services)
    while pending:
        ready = sorted(n for n, s in pending.items() if set(_depends(s)) <= set(order))
        assert ready, f"a dependency cycle among {sorted(pending)}"
        order += ready
        for n in ready:
            del pending[n]
    return order


def test_start_order_puts_the_store_and_schema_before_the_dialer_and_console() -> None:
    order = _start_order()

    def before(a: str, b: str) -> bool:
        return order.index(a) < order.index(b)

    assert before("postgres", "migrate")
    for app in ("dialer", "console"):
        for needed in ("migrate", "redis", "asterisk"):
            assert before(needed, app), f"{app} may start before {needed}: {order}"
            assert needed in _depends(_services()[app])


def test_the_bot_is_a_service_the_dialer_hands_its_calls_to() -> None:
    services = _services()
    bot, dialer = services["bot"], services["dialer"]
    assert bot["command"][:3] == ["duncall", "bot", "serve"]
    assert bot["healthcheck"]["test"][-1] == "bot"
    assert "stop_grace_period" in bot  # the calls up end and go back to their dialer first
    for needed in ("migrate", "redis", "asterisk"):
        assert needed in _depends(bot)
    # The dialer sends its answered calls to the workers and starts once one is up.
    assert dialer["environment"]["DUNCALL_BOT"] == "${DIALER_BOT:-remote}"
    assert _depends(dialer)["bot"]["condition"] == "service_healthy"
    order = _start_order()
    assert order.index("bot") < order.index("dialer")


# --- secrets --------------------------------------------------------------------------------------

PASSWORDISH = re.compile(r"(password|secret|token|requirepass|passwd)", re.IGNORECASE)


def test_no_password_is_written_in_the_file() -> None:
    text = COMPOSE.read_text()
    assert not re.search(r"://[^/\s:@]*:[^@\s/$]+@", text), "a URL with a password in it"
    assert "requirepass" not in text.replace("holds `requirepass`", "")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{path}.{key}"
                if PASSWORDISH.search(str(key)) and isinstance(value, str | int):
                    # Only a reference to the mounted secret files: the values live there.
                    assert str(value).startswith("/run/secrets"), here
                walk(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(_compose()["services"], "services")
    for name, spec in _compose()["secrets"].items():
        assert spec["file"].startswith("./deploy/secrets/"), (
            f"secret {name} comes from outside deploy/secrets"
        )


def test_secrets_never_reach_git_or_an_image() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/postgres_password"], cwd=REPO, capture_output=True
    )
    assert ignored.returncode == 0, "deploy/secrets/ is not ignored by git"
    assert "deploy/secrets/" in (REPO / ".dockerignore").read_text().splitlines()


def test_generated_secrets_are_random_private_and_consistent(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _generate(a)
    _generate(b)
    read = {p.name: p.read_text().strip() for p in a.iterdir()}
    assert stat.S_IMODE(a.stat().st_mode) == 0o700
    for p in a.iterdir():  # readable by the services' users, writable only where you edit
        assert stat.S_IMODE(p.stat().st_mode) == (0o644 if p.name == "pjsip_local" else 0o444), p.name
    for name in ("postgres_password", "redis_password", "duncall_ari_password", "duncall_metrics_token"):
        assert len(read[name]) >= 40
        assert read[name] != (b / name).read_text().strip(), f"{name} is the same on two sites"
    # Each derived file carries the same password as its source.
    assert f"duncall:{read['postgres_password']}@postgres:5432/" in read["duncall_database_url"]
    assert "sslmode=verify-full" in read["duncall_database_url"]
    assert read["redis_conf"] == f"requirepass {read['redis_password']}"
    assert read["duncall_redis_url"] == f"redis://:{read['redis_password']}@redis:6379/0"
    assert f"password = {read['duncall_ari_password']}" in read["asterisk_ari_users"]
    # sslmode=verify-full checks the name the apps dial: the certificate must carry it.
    san = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(a / "postgres_tls_cert")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:postgres" in san
    # Every secret the compose file names is generated.
    assert set(_compose()["secrets"]) <= set(read)


def test_generator_keeps_what_exists(tmp_path: Path) -> None:
    out = tmp_path / "s"
    _generate(out)
    before = {p.name: p.read_text() for p in out.iterdir()}
    (out / "pjsip_local").write_text("; my carrier\n")
    assert "nothing written" in _generate(out)
    after = {p.name: p.read_text() for p in out.iterdir()}
    assert after.pop("pjsip_local") == "; my carrier\n"
    before.pop("pjsip_local")
    assert after == before


# --- what the network sees ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_store_and_redis_publish_nothing_and_have_no_route_out(name: str) -> None:
    service = _services()[name]
    assert "ports" not in service and "network_mode" not in service
    networks = _compose()["networks"]
    assert service["networks"] and all(networks[n].get("internal") is True for n in service["networks"])


def test_redis_requires_a_password_and_never_evicts() -> None:
    redis = _services()["redis"]
    command = redis["command"]
    assert command[:2] == ["redis-server", "/run/secrets/redis_conf"]  # requirepass, generated
    assert "redis_conf" in redis["secrets"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--protected-mode"] == "yes"
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])


def test_postgres_serves_tls_and_the_apps_verify_it() -> None:
    postgres = _services()["postgres"]
    script = " ".join(postgres["command"])
    assert "-c ssl=on" in script and "postgres_tls_key" in script
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    for app in ("migrate", "dialer", "console"):
        assert "postgres_tls_cert" in _services()[app]["secrets"]


def test_published_ports_name_their_host_address() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            host = str(port).split(":")[0]
            assert host.startswith("${"), f"{name} publishes {port} on every address of the host"
    assert "${CONSOLE_PUBLISH:-127.0.0.1:8080}:8080" in _services()["console"]["ports"]


def test_production_sip_refuses_addresses_outside_the_allow_list() -> None:
    text = PRODUCTION_PJSIP.read_text()
    sections = re.split(r"^\[", text, flags=re.MULTILINE)
    acl = next(s for s in sections if s.startswith("site-acl]"))
    assert "type = acl" in acl and "deny = 0.0.0.0/0.0.0.0" in acl and "deny = ::/0" in acl
    assert "permit" not in acl  # the site's permits come from its own secret file
    assert text.rstrip().endswith('#include "/run/secrets/pjsip_local"')
    tls = next(s for s in sections if s.startswith("transport-tls]"))
    assert "protocol = tls" in tls
    assert "media_encryption = sdes" in next(s for s in sections if s.startswith("carrier-tls-endpoint]"))
    modules = (REPO / "deploy" / "asterisk-image" / "etc" / "modules-production.conf").read_text()
    assert "load = res_pjsip_acl.so" in modules and "load = res_srtp.so" in modules


# --- images run as non-root -----------------------------------------------------------------------


def _final_user(dockerfile: Path) -> str:
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    assert users, f"{dockerfile} has no USER: its processes run as root"
    return users[-1]


def test_every_built_image_runs_as_a_non_root_user() -> None:
    built = 0
    for name, service in _services().items():
        build = service.get("build")
        if build is None:
            continue
        built += 1
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / (
            build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        )
        user = _final_user(dockerfile).split(":")[0]
        assert user not in ("root", "0"), f"{name} runs as {user}"
        assert "user" not in service or service["user"] not in ("root", "0")
    assert built >= 4  # migrate, dialer, console, asterisk


# --- secrets from files (DUNCALL_SECRETS_DIR) -----------------------------------------------------


def test_settings_read_secret_files_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "duncall_database_url").write_text("postgresql+psycopg://u:pw@postgres/db\n")
    (tmp_path / "duncall_redis_url").write_text("redis://:pw@redis:6379/0\n")
    monkeypatch.delenv("DUNCALL_DATABASE_URL", raising=False)
    monkeypatch.delenv("DUNCALL_REDIS_URL", raising=False)
    monkeypatch.setenv("DUNCALL_SECRETS_DIR", str(tmp_path))
    assert database_url() == "postgresql+psycopg://u:pw@postgres/db"  # the trailing newline is not part
    assert redis_url() == "redis://:pw@redis:6379/0"
    monkeypatch.setenv("DUNCALL_REDIS_URL", "redis://127.0.0.1:6379/1")
    assert redis_url() == "redis://127.0.0.1:6379/1"


def test_a_missing_secrets_dir_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"DUNCALL_SECRETS_DIR=.*is not a directory"):
        get_settings()


# --- the services' own entry points ---------------------------------------------------------------


def test_dialer_service_stops_on_a_usage_error_instead_of_looping(capsys: pytest.CaptureFixture[str]) -> None:
    from duncall.service.dialer import main

    # No --endpoint and no --personas: the run refuses before connecting anything (exit 2), and
    # the same arguments would fail the same way every time, so the loop ends.
    assert main(["--every", "5", "--", "--campaign", "c"]) == 2
    assert "no way to reach" in capsys.readouterr().err


def test_health_probe_names_the_dependency_that_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from duncall.service.health import main

    monkeypatch.setenv("DUNCALL_REDIS_URL", "redis://:hunter2secret@127.0.0.1:1/0")
    assert main(["dialer"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("unhealthy: redis at") and "hunter2secret" not in err
    assert main(["console", "--url", "http://127.0.0.1:1/login"]) == 1
    assert "console at http://127.0.0.1:1/login" in capsys.readouterr().err


# --- the dashboard --------------------------------------------------------------------------------


def test_the_dashboard_graphs_only_series_duncall_exports() -> None:
    import json

    from prometheus_client.metrics import MetricWrapperBase

    from foundation import metrics

    recorded = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    scraped = set(
        re.findall(r'"(duncall_[a-z_]+)"', (REPO / "duncall" / "console" / "metrics.py").read_text())
    )
    exported = recorded | scraped
    dashboard = json.loads((REPO / "deploy" / "grafana" / "duncall.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"\bduncall_[a-z_]+", target["expr"]):
                used.add(re.sub(r"_(bucket|count|sum|total)$", "", name))
    assert used <= exported, f"graphed but never exported: {sorted(used - exported)}"
    # Everything recorded is on the dashboard somewhere.
    assert recorded <= used, f"exported but not graphed: {sorted(recorded - used)}"
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = prometheus["scrape_configs"][0]
    assert job["authorization"]["credentials_file"] == "/run/secrets/duncall_metrics_token"
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerted = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for rule in alerts["groups"][0]["rules"]
        for name in re.findall(r"\bduncall_[a-z_]+", rule["expr"])
    }
    assert alerted and alerted <= exported, f"alerted on but never exported: {sorted(alerted - exported)}"
    mounted = " ".join(_services()["prometheus"]["volumes"])
    assert all(
        f"/etc/prometheus/{Path(f).name}" in mounted for f in ("prometheus.yml", *prometheus["rule_files"])
    )


def test_the_console_publishes_scripts_where_the_dialer_reads_them() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    folder = re.search(r"DUNCALL_SCRIPTS_DIR=(\S+)", dockerfile)
    assert folder, "the image sets no DUNCALL_SCRIPTS_DIR"
    for name in ("dialer", "console"):
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in _services()[name]["volumes"]}
        assert mounts.get(folder.group(1)) == "scripts", f"{name} does not mount the shared scripts volume"


def test_the_dialer_and_console_log_in_as_a_role_that_cannot_rewrite_the_audit_log(tmp_path: Path) -> None:
    """migrate (the schema's owner) runs `duncall db grant` for duncall_app with its generated
    password; the dialer and the console read duncall_app's URL where the owner's would be."""
    services = _services()
    migrate = " ".join(services["migrate"]["command"])
    assert "duncall db upgrade" in migrate
    assert (
        "duncall db grant --app-role duncall_app --password-file /run/secrets/duncall_app_password" in migrate
    )
    assert {"duncall_database_url", "duncall_app_password"} <= set(services["migrate"]["secrets"])
    for app in ("dialer", "bot", "console"):
        mounts = services[app]["secrets"]
        assert {"source": "duncall_app_database_url", "target": "duncall_database_url"} in mounts, app
        assert "duncall_database_url" not in mounts and "duncall_app_password" not in mounts, app
    assert "duncall_database_url" in services["purge"]["secrets"]  # prunes the audit log: the owner
    _generate(tmp_path)
    read = {p.name: p.read_text().strip() for p in tmp_path.iterdir()}
    assert (
        f"duncall_app:{read['duncall_app_password']}@postgres:5432/duncall"
        in read["duncall_app_database_url"]
    )
    assert "sslmode=verify-full" in read["duncall_app_database_url"]
    assert read["duncall_app_password"] != read["postgres_password"]
