"""Simulated debtors ("personas") for the demo and the tests.

A persona is data (``personas/*.yaml``): how it answers the phone and what it
says, turn by turn.  From it we generate an Asterisk dialplan context entry and
the reply audio (espeak-ng), so a persona is a real party on a real call — the
test subject, not a fake of duncall's own stack.
"""

from duncall.personas.model import Persona, Reply, load_personas

__all__ = ["Persona", "Reply", "load_personas"]
