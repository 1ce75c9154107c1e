"""Dialogue scripts: YAML files validated against ``scripts/schema.json`` plus semantic checks.

A script is data, one file per script and language (``early_collection.en.yaml``).
Loading turns it into frozen dataclasses the engine walks; every problem found
is reported as ``file:line: what is wrong`` so an author can fix it without
reading engine code.

Compliance rules checked here, before any call is made (COMPLIANCE.md):
nothing about the debt before right-party verification, the mini-Miranda
disclosure (non-interruptible) before the balance, and a voicemail message
that says only a name, a request to call back and a number.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions

from bot.dialogue.types import Action
from bot.dialogue.yamlsource import YamlSource, YamlSyntaxError, parse_yaml
from bot.speech.template import PLACEHOLDERS, Template
from foundation import paths
from foundation.contract import AccountFlag, Disposition, Intent
from foundation.errors import ConfigError

SCHEMA_PATH = paths.scripts_dir() / "schema.json"

# Words that reveal a debt, per language: a prompt containing one says something about the
# debt even without a placeholder, so it may only be said after verification and disclosure.
DEBT_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "debt",
        "balance",
        "owe",
        "overdue",
        "past due",
        "payment",
        "pay ",
        "collect",
        "loan",
        "account",
        "installment",
        "amount due",
        "bill",
    ),
    "zh": (
        "欠款",
        "债务",
        "还款",
        "逾期",
        "余额",
        "催收",
        "账单",
        "借款",
        "贷款",
        "欠",
        "分期",
        "付款",
        "账户",
        "应还",
    ),
}
# Wording the mini-Miranda must contain in each language (Reg F §1006.18(e)).
DISCLOSURE_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("attempt to collect a debt", "debt collector"),
    "zh": ("催收", "债务"),
}
# Actions whose state talks about the debt whatever its prompt says.
DEBT_ACTIONS = frozenset(
    {
        Action.DISCLOSE,
        Action.STATE_BALANCE,
        Action.CAPTURE_PROMISE,
        Action.CONFIRM_PROMISE,
        Action.OFFER_PLAN,
        Action.ACCEPT_PLAN,
        Action.SEND_PAYMENT_LINK,
    }
)
VOICEMAIL_PLACEHOLDERS = frozenset({"first_name", "last_name", "full_name", "agent_name", "callback_number"})


@dataclass(frozen=True, slots=True)
class Prompt:
    template: Template
    interruptible: bool
    line: int


@dataclass(frozen=True, slots=True)
class Retry:
    retries: int
    prompts: tuple[Prompt, ...]
    goto: str


@dataclass(frozen=True, slots=True)
class State:
    name: str
    line: int
    prompts: tuple[Prompt, ...]
    action: Action | None
    flags: frozenset[AccountFlag]
    grammar: str | None
    on: Mapping[Intent, str]
    dtmf: Mapping[str, Intent]
    use_global: bool
    next: str | None
    end: Disposition | None
    no_input: Retry
    no_match: Retry
    installments: int | None = None
    first_in_days: int = 7
    default_date: str | None = None
    if_incomplete: str | None = None
    channel: str = "sms"
    queue: str | None = None

    @property
    def listens(self) -> bool:
        return bool(self.on)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    lang: str
    path: Path
    start: str
    states: Mapping[str, State]
    global_on: Mapping[Intent, str]
    voicemail: tuple[Prompt, ...]
    agent_name: str = "Sam"
    min_confidence: float = 0.5
    max_promise_days: int = 30
    description: str = ""

    def handlers(self, state: State) -> Mapping[Intent, str]:
        """Intents ``state`` answers, its own first, then the script-wide ones."""
        if not state.listens:
            return {}
        if not state.use_global:
            return state.on
        return {**self.global_on, **state.on}


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ScriptError(ConfigError):
    """A script has problems; ``problems`` lists them all, each with file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", "fix the script; `duncall flow check FILE` lists every problem")
        self.problems = tuple(problems)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    try:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the script schema {SCHEMA_PATH}: {exc}", "restore scripts/schema.json"
        ) from exc
    return jsonschema.Draft202012Validator(schema)


def load_script(path: str | Path) -> Script:
    """Load and check one script; raise ``ScriptError`` listing every problem."""
    script, problems = check_script(path)
    if problems or script is None:
        raise ScriptError(problems or [Problem(str(path), 1, "script could not be loaded")])
    return script


def find_script(name_or_path: str, lang: str) -> Path:
    """``early_collection`` + ``zh`` → ``scripts/early_collection.zh.yaml``; a path is taken as is."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(
                f"script file {candidate} not found", "give a path to a .yaml script or a script name"
            )
        return candidate
    path = paths.scripts_dir() / f"{name_or_path}.{lang}.yaml"
    if not path.is_file():
        names = sorted({p.name.split(".")[0] for p in paths.scripts_dir().glob("*.yaml")})
        raise ConfigError(
            f"no script {name_or_path!r} in language {lang!r}", f"known scripts: {', '.join(names)}"
        )
    return path


def script_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or paths.scripts_dir()).glob("*.yaml"))


def check_script(path: str | Path) -> tuple[Script | None, list[Problem]]:
    """Every problem in one script file, and the script itself when it is usable."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(where, 1, f"cannot read the script: {exc}")]
    try:
        source = parse_yaml(text)
    except YamlSyntaxError as exc:
        return None, [Problem(where, exc.line, exc.message)]
    problems = _schema_problems(where, source)
    if problems:
        return None, sorted(problems)
    script = _build(path, source)
    problems = _semantic_problems(where, source, script)
    return (None if problems else script), sorted(problems)


