"""YARN's state machines, one pure module each: states, events, legal transitions, no I/O."""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


class InvalidStateTransitionError(ValueError):
    """An event that the current state does not accept, named as YARN names it."""

    def __init__(self, machine: str, state: Enum, event: Enum) -> None:
        super().__init__(f"Invalid event: {event.name} at {state.name} ({machine})")
        self.state = state
        self.event = event


class StateMachine(Generic[S, E]):
    """A transition table: (state, event) -> next state."""

    def __init__(self, name: str, table: dict[tuple[S, E], S], final: frozenset[S]) -> None:
        self.name = name
        self.table = table
        self.final = final

    def next(self, state: S, event: E) -> S:
        try:
            return self.table[(state, event)]
        except KeyError:
            raise InvalidStateTransitionError(self.name, state, event) from None

    def accepts(self, state: S, event: E) -> bool:
        return (state, event) in self.table

    def is_final(self, state: S) -> bool:
        return state in self.final
