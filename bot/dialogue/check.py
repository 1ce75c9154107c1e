"""The semantic check: what the schema cannot see, reported as ``file:line: what is wrong``.

Links between states must name real states, per-action keys must be where they are
read, and the compliance rules hold before any call is made (docs/compliance.md): nothing
about the debt before right-party verification, the mini-Miranda disclosure
(non-interruptible) before the balance, and a voicemail that says only a name, a
request to call back and a number.  A prompt that announces an action (a link sent, a
transfer, a callback, the number not called again) must be in a state bound to that
action, and an action the call may not have (a transfer, a link) says what to do instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from bot.dialogue.model import ENDS_COLLECTION, Problem, Script, State, ends_or_blocks
from bot.dialogue.types import MAY_BE_UNAVAILABLE, Action
from bot.dialogue.vocabulary import (
    DISCLOSURE_WORDS,
    RECORDING_NOTICE_WORDS,
    VOICEMAIL_PLACEHOLDERS,
    announced_actions,
    mentions_debt,
    offered_actions,
    says_recorded,
    state_mentions_debt,
)
from bot.dialogue.yamlsource import YamlSource
from bot.speech.template import PLACEHOLDERS
from foundation.contract import Disposition

Where = tuple[str | int, ...]
Add = Callable[[Where, str], None]


def semantic_problems(
    where: str, source: YamlSource, script: Script, file_name: str, *, notice_required: bool = False
) -> list[Problem]:
    """Every semantic problem of ``script`` (built from ``source``), saved as ``file_name``.

    ``notice_required``: the rules file says the jurisdiction requires telling the debtor the
    call is recorded (``recording_notice: true``), so a script without a notice is refused."""
    problems: list[Problem] = []

    def add(path: Where, message: str) -> None:
        problems.append(Problem(where, source.line(path), message))

    _check_name(script, file_name, add)
    _check_links(source, script, add)
    for name, state in script.states.items():
        _check_state(script, name, state, add)
    _check_voicemail(script, add)
    _check_identity(script, add)
    _check_recording_notice(script, add, notice_required)
    if any(p.message.startswith("unknown target") for p in problems):
        return problems  # the graph checks below would only repeat the broken links
    _check_graph(script, add)
    return problems


def _check_recording_notice(script: Script, add: Add, required: bool) -> None:
    """The debtor hears that the call is recorded before anything is recorded (the recording
    starts once the notice has played); said before verification, it names no debt."""
    words = RECORDING_NOTICE_WORDS.get(script.lang, "")
    if not script.recording_notice:
        if required:
            add(
                ("lang",),
                "no recording_notice: the rules require telling the debtor the call is recorded; "
                f'add `recording_notice: "{words[:1].upper()}{words[1:]} …"` at the top level',
            )
        return
    for prompt in script.recording_notice:
        if not says_recorded(prompt.template.text, script.lang):
            add(("recording_notice",), f"the recording notice must say {words!r}")
        if mentions_debt(prompt.template.text, script.lang):
            add(("recording_notice",), "the recording notice is said before verification: no debt in it")
        for unknown in prompt.template.unknown_placeholders():
            add(
                ("recording_notice",),
                f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
            )


def _check_name(script: Script, file_name: str, add: Add) -> None:
    stem = file_name.split(".")
    if len(stem) == 3 and (stem[0] != script.name or stem[1] != script.lang):
        add(
            ("script",),
            f"file name {file_name} does not match script {script.name!r} in {script.lang!r}; "
            f"name it {script.name}.{script.lang}.yaml",
        )


def _check_links(source: YamlSource, script: Script, add: Add) -> None:
    states = script.states

    def target_ok(path: Where, target: str) -> None:
        if target not in states:
            add(path, f"unknown target state {target!r}")

    target_ok(("start",), script.start)
    for intent, target in script.global_on.items():
        target_ok(("global", intent.value), target)
    for kind in ("no_input", "no_match"):
        target_ok(("defaults", kind, "goto"), source.data["defaults"][kind]["goto"])
    for name, state in states.items():
        sp: Where = ("states", name)
        for intent, target in state.on.items():
            target_ok((*sp, "on", intent.value), target)
        if state.next:
            target_ok((*sp, "next"), state.next)
        if state.if_incomplete:
            target_ok((*sp, "if_incomplete"), state.if_incomplete)
        if state.otherwise:
            target_ok((*sp, "otherwise", "goto"), state.otherwise.goto)
        if state.listens:
            for kind, retry in (("no_input", state.no_input), ("no_match", state.no_match)):
                if kind in source.data["states"][name]:
                    target_ok((*sp, kind, "goto"), retry.goto)


def _check_state(script: Script, name: str, state: State, add: Add) -> None:
    sp: Where = ("states", name)
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
    if not state.listens and not state.end and not state.prompts and state.action is None and not state.flags:
        add(sp, f"state {name!r} neither speaks, listens, acts nor sets flags")
    for i, prompt in enumerate(state.prompts):
        for unknown in prompt.template.unknown_placeholders():
            add(
                (*sp, "say", i) if len(state.prompts) > 1 else (*sp, "say"),
                f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
            )
    if state.otherwise is not None:
        for prompt in state.otherwise.prompts:
            for unknown in prompt.template.unknown_placeholders():
                add(
                    (*sp, "otherwise", "say"),
                    f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
                )
    _check_action(script, name, state, add)
    _check_announcements(script, name, state, add)
    _check_confirm(script, name, state, add)


def _check_confirm(script: Script, name: str, state: State, add: Add) -> None:
    """A flag ending collection is confirmed before it is set from an uncertain recognition."""
    sp: Where = ("states", name)
    ending = sorted(f.value for f in state.flags & ENDS_COLLECTION)
    spoken_to = name in script.global_on.values() or any(
        name in s.on.values() for s in script.states.values()
    )
    if ending and spoken_to and not state.confirm:
        add(
            sp,
            f"state {name!r} sets {', '.join(ending)}, which ends collection; add `confirm:` with the "
            'question asked when the answer was not heard for sure ("Did you say you have an attorney?")',
        )
    if state.confirm and not ends_or_blocks(state):
        add(
            (*sp, "confirm"),
            "`confirm` is only asked before a state that sets a flag ending collection or blocks the number",
        )
    for prompt in state.confirm:
        for unknown in prompt.template.unknown_placeholders():
            add(
                (*sp, "confirm"),
                f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
            )
        for phrase in announced_actions(prompt.template.text, script.lang).values():
            add(
                (*sp, "confirm"),
                f"state {name!r} asks {phrase!r} before anything is done; a confirmation only asks",
            )


def _check_announcements(script: Script, name: str, state: State, add: Add) -> None:
    """What a state says it does, it does; what may be unavailable has a true alternative."""
    sp: Where = ("states", name)
    for i, prompt in enumerate(state.prompts):
        for action, phrase in announced_actions(prompt.template.text, script.lang).items():
            if state.action is not action:
                add(
                    (*sp, "say", i) if len(state.prompts) > 1 else (*sp, "say"),
                    f"state {name!r} says {phrase!r} but does not do it; bind it with "
                    f"`action: {action}` or say something true",
                )
    if state.otherwise is not None:
        # The line said when the action cannot be done never announces it ("connecting you…"
        # with no collector to take the call).
        for prompt in state.otherwise.prompts:
            for phrase in announced_actions(prompt.template.text, script.lang).values():
                add(
                    (*sp, "otherwise", "say"),
                    f"state {name!r} says {phrase!r} when it cannot {state.action or state.offers}; "
                    "the `otherwise` line says what is true instead",
                )
    if state.hold and state.action is not Action.TRANSFER:
        add((*sp, "hold"), "`hold` is only said while a transfer's desk rings (action transfer)")
    for prompt in state.hold:
        # Said before anyone has accepted: "connecting you" would not be true yet.
        for action, phrase in announced_actions(prompt.template.text, script.lang).items():
            add(
                (*sp, "hold"),
                f"state {name!r} says {phrase!r} while the desk still rings; a holding line only asks "
                f'to wait ("One moment please."): {action} is said once a collector has accepted',
            )
        for unknown in prompt.template.unknown_placeholders():
            add((*sp, "hold"), f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}")
    if state.action is Action.TRANSFER and not any(
        Action.TRANSFER in announced_actions(p.template.text, script.lang) for p in state.prompts
    ):
        add(
            (*sp, "say"),
            f"state {name!r} transfers without saying so; it is said once a collector has accepted "
            '("I\'m connecting you to a colleague now.")',
        )
    for i, prompt in enumerate(state.prompts):
        for action, phrase in offered_actions(prompt.template.text, script.lang).items():
            if action not in (state.offers, state.action):
                add(
                    (*sp, "say", i) if len(state.prompts) > 1 else (*sp, "say"),
                    f"state {name!r} offers {action} ({phrase!r}), which a call may not have; add "
                    f"`offers: {action}` and an `otherwise:` for when it cannot",
                )
    if state.offers is not None and state.action is not None:
        add((*sp, "offers"), f"state {name!r} does {state.action}; it cannot also offer {state.offers}")
    if state.offers is not None and state.otherwise is None:
        add(
            sp,
            f"state {name!r} offers {state.offers}, which a call may not have; add "
            "`otherwise: {say: ..., goto: ...}` with what to say and do instead",
        )
    if state.offers is Action.TRANSFER and not state.queue:
        add(sp, f"state {name!r} offers a transfer but names no `queue`")
    if state.action in MAY_BE_UNAVAILABLE and state.otherwise is None:
        add(
            sp,
            f"state {name!r} does {state.action}, which a call may not have; add "
            "`otherwise: {say: ..., goto: ...}` with what to say and do instead",
        )
    if state.otherwise is not None and state.action not in MAY_BE_UNAVAILABLE and state.offers is None:
        add(
            (*sp, "otherwise"),
            "`otherwise` is only read by `offers:` and by actions a call may not have: "
            + ", ".join(sorted(a.value for a in MAY_BE_UNAVAILABLE)),
        )
    if state.action is Action.SUPPRESS_NUMBER and state.end is not Disposition.WRONG_NUMBER:
        # The dialer blocks the number on a wrong_number ending and on nothing else.
        add(sp, f"state {name!r} suppresses the number; it must `end: wrong_number`")


def _check_action(script: Script, name: str, state: State, add: Add) -> None:
    """Each action's keys are present, and keys only one action reads appear only there."""
    sp: Where = ("states", name)
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
        missing = [w for w in DISCLOSURE_WORDS[script.lang] if w not in text]
        if missing:
            add((*sp, "say"), f"the disclosure must say {' and '.join(repr(w) for w in missing)}")


