"""Speech models kept outside the repository: where each language's Vosk model is, and fetching one.

Layout under ``paths.home()/models/vosk/``::

    <lang>                      symlink to the installed model of that language
    .store/<name>.<8 hex>/      one unpacked model (am/, conf/, graph/, ...)

A language's model is ``$DUNCALL_VOSK_MODEL_<LANG>`` when set (any model
directory, e.g. one a package ships), else ``<lang>`` above.  ``pull``
downloads a zip, checks it (size, CRC of every member, optional SHA-256,
nothing outside its folder, a Vosk layout), unpacks it beside the store and
only then swaps the ``<lang>`` link with one rename, so a half-written model is
never what a bot loads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from foundation import paths
from foundation.errors import ConfigError, InputError, ServiceUnavailable
from foundation.log import kv
from foundation.settings import vosk_model, vosk_models

log = logging.getLogger(__name__)

VOSK_BASE_URL = "https://alphacephei.com/vosk/models"
DOWNLOAD_CONNECT_TIMEOUT_S = 10.0
DOWNLOAD_READ_TIMEOUT_S = 60.0
DOWNLOAD_CHUNK_BYTES = 1 << 20
# What every Vosk model directory holds; graph/ is HCLG.fst (big models) or HCLr.fst + Gr.fst (small).
VOSK_LAYOUT = ("am/final.mdl", "conf/model.conf", "graph")
STORE_DIR = ".store"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str  # the zip's stem on the model site
    lang: str  # duncall's language code (the script's `lang`)
    size_mb: int  # download size, for the user's decision
    note: str


# The small models suit a 2-core box (≈ 300 MB RAM each); the big ones are far
# more accurate and want ≈ 4-16 GB.  Sizes from the model site's listing.
CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo("vosk-model-small-en-us-0.15", "en", 40, "small US English; default for en"),
    ModelInfo("vosk-model-en-us-0.22-lgraph", "en", 128, "US English, bigger acoustic model, small graph"),
    ModelInfo("vosk-model-en-us-0.22", "en", 1800, "US English, server model"),
    ModelInfo("vosk-model-small-cn-0.22", "zh", 42, "small Mandarin; default for zh"),
    ModelInfo("vosk-model-cn-0.22", "zh", 1300, "Mandarin, server model"),
    ModelInfo("vosk-model-small-ko-0.22", "ko", 82, "small Korean; default for ko"),
)


def catalog_entry(name: str) -> ModelInfo | None:
    return next((m for m in CATALOG if m.name == name), None)


def default_model(lang: str) -> ModelInfo | None:
    return next((m for m in CATALOG if m.lang == lang), None)


def vosk_root() -> Path:
    return paths.home() / "models" / "vosk"


def env_var(lang: str) -> str:
    return "DUNCALL_VOSK_MODEL_" + lang.upper().replace("-", "_")


def fetch_hint(lang: str) -> str:
    model = default_model(lang)
    pull = f"`duncall models pull {model.name}`" if model else f"`duncall models pull <name> --lang {lang}`"
    return f"run {pull}, or set {env_var(lang)} to a Vosk model directory"


def layout_problem(path: Path) -> str | None:
    """What keeps ``path`` from being a Vosk model directory, or None."""
    if not path.is_dir():
        return f"{path} is not a directory"
    missing = [p for p in VOSK_LAYOUT if not (path / p).exists()]
    return f"{path} is not a Vosk model (missing {', '.join(missing)})" if missing else None


def vosk_model_dir(lang: str) -> Path:
    """The Vosk model directory configured for ``lang``; a clear error naming the fix when there is none."""
    configured = vosk_model(lang)
    if configured:
        path = configured
        problem = layout_problem(path)
        if problem:
            raise ConfigError(
                f"{env_var(lang)}: {problem}", f"point it at an unpacked model; {fetch_hint(lang)}"
            )
        return path
    path = vosk_root() / lang
    if not path.exists():
        raise ConfigError(f"no Vosk model for language '{lang}' (looked in {path})", fetch_hint(lang))
    problem = layout_problem(path)
    if problem:
        raise ConfigError(problem, f"remove it and {fetch_hint(lang)}")
    return path


@dataclass(frozen=True, slots=True)
class InstalledModel:
    lang: str
    path: Path
    name: str  # the model's own name when duncall installed it, else the directory's name
    source: str  # "env" or "pulled"


def installed() -> list[InstalledModel]:
    """Every language that has a usable model: the pulled ones and those set by environment."""
    found: dict[str, InstalledModel] = {}
    root = vosk_root()
    if root.is_dir():
        for link in sorted(root.iterdir()):
            if link.name.startswith(".") or layout_problem(link):
                continue
            name = link.resolve().name.rsplit(".", 1)[0] if link.is_symlink() else link.name
            found[link.name] = InstalledModel(link.name, link, name, "pulled")
    for lang, path in vosk_models().items():
        if not layout_problem(path):
            found[lang] = InstalledModel(lang, path, path.name, "env")
    return [found[k] for k in sorted(found)]


# --- installing -----------------------------------------------------------------------------


def _model_top(names: list[str]) -> PurePosixPath:
    """The folder inside the zip that holds the model: its single top folder, or the zip's root."""
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(tops) == 1:
        (top,) = tops
        if any(len(PurePosixPath(n).parts) > 1 for n in names):
            return PurePosixPath(top)
    return PurePosixPath()


