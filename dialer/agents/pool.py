"""The agents of one campaign and their states; pure (every time is passed in, nothing is read).

    ready ──claim──▶ connecting ──connected──▶ on_call ──release──▶ wrap_up ──(wrap-up s)──▶ ready
                         │                                                        ▲
                         └──unreachable──▶ away ──(away s)────────────────────────┘

*ready* agents take the next answered call, longest-ready first (the fair
rotation call centres expect). *connecting*: claimed for an answered call while
its leg is set up. *wrap_up*: after the call, notes and disposition, not yet
available. *away*: its phone did not answer a connect; out of the rotation for
``away_s`` so one dead softphone cannot abandon call after call.

Handle time, as the pacing policy measures it, runs from connect to ready
again (talk + wrap-up); ``advance`` returns it for each agent that came back.

The states live in the dialer process that runs the campaign (not in Redis):
the campaign lease already allows one dialer per campaign, the events that
move an agent (its call answered, bridged, hung up) reach that process, and
the 2-second abandon deadline is better met without a network round trip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from foundation.errors import InputError

DEFAULT_WRAP_UP_S = 5.0
DEFAULT_AWAY_S = 60.0
SANDBOX_AGENT_CONTEXT = "duncall-agents"  # asterisk-config/extensions.conf


class AgentState(StrEnum):
    READY = "ready"
    CONNECTING = "connecting"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


@dataclass(frozen=True, slots=True)
class AgentSpec:
    agent_id: str
    endpoint: str  # what Asterisk dials for the agent's phone, which must answer by itself


@dataclass(slots=True)
class _Agent:
    spec: AgentSpec
    state: AgentState
    since_s: float  # when it entered its state
    connected_s: float | None = None  # when its current / last call connected
    call_id: str | None = None


class AgentPool:
    def __init__(
        self,
        agents: Sequence[AgentSpec],
        *,
        now_s: float,
        wrap_up_s: float = DEFAULT_WRAP_UP_S,
        away_s: float = DEFAULT_AWAY_S,
    ) -> None:
        if not agents:
            raise InputError(
                "a campaign with human agents has no agents", "pass --agents N or --agent ENDPOINT"
            )
        ids = [a.agent_id for a in agents]
        if len(set(ids)) != len(ids):
            raise InputError("two agents share an id", "give every agent its own id")
        if wrap_up_s < 0 or away_s < 0:
            raise InputError(f"wrap-up {wrap_up_s} s / away {away_s} s", "use times >= 0 s")
        self.wrap_up_s = wrap_up_s
        self.away_s = away_s
        self._agents = {a.agent_id: _Agent(a, AgentState.READY, now_s) for a in agents}

    # --- what the pacing policy reads ------------------------------------------------

    def ready(self) -> int:
        return sum(a.state is AgentState.READY for a in self._agents.values())

    def busy_elapsed_s(self, now_s: float) -> tuple[float, ...]:
        """Handle time so far of every agent connecting or on a call (each has a ``wrap_up_s`` to go)."""
        out = []
        for a in self._agents.values():
            if a.state is AgentState.CONNECTING:
                out.append(0.0)
            elif a.state is AgentState.ON_CALL and a.connected_s is not None:
                out.append(max(0.0, now_s - a.connected_s))
        return tuple(out)

    def wrap_up_left_s(self, now_s: float) -> tuple[float, ...]:
        """Seconds until each agent in wrap-up is ready: a wrap-up here has a known length."""
        return tuple(
            max(0.0, self.wrap_up_s - (now_s - a.since_s))
            for a in self._agents.values()
            if a.state is AgentState.WRAP_UP
        )

    def counts(self) -> Counter[str]:
        return Counter(a.state.value for a in self._agents.values())

    def state_of(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).state

    def call_of(self, agent_id: str) -> str | None:
        return self._agent(agent_id).call_id

    # --- transitions -------------------------------------------------------------------

    def claim(self, call_id: str, now_s: float, account_id: str = "") -> AgentSpec | None:
        """The longest-ready agent for ``call_id`` (now connecting), or None when nobody is ready."""
        ready = [a for a in self._agents.values() if a.state is AgentState.READY]
        if not ready:
            return None
        agent = min(ready, key=lambda a: (a.since_s, a.spec.agent_id))
        self._move(agent, AgentState.CONNECTING, now_s)
        agent.call_id = call_id
        return agent.spec

    def connected(self, agent_id: str, now_s: float) -> None:
        agent = self._expect(agent_id, AgentState.CONNECTING)
        agent.connected_s = now_s
        self._move(agent, AgentState.ON_CALL, now_s)

    def unreachable(self, agent_id: str, now_s: float) -> None:
        """Its phone did not answer the connect: away for ``away_s``."""
        agent = self._expect(agent_id, AgentState.CONNECTING)
        agent.call_id = None
        self._move(agent, AgentState.AWAY, now_s)

    def release(self, agent_id: str, now_s: float) -> None:
        """The call ended: wrap-up (or straight back to ready if it never connected)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.ON_CALL:
            self._move(agent, AgentState.WRAP_UP, now_s)
        elif agent.state is AgentState.CONNECTING:
            agent.call_id = None
            self._move(agent, AgentState.READY, now_s)
        else:
            raise InputError(
                f"agent {agent_id} released while {agent.state.value}",
                "release an agent once, after its call",
            )

    def advance(self, now_s: float) -> list[float]:
        """Agents whose wrap-up or away time is over become ready; returns their handle times."""
        handles = []
        for a in self._agents.values():
            if a.state is AgentState.WRAP_UP and now_s - a.since_s >= self.wrap_up_s:
                assert a.connected_s is not None
                handles.append(max(0.0, now_s - a.connected_s))
                a.call_id = None
                self._move(a, AgentState.READY, now_s)
            elif a.state is AgentState.AWAY and now_s - a.since_s >= self.away_s:
                self._move(a, AgentState.READY, now_s)
        return handles

    # --- helpers -------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise InputError(
                f"no agent {agent_id!r} in this campaign", "use an id the pool was made with"
            ) from None

    def _expect(self, agent_id: str, state: AgentState) -> _Agent:
        agent = self._agent(agent_id)
        if agent.state is not state:
            raise InputError(
                f"agent {agent_id} is {agent.state.value}, not {state.value}",
                "follow claim → connected → release",
            )
        return agent

    @staticmethod
    def _move(agent: _Agent, state: AgentState, now_s: float) -> None:
        agent.state = state
        agent.since_s = now_s


def sandbox_agents(count: int, handle_s: float) -> list[AgentSpec]:
    """``count`` sandbox stand-ins (dialplan context ``duncall-agents``) that talk for ``handle_s`` s."""
    if count < 1:
        raise InputError(f"{count} agents", "pass --agents 1 or more")
    if not 1 <= handle_s <= 3600:
        raise InputError(
            f"sandbox agent handle time {handle_s} s", "pass --agent-handle between 1 and 3600 s"
        )
    return [
        AgentSpec(f"agent{i}", f"Local/agent{i}-{round(handle_s)}@{SANDBOX_AGENT_CONTEXT}")
        for i in range(1, count + 1)
    ]


def agents_from_template(count: int, template: str) -> list[AgentSpec]:
    """Production: ``PJSIP/agent{n}`` → PJSIP/agent1 … PJSIP/agent<count>."""
    if count < 1:
        raise InputError(f"{count} agents", "pass --agents 1 or more")
    if "{n}" not in template or "/" not in template:
        raise InputError(
            f"agent endpoint template {template!r} has no {{n}}", "e.g. --agent-endpoint 'PJSIP/agent{n}'"
        )
    return [AgentSpec(f"agent{i}", template.replace("{n}", str(i))) for i in range(1, count + 1)]
