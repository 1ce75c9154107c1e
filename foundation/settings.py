"""Every ``DUNCALL_*`` environment variable, read in one place into one typed, validated object.

Modules ask :func:`get_settings` instead of ``os.environ``: a mistyped value is one
``ConfigError`` naming the variable and what is wrong, whichever module asked first.
Secrets (passwords, URLs that may carry one) are ``SecretStr`` and print as ``**********``.

The object is rebuilt whenever a ``DUNCALL_*`` variable changed (tests set them with
``monkeypatch``; a long-running process never sees a stale value), and cached otherwise.

docs/configuration.md lists every variable; it is generated from :class:`Settings`
(``python -m foundation.settings``) and a unit test keeps the two equal.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.errors import ConfigError

ENV_PREFIX = "DUNCALL_"
VOSK_MODEL_PREFIX = "DUNCALL_VOSK_MODEL_"
ARI_CREDENTIALS_FILE = "ari.json"
DEFAULT_ARI_APP = "duncall"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_SCHEMES = ("redis", "rediss", "unix")
RETENTION_DEFAULT_DAYS = 3 * 365 + 1  # Reg F §1006.100: three years after the last activity
MAX_ASR_WORKERS = 16  # more processes than this only add memory: decoding is one core each


class Settings(BaseSettings):
    """The process's configuration from the environment; the field ``x`` is ``DUNCALL_X``."""

    # Empty counts as unset, as ``os.environ.get(...) or default`` did before.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore"
    )

    home: Path | None = Field(
        default=None,
        description="Per-user state: the Asterisk sandbox, generated ARI credentials, the default "
        "SQLite database, pulled Vosk models. Default `~/.cache/duncall`.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="WARNING", description="Level of the log on stderr."
    )
    log_pii: bool = Field(
        default=False,
        description="`1` writes personal data into log records (only for a protected audit sink).",
    )
    ari_url: str | None = Field(
        default=None,
        description="Asterisk's ARI base URL, e.g. `http://127.0.0.1:8088`. Unset: the sandbox's "
        "generated credentials (`$DUNCALL_HOME/ari.json`).",
    )
    ari_user: str | None = Field(default=None, description="ARI user name (required with `DUNCALL_ARI_URL`).")
    ari_password: SecretStr | None = Field(
        default=None,
        description="ARI password (required with `DUNCALL_ARI_URL`; `duncall asterisk` takes it for the "
        "sandbox user, 12 characters or more). Secret.",
    )
    asterisk_nodes: SecretStr | None = Field(
        default=None,
        description="Several Asterisk nodes to spread the calls over: a JSON list of "
        '`{"name": "a", "url": "http://10.0.0.5:8088", "max_channels": 60}` (optional `user` and '
        "`password`; default `DUNCALL_ARI_USER`/`DUNCALL_ARI_PASSWORD`). Each dial goes to a node with "
        "a free channel (counted in Redis across dialers); a node whose ARI stops answering is left "
        "out and its calls are ended. Unset: the one node of `DUNCALL_ARI_URL`. Secret (may hold passwords).",
    )
    ari_app: str = Field(
        default=DEFAULT_ARI_APP, description="The Stasis application name the dialer registers."
    )
    bot: Literal["local", "remote"] = Field(
        default="local",
        description="Who talks on a campaign's answered calls: `local` (the bot inside the dialer's "
        "process) or `remote` (the bot workers of `duncall bot serve`, over a Redis stream; a call "
        "no worker takes within 2 s is treated as abandoned).",
    )
    local_channel_format: Literal["slin48", "slin16", "ulaw", "alaw"] = Field(
        default="slin48",
        description="The audio format `Local/` channels (the sandbox's personas) are dialled at: "
        "`slin48` (wide-band), or `ulaw`/`alaw` for an 8 kHz G.711 leg as a phone network's "
        "(the bot then hears the call as a telephone call, see `DUNCALL_ASR_CHANNEL`).",
    )
    redis_url: SecretStr = Field(
        default=SecretStr(DEFAULT_REDIS_URL),
        description="Redis for live state, guard counters and campaign control. Secret (may hold a password).",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the durable store (SQLite or PostgreSQL). Default "
        "`sqlite:///$DUNCALL_HOME/duncall.db`. Secret (may hold a password).",
    )
    live_prefix: str = Field(
        default="duncall:live:",
        description="Redis key prefix of live calls, live events and campaign control.",
    )
    scripts_dir: Path | None = Field(
        default=None,
        description="Where dialogue scripts are read and published. Default: the shipped `scripts/`.",
    )
    asr: str | None = Field(
        default=None,
        description="ASR engine for every language (`vosk`, `pocketsphinx`, …) or per language "
        "(`en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk`). Default: PocketSphinx for en, Vosk otherwise.",
    )
    tts_en: Literal["piper", "espeak"] = Field(
        default="piper",
        description="English voice of the bot: `piper` (Piper's neural en_US joe voice, offline) or "
        "`espeak` (espeak-ng). Mandarin always speaks through espeak-ng.",
    )
    asr_workers: int | None = Field(
        default=None,
        description=f"PocketSphinx worker processes, 0 to {MAX_ASR_WORKERS} (0: decode in the bot's "
        "process). Default: one per core.",
    )
    asr_streaming: bool = Field(default=False, description="`1` decodes the debtor's words while they speak.")
    asr_channel: Literal["auto", "wideband", "telephone"] = Field(
        default="auto",
        description="What the calls' audio went through: `auto` decides per call from the debtor leg's "
        "codec (8 kHz G.711 and other narrow-band codecs: `telephone`; the rest: `wideband`); "
        "`wideband` (16 kHz, e.g. G.722) or `telephone` (8 kHz G.711 trunks: PocketSphinx loads the "
        "MLLR transform `duncall models adapt` builds) forces that band on every call.",
    )
    asr_lm: Literal["domain", "generic"] = Field(
        default="domain",
        description="PocketSphinx's language model for answers off a state's grammar: `domain` (built from "
        "the NLU training text and the grammars, `duncall asr lm`) or `generic` (the bundled en-us model).",
    )
    supervisor_endpoint: str = Field(
        default="PJSIP/supervisor-{user}",
        description="Dial string template a supervisor is rung on; `{user}` is the console user.",
    )
    supervisor_endpoints: str = Field(
        default="PJSIP/supervisor-",
        description="Comma-separated prefixes an endpoint named in a supervision request must start with.",
    )
    desk_dial_endpoint: str = Field(
        default="",
        description="Dial string template of a collector's own call from the desk (click-to-call), e.g. "
        "`PJSIP/{number}@carrier` (`{number}`: E.164 digits). Empty: the desk places no calls.",
    )
    desk_guard_rules: str = Field(
        default="default",
        description="Guard rules (a preset name or a YAML file) a desk's own call is decided by: the "
        "rules the campaigns on the same counters use.",
    )
    console_forbidden: Path | None = Field(
        default=None,
        description="YAML file of phrases a bot line must never say, by language. Default: the shipped list.",
    )
    console_secure_cookie: bool = Field(
        default=False,
        description="`1` marks the console's session cookie Secure even on loopback (it always is over "
        "HTTPS or beyond loopback).",
    )
    console_tls_proxy: bool = Field(
        default=False,
        description="`1`: a TLS-terminating proxy is in front of the console, so it may listen beyond "
        "loopback over plain HTTP (otherwise it refuses every request there). The proxy must send "
        "`X-Forwarded-Proto` and `X-Forwarded-For`, and the console then sends HSTS.",
    )
    console_sip_ws: str = Field(
        default="ws://127.0.0.1:8088/ws",
        description="Where the desk page's softphone reaches the PBX: SIP over WebSocket (Asterisk's "
        "HTTP server `/ws`; `wss://…` in production). The console's Content-Security-Policy lets its "
        "pages connect there and nowhere else beyond the console.",
    )
    console_origins: str = Field(
        default="",
        description="Comma-separated extra origins (`https://console.example.com`) the console accepts "
        "for state changes and WebSockets besides the host a request names. Needed only where a "
        "proxy rewrites `Host`.",
    )
    console_qa_transcript_only: bool = Field(
        default=True,
        description="`1` (default): QA reviewers read transcripts (names masked) and cannot play "
        "recordings, in which the bot says the debtor's full name; `0` lets them play recordings.",
    )
    console_qa_form: Path | None = Field(
        default=None, description="YAML QA scoring form for call reviews. Default: the shipped form."
    )
    recordings_dir: Path | None = Field(
        default=None,
        description="Directory the console plays call recordings from. Default: fetched from Asterisk over ARI.",
    )
    secrets_dir: Path | None = Field(
        default=None,
        description="Directory of secret files, each named like its variable in lower case "
        "(`duncall_database_url`), e.g. `/run/secrets` under Docker Compose; a variable set in the "
        "environment wins over its file.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends to the console's `/metrics`; unset, `/metrics` "
        "answers loopback clients only. Secret.",
    )
    payments_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret the payment provider signs `POST /api/payments/webhook` with "
        "(HMAC-SHA256); unset, the webhook answers 503. Use 32 random bytes or more. Secret.",
    )

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server (relay or provider) for e-mail messages; unset: no e-mail channel.",
    )
    smtp_port: int = Field(
        default=587, ge=1, le=65535, description="SMTP port (587: submission with STARTTLS)."
    )
    smtp_starttls: bool = Field(
        default=True, description="`1` upgrades the SMTP connection with STARTTLS before AUTH; `0`: plain."
    )
    smtp_user: str | None = Field(default=None, description="SMTP AUTH user name; unset: no AUTH.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password. Secret.")
    smtp_ca_file: Path | None = Field(
        default=None, description="PEM file of the CA the SMTP server's certificate is checked against."
    )
    smtp_from: str = Field(
        default="collections@localhost",
        description="The From address of e-mail messages (and the unsubscribe mailto).",
    )
    smtp_from_name: str | None = Field(default=None, description="The From display name of e-mail messages.")
    kannel_url: str | None = Field(
        default=None,
        description="Kannel's sendsms URL for SMS, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`; unset: no SMS channel.",
    )
    kannel_user: str = Field(default="duncall", description="Kannel sendsms-user name.")
    kannel_password: SecretStr | None = Field(
        default=None, description="Kannel sendsms-user password. Secret."
    )
    sms_sender: str | None = Field(
        default=None, description="SMS sender (short code or number); unset: Kannel's global-sender."
    )
    messages_callback_url: str | None = Field(
        default=None,
        description="Base URL at which Kannel reaches the console for delivery reports and replies, "
        "e.g. `http://127.0.0.1:8080` (also the base of e-mail unsubscribe links).",
    )
    messages_callback_token: SecretStr | None = Field(
        default=None,
        description="Shared token in Kannel's dlr-url and get-url (`/api/messages/…?token=`); unset: "
        "those routes answer 503. Secret.",
    )
    payment_link_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key that signs payment links (`/pay/<token>`); unset: no links are sent and "
        "the pages answer 503. Use 32 random bytes or more. Secret.",
    )
    payment_link_url: str | None = Field(
        default=None,
        description="Base URL at which debtors reach the console's payment pages, e.g. `https://pay.agency.example`.",
    )
    payment_link_ttl_hours: int = Field(
        default=72, ge=1, le=24 * 90, description="How long a payment link works after it is sent."
    )
    templates_dir: Path | None = Field(
        default=None,
        description="Message templates (`<creditor>/<language>/<stage>.<channel>`). Default: the shipped ones.",
    )
    # Retention, per kind of record, counted from the account's last collection activity (its
    # latest call attempt): Reg F §1006.100 keeps records 3 years after it.  `duncall purge`.
    retention_recordings_days: int = Field(
        default=RETENTION_DEFAULT_DAYS,
        ge=1,
        description="Days call recordings (rows and audio files) are kept.",
    )
    retention_transcripts_days: int = Field(
        default=RETENTION_DEFAULT_DAYS, ge=1, description="Days transcript turns are kept."
    )
    retention_attempts_days: int = Field(
        default=RETENTION_DEFAULT_DAYS,
        ge=1,
        description="Days call attempts are kept (with them go their recordings, transcripts and QA scores).",
    )
    retention_ledger_days: int = Field(
        default=RETENTION_DEFAULT_DAYS,
        ge=8,  # the caps look back 7 days: a shorter ledger would let the counters forget attempts
        description="Days the guard ledger's decisions and outcomes are kept (at least 8: the caps need a week).",
    )
    retention_messages_days: int = Field(
        default=RETENTION_DEFAULT_DAYS,
        ge=1,
        description="Days SMS and e-mail messages and their events are kept (opt-outs are kept regardless).",
    )
    retention_audit_days: int = Field(
        default=RETENTION_DEFAULT_DAYS,
        ge=1,
        description="Days the console's audit rows are kept after their own date (whole prefixes of the hash chain).",
    )
    purge_daily_at: str = Field(
        default="03:30",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time (HH:MM, the host's zone) at which `duncall purge --daily` runs each day.",
    )

    # The carrier trunk debtors are dialled through (PJSIP/<number>@carrier), rendered into
    # Asterisk's PJSIP configuration by `duncall asterisk trunk`.
    trunk_host: str = Field(
        default="127.0.0.1",
        pattern=r"^[A-Za-z0-9.-]{1,253}$",
        description="The carrier's SIP host (name or IPv4 address). Default: the sandbox's sipp carrier.",
    )
    trunk_port: int = Field(default=5070, ge=1, le=65535, description="The carrier's SIP port (UDP).")
    trunk_auth: Literal["ip", "registration"] = Field(
        default="ip",
        description="How the carrier knows us: `ip` (it trusts our address; its calls are matched by "
        "its host) or `registration` (we register with the digest credentials below).",
    )
    trunk_username: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._+-]{1,64}$",
        description="Digest user name the carrier gave us; unset: no digest authentication.",
    )
    trunk_password: SecretStr | None = Field(
        default=None, description="Digest password the carrier gave us. Secret."
    )
    trunk_local_port: int = Field(
        default=5160,
        ge=1024,
        le=65535,
        description="UDP port of the sandbox's SIP transport for the trunk (bound to 127.0.0.1 only).",
    )

    # What a unit of work costs the agency, for the KPI "cost per unit collected" (duncall kpi).
    cost_per_minute: Decimal = Field(
        default=Decimal(0), ge=0, description="Cost of a minute of a dialled call's line time (dial to end)."
    )
    cost_per_message: Decimal = Field(default=Decimal(0), ge=0, description="Cost of an SMS or e-mail sent.")
    cost_per_letter: Decimal = Field(default=Decimal(0), ge=0, description="Cost of a letter sent.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("asr_workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        if not text.isdigit() or int(text) > MAX_ASR_WORKERS:
            raise ValueError(f"is not a whole number from 0 to {MAX_ASR_WORKERS}")
        return int(text)


# A per-language variable cannot be a field; it is documented beside them and read by vosk_model().
EXTRA_VARIABLES = (
    (
        f"{VOSK_MODEL_PREFIX}<LANG>",
        "path",
        "",
        "Vosk model directory for a language (`DUNCALL_VOSK_MODEL_ZH`, `…_PT_BR`). Default: the pulled model.",
    ),
)


@lru_cache(maxsize=4)
def _build(_env: tuple[tuple[str, str], ...]) -> Settings:
    # DUNCALL_SECRETS_DIR is read before the others: it says where the others may live.
    secrets = os.environ.get(ENV_PREFIX + "SECRETS_DIR") or None
    if secrets is not None and not Path(secrets).is_dir():
        raise ConfigError(
            f"DUNCALL_SECRETS_DIR={secrets!r} is not a directory",
            "point it at the folder of secret files (e.g. /run/secrets) or unset it",
        )
    try:
        return Settings(_secrets_dir=secrets)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "DUNCALL_*"
        field = Settings.model_fields.get(str(first["loc"][0])) if first["loc"] else None
        secret = field is None or "SecretStr" in str(field.annotation)
        shown = "" if secret else f"={os.environ.get(name)!r}"  # a secret's value is never echoed
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(
            f"{name}{shown}: {message}", f"fix or unset {name} (see docs/configuration.md)"
        ) from None


def get_settings() -> Settings:
    """The settings for the current environment (rebuilt when a ``DUNCALL_*`` variable changed)."""
    return _build(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX))))


