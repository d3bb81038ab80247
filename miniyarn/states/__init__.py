"""YARN's state machines, one pure module each: states, events, legal transitions, no I/O.

An entry maps (state, event) to one next state or, as YARN's multi-arc transitions, to a set of them:
the caller (YARN's transition hook) names which one it takes, and the machine checks that it is one
of the set. `fire` is the only way a record's state changes: an event its state does not accept is
logged as YARN logs it ("Can't handle this event at current state") and refused, the state unchanged.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Generic, Protocol, TypeVar

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)
T = TypeVar("T", bound=Enum)

log = logging.getLogger("miniyarn.states")


class InvalidStateTransitionError(ValueError):
    """An event that the current state does not accept, named as YARN names it."""

    def __init__(self, machine: str, state: Enum, event: Enum, target: Enum | None = None) -> None:
        to = f" to {target.name}" if target is not None else ""
        super().__init__(f"Invalid event: {event.name} at {state.name}{to} ({machine})")
        self.state = state
        self.event = event
        self.target = target


class Stateful(Protocol[T]):
    """A record with a state a machine governs (RMApp, RMAttempt, RMContainer, RMNode, an NM container)."""

    state: T


class StateMachine(Generic[S, E]):
    """A transition table: (state, event) -> next state, or the set of states a hook chooses from."""

    def __init__(self, name: str, table: dict[tuple[S, E], S | frozenset[S]], final: frozenset[S]) -> None:
        self.name = name
        self.table = table
        self.final = final

    def targets(self, state: S, event: E) -> frozenset[S]:
        """The states `event` may lead to from `state` (empty: not accepted)."""
        to = self.table.get((state, event))
        if to is None:
            return frozenset()
        return to if isinstance(to, frozenset) else frozenset((to,))

    def next(self, state: S, event: E, target: S | None = None) -> S:
        """The next state; `target` picks one of a multi-arc's states (and must be one of them)."""
        to = self.table.get((state, event))
        if to is None:
            raise InvalidStateTransitionError(self.name, state, event, target)
        if isinstance(to, frozenset):
            if target is None or target not in to:
                raise InvalidStateTransitionError(self.name, state, event, target)
            return target
        if target is not None and target is not to:
            raise InvalidStateTransitionError(self.name, state, event, target)
        return to

    def fire(self, record: Stateful[S], event: E, target: S | None = None, what: str = "") -> bool:
        """Move `record` by `event`; an event its state cannot take is logged and refused (False)."""
        try:
            record.state = self.next(record.state, event, target)
        except InvalidStateTransitionError:
            to = f" (to {target.name})" if target is not None else ""
            log.warning("%s: Can't handle this event at current state: %s at %s%s (%s)", what or self.name,
                        event.name, record.state.name, to, self.name)
            return False
        return True

    def accepts(self, state: S, event: E) -> bool:
        return (state, event) in self.table

    def is_final(self, state: S) -> bool:
        return state in self.final
