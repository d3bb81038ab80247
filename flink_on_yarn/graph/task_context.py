"""What an operator knows about the subtask it runs in (PyFlink's RuntimeContext names where they exist)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from flink_on_yarn.runtime.state_backend import KeyedStateBackend

# Flink's own words when a function asks for keyed state off a keyed stream.
NOT_KEYED = "Keyed state can only be used on a 'keyed stream', i.e., after a 'keyBy()' operation."


@dataclass
class TaskContext:
    job_id: str
    task_name: str
    subtask: int
    parallelism: int
    attempt: int = 0
    runtime_mode: str = "STREAMING"
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    # The keyed state of the operator this context was handed to; None off a keyed stream.
    keyed_state: KeyedStateBackend | None = None

    def get_index_of_this_subtask(self) -> int:
        return self.subtask

    def get_number_of_parallel_subtasks(self) -> int:
        return self.parallelism

    def get_attempt_number(self) -> int:
        return self.attempt

    def get_task_name(self) -> str:
        return self.task_name

    def _backend(self) -> KeyedStateBackend:
        if self.keyed_state is None:
            raise RuntimeError(NOT_KEYED)
        return self.keyed_state

    def get_state(self, state_descriptor: Any) -> Any:
        return self._backend().get_state(state_descriptor)

    def get_list_state(self, state_descriptor: Any) -> Any:
        return self._backend().get_state(state_descriptor)

    def get_map_state(self, state_descriptor: Any) -> Any:
        return self._backend().get_state(state_descriptor)

    def get_reducing_state(self, state_descriptor: Any) -> Any:
        return self._backend().get_state(state_descriptor)

    def get_aggregating_state(self, state_descriptor: Any) -> Any:
        return self._backend().get_state(state_descriptor)