def vosk_model(lang: str) -> Path | None:
    """``DUNCALL_VOSK_MODEL_<LANG>`` for ``lang`` (``pt-br`` → ``…_PT_BR``), if set."""
    value = os.environ.get(vosk_model_variable(lang))
    return Path(value).expanduser() if value else None


def vosk_model_variable(lang: str) -> str:
    return VOSK_MODEL_PREFIX + lang.upper().replace("-", "_")


def vosk_models() -> dict[str, Path]:
    """Every language given a model by environment."""
    return {
        key.removeprefix(VOSK_MODEL_PREFIX).lower().replace("_", "-"): Path(value).expanduser()
        for key, value in sorted(os.environ.items())
        if key.startswith(VOSK_MODEL_PREFIX) and value
    }


def redact_url(url: str) -> str:
    """``url`` with its password replaced, fit for an error message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


# --- what the rest of the project asks for -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AriSettings:
    base_url: str  # e.g. http://127.0.0.1:8088
    username: str
    password: str = field(repr=False)  # never in a repr, a log line or a traceback's locals
    app: str = DEFAULT_ARI_APP


def ari_settings() -> AriSettings:
    """ARI endpoint and credentials.

    Environment (``DUNCALL_ARI_URL``, ``DUNCALL_ARI_USER``, ``DUNCALL_ARI_PASSWORD``,
    ``DUNCALL_ARI_APP``) wins; otherwise the credentials the sandbox generated at
    install (``~/.cache/duncall/ari.json``; never committed).
    """
    from foundation import paths  # paths reads DUNCALL_HOME through this module

    settings = get_settings()
    if settings.ari_url:
        password = settings.ari_password.get_secret_value() if settings.ari_password else ""
        if not settings.ari_user or not password:
            raise ConfigError(
                "DUNCALL_ARI_URL is set but DUNCALL_ARI_USER or DUNCALL_ARI_PASSWORD is empty",
                "set both, or unset DUNCALL_ARI_URL to use the sandbox's generated credentials",
            )
        return AriSettings(settings.ari_url.rstrip("/"), settings.ari_user, password, settings.ari_app)
    path = paths.home() / ARI_CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        # DUNCALL_ARI_APP names the app here too (a test's own, so calls of others on the shared
        # sandbox never take its events); unset, the app the sandbox was set up with.
        app = settings.ari_app if settings.ari_app != DEFAULT_ARI_APP else data.get("app", DEFAULT_ARI_APP)
        return AriSettings(data["base_url"], data["username"], data["password"], app)
    except FileNotFoundError:
        raise ConfigError(
            f"no ARI credentials at {path}",
            "run `duncall asterisk up` to build the sandbox, or set DUNCALL_ARI_URL/USER/PASSWORD",
        ) from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"ARI credentials file {path} is malformed ({exc})",
            "delete it and run `duncall asterisk up` to regenerate",
        ) from None


NODE_NAME_MAX = 32
NODES_FIX = (
    'write DUNCALL_ASTERISK_NODES like [{"name": "a", "url": "http://127.0.0.1:8088", '
    '"max_channels": 60}, …] (see docs/configuration.md)'
)


@dataclass(frozen=True, slots=True)
class AsteriskNode:
    """One Asterisk a dialer may place calls on: its ARI and how many channels it may carry."""

    name: str
    ari: AriSettings
    max_channels: int  # live calls placed on it at once, over every dialer; 0: no limit


def asterisk_nodes() -> list[AsteriskNode]:
    """The configured nodes (``DUNCALL_ASTERISK_NODES``); unset: one node, ``ari_settings()``, no limit.

    Every problem is one ``ConfigError`` naming the entry and what is wrong; a password is never shown.
    """
    settings = get_settings()
    if settings.asterisk_nodes is None:
        return [AsteriskNode("default", ari_settings(), 0)]
    try:
        raw = json.loads(settings.asterisk_nodes.get_secret_value())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DUNCALL_ASTERISK_NODES is not JSON ({exc.msg} at {exc.pos})", NODES_FIX) from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError("DUNCALL_ASTERISK_NODES must be a non-empty JSON list of nodes", NODES_FIX)
    nodes: list[AsteriskNode] = []
    for i, entry in enumerate(raw):
        nodes.append(_node(i, entry, settings))
    names = [n.name for n in nodes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"DUNCALL_ASTERISK_NODES names node {twice[0]!r} twice", "give every node its own name"
        )
    urls = [n.ari.base_url for n in nodes]
    same = sorted({u for u in urls if urls.count(u) > 1})
    if same:
        raise ConfigError(
            f"DUNCALL_ASTERISK_NODES lists {same[0]} twice", "list every Asterisk once, with its own url"
        )
    return nodes


def _node(i: int, entry: Any, settings: Settings) -> AsteriskNode:
    where = f"DUNCALL_ASTERISK_NODES entry {i + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a JSON object", NODES_FIX)
    unknown = sorted(set(entry) - {"name", "url", "user", "password", "max_channels"})
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}", NODES_FIX)
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(
        rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NODE_NAME_MAX - 1}}}", name
    ):
        raise ConfigError(
            f"{where}: name must be 1-{NODE_NAME_MAX} letters, digits, '.', '_' or '-'", NODES_FIX
        )
    where = f"DUNCALL_ASTERISK_NODES node {name!r}"
    url = entry.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        not isinstance(url, str)
        or parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
    ):
        raise ConfigError(f"{where}: url must be like http://host:8088 (its ARI)", NODES_FIX)
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise ConfigError(f"{where}: the url's port is not a number", NODES_FIX) from None
    if parts.username or parts.password:
        raise ConfigError(f"{where}: put the credentials in user and password, not in the url", NODES_FIX)
    limit = entry.get("max_channels", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigError(f"{where}: max_channels must be a whole number, 0 (no limit) or more", NODES_FIX)
    user = entry.get("user", settings.ari_user)
    password = entry.get(
        "password", settings.ari_password.get_secret_value() if settings.ari_password else None
    )
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise ConfigError(
            f"{where} has no ARI user or password",
            "give the node user and password, or set DUNCALL_ARI_USER and DUNCALL_ARI_PASSWORD",
        )
    return AsteriskNode(name, AriSettings(url.rstrip("/"), user, password, settings.ari_app), limit)


def redis_url() -> str:
    """The configured Redis URL, checked for its form (a one-line error that never shows it: it
    may hold a password).  Parsed here without redis-py: the settings stay free of I/O libraries."""
    url = get_settings().redis_url.get_secret_value()
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in REDIS_SCHEMES:
        problem = f"it must start with {', '.join(s + '://' for s in REDIS_SCHEMES)}"
    else:
        try:
            parts.port  # noqa: B018 - reading it checks it
        except ValueError:
            problem = "its port is not a number"
    if problem is not None:
        raise ConfigError(
            f"DUNCALL_REDIS_URL is not a Redis URL ({problem})", "write it like redis://127.0.0.1:6379/0"
        )
    return url


def database_url() -> str:
    from foundation import paths

    configured = get_settings().database_url
    if configured is not None:
        return configured.get_secret_value()
    return f"sqlite:///{paths.home() / 'duncall.db'}"


# --- docs/configuration.md -----------------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(annotation))
    text = str(annotation).replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")
    text = text.replace("decimal.Decimal", "decimal")
    text = text.replace("<class '", "").replace("'>", "")
    return text.replace("Path", "path").replace(" | None", "").replace("SecretStr", "secret")


def markdown_table() -> str:
    """The table of every variable, as docs/configuration.md carries it."""
    rows = ["| Variable | Type | Default | Meaning |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        shown = (
            "" if default is None else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        )
        rows.append(
            f"| `{ENV_PREFIX}{name.upper()}` | {_type_name(info.annotation)} | {shown} | {info.description} |"
        )
    for name, kind, default, meaning in EXTRA_VARIABLES:
        rows.append(f"| `{name}` | {kind} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
