"""What an operator knows about the subtask it runs in (PyFlink's RuntimeContext names where they exist)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO


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

    def get_index_of_this_subtask(self) -> int:
        return self.subtask

    def get_number_of_parallel_subtasks(self) -> int:
        return self.parallelism

    def get_attempt_number(self) -> int:
        return self.attempt

    def get_task_name(self) -> str:
        return self.task_name