def _check_identity(script: Script, add: Add) -> None:
    for i, prompt in enumerate(script.identity_unverified):
        if mentions_debt(prompt.template.text, script.lang):
            add(
                ("identity", "unverified", i)
                if len(script.identity_unverified) > 1
                else ("identity", "unverified"),
                "the answer to 'who is this?' before verification must not reveal the debt "
                "(no {creditor}, {balance} or debt wording); name the creditor under identity.verified",
            )
    for prompts, key in ((script.identity_unverified, "unverified"), (script.identity_verified, "verified")):
        for prompt in prompts:
            for unknown in prompt.template.unknown_placeholders():
                add(
                    ("identity", key),
                    f"unknown placeholder {{{unknown}}}; known: {', '.join(sorted(PLACEHOLDERS))}",
                )


def _check_voicemail(script: Script, add: Add) -> None:
    for i, prompt in enumerate(script.voicemail):
        vp: Where = ("voicemail", "say", i) if len(script.voicemail) > 1 else ("voicemail", "say")
        for name in prompt.template.placeholders:
            if name not in VOICEMAIL_PLACEHOLDERS:
                add(
                    vp,
                    f"a voicemail may not say {{{name}}}: only a name, a request to call back and a number",
                )
        if mentions_debt(prompt.template.text, script.lang):
            add(vp, "a voicemail must not reveal debt collection (limited-content message, Reg F §1006.2(j))")
    if script.voicemail and not any("callback_number" in p.template.placeholders for p in script.voicemail):
        add(("voicemail",), "a voicemail must give the number to call back: {callback_number}")


def _edges(script: Script, state: State) -> list[tuple[str, str]]:
    """(label, target) for every way out of ``state``."""
    out = [(f"on {intent}", target) for intent, target in script.handlers(state).items()]
    if state.next:
        out.append(("next", state.next))
    if state.if_incomplete:
        out.append(("if_incomplete", state.if_incomplete))
    if state.otherwise:
        out.append(("otherwise", state.otherwise.goto))
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


def _check_graph(script: Script, add: Add) -> None:
    """Loops, unreachable states, and the debt mentioned before verification or disclosure."""
    states, lang = script.states, script.lang
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
    for name, path in _reach(script, disclosers).items():
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