def _path_text(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


def _schema_problems(where: str, source: YamlSource) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(source.data):
        loc = tuple(error.absolute_path)
        if error.validator == "oneOf" and len(loc) == 2 and loc[0] == "states":
            message = (
                f"state {loc[1]!r} must have exactly one of `on` (wait for the debtor), "
                "`next` (go straight on) or `end` (finish with a disposition)"
            )
        elif error.validator == "oneOf" and error.context:
            best = jsonschema.exceptions.best_match(error.context)
            loc = tuple(best.absolute_path)
            message = f"{_path_text(loc)}: {best.message}"
        elif "propertyNames" in error.schema_path and isinstance(error.instance, str):
            # jsonschema reports a bad key at its mapping; point at the key itself.
            allowed = error.schema.get("enum")
            hint = (
                f"; use one of {', '.join(allowed)}"
                if allowed
                else f" (must match {error.schema.get('pattern')})"
            )
            message = f"{_path_text(loc)}: unknown name {error.instance!r}{hint}"
            loc = (*loc, error.instance)
        elif error.validator == "enum" and isinstance(error.validator_value, list):
            choices = ", ".join(map(str, error.validator_value))
            message = f"{_path_text(loc)}: {error.instance!r} is not one of {choices}"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            extra = [k for k in error.instance if k not in allowed]
            message = f"{_path_text(loc)}: unknown key {extra[0]!r}" if extra else error.message
            if extra:
                loc = (*loc, extra[0])
        else:
            message = f"{_path_text(loc)}: {error.message}"
        problems.append(Problem(where, source.line(loc), message))
    return problems


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


def _build(path: Path, source: YamlSource) -> Script:
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
    )


def mentions_debt(text: str, lang: str) -> bool:
    """Whether a prompt's text reveals a debt, by placeholder or by wording."""
    template = Template(text)
    if template.reveals_debt():
        return True
    lowered = text.lower()
    return any(word in lowered for word in DEBT_WORDS.get(lang, ()))


def state_mentions_debt(state: State, lang: str) -> bool:
    return state.action in DEBT_ACTIONS or any(mentions_debt(p.template.text, lang) for p in state.prompts)


def _edges(script: Script, state: State) -> list[tuple[str, str]]:
    """(label, target) for every way out of ``state``."""
    out = [(f"on {intent}", target) for intent, target in script.handlers(state).items()]
    if state.next:
        out.append(("next", state.next))
    if state.if_incomplete:
        out.append(("if_incomplete", state.if_incomplete))
    if state.listens:
        out.append(("no_input", state.no_input.goto))
        out.append(("no_match", state.no_match.goto))
    return out


def _reach(script: Script, blocked: frozenset[str]) -> dict[str, list[str]]:
    """States reachable from the start without entering a ``blocked`` state, each with a path to it."""
    start = script.start
    if start not in script.states or start in blocked:
        return {}
    seen: dict[str, list[str]] = {start: [start]}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        for _, target in _edges(script, script.states[name]):
            if target in script.states and target not in seen and target not in blocked:
                seen[target] = [*seen[name], target]
                queue.append(target)
    return seen


