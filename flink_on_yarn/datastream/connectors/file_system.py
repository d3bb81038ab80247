"""PyFlink's file connectors: a text-line `FileSource` and a row-format `FileSink` with its builders.

The sink's lifecycle is Flink's (`FileWriter` + `FileCommitter`): each bucket (`yyyy-MM-dd--HH` by default) has
one in-progress part file, hidden as `.<prefix>-<uuid>-<subtask>-<n><suffix>.inprogress.<uuid>`; the rolling
policy closes it into a *pending* file (still hidden); a checkpoint takes the pending files it saw, and they are
committed (renamed to `<prefix>-<uuid>-<subtask>-<n><suffix>`, visible) when that checkpoint completes. On a
restore the restored checkpoint's pending files are committed, its in-progress files truncated back to their
checkpointed length and written on, and every other hidden file of the subtask (written after the checkpoint)
deleted: the directory's visible files hold each record exactly once. Without checkpoints the files stay hidden
while the job runs and are all committed at end of (bounded) input, as Flink's committer does at `endInput`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flink_on_yarn.common.serialization import Encoder
from flink_on_yarn.graph.operators import Operator
from flink_on_yarn.graph.process_context import now_ms
from flink_on_yarn.graph.sources import TextFileSource
from flink_on_yarn.graph.task_context import TaskContext


class StreamFormat:
    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> StreamFormat:
        return StreamFormat(charset_name)


class FileSource:
    def __init__(self, paths: list[str], stream_format: StreamFormat) -> None:
        self.paths = paths
        self.stream_format = stream_format

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> FileSourceBuilder:
        return FileSourceBuilder(list(paths), stream_format)

    def to_source(self) -> TextFileSource:
        return TextFileSource(self.paths, self.stream_format.charset.lower())


class FileSourceBuilder:
    def __init__(self, paths: list[str], stream_format: StreamFormat) -> None:
        self.paths = paths
        self.stream_format = stream_format

    def monitor_continuously(self, discovery_interval: Any) -> FileSourceBuilder:
        raise NotImplementedError("continuous file monitoring is not supported; the file source is bounded")

    def process_static_file_set(self) -> FileSourceBuilder:
        return self

    def build(self) -> FileSource:
        return FileSource(self.paths, self.stream_format)


class OutputFileConfig:
    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        self.part_prefix = part_prefix
        self.part_suffix = part_suffix

    @staticmethod
    def builder() -> OutputFileConfigBuilder:
        return OutputFileConfigBuilder()

    def get_part_prefix(self) -> str:
        return self.part_prefix

    def get_part_suffix(self) -> str:
        return self.part_suffix


class OutputFileConfigBuilder:
    def __init__(self) -> None:
        self.prefix = "part"
        self.suffix = ""

    def with_part_prefix(self, prefix: str) -> OutputFileConfigBuilder:
        self.prefix = prefix
        return self

    def with_part_suffix(self, suffix: str) -> OutputFileConfigBuilder:
        self.suffix = suffix
        return self

    def build(self) -> OutputFileConfig:
        return OutputFileConfig(self.prefix, self.suffix)


# Flink's DefaultRollingPolicy defaults: 128 MiB parts, a new part every minute or after a minute idle.
DEFAULT_PART_SIZE = 128 * 1024 * 1024
DEFAULT_ROLLOVER_MS = 60_000
DEFAULT_INACTIVITY_MS = 60_000
# How often the sink asks the policy about time (Flink's `bucketCheckInterval`, 1 min by default).
DEFAULT_BUCKET_CHECK_MS = 60_000


class RollingPolicy:
    """When an in-progress part file becomes pending, as Flink's DefaultRollingPolicy / OnCheckpointRollingPolicy:
    past `part_size` bytes (checked before a write and at a checkpoint), `rollover_interval` ms after it was
    opened or `inactivity_interval` ms after its last write (checked every bucket check interval), and at every
    checkpoint when `roll_on_checkpoint`."""

    def __init__(self, part_size: int = DEFAULT_PART_SIZE, rollover_interval: int = DEFAULT_ROLLOVER_MS,
                 inactivity_interval: int = DEFAULT_INACTIVITY_MS, roll_on_checkpoint: bool = False) -> None:
        self.part_size = int(part_size)
        self.rollover_interval = int(rollover_interval)
        self.inactivity_interval = int(inactivity_interval)
        self.roll_on_checkpoint = roll_on_checkpoint

    @staticmethod
    def default_rolling_policy(part_size: int = DEFAULT_PART_SIZE, rollover_interval: int = DEFAULT_ROLLOVER_MS,
                               inactivity_interval: int = DEFAULT_INACTIVITY_MS) -> RollingPolicy:
        return RollingPolicy(part_size, rollover_interval, inactivity_interval)

    @staticmethod
    def on_checkpoint_rolling_policy() -> RollingPolicy:
        """Parts roll only at checkpoints (Flink's OnCheckpointRollingPolicy)."""
        never = 1 << 62
        return RollingPolicy(part_size=never, rollover_interval=never, inactivity_interval=never,
                             roll_on_checkpoint=True)

    def should_roll_on_event(self, size: int) -> bool:
        return size > self.part_size

    def should_roll_on_checkpoint(self, size: int) -> bool:
        return self.roll_on_checkpoint or size > self.part_size

    def should_roll_on_processing_time(self, created: int, last_write: int, now: int) -> bool:
        return now - created >= self.rollover_interval or now - last_write >= self.inactivity_interval


_JAVA_DATE = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


class BucketAssigner:
    """Which sub-directory a record goes to: `date_time_bucket_assigner` (the default, processing time in a
    Java date pattern) or `base_path_bucket_assigner` (everything in the base path)."""

    def __init__(self, format_str: str | None = "yyyy-MM-dd--HH", timezone_id: str | None = None) -> None:
        self.format_str = format_str
        self.timezone_id = timezone_id
        strftime = format_str
        if strftime is not None:
            for java, c in _JAVA_DATE:
                strftime = strftime.replace(java, c)
        self.strftime = strftime

    @staticmethod
    def base_path_bucket_assigner() -> BucketAssigner:
        return BucketAssigner(None)

    @staticmethod
    def date_time_bucket_assigner(format_str: str = "yyyy-MM-dd--HH", timezone_id: str | None = None) -> BucketAssigner:
        return BucketAssigner(format_str, timezone_id)

    def bucket_id(self, now_ms: int) -> str:
        """The bucket of the records written at processing time `now_ms` ("" for the base path)."""
        if self.strftime is None:
            return ""
        t = now_ms / 1000
        if self.timezone_id in ("UTC", "GMT", "Z"):
            return time.strftime(self.strftime, time.gmtime(t))
        return time.strftime(self.strftime, time.localtime(t))


class FileSink:
    def __init__(self, base_path: str, encoder: Encoder, config: OutputFileConfig, rolling: RollingPolicy,
                 assigner: BucketAssigner | None = None, check_interval: int = DEFAULT_BUCKET_CHECK_MS) -> None:
        self.base_path = base_path
        self.encoder = encoder
        self.config = config
        self.rolling = rolling
        self.assigner = assigner or BucketAssigner()
        self.check_interval = check_interval

    @staticmethod
    def for_row_format(base_path: str, encoder: Encoder) -> FileSinkBuilder:
        return FileSinkBuilder(base_path, encoder)

    def to_operator(self) -> FileSinkOperator:
        return FileSinkOperator(self)


class FileSinkBuilder:
    def __init__(self, base_path: str, encoder: Encoder) -> None:
        self.base_path = base_path
        self.encoder = encoder
        self.config = OutputFileConfig()
        self.rolling = RollingPolicy()
        self.assigner = BucketAssigner()
        self.check_interval = DEFAULT_BUCKET_CHECK_MS

    def with_output_file_config(self, config: OutputFileConfig) -> FileSinkBuilder:
        self.config = config
        return self

    def with_rolling_policy(self, policy: RollingPolicy) -> FileSinkBuilder:
        self.rolling = policy
        return self

    def with_bucket_assigner(self, assigner: BucketAssigner) -> FileSinkBuilder:
        if not isinstance(assigner, BucketAssigner):
            raise TypeError(f"{type(assigner).__name__} is not a BucketAssigner")
        self.assigner = assigner
        return self

    def with_bucket_check_interval(self, interval: int) -> FileSinkBuilder:
        if interval <= 0:
            raise ValueError(f"the bucket check interval must be positive, got {interval}")
        self.check_interval = int(interval)
        return self

    def build(self) -> FileSink:
        return FileSink(self.base_path, self.encoder, self.config, self.rolling, self.assigner, self.check_interval)


StreamingFileSink = FileSink


@dataclass
class _Part:
    """A bucket's in-progress part file: the hidden file written now and the name it gets when committed."""

    temp: Path
    final: Path
    file: BinaryIO
    created: int
    last_write: int


# What a checkpoint of the sink holds: a version, so a state from another layout is refused, not misread.
STATE_VERSION = 1


class FileSinkOperator(Operator):
    """The writer and committer of one subtask (see the module docstring for the lifecycle)."""

    # `final_checkpoint` (set by the task when the job checkpoints, as Flink's
    # `execution.checkpointing.checkpoints-after-tasks-finish`): `finish` leaves the last files pending for
    # the final checkpoint, which commits them on completion. Without one (no checkpointing, the local mini
    # cluster) `finish` commits them itself, as Flink's committer does at `endInput`.

    def __init__(self, sink: FileSink) -> None:
        self.sink = sink
        self.name = "Sink: Writer"

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.base = Path(self.sink.base_path)
        self.base.mkdir(parents=True, exist_ok=True)
        self.uid = str(uuid.uuid4())
        self.counter = 0
        self.parts: dict[str, _Part] = {}
        self.pending: list[tuple[Path, Path]] = []  # rolled since the last checkpoint
        self.pending_at: dict[int, list[tuple[Path, Path]]] = {}  # taken by a checkpoint, not yet committed
        self.to_sync: list[int] = []  # in-progress files a checkpoint took, to fsync before it is acknowledged
        self.next_check = now_ms() + self.sink.check_interval

    # writing
    def _new_part(self, bucket: str, now: int) -> _Part:
        cfg = self.sink.config
        directory = self.base / bucket if bucket else self.base
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{cfg.part_prefix}-{self.uid}-{self.ctx.subtask}-{self.counter}{cfg.part_suffix}"
        temp = directory / f".{final.name}.inprogress.{uuid.uuid4()}"
        self.counter += 1
        part = _Part(temp, final, open(temp, "wb"), now, now)
        self.parts[bucket] = part
        return part

    def _roll(self, bucket: str) -> None:
        """The bucket's in-progress part becomes pending: closed, durable, waiting for a checkpoint."""
        part = self.parts.pop(bucket)
        part.file.flush()
        os.fsync(part.file.fileno())
        part.file.close()
        self.pending.append((part.temp, part.final))

    def process(self, batch: list[Any]) -> list[Any]:
        if not batch:
            return []
        now = now_ms()
        bucket = self.sink.assigner.bucket_id(now)
        part = self.parts.get(bucket)
        if part is not None and self.sink.rolling.should_roll_on_event(part.file.tell()):
            self._roll(bucket)
            part = None
        if part is None:
            part = self._new_part(bucket, now)
        part.file.write(self.sink.encoder.encode_batch(batch))
        part.last_write = now
        return []

    def next_processing_time(self) -> int | None:
        return self.next_check if self.parts else None

    def on_processing_time(self, now: int) -> list[Any]:
        policy = self.sink.rolling
        for bucket, part in list(self.parts.items()):
            if policy.should_roll_on_processing_time(part.created, part.last_write, now):
                self._roll(bucket)
        self.next_check = now + self.sink.check_interval
        return []

    # checkpoints
    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        """Rolls what the policy rolls at a checkpoint, takes the rest at its current length (made durable by
        `snapshot_durability`, off the task's thread), and hands the checkpoint its pending files: they are
        committed once it completes."""
        policy = self.sink.rolling
        in_progress = []
        for bucket, part in list(self.parts.items()):
            if policy.should_roll_on_checkpoint(part.file.tell()):
                self._roll(bucket)
                continue
            part.file.flush()
            # A descriptor of its own: the part may be rolled and closed before the writer thread syncs it.
            self.to_sync.append(os.dup(part.file.fileno()))
            in_progress.append({"bucket": bucket, "temp": str(part.temp), "final": str(part.final),
                                "offset": part.file.tell(), "created": part.created})
        if self.pending:
            self.pending_at[checkpoint_id] = self.pending
            self.pending = []
        pending = [[str(t), str(f)] for cid in sorted(self.pending_at) for t, f in self.pending_at[cid]]
        state = {"version": STATE_VERSION, "uid": self.uid, "counter": self.counter,
                 "in_progress": in_progress, "pending": pending}
        return json.dumps(state).encode()

    def snapshot_durability(self, checkpoint_id: int) -> Callable[[], None] | None:
        fds, self.to_sync = self.to_sync, []
        if not fds:
            return None

        def sync() -> None:
            # The checkpointed length is on disk once this returns (fsync flushes the whole file, so what
            # was written after the barrier too: harmless, a restore truncates it).
            try:
                for fd in fds:
                    os.fsync(fd)
            finally:
                for fd in fds:
                    os.close(fd)

        return sync

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        for cid in sorted(self.pending_at):
            if cid <= checkpoint_id:
                for temp, final in self.pending_at.pop(cid):
                    _commit(temp, final)

    def restore_state(self, data: bytes) -> None:
        state = json.loads(data)
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"{self.name}: not a file sink state of version {STATE_VERSION}")
        self._close_parts()
        self.uid = str(state["uid"])
        self.counter = int(state["counter"])
        keep: set[Path] = set()
        for temp, final in state["pending"]:
            _commit(Path(temp), Path(final))
        now = now_ms()
        for entry in state["in_progress"]:
            temp = Path(entry["temp"])
            if not temp.exists():
                raise FileNotFoundError(f"{self.name}: the in-progress file {temp} of the restored checkpoint "
                                        "is gone; its records cannot be recovered")
            f = open(temp, "r+b")
            f.truncate(int(entry["offset"]))  # drop what was written after the checkpoint
            f.seek(0, os.SEEK_END)
            self.parts[str(entry["bucket"])] = _Part(temp, Path(entry["final"]), f, int(entry["created"]), now)
            keep.add(temp)
        # Everything else this writer left hidden was written after the checkpoint: its records come again.
        for orphan in self._hidden_files():
            if orphan not in keep:
                orphan.unlink(missing_ok=True)

    def _hidden_files(self) -> Iterator[Path]:
        pattern = f".{self.sink.config.part_prefix}-{self.uid}-*.inprogress.*"
        yield from self.base.rglob(pattern)

    # end
    def finish(self) -> list[Any]:
        for bucket in list(self.parts):
            self._roll(bucket)
        if not self.final_checkpoint:
            self.notify_checkpoint_complete(1 << 62)
            for temp, final in self.pending:
                _commit(temp, final)
            self.pending = []
        return []

    def _close_parts(self) -> None:
        for part in self.parts.values():
            part.file.close()
        self.parts = {}

    def close(self) -> None:
        # Not a commit: what is still in progress or pending belongs to a checkpoint or to a restart.
        self._close_parts()


def _commit(temp: Path, final: Path) -> None:
    """Makes a pending file visible; committing again (a restore after the commit) finds it done."""
    if temp.exists():
        os.replace(temp, final)
    elif not final.exists():
        raise FileNotFoundError(f"the pending file {temp} is gone and {final} was never committed")
