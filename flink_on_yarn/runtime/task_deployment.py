"""What a subtask is told when it is deployed: its deployment descriptor (Flink's TaskDeploymentDescriptor).

Apart from the task runtime (task.py) so that the TaskManager's and the JobManager's messages carry it
without importing the operators, the network stack and the state backends a task process runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import TypeAdapter

from flink_on_yarn.graph.partitioning import DEFAULT_MAX_PARALLELISM


@dataclass
class RestorePlan:
    """Where each operator of a subtask's chain finds its state in a savepoint of another job graph (one
    whose chains differ): `files` (paths), per operator (file index, index in that file's chain) or None
    (starts empty), and the file holding the source's position. Made by runtime/savepoints.py.

    An operator whose parallelism changed has, in `rescaled`, every old subtask's (file index, index in
    that file's chain), in old subtask order, and takes its key groups' share of them (state_rescale.py);
    [] (or a short list, from an older JobManager) for the others."""

    files: list[str] = field(default_factory=list)
    operators: list[tuple[int, int] | None] = field(default_factory=list)
    source: int | None = None
    rescaled: list[list[tuple[int, int]]] = field(default_factory=list)
    max_parallelism: int = DEFAULT_MAX_PARALLELISM  # the hash edges' (network.py), the key groups' count


@dataclass
class OutputSpec:
    strategy: str
    targets: list[tuple[str, int]]
    key_selector: str | None = None
    side_output: str | None = None  # this edge carries the last operator's side output of this id


@dataclass
class TaskDeployment:
    execution_id: str
    job_id: str
    vertex_id: str
    task_name: str
    subtask: int
    parallelism: int
    attempt: int
    runtime_mode: str
    operators: list[str]
    source: str | None = None
    num_inputs: int = 0
    outputs: list[OutputSpec] = field(default_factory=list)
    # Where the input gate listens; the TaskManager sets its own (`taskmanager.bind-host`) before deploying.
    bind_host: str = "127.0.0.1"
    # `state.checkpoints.dir` when the job checkpoints; this subtask's state file in the checkpoint restored.
    checkpoint_dir: str | None = None
    restore_from: str | None = None
    # Restoring a savepoint of another job graph (a new version of the program): each operator's state by id.
    restore_plan: RestorePlan | None = None
    # Flink 1.15+'s final checkpoint (`execution.checkpointing.checkpoints-after-tasks-finish`): at the end of
    # its input the subtask finishes its operators, tells its consumers (END_OF_DATA), and ends only once a
    # checkpoint taken after that has completed, so what its sinks commit then is in a checkpoint.
    final_checkpoint: bool = False
    # The checkpoint restored recorded this subtask as finished: its source reads nothing, it has no state.
    finished: bool = False


# How a deployment travels: in a typed `Deploy` message to the TaskManager, as a JSON line to its task process.
DEPLOYMENT: TypeAdapter[TaskDeployment] = TypeAdapter(TaskDeployment)
