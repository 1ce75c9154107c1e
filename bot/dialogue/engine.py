"""The dialogue engine: walks a ``Script`` one debtor event at a time.

Pure and synchronous: no I/O, no clock (``today`` is given), no threads.  The
live call loop (``bot.conversation``) feeds it what the debtor said, pressed or
did not say, and plays the ``BotTurn``s it returns; ``duncall flow simulate``
feeds it lines of text.  Every turn and every understanding is kept in
``turns`` for the transcript.

The compliance rules the script checker enforces statically are enforced here
again at run time: a prompt that reveals the debt before right-party
verification raises ``ComplianceDenied`` instead of being said.  An action the
application cannot carry out on this call (``ActionPorts``) is not announced: the
state's ``otherwise`` line is said and its ``otherwise`` state entered instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from bot.dialogue.channels import PaymentLinkRequest
from bot.dialogue.model import Otherwise, Prompt, Script, State, ends_or_blocks
from bot.dialogue.plans import installment_plan
from bot.dialogue.ports import NO_PORTS, ActionPorts
from bot.dialogue.types import (
    ANNOUNCED,
    HANGUP,
    RECORDING_NOTICE,
    Action,
    BotTurn,
    DialogueResult,
    DialogueTurn,
    InstallmentPlan,
    Promise,
)
from bot.dialogue.vocabulary import mentions_debt
from bot.nlu.grammar import acknowledgement_only
from bot.nlu.types import IntentClassifier, Slots, Understanding
from bot.speech.spoken import Spoken, spoken_count, spoken_date, spoken_money, spoken_phone
from bot.speech.template import TemplateError
from foundation.contract import AccountFlag, AccountView, Disposition, Intent
from foundation.errors import ComplianceDenied, ConfigError, InputError

MAX_AUTOMATIC_STEPS = 50  # `next` chains longer than this mean a script loop the checker missed
DTMF_KEYS = frozenset("0123456789*#")
_AWAIT_TRANSFER = "\x00await-transfer"  # _act's answer: stop here until transfer_outcome
CONFIRM_GRAMMAR = "confirm"  # grammars/<lang>/confirm.yaml: the yes/no of a confirmation


class DialogueSession:
    """One conversation with one debtor, driven by one script."""

    def __init__(
        self,
        script: Script,
        account: AccountView,
        today: dt.date,
        classifier: IntentClassifier,
        *,
        ports: ActionPorts = NO_PORTS,
    ) -> None:
        if account.language != script.lang:
            raise ConfigError(
                f"script {script.name} is in {script.lang!r} but account {account.account_id} speaks "
                f"{account.language!r}",
                f"use {script.name}.{account.language}.yaml",
            )
        self.script = script
        self.account = account
        self.today = today
        self.classifier = classifier
        self.ports = ports
        self.turns: list[DialogueTurn] = []
        self._state: State = script.states[script.start]
        self.path: list[str] = []  # every state entered, in order: the call's path through the script
        self._started = False
        self._done = False
        self._right_party = False
        self._disclosed = False
        self._disposition: Disposition | None = None
        self._flags: set[AccountFlag] = set()
        self._no_input = 0
        self._no_match = 0
        self._last = Slots()
        self._asr_confidence = 1.0  # the recognizer's confidence in the answer being acted on
        # A state with a flag ending collection, waiting for the debtor's yes to "did you say…?"
        self._confirming: str | None = None
        self._confirming_intent: Intent | None = None
        # A promise being put together across turns ("200" … "on Friday"), then confirmed.
        self._pending_date: dt.date | None = None
        self._pending_amount: Decimal | None = None
        self._promise: Promise | None = None
        self._offered_plan: InstallmentPlan | None = None
        self._plan: InstallmentPlan | None = None
        self._callback_at: dt.date | None = None
        self._transfer_queue: str | None = None
        # A transfer state entered while the call looks for a collector: nothing said yet.
        self._awaiting_transfer: State | None = None
        self._actions: list[str] = []

    # --- what the call loop reads ----------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done

    @property
    def state(self) -> str:
        return self._state.name

    @property
    def transfer_wanted(self) -> str | None:
        """The queue a collector is wanted from, while the call looks for one; else ``None``.

        The call loop answers with ``transfer_outcome``; until then every debtor event is ignored.
        """
        if self._awaiting_transfer is None:
            return None
        return self._awaiting_transfer.queue

    @property
    def right_party(self) -> bool:
        return self._right_party

    @property
    def expected(self) -> tuple[Intent, ...]:
        if self._done:
            return ()
        if self._confirming is not None:
            return (Intent.AFFIRM, Intent.DENY, Intent.REPEAT)
        handled = tuple(self.script.handlers(self._state))
        answers_who = self.script.identity_verified or self.script.identity_unverified
        if handled and answers_who and Intent.ASK_IDENTITY not in handled:
            return (*handled, Intent.ASK_IDENTITY)  # answered in every listening state
        return handled

    @property
    def grammar(self) -> str | None:
        if self._done:
            return None
        return CONFIRM_GRAMMAR if self._confirming is not None else self._state.grammar

    @property
    def grammar_values(self) -> Mapping[str, str]:
        """Account words a grammar's phrases may name ("yes this is {first_name}"), lowercase."""
        return {"first_name": self.account.first_name.lower(), "last_name": self.account.last_name.lower()}

    @property
    def result(self) -> DialogueResult:
        """How the conversation ended; ``incomplete`` while it has not (or the debtor hung up)."""
        disposition = self._disposition if self._done and self._disposition else Disposition.INCOMPLETE
        if not self._started and not self._done:
            disposition = Disposition.NO_CONTACT if not self.turns else disposition
        return DialogueResult(
            disposition=disposition,
            promise=self._promise,
            flags=frozenset(self._flags),
            plan=self._plan,
            callback_at=self._callback_at,
            transfer_queue=self._transfer_queue,
            right_party=self._right_party,
            actions=tuple(self._actions),
        )

    def likely_speech(self) -> list[str]:
        """The speech of the script's prompts that render with what is known now, nearest first.

        For the TTS to pre-render while the debtor talks (account values at call
        start; a promise's read-back once its slots are heard).  States one answer
        away come first (``next`` chains count as no step).  Says nothing and
        changes nothing: prompts needing values not known yet are skipped.
        """
        states = self.script.states
        order: dict[str, None] = {}
        frontier = [self._state.name]
        while frontier:
            step: list[str] = []
            for name in frontier:
                while name in states and name not in order:
                    order[name] = None
                    st = states[name]
                    answers = [*st.on.values(), *self.script.handlers(st).values()]
                    step += [*answers, st.no_input.goto, st.no_match.goto]
                    if st.otherwise is not None:  # the line said when an action is not available
                        step.append(st.otherwise.goto)
                    name = st.next or ""
            frontier = [n for n in dict.fromkeys(step) if n in states and n not in order]
        ordered = [states[n] for n in order]
        prompts = [
            p
            for s in ordered
            for p in (
                *s.hold,  # said the moment a transfer starts: ready before it is needed
                *s.prompts,
                *(s.otherwise.prompts if s.otherwise is not None else ()),
                *s.no_input.prompts,
                *s.no_match.prompts,
            )
        ]
        values = self._values()
        out: list[str] = []
        for prompt in (*self.script.recording_notice, *prompts, *self.script.voicemail):
            try:
                spoken = prompt.template.render(values)
            except TemplateError:
                continue
            out.append(spoken.speech or spoken.display)
        return list(dict.fromkeys(out))

    # --- events -------------------------------------------------------------------------

    def start(self) -> list[BotTurn]:
        if self._started:
            raise InputError("the dialogue has already started", "call start() once per call")
        self._started = True
        notice = [self._notice(p) for p in self.script.recording_notice]
        return notice + self._enter(self.script.start)

    def _notice(self, prompt: Prompt) -> BotTurn:
        """The recording notice: never interrupted; the call loop starts recording once it played."""
        try:
            spoken = prompt.template.render(self._values())
        except TemplateError as exc:
            raise ConfigError(
                f"{self.script.path}:{prompt.line}: {exc}", "fix the script's placeholders"
            ) from None
        self.turns.append(
            DialogueTurn("bot", "prompt", spoken.display, self.script.start, action=RECORDING_NOTICE)
        )
        return BotTurn(spoken.display, False, RECORDING_NOTICE, spoken.speech)

    def hear(self, text: str, asr_confidence: float = 1.0) -> list[BotTurn]:
        """The debtor said ``text`` (as recognized, with the recognizer's confidence)."""
        if self._done or self._awaiting_transfer is not None:
            return []
        self._require_started()
        if not text.strip():
            return self.no_input()
        understanding = self.classifier.understand(
            text, self.script.lang, self.today, self.expected, grammar=self.grammar
        )
        self.turns.append(
            DialogueTurn(
                "debtor",
                "speech",
                text,
                self._state.name,
                understanding=understanding,
                asr_confidence=asr_confidence,
            )
        )
        self._asr_confidence = asr_confidence
        floor = self.script.min_confidence
        understood = asr_confidence >= floor and understanding.confidence >= floor
        if self._confirming is not None:
            return self._on_confirmation(understanding, understood)
        if not understood:
            target = self.script.handlers(self._state).get(understanding.intent)
            if target is not None and self._uncertain_flag(target, understanding):
                # Heard too poorly to act on, but it may be "stop calling" or "I have a lawyer":
                # asking is the safe side (a "no" brings the state's question back), never
                # letting the next answer go to a question that assumed it was not said.
                self._confirming, self._confirming_intent = target, understanding.intent
                return self._ask_confirmation(target)
            return self._not_understood()
        return self._on_intent(understanding)

    def dtmf(self, digit: str) -> list[BotTurn]:
        if self._done or self._awaiting_transfer is not None:
            return []
        self._require_started()
        if digit not in DTMF_KEYS:
            raise InputError(f"{digit!r} is not a telephone key", "send one of 0-9, * or #")
        self._confirming = None  # a key is an answer to the state's own question
        self._asr_confidence = 1.0
        intent = self._state.dtmf.get(digit)
        understanding = Understanding(f"#{digit}", intent, 1.0, Slots()) if intent else None
        self.turns.append(
            DialogueTurn("debtor", "dtmf", digit, self._state.name, understanding=understanding)
        )
        if understanding is None:
            return self._not_understood()
        return self._on_intent(understanding)

    def no_input(self) -> list[BotTurn]:
        if self._done or self._awaiting_transfer is not None:
            return []
        self._require_started()
        self.turns.append(DialogueTurn("debtor", "no_input", "", self._state.name))
        self._confirming = None
        self._no_input += 1
        retry = self._state.no_input
        if self._no_input > retry.retries:
            return self._enter(retry.goto)
        return self._reprompt(retry.prompts)

    def voicemail(self) -> list[BotTurn]:
        """An answering machine took the call: leave the limited-content message and end."""
        if self._done:
            return []
        self._started = True
        self.turns.append(DialogueTurn("debtor", "voicemail", "", self._state.name))
        turns = [self._say(p, None) for p in self.script.voicemail]
        turns = self._finish(turns, Disposition.NO_CONTACT, HANGUP)
        return turns

    # --- walking the script -----------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise InputError("the dialogue has not started", "call start() (or voicemail()) first")

    def _on_intent(self, understanding: Understanding) -> list[BotTurn]:
        if understanding.intent is Intent.REPEAT:
            return self._reprompt(())
        target = self.script.handlers(self._state).get(understanding.intent)
        if target is None and understanding.intent is Intent.ASK_IDENTITY:
            # Who is calling, and for whom once it is the debtor; then the question again.
            said = self.script.identity_verified if self._right_party else self.script.identity_unverified
            if said:
                return self._reprompt(said)
        if target is None:
            return self._not_understood()
        if self._weak_verification(target, understanding):
            # Telling a third party about the debt cannot be undone: ask again rather than
            # take a bare "okay", a fragment or a guess for "yes, this is me".
            return self._not_understood()
        if self._uncertain_flag(target, understanding):
            # Said back before it is set: a flag that ends collection is not set on a mishearing.
            self._confirming, self._confirming_intent = target, understanding.intent
            return self._ask_confirmation(target)
        self._last = understanding.slots
        return self._enter(target)

    def _on_confirmation(self, understanding: Understanding, understood: bool) -> list[BotTurn]:
        """The answer to "did you say …?": a yes (or the same words again) enters the state."""
        target, said = self._confirming, self._confirming_intent
        assert target is not None
        self._confirming = self._confirming_intent = None
        # The same words again confirm them, but not a bare yes or no: to "did you say this is
        # the wrong number?" (asked after an unsure "no" to "is this the right number?") a "no"
        # says it is not.
        confirming = (Intent.AFFIRM,) if said in (Intent.AFFIRM, Intent.DENY) else (Intent.AFFIRM, said)
        if understood and understanding.intent in confirming:
            self._last = understanding.slots
            return self._enter(target)
        if understanding.intent is Intent.REPEAT:
            self._confirming, self._confirming_intent = target, said
            return self._ask_confirmation(target)
        if understood and understanding.intent is Intent.DENY:
            return self._reprompt(())  # misheard: the state's question again
        return self._not_understood()

    def _ask_confirmation(self, target: str) -> list[BotTurn]:
        return [self._say(p, self._state, acted=False) for p in self.script.states[target].confirm]

    def _chain(self, target: str) -> list[State]:
        """``target`` and the states its ``next`` leads to without listening."""
        out: list[State] = []
        name: str | None = target
        while name is not None and name in self.script.states and len(out) < MAX_AUTOMATIC_STEPS:
            state = self.script.states[name]
            out.append(state)
            name = state.next
        return out

    def _weak_verification(self, target: str, understanding: Understanding) -> bool:
        if not any(s.action is Action.VERIFY_RIGHT_PARTY for s in self._chain(target)):
            return False
        if understanding.text.startswith("#"):  # DTMF: the key is explicit
            return False
        needed = self.script.verify_confidence
        if self._asr_confidence < needed or understanding.confidence < needed:
            return True
        grammar = self._state.grammar
        return grammar is not None and acknowledgement_only(understanding.text, self.script.lang, grammar)

    def _uncertain_flag(self, target: str, understanding: Understanding) -> bool:
        if understanding.text.startswith("#") or self._asr_confidence >= self.script.flag_confidence:
            return False
        chain = self._chain(target)
        ends = any(ends_or_blocks(s) for s in chain)
        # A script without the question keeps its old behaviour; `duncall flow check` asks for one.
        return ends and bool(chain[0].confirm)

    def _not_understood(self) -> list[BotTurn]:
        self._no_match += 1
        retry = self._state.no_match
        if self._no_match > retry.retries:
            return self._enter(retry.goto)
        return self._reprompt(retry.prompts)

    def _reprompt(self, apology: tuple[Prompt, ...]) -> list[BotTurn]:
        """The apology, then the state's question (its last prompt) again."""
        turns = [self._say(p, self._state) for p in apology]
        if self._state.prompts:
            turns.append(self._say(self._state.prompts[-1], self._state))
        return turns

    def _enter(self, name: str) -> list[BotTurn]:
        turns: list[BotTurn] = []
        for _ in range(MAX_AUTOMATIC_STEPS):
            state = self.script.states[name]
            self._state = state
            self.path.append(name)
            self._no_input = self._no_match = 0
            redirect = self._act(state)
            if redirect is _AWAIT_TRANSFER:
                return turns  # the call loop looks for a collector, then calls transfer_outcome
            if isinstance(redirect, Otherwise):
                # Not available on this call: say the true line instead, as no action.
                turns.extend(self._say(p, state, acted=False) for p in redirect.prompts)
                name = redirect.goto
                continue
            if redirect is not None:
                name = redirect
                continue
            if state.offers is not None and not self._available(state.offers, state):
                # Offering what the call cannot do would be a promise not kept: skip the offer.
                otherwise = self._unavailable(state)
                turns.extend(self._say(p, state, acted=False) for p in otherwise.prompts)
                name = otherwise.goto
                continue
            turns.extend(self._say(p, state) for p in state.prompts)
            if state.end is not None:
                return self._finish(
                    turns, state.end, Action.TRANSFER if state.action is Action.TRANSFER else HANGUP
                )
            if state.next is None:
                return turns
            name = state.next
        raise ConfigError(
            f"{self.script.path}: states keep moving on without listening (at {name!r})",
            "give the loop an `on:` state; `duncall flow check` finds these",
        )

    def _finish(self, turns: list[BotTurn], disposition: Disposition, action: str) -> list[BotTurn]:
        self._done = True
        self._disposition = disposition
        if turns:
            last = turns[-1]
            turns[-1] = BotTurn(last.text, last.interruptible, action, last.speech)
        return turns

    def _act(self, state: State) -> str | Otherwise | None:
        """Run a state's action on entry; return another state to go to instead, if any.

        An action the ports say is unavailable returns the state's ``otherwise``.
        """
        self._flags.update(state.flags)
        action = state.action
        if action is None:
            return None
        if action is Action.VERIFY_RIGHT_PARTY:
            self._right_party = True
        elif action is Action.DISCLOSE:
            self._disclosed = True
        elif action is Action.CAPTURE_PROMISE:
            return self._capture_promise(state)
        elif action is Action.CONFIRM_PROMISE:
            if self._pending_date is None or self._pending_amount is None:
                raise ConfigError(
                    f"{self.script.path}: state {state.name!r} confirms a promise that was never captured",
                    "route it after a capture_promise state",
                )
            self._promise = Promise(self._pending_date, self._pending_amount)
        elif action is Action.OFFER_PLAN:
            assert state.installments is not None  # the checker requires it
            first = self.today + dt.timedelta(days=state.first_in_days)
            self._offered_plan = installment_plan(self.account.balance, state.installments, first)
        elif action is Action.ACCEPT_PLAN:
            if self._offered_plan is None:
                raise ConfigError(
                    f"{self.script.path}: state {state.name!r} accepts a plan that was never offered",
                    "route it after an offer_plan state",
                )
            self._plan = self._offered_plan
        elif action is Action.SEND_PAYMENT_LINK:
            amount = self._link_amount()
            request = PaymentLinkRequest(
                self.account.account_id, amount, self.account.currency, state.channel
            )
            if not self.ports.send_payment_link(request):
                return self._unavailable(state)
        elif action is Action.SCHEDULE_CALLBACK:
            asked = self._last.date
            self._callback_at = (
                asked if asked is not None and asked >= self.today else self.today + dt.timedelta(1)
            )
        elif action is Action.TRANSFER:
            if state.queue is None or not self.ports.can_transfer(state.queue):
                return self._unavailable(state)
            # Nothing is said until a collector has accepted the call: "connecting you" is
            # only true then (``transfer_outcome``).
            self._awaiting_transfer = state
            return _AWAIT_TRANSFER
        if action in ANNOUNCED:
            self._actions.append(action.value)
        return None

    def transfer_hold(self) -> list[BotTurn]:
        """The awaited transfer's holding line ("One moment please."), said while the desk rings.

        Nothing is done by it (no action is recorded); empty when the state has none."""
        state = self._awaiting_transfer
        if state is None:
            return []
        return [self._say(p, state, acted=False) for p in state.hold]

    def transfer_outcome(self, accepted: bool) -> list[BotTurn]:
        """The call looked for a collector (``transfer_wanted``): what the bot says now.

        ``accepted``: a collector answered; the state's line ("I'm connecting you to a colleague
        now") is said and the call ends ``transferred``.  Otherwise nobody could take it: the
        state's ``otherwise`` line and state (a callback offered), never the connecting line.
        """
        state = self._awaiting_transfer
        if state is None:
            raise InputError("no transfer is awaited", "call transfer_outcome after transfer_wanted is set")
        self._awaiting_transfer = None
        if accepted:
            self._transfer_queue = state.queue
            self._actions.append(Action.TRANSFER.value)
            turns = [self._say(p, state) for p in state.prompts]
            assert state.end is not None  # the checker requires `end: transferred`
            return self._finish(turns, state.end, Action.TRANSFER)
        otherwise = self._unavailable(state)
        turns = [self._say(p, state, acted=False) for p in otherwise.prompts]
        return turns + self._enter(otherwise.goto)

    def _available(self, action: Action, state: State) -> bool:
        if action is Action.SEND_PAYMENT_LINK:
            return self.ports.can_send_payment_link(state.channel)
        if action is Action.TRANSFER:
            return state.queue is not None and self.ports.can_transfer(state.queue)
        return True

    def _unavailable(self, state: State) -> Otherwise:
        if state.otherwise is None:
            raise ConfigError(
                f"{self.script.path}: state {state.name!r} needs {state.action or state.offers}, which "
                "this call cannot do, "
                "and has no `otherwise`",
                "add `otherwise: {say: ..., goto: ...}`; `duncall flow check` finds these",
            )
        return state.otherwise

    def _link_amount(self) -> Decimal:
        if self._plan is not None:
            return self._plan.amount
        if self._promise is not None:
            return self._promise.amount
        return self.account.balance

    def _capture_promise(self, state: State) -> str | None:
        slots = self._last
        if slots.amount is not None:
            self._pending_amount = slots.amount.quantize(Decimal("0.01"))
        if slots.date is not None:
            self._pending_date = slots.date
        if self._pending_amount is None or self._pending_amount > self.account.balance:
            self._pending_amount = self.account.balance
        if self._pending_date is None:
            if state.default_date == "due_date" and self.account.due_date is not None:
                self._pending_date = max(self.account.due_date, self.today)
            elif state.default_date == "today":
                self._pending_date = self.today
        latest = self.today + dt.timedelta(days=self.script.max_promise_days)
        if self._pending_date is None or not (self.today <= self._pending_date <= latest):
            # A date in the past or too far ahead is not a promise; ask again for one.
            self._pending_date = None
            assert state.if_incomplete is not None  # the checker requires it
            self._last = Slots()
            return state.if_incomplete
        self._last = Slots()
        return None

    # --- speaking ---------------------------------------------------------------------

    def _say(self, prompt: Prompt, state: State | None, *, acted: bool = True) -> BotTurn:
        reveals = mentions_debt(prompt.template.text, self.script.lang) or (
            state is not None and state.action is Action.DISCLOSE
        )
        if reveals and not self._right_party:
            where = state.name if state is not None else "voicemail"
            raise ComplianceDenied(
                [f"{self.script.name}: {where!r} would mention the debt before verification"]
            )
        try:
            spoken = prompt.template.render(self._values())
        except TemplateError as exc:
            raise ConfigError(
                f"{self.script.path}:{prompt.line}: {exc}", "fix the script's placeholders"
            ) from None
        action = state.action.value if acted and state is not None and state.action is not None else None
        turn = BotTurn(spoken.display, prompt.interruptible, action, spoken.speech)
        self.turns.append(
            DialogueTurn(
                "bot",
                "prompt",
                spoken.display,
                state.name if state else "voicemail",
                action=action,
                right_party=self._right_party,
            )
        )
        return turn

    def _values(self) -> Mapping[str, Spoken]:
        account, lang = self.account, self.script.lang

        def plain(text: str) -> Spoken:
            return Spoken(text, text)

        def money(amount: Decimal) -> Spoken:
            return spoken_money(amount, account.currency, lang)

        values: dict[str, Spoken] = {
            "first_name": plain(account.first_name),
            "last_name": plain(account.last_name),
            "full_name": plain(account.full_name),
            "agent_name": plain(self.script.agent_name),
            "callback_number": spoken_phone(account.callback_number, lang),
            "creditor": plain(account.creditor),
            "balance": money(account.balance),
            "days_past_due": spoken_count(account.days_past_due, lang),
        }
        if account.due_date is not None:
            values["due_date"] = spoken_date(account.due_date, lang)
        if self._pending_date is not None:
            values["promise_date"] = spoken_date(self._pending_date, lang)
        if self._pending_amount is not None:
            values["promise_amount"] = money(self._pending_amount)
        plan = self._plan or self._offered_plan
        if plan is not None:
            values["installment_count"] = spoken_count(plan.count, lang)
            values["installment_amount"] = money(plan.amount)
            values["installment_last_amount"] = money(plan.last_amount)
            values["plan_first_date"] = spoken_date(plan.first_date, lang)
        if self._callback_at is not None:
            values["callback_date"] = spoken_date(self._callback_at, lang)
        return values
