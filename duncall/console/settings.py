"""The console's settings: read from the environment and flags at the edge, frozen inside."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, RootModel, StringConstraints

from bot.nlu.types import IntentClassifier
from duncall.console.recordings import AriRecordings, CachedRecordings, RecordingSource, source_from_env
from duncall.console.scoring import QA_FORM_FILE, QaForm, load_form
from foundation import paths
from foundation.config import read_yaml, validate
from foundation.settings import get_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
SESSION_TTL_S = 8 * 3600  # one working shift
TOKEN_TTL_S = 30 * 24 * 3600
LOGIN_MAX_FAILURES = 5  # refused passwords per user name within LOGIN_WINDOW_S before a pause
LOGIN_WINDOW_S = 15 * 60
# argon2 verifications at once (64 MiB each): a flood of log-ins waits instead of exhausting memory.
LOGIN_MAX_CONCURRENT_HASHES = 4
MAX_BODY_BYTES = 512 * 1024  # the largest script is ~10 KiB; anything near this is a mistake
FORBIDDEN_PHRASES_FILE = Path(__file__).resolve().parent / "forbidden_phrases.yaml"
FORBIDDEN_MATCH_SCORE = 90.0  # rapidfuzz partial_ratio at or above which a bot phrase is flagged


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _default_classifier() -> IntentClassifier:
    from duncall.flows import load_classifier

    return load_classifier()


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    database_url: str | None = None  # None: the store's default (DUNCALL_DATABASE_URL or the home file)
    scripts_dir: Path = field(default_factory=paths.scripts_dir)
    session_ttl_s: int = SESSION_TTL_S
    token_ttl_s: int = TOKEN_TTL_S
    login_max_failures: int = LOGIN_MAX_FAILURES
    login_window_s: int = LOGIN_WINDOW_S
    cookie_secure: bool = False  # Secure even on loopback; it always is over HTTPS or beyond loopback
    # A TLS proxy is in front (DUNCALL_CONSOLE_TLS_PROXY): plain HTTP beyond loopback is then allowed.
    tls_proxy: bool = False
    # The PBX's SIP WebSocket the desk page's softphone registers on (DUNCALL_CONSOLE_SIP_WS).
    sip_ws_url: str = "ws://127.0.0.1:8088/ws"
    # Origins accepted for state changes and WebSockets besides the request's own Host.
    extra_origins: tuple[str, ...] = ()
    # QA reads transcripts (names masked) but never plays a recording, where the bot says the name.
    qa_transcript_only: bool = True
    login_max_concurrent_hashes: int = LOGIN_MAX_CONCURRENT_HASHES
    max_body_bytes: int = MAX_BODY_BYTES
    forbidden_phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    forbidden_match_score: float = FORBIDDEN_MATCH_SCORE
    redis_url: str | None = None
    live_prefix: str | None = (
        None  # Redis prefix of the live events and campaign control (None: DUNCALL_LIVE_PREFIX)
    )
    live_interval_s: float = 2.0
    clock: Callable[[], dt.datetime] = _utc_now
    classifier_factory: Callable[[], IntentClassifier] = _default_classifier
    qa_form: QaForm = field(default_factory=lambda: load_form(QA_FORM_FILE))
    recordings: RecordingSource = field(default_factory=lambda: CachedRecordings(AriRecordings()))
    # The payment webhook's HMAC secret (DUNCALL_PAYMENTS_WEBHOOK_SECRET); None: the webhook answers 503.
    payments_webhook_secret: str | None = field(default=None, repr=False)
    # Kannel's dlr-url and get-url carry this token (DUNCALL_MESSAGES_CALLBACK_TOKEN); None: they answer 503.
    messages_callback_token: str | None = field(default=None, repr=False)
    # Sends the one confirmation of an opt-out reply (an SMS adapter); None: recorded, not sent.
    sms_adapter: Any = None
    # Signs payment links (DUNCALL_PAYMENT_LINK_SECRET); None: /pay/… answers 503.
    payment_link_secret: str | None = field(default=None, repr=False)
    # Takes payments made through a link (dialer.payments.provider); None: the record-only sandbox provider.
    payment_provider: Any = None


Phrases = list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]]


class ForbiddenPhrases(RootModel[dict[str, Phrases]]):
    """``{lang: [phrase, …]}``: what a bot line must never say, by language."""

    model_config = ConfigDict(frozen=True)


def load_forbidden_phrases(path: Path = FORBIDDEN_PHRASES_FILE) -> dict[str, tuple[str, ...]]:
    """``{lang: (phrase, …)}`` from a YAML mapping of language to a list of phrases."""
    fix = 'map each language to a list of non-empty phrases, e.g. `en: ["we will sue you"]` (DUNCALL_CONSOLE_FORBIDDEN names the file)'
    phrases = validate(ForbiddenPhrases, read_yaml(path, "forbidden-phrase list"), fix)
    return {lang: tuple(items) for lang, items in phrases.root.items()}


def _protection_from_env() -> dict[str, object]:
    env = get_settings()
    return {
        "tls_proxy": env.console_tls_proxy,
        "extra_origins": tuple(o.strip().rstrip("/") for o in env.console_origins.split(",") if o.strip()),
        "qa_transcript_only": env.console_qa_transcript_only,
        "sip_ws_url": env.console_sip_ws,
    }


def from_env(**overrides: object) -> ConsoleSettings:
    """Settings from ``DUNCALL_*`` variables; keyword arguments (from CLI flags) win."""
    env = get_settings()
    overrides = {**_protection_from_env(), **overrides}
    values: dict[str, object] = {
        "forbidden_phrases": load_forbidden_phrases(env.console_forbidden or FORBIDDEN_PHRASES_FILE),
        "cookie_secure": env.console_secure_cookie,
        "qa_form": load_form(),  # DUNCALL_CONSOLE_QA_FORM, else the shipped form
        "recordings": source_from_env(str(env.recordings_dir) if env.recordings_dir else None),
        "payments_webhook_secret": (
            env.payments_webhook_secret.get_secret_value() if env.payments_webhook_secret else None
        ),
        "messages_callback_token": (
            env.messages_callback_token.get_secret_value() if env.messages_callback_token else None
        ),
        "sms_adapter": _sms_adapter(),
        "payment_link_secret": (
            env.payment_link_secret.get_secret_value() if env.payment_link_secret else None
        ),
    }
    if env.scripts_dir:
        values["scripts_dir"] = env.scripts_dir
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ConsoleSettings(**values)  # type: ignore[arg-type]


def _sms_adapter() -> Any:
    from dialer.messaging.model import Channel
    from duncall.compose.messaging import adapters

    return adapters().get(Channel.SMS)
