"""From a schema-valid YAML document to the frozen ``Script`` the engine walks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.dialogue.model import Otherwise, Prompt, Retry, Script, State
from bot.dialogue.types import Action
from bot.dialogue.yamlsource import YamlSource
from bot.speech.template import Template
from foundation.contract import AccountFlag, Disposition, Intent


def _prompts(
    raw: Any, path: tuple[str | int, ...], source: YamlSource, interruptible: bool = True
) -> tuple[Prompt, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        item_path = (*path, i) if isinstance(raw, list) else path
        if isinstance(item, str):
            out.append(Prompt(Template(item.strip()), interruptible, source.line(item_path)))
        else:
            out.append(
                Prompt(
                    Template(item["text"].strip()),
                    bool(item.get("interruptible", interruptible)),
                    source.line(item_path),
                )
            )
    return tuple(out)


def _retry(
    raw: Mapping[str, Any] | None, default: Retry, path: tuple[str | int, ...], source: YamlSource
) -> Retry:
    if not raw:
        return default
    prompts = _prompts(raw.get("say"), (*path, "say"), source) if "say" in raw else default.prompts
    return Retry(int(raw.get("retries", default.retries)), prompts, str(raw.get("goto", default.goto)))


def _otherwise(
    raw: Mapping[str, Any] | None, path: tuple[str | int, ...], source: YamlSource
) -> Otherwise | None:
    if raw is None:
        return None
    return Otherwise(_prompts(raw.get("say"), (*path, "say"), source), str(raw["goto"]), source.line(path))


def build_script(path: Path, source: YamlSource) -> Script:
    """The script ``source`` describes; it must already have passed the schema."""
    data = source.data
    defaults = data["defaults"]
    default_no_input = _retry(defaults["no_input"], Retry(0, (), ""), ("defaults", "no_input"), source)
    default_no_match = _retry(defaults["no_match"], Retry(0, (), ""), ("defaults", "no_match"), source)
    states: dict[str, State] = {}
    for name, raw in data["states"].items():
        sp: tuple[str | int, ...] = ("states", name)
        action = Action(raw["action"]) if "action" in raw else None
        states[name] = State(
            name=name,
            line=source.line(sp),
            # A disclosure is never cut short by barge-in unless the author says otherwise
            # (and the semantic check then refuses it).
            prompts=_prompts(
                raw.get("say"), (*sp, "say"), source, interruptible=action is not Action.DISCLOSE
            ),
            action=action,
            flags=frozenset(AccountFlag(f) for f in raw.get("flags", ())),
            grammar=raw.get("grammar"),
            on={Intent(k): v for k, v in raw.get("on", {}).items()},
            dtmf={k: Intent(v) for k, v in raw.get("dtmf", {}).items()},
            use_global=bool(raw.get("global", True)),
            next=raw.get("next"),
            end=Disposition(raw["end"]) if "end" in raw else None,
            no_input=_retry(raw.get("no_input"), default_no_input, (*sp, "no_input"), source),
            no_match=_retry(raw.get("no_match"), default_no_match, (*sp, "no_match"), source),
            installments=raw.get("installments"),
            first_in_days=int(raw.get("first_in_days", 7)),
            default_date=raw.get("default_date"),
            if_incomplete=raw.get("if_incomplete"),
            channel=str(raw.get("channel", "sms")),
            queue=raw.get("queue"),
            otherwise=_otherwise(raw.get("otherwise"), (*sp, "otherwise"), source),
            offers=Action(raw["offers"]) if "offers" in raw else None,
            confirm=_prompts(raw.get("confirm"), (*sp, "confirm"), source),
            hold=_prompts(raw.get("hold"), (*sp, "hold"), source),
        )
    return Script(
        name=data["script"],
        lang=data["lang"],
        path=path,
        start=data["start"],
        states=states,
        global_on={Intent(k): v for k, v in data.get("global", {}).items()},
        voicemail=_prompts(data["voicemail"]["say"], ("voicemail", "say"), source),
        agent_name=str(data.get("agent_name", "Sam")),
        min_confidence=float(data.get("min_confidence", 0.5)),
        max_promise_days=int(data.get("max_promise_days", 30)),
        description=str(data.get("description", "")),
        verify_confidence=float(data.get("verify_confidence", 0.75)),
        flag_confidence=float(data.get("flag_confidence", 0.85)),
        identity_unverified=_prompts(
            data.get("identity", {}).get("unverified"), ("identity", "unverified"), source
        ),
        identity_verified=_prompts(
            data.get("identity", {}).get("verified"), ("identity", "verified"), source
        ),
        recording_notice=_prompts(
            data.get("recording_notice"), ("recording_notice",), source, interruptible=False
        ),
    )