def _semantic_problems(where: str, source: YamlSource, script: Script) -> list[Problem]:
    problems: list[Problem] = []

    def add(path: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(where, source.line(path), message))

    stem = script.path.name.split(".")
    if len(stem) == 3 and (stem[0] != script.name or stem[1] != script.lang):
        add(
            ("script",),
            f"file name {script.path.name} does not match script {script.name!r} in {script.lang!r}; "
            f"name it {script.name}.{script.lang}.yaml",
        )
    lang = script.lang
    states = script.states

    def target_ok(path: tuple[str | int, ...], target: str) -> None:
        if target not in states:
            add(path, f"unknown target state {target!r}")

    target_ok(("start",), script.start)
    for intent, target in script.global_on.items():
        target_ok(("global", intent.value), target)
    for kind in ("no_input", "no_match"):
        target_ok(("defaults", kind, "goto"), source.data["defaults"][kind]["goto"])

    for name, state in states.items():
        sp: tuple[str | int, ...] = ("states", name)
        for intent, target in state.on.items():
            target_ok((*sp, "on", intent.value), target)
        if state.next:
            target_ok((*sp, "next"), state.next)
        if state.if_incomplete:
            target_ok((*sp, "if_incomplete"), state.if_incomplete)
        if state.listens:
            for kind, retry in (("no_input", state.no_input), ("no_match", state.no_match)):
                if kind in source.data["states"][name]:
                    target_ok((*sp, kind, "goto"), retry.goto)
        handled = script.handlers(state)
        for digit, intent in state.dtmf.items():
            if intent not in handled:
                add(
                    (*sp, "dtmf", digit),
                    f"key {digit} means {intent} but state {name!r} does not handle {intent}",
                )
        if state.dtmf and not state.listens:
            add(
                (*sp, "dtmf"),
                f"state {name!r} does not wait for the debtor, so keys pressed there are never read",
            )
        if (state.end or state.next) and state.grammar:
            add((*sp, "grammar"), f"state {name!r} does not listen, so a grammar there is never used")
        if state.end and not state.prompts and state.action is not Action.TRANSFER:
            add(sp, f"end state {name!r} says nothing; end the call politely")
        if (
            not state.listens
            and not state.end
            and not state.prompts
            and state.action is None
            and not state.flags
        ):
            add(sp, f"state {name!r} neither speaks, listens, acts nor sets flags")
        for i, prompt in enumerate(state.prompts):
            for unknown in prompt.template.unknown_placeholders():
                add(
                    (*sp, "say", i) if len(state.prompts) > 1 else (*sp, "say"),
                    f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
                )
        # Per-action requirements.
        if state.action is Action.OFFER_PLAN and state.installments is None:
            add(sp, f"state {name!r} offers a plan but has no `installments`")
        if state.installments is not None and state.action is not Action.OFFER_PLAN:
            add((*sp, "installments"), "`installments` is only read by action offer_plan")
        if state.action is Action.TRANSFER and not state.queue:
            add(sp, f"state {name!r} transfers but names no `queue`")
        if state.action is Action.TRANSFER and state.end is not Disposition.TRANSFERRED:
            add(sp, f"state {name!r} transfers; it must `end: transferred`")
        if state.action is Action.CAPTURE_PROMISE and not state.if_incomplete:
            add(sp, f"state {name!r} captures a promise but has no `if_incomplete` state to ask for a date")
        if state.if_incomplete and state.action is not Action.CAPTURE_PROMISE:
            add((*sp, "if_incomplete"), "`if_incomplete` is only read by action capture_promise")
        if state.action is Action.DISCLOSE:
            for i, prompt in enumerate(state.prompts):
                if prompt.interruptible:
                    add((*sp, "say", i), "the disclosure must be `interruptible: false`")
            text = " ".join(p.template.text.lower() for p in state.prompts)
            missing = [w for w in DISCLOSURE_WORDS[lang] if w not in text]
            if missing:
                add((*sp, "say"), f"the disclosure must say {' and '.join(repr(w) for w in missing)}")

    for i, prompt in enumerate(script.voicemail):
        vp: tuple[str | int, ...] = (
            ("voicemail", "say", i) if len(script.voicemail) > 1 else ("voicemail", "say")
        )
        for name in prompt.template.placeholders:
            if name not in VOICEMAIL_PLACEHOLDERS:
                add(
                    vp,
                    f"a voicemail may not say {{{name}}}: only a name, a request to call back and a number",
                )
        if mentions_debt(prompt.template.text, lang):
            add(vp, "a voicemail must not reveal debt collection (limited-content message, Reg F §1006.2(j))")
    if script.voicemail and not any("callback_number" in p.template.placeholders for p in script.voicemail):
        add(("voicemail",), "a voicemail must give the number to call back: {callback_number}")

    if any(p.message.startswith("unknown target") for p in problems):
        return problems  # the graph checks below would only repeat the broken links

    # `next` chains must end: a cycle of states that never listen would loop forever.
    for name in states:
        seen_chain = [name]
        current = states[name]
        while current.next and not current.listens:
            if current.next in seen_chain:
                if current.next == name:
                    add(
                        ("states", name),
                        f"states {' → '.join([*seen_chain, name])} loop forever without listening",
                    )
                break
            seen_chain.append(current.next)
            current = states[current.next]

    reachable = _reach(script, frozenset())
    for name in states:
        if name not in reachable:
            add(("states", name), f"state {name!r} is unreachable from start {script.start!r}")

    verifiers = frozenset(n for n, s in states.items() if s.action is Action.VERIFY_RIGHT_PARTY)
    unverified = _reach(script, verifiers)
    for name, path in unverified.items():
        if state_mentions_debt(states[name], lang):
            add(
                ("states", name),
                f"state {name!r} mentions the debt before right-party verification "
                f"(reachable by {' → '.join(path)}); route it through a verify_right_party state",
            )
    disclosers = frozenset(n for n, s in states.items() if s.action is Action.DISCLOSE)
    undisclosed = _reach(script, disclosers)
    for name, path in undisclosed.items():
        state = states[name]
        if (
            name not in unverified
            and state_mentions_debt(state, lang)
            and state.action is not Action.DISCLOSE
        ):
            add(
                ("states", name),
                f"state {name!r} talks about the debt before the required disclosure "
                f"(reachable by {' → '.join(path)}); route it through a disclose state",
            )
    return problems


@dataclass
class CheckReport:
    checked: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_scripts(files: Sequence[Path]) -> CheckReport:
    report = CheckReport()
    for file in files:
        _, problems = check_script(file)
        report.checked.append(file)
        report.problems.extend(problems)
    return report


_SCRIPT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