def _check_members(zf: zipfile.ZipFile, zip_path: Path) -> None:
    for info in zf.infolist():
        member = PurePosixPath(info.filename)
        if member.is_absolute() or ".." in member.parts or "\\" in info.filename:
            raise InputError(
                f"{zip_path}: member '{info.filename}' would unpack outside the model folder",
                "use the zip from the model site; this one is unsafe",
            )
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise InputError(
                f"{zip_path}: member '{info.filename}' is a symlink",
                "use the zip from the model site; this one is unsafe",
            )
    try:
        bad = zf.testzip()
    except (zlib.error, zipfile.BadZipFile, EOFError) as exc:  # a mangled deflate stream, not just a CRC
        bad = f"? ({exc})"
    if bad is not None:
        raise InputError(f"{zip_path}: member '{bad}' is corrupt (CRC mismatch)", "download the model again")


def install_zip(zip_path: Path, lang: str, name: str | None = None, root: Path | None = None) -> Path:
    """Unpack a model zip and make it ``lang``'s model in one atomic switch; returns the ``<lang>`` path."""
    root = root or vosk_root()
    name = name or zip_path.name.removesuffix(".zip")
    link = root / lang
    if link.exists() and not link.is_symlink():
        raise ConfigError(
            f"{link} exists and is not a link duncall made",
            f"move it away (or point {env_var(lang)} at it) and pull again",
        )
    store = root / STORE_DIR
    store.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{zip_path} is not a readable zip ({exc})", "download the model again") from None
    staging = Path(tempfile.mkdtemp(prefix=f".unpack-{name}.", dir=root))
    try:
        with zf:
            _check_members(zf, zip_path)
            top = _model_top(zf.namelist())
            zf.extractall(staging)
        model_src = staging / top
        problem = layout_problem(model_src)
        if problem:
            raise InputError(
                f"{zip_path}: {problem.replace(str(model_src), 'the zip')}",
                "pick a Vosk model zip (see `duncall models list`)",
            )
        final = store / f"{name}.{secrets.token_hex(4)}"
        model_src.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    previous = link.resolve() if link.is_symlink() else None
    tmp_link = root / f".link-{lang}.{secrets.token_hex(4)}"
    tmp_link.symlink_to(final.relative_to(root))
    os.replace(tmp_link, link)  # the switch: readers see the old model or the new one, never neither
    if previous is not None and previous != final and previous.parent == store:
        shutil.rmtree(previous, ignore_errors=True)
    log.info("vosk model installed", extra=kv(model=name, lang=lang, path=str(final)))
    return link


# --- downloading ----------------------------------------------------------------------------

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def download(url: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None) -> None:
    """Stream ``url`` into ``dest``; checks the length the server announced and, when given, the SHA-256."""
    import httpx  # only a pull needs it

    name = url.rsplit("/", 1)[-1].removesuffix(".zip")
    fix = (
        "check this machine's internet access, or fetch the zip elsewhere and run "
        f"`duncall models pull {name} --zip FILE`"
    )
    digest = hashlib.sha256()
    received = 0
    timeout = httpx.Timeout(DOWNLOAD_READ_TIMEOUT_S, connect=DOWNLOAD_CONNECT_TIMEOUT_S)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise ServiceUnavailable(
                    f"download of {url} failed: HTTP {resp.status_code}",
                    fix,
                    retryable=resp.status_code >= 500,
                )
            length = resp.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            with dest.open("wb") as out:
                for chunk in resp.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if progress:
                        progress(received, total)
    except httpx.HTTPError as exc:
        dest.unlink(missing_ok=True)
        reason = str(exc) or type(exc).__name__
        raise ServiceUnavailable(f"cannot download {url} ({reason})", fix) from None
    if total is not None and received != total:
        dest.unlink(missing_ok=True)
        raise ServiceUnavailable(
            f"download of {url} stopped at {received} of {total} bytes", "run the pull again"
        )
    if sha256 and digest.hexdigest() != sha256.lower():
        dest.unlink(missing_ok=True)
        raise InputError(
            f"{url}: SHA-256 {digest.hexdigest()} is not the expected {sha256}",
            "check the checksum you gave, or download again",
        )


def pull(
    name: str,
    *,
    lang: str | None = None,
    base_url: str = VOSK_BASE_URL,
    sha256: str | None = None,
    zip_path: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Fetch (or take from ``zip_path``) the model ``name`` and install it as its language's model."""
    entry = catalog_entry(name)
    lang = lang or (entry.lang if entry else None)
    if not lang:
        raise InputError(
            f"unknown model '{name}'",
            "give --lang LANG for a model not in `duncall models list`, or pick one listed",
        )
    if zip_path is not None:
        if not zip_path.is_file():
            raise InputError(f"no such file: {zip_path}", "give the path of a downloaded model zip")
        return install_zip(zip_path, lang, name)
    root = vosk_root()
    root.mkdir(parents=True, exist_ok=True)
    part = root / f".download-{name}.{secrets.token_hex(4)}.zip"
    try:
        download(f"{base_url.rstrip('/')}/{name}.zip", part, sha256=sha256, progress=progress)
        return install_zip(part, lang, name)
    finally:
        part.unlink(missing_ok=True)
