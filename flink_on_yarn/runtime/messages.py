"""JobManager↔TaskManager control messages: pydantic models, one tagged union, JSON on the wire.

Each model is one thing a side may say; `type` tells them apart, as `miniyarn/protocol.py` does for YARN.
Nothing here is pickled: a message that does not validate is refused, never executed. Requests that
expect an answer carry `rid`; the answer (`FileText`) echoes it as `reply_to`.

>>> decode(encode(Cancel(execution_id="e1")))
Cancel(type='cancel', execution_id='e1')
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from flink_on_yarn.runtime.task_deployment import TaskDeployment

_ID = Annotated[str, Field(min_length=1, max_length=256)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- TaskManager → JobManager ----------------------------------------------------------------------------

class Register(_Message):
    type: Literal["register"] = "register"
    id: _ID
    host: Annotated[str, Field(max_length=256)] = ""
    slots: Annotated[int, Field(ge=1, le=4096)]
    pid: int = 0
    hardware: dict[str, Any] = Field(default_factory=dict)


class Heartbeat(_Message):
    type: Literal["heartbeat"] = "heartbeat"
    id: _ID
    tasks: list[str] = Field(default_factory=list)
    metrics: dict[str, float] | None = None  # the TaskManager's process figures (process_metrics.py)


class TaskState(_Message):
    type: Literal["task_state"] = "task_state"
    job_id: _ID
    execution_id: _ID
    state: str
    port: int | None = None
    metrics: dict[str, int] | None = None
    error: str | None = None
    # The subtask reached the end of its input and waits for its final checkpoint (still RUNNING).
    input_ended: bool = False


class _CheckpointReport(_Message):
    """What a subtask's answer to a checkpoint names (Flink's AbstractCheckpointMessage)."""

    job_id: _ID
    execution_id: _ID
    checkpoint_id: Annotated[int, Field(ge=1)]


class AcknowledgeCheckpoint(_CheckpointReport):
    """A subtask took checkpoint `checkpoint_id`: its state is in `path` (`size` bytes)."""

    type: Literal["ack_checkpoint"] = "ack_checkpoint"
    path: Annotated[str, Field(max_length=4096)]
    size: Annotated[int, Field(ge=0)]


class DeclineCheckpoint(_CheckpointReport):
    type: Literal["decline_checkpoint"] = "decline_checkpoint"
    reason: Annotated[str, Field(max_length=4096)]


class FileText(_Message):
    type: Literal["file_text"] = "file_text"
    reply_to: int
    text: str


# --- JobManager → TaskManager ----------------------------------------------------------------------------

class Registered(_Message):
    type: Literal["registered"] = "registered"
    heartbeat_interval_ms: int


class Deploy(_Message):
    type: Literal["deploy"] = "deploy"
    deployment: TaskDeployment


class Cancel(_Message):
    type: Literal["cancel"] = "cancel"
    execution_id: _ID


class TriggerCheckpoint(_Message):
    """To a source subtask: inject the barrier of checkpoint `checkpoint_id`. `stop`: stop-with-savepoint, the
    source ends right behind the barrier (`drain`: after emitting the MAX watermark, before the barrier)."""

    type: Literal["trigger_checkpoint"] = "trigger_checkpoint"
    execution_id: _ID
    checkpoint_id: Annotated[int, Field(ge=1)]
    timestamp: int
    stop: bool = False
    drain: bool = False


class NotifyCheckpointComplete(_Message):
    type: Literal["checkpoint_complete"] = "checkpoint_complete"
    execution_id: _ID
    checkpoint_id: Annotated[int, Field(ge=1)]


class ReadFile(_Message):
    type: Literal["read_file"] = "read_file"
    which: Literal["stdout", "log", "threads"]  # "threads": the TaskManager's thread dump, as JSON
    rid: int = 0


class Shutdown(_Message):
    """The JobManager released this TaskManager: it exits."""

    type: Literal["shutdown"] = "shutdown"
    reason: str


class Disconnect(_Message):
    """The JobManager is going away: the TaskManager ends its tasks and reconnects."""

    type: Literal["disconnect"] = "disconnect"
    reason: str


JobManagerBound = Register | Heartbeat | TaskState | FileText | AcknowledgeCheckpoint | DeclineCheckpoint
TaskManagerBound = (Registered | Deploy | Cancel | ReadFile | Shutdown | Disconnect | TriggerCheckpoint
                    | NotifyCheckpointComplete)
ToJobManager = Annotated[JobManagerBound, Field(discriminator="type")]
ToTaskManager = Annotated[TaskManagerBound, Field(discriminator="type")]
Message = JobManagerBound | TaskManagerBound

_ANY: TypeAdapter[Message] = TypeAdapter(Annotated[Message, Field(discriminator="type")])
FOR_JOBMANAGER: TypeAdapter[JobManagerBound] = TypeAdapter(ToJobManager)
FOR_TASKMANAGER: TypeAdapter[TaskManagerBound] = TypeAdapter(ToTaskManager)


def encode(msg: Message) -> bytes:
    return msg.model_dump_json().encode()


def decode(data: bytes) -> Message:
    """The message in `data`, or pydantic's ValidationError."""
    return _ANY.validate_json(data)
