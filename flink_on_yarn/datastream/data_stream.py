"""`DataStream` and `KeyedStream`, PyFlink's names and signatures: each call records one transformation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flink_on_yarn.common.typeinfo import RecordFormatter, TypeInformation
from flink_on_yarn.datastream.window import GlobalWindows, default_trigger
from flink_on_yarn.graph.co_operators import (
    BroadcastOperator,
    BroadcastProcessOperator,
    BroadcastRouteKey,
    CoFlatMapOperator,
    CoMapOperator,
    CoProcessOperator,
    InputTagOperator,
    KeyedBroadcastProcessOperator,
    KeyedCoProcessOperator,
    TaggedKey,
)
from flink_on_yarn.graph.operator_ids import check_uid_hash
from flink_on_yarn.graph.operators import (
    Convert,
    FilterOperator,
    FlatMapOperator,
    FunctionSinkOperator,
    KeyedFunction,
    KeyedProcessOperator,
    KeyedReduceOperator,
    MapOperator,
    Operator,
    PrintSinkOperator,
    ProcessOperator,
    SumReducer,
    TimestampsAndWatermarksOperator,
)
from flink_on_yarn.graph.output_tag import OutputTag
from flink_on_yarn.graph.transformations import HASH, REBALANCE, Transformation
from flink_on_yarn.graph.trigger_window_operator import TriggerWindowOperator
from flink_on_yarn.graph.window_operator import WindowFunctionSpec, WindowOperator
from flink_on_yarn.runtime.windows import (
    CountEvictor,
    CountTrigger,
    CountWindowAssigner,
    Evictor,
    PurgingTrigger,
    Trigger,
)

if TYPE_CHECKING:
    from flink_on_yarn.datastream.stream_execution_environment import StreamExecutionEnvironment


_INHERIT: Any = object()


def _constant_key(value: Any) -> int:
    return 0


def _convert(output_type: Any) -> Convert | None:
    """What a declared output type does to the values a function returns (None when nothing)."""
    if isinstance(output_type, TypeInformation) and output_type.needs_conversion:
        return output_type.from_python
    return None


class DataStream:
    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation) -> None:
        self._env = env
        self._t = transformation

    def get_execution_environment(self) -> StreamExecutionEnvironment:
        return self._env

    def _then(self, operator: Operator, name: str, output_type: Any = _INHERIT) -> DataStream:
        """A node after this one; it emits this stream's type unless the call declares its own."""
        t = self._env._registry.add(name=name, inputs=[self._t.id], operator=operator,
                                    output_type=self._t.output_type if output_type is _INHERIT else output_type)
        return DataStream(self._env, t)

    def get_type(self) -> TypeInformation | None:
        """The declared type of this stream's records; None for PyFlink's default, pickled Python objects."""
        return self._t.output_type  # type: ignore[no-any-return]

    def _node(self) -> Transformation:
        if self._t.is_virtual:
            raise ValueError("set_parallelism/name/slot_sharing_group apply to an operator, not a partitioning")
        return self._t

    # operators
    def map(self, func: Any, output_type: Any = None) -> DataStream:
        return self._then(MapOperator(func, "Map", _convert(output_type)), "Map", output_type)

    def flat_map(self, func: Any, output_type: Any = None) -> DataStream:
        return self._then(FlatMapOperator(func, "Flat Map", _convert(output_type)), "Flat Map", output_type)

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        """A ProcessFunction: `process_element(value, ctx)` yields its outputs."""
        return self._then(ProcessOperator(func, "Process", _convert(output_type)), "Process", output_type)

    def filter(self, func: Any) -> DataStream:
        return self._then(FilterOperator(func, "Filter"), "Filter")

    def assign_timestamps_and_watermarks(self, watermark_strategy: Any) -> DataStream:
        """Event time from here on: each record's timestamp from the strategy's TimestampAssigner, and
        watermarks every `pipeline.auto-watermark-interval` (200 ms) as records flow."""
        op = TimestampsAndWatermarksOperator(watermark_strategy, self._env._auto_watermark_interval_ms())
        return self._then(op, "Timestamps/Watermarks")

    def window_all(self, window_assigner: Any) -> AllWindowedStream:
        """All records in one window operator (parallelism 1), as Flink keys them by a constant."""
        return AllWindowedStream(self.key_by(_constant_key), window_assigner)

    def count_window_all(self, size: int, slide: int | None = None) -> AllWindowedStream:
        return AllWindowedStream(self.key_by(_constant_key), CountWindowAssigner(size, slide))

    def get_side_output(self, output_tag: OutputTag) -> DataStream:
        """The records this stream's (process or window) operator sent to `output_tag`."""
        t = self._env._registry.add(name=f"SideOutput({output_tag.tag_id})", inputs=[self._t.id],
                                    side_output=output_tag.tag_id, output_type=output_tag.type_info)
        return DataStream(self._env, t)

    def key_by(self, key_selector: Any, key_type: Any = None) -> KeyedStream:
        t = self._env._registry.add(name="Partition", inputs=[self._t.id], partitioner=HASH,
                                    key_selector=key_selector, output_type=self._t.output_type)
        return KeyedStream(self._env, t, key_selector)

    def rebalance(self) -> DataStream:
        t = self._env._registry.add(name="Rebalance", inputs=[self._t.id], partitioner=REBALANCE,
                                    output_type=self._t.output_type)
        return DataStream(self._env, t)

    def shuffle(self) -> DataStream:
        return self.rebalance()

    def union(self, *streams: DataStream) -> DataStream:
        t = self._env._registry.add(name="Union", inputs=[self._t.id, *(s._t.id for s in streams)], is_union=True,
                                    output_type=self._t.output_type)
        return DataStream(self._env, t)

    def connect(self, ds: Any) -> Any:
        """Two streams into one operator (`ConnectedStreams`), or this stream with a `BroadcastStream`
        (`BroadcastConnectedStream`)."""
        if isinstance(ds, BroadcastStream):
            return BroadcastConnectedStream(self, ds)
        if not isinstance(ds, DataStream):
            raise TypeError(f"connect() takes a DataStream or a BroadcastStream, not {type(ds).__name__}")
        return ConnectedStreams(self, ds)

    def broadcast(self, *broadcast_state_descriptors: Any) -> BroadcastStream:
        """This stream's records to every subtask of the operator it connects to, with broadcast state of
        these MapStateDescriptors there."""
        if not broadcast_state_descriptors:
            raise ValueError("broadcast() needs MapStateDescriptors here; the BROADCAST partitioning of a plain "
                             "stream is not supported")
        return BroadcastStream(self, list(broadcast_state_descriptors))

    def _tagged(self, index: int) -> Transformation:
        """This stream's records as input `index` of a two-input operator: `(index, value)`."""
        return self._env._registry.add(name=f"Input {index + 1}", inputs=[self._t.id],
                                       operator=InputTagOperator(index))

    # attributes of the last operator
    def set_parallelism(self, parallelism: int) -> DataStream:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        node = self._node()
        if node.source is not None and not node.source.parallel and parallelism != 1:
            raise ValueError(f"{node.name} is non-parallel; its parallelism must be 1, got {parallelism}")
        node.parallelism = parallelism
        return self

    def set_max_parallelism(self, max_parallelism: int) -> DataStream:
        return self

    def name(self, name: str) -> DataStream:
        self._node().name = name
        return self

    def uid(self, uid: str) -> DataStream:
        """The operator's stable id: its state in a savepoint is restored into the operator of this uid in
        any later version of the job (without one, the id comes from the operator's place in the graph)."""
        self._node().uid = uid
        return self

    def set_uid_hash(self, uid_hash: str) -> DataStream:
        """The operator id itself (32 hex digits), e.g. to restore a savepoint taken without uids."""
        self._node().uid_hash = check_uid_hash(uid_hash)
        return self

    def slot_sharing_group(self, slot_sharing_group: Any) -> DataStream:
        name = getattr(slot_sharing_group, "name", slot_sharing_group)
        self._node().slot_sharing_group = str(name)
        return self

    def disable_chaining(self) -> DataStream:
        return self

    # sinks
    def print(self, sink_identifier: str | None = None) -> DataStreamSink:
        t = self._env._registry.add(name="Print to Std. Out", inputs=[self._t.id],
                                    operator=PrintSinkOperator(sink_identifier,
                                                               formatter=RecordFormatter(self._t.output_type)))
        return DataStreamSink(self._env, t)

    def add_sink(self, sink_func: Any) -> DataStreamSink:
        to_operator = getattr(sink_func, "to_operator", None)
        op: Operator = to_operator() if to_operator is not None else FunctionSinkOperator(sink_func, "Sink: Unnamed")
        t = self._env._registry.add(name=op.name, inputs=[self._t.id], operator=op)
        return DataStreamSink(self._env, t)

    def sink_to(self, sink: Any) -> DataStreamSink:
        return self.add_sink(sink)

    def execute_and_collect(self, job_execution_name: str | None = None, limit: int | None = None) -> list[Any]:
        raise NotImplementedError("execute_and_collect is not supported; use a file sink or print()")


class DataStreamSink(DataStream):
    """What `print()` / `add_sink()` / `sink_to()` return: settable name, parallelism, slot-sharing group."""


class KeyedStream(DataStream):
    def __init__(self, env: StreamExecutionEnvironment, transformation: Transformation, key_selector: Any) -> None:
        super().__init__(env, transformation)
        self._key_selector = key_selector

    def reduce(self, func: Any) -> DataStream:
        return self._then(KeyedReduceOperator(self._key_selector, func, "Keyed Reduce"), "Keyed Reduce")

    # On a keyed stream these functions get keyed state through their RuntimeContext, as in PyFlink.
    def map(self, func: Any, output_type: Any = None) -> DataStream:
        op = KeyedProcessOperator(self._key_selector, KeyedFunction(func, "map"), "Map", _convert(output_type))
        return self._then(op, "Map", output_type)

    def flat_map(self, func: Any, output_type: Any = None) -> DataStream:
        op = KeyedProcessOperator(self._key_selector, KeyedFunction(func, "flat_map"), "Flat Map",
                                  _convert(output_type))
        return self._then(op, "Flat Map", output_type)

    def filter(self, func: Any) -> DataStream:
        return self._then(KeyedProcessOperator(self._key_selector, KeyedFunction(func, "filter"), "Filter"),
                          "Filter")

    def sum(self, position_to_sum: int = 0) -> DataStream:
        if not isinstance(position_to_sum, int):
            raise TypeError("sum(position) takes a tuple field index")
        return self._then(KeyedReduceOperator(self._key_selector, SumReducer(position_to_sum), "Keyed Aggregation"),
                          "Keyed Aggregation")

    def window(self, window_assigner: Any) -> WindowedStream:
        return WindowedStream(self, window_assigner)

    def count_window(self, size: int, slide: int | None = None) -> WindowedStream:
        """Fires every `slide` records of a key (default `size`) with its last `size` records."""
        return WindowedStream(self, CountWindowAssigner(size, slide))

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        """A KeyedProcessFunction: keyed state through `open(runtime_context)`, the key in `ctx.get_current_key()`."""
        return self._then(KeyedProcessOperator(self._key_selector, func, "KeyedProcess", _convert(output_type)),
                          "KeyedProcess", output_type)


class WindowedStream:
    """`KeyedStream.window(assigner)` / `count_window(size[, slide])`: ends with reduce, aggregate, process or apply."""

    keyed = True

    def __init__(self, keyed_stream: KeyedStream, assigner: Any) -> None:
        self._stream = keyed_stream
        self._assigner = assigner
        self._lateness = 0
        self._late_tag: str | None = None
        self._trigger: Any = None
        self._evictor: Any = None

    def trigger(self, trigger: Any) -> WindowedStream:
        """When windows fire: a Trigger (EventTimeTrigger, CountTrigger, PurgingTrigger.of(...), your own)."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"{type(trigger).__name__} is not a Trigger")
        self._trigger = trigger
        return self

    def evictor(self, evictor: Any) -> WindowedStream:
        """What a window fires with: an Evictor (CountEvictor, TimeEvictor) removes records first (or after)."""
        if not isinstance(evictor, Evictor):
            raise TypeError(f"{type(evictor).__name__} is not an Evictor")
        self._evictor = evictor
        return self

    def allowed_lateness(self, time_ms: Any) -> WindowedStream:
        """Keeps an event-time window's contents this long past its end: a late record fires it again."""
        self._lateness = int(time_ms.to_milliseconds() if hasattr(time_ms, "to_milliseconds") else time_ms)
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> WindowedStream:
        """Records too late for their window (past `allowed_lateness`) go to this side output."""
        self._late_tag = output_tag.tag_id
        return self

    def _window(self, spec: WindowFunctionSpec, output_type: Any) -> DataStream:
        s = self._stream
        name = f"Window({type(self._assigner).__name__})" if self.keyed else \
            f"AllWindow({type(self._assigner).__name__})"
        op = self._operator(spec, name, _convert(output_type))
        op.late_tag = self._late_tag
        out = s._then(op, name, output_type)
        if not self.keyed:
            out.set_parallelism(1)
        return out

    def _operator(self, spec: WindowFunctionSpec, name: str, convert: Convert | None) -> WindowOperator:
        """The default-trigger operator, or Flink's general one when a trigger, an evictor or GlobalWindows
        ask for it (a count window then becomes what Flink makes it: GlobalWindows, a count trigger and,
        sliding, a count evictor)."""
        key = self._stream._key_selector
        assigner = self._assigner
        if self._trigger is None and self._evictor is None and not isinstance(assigner, GlobalWindows):
            return WindowOperator(key, assigner, spec, name, convert, self._lateness)
        trigger, evictor = self._trigger, self._evictor
        if isinstance(assigner, CountWindowAssigner):
            if assigner.slide == assigner.size:
                trigger = trigger or PurgingTrigger.of(CountTrigger.of(assigner.size))
            else:
                trigger = trigger or CountTrigger.of(assigner.slide)
                evictor = evictor or CountEvictor.of(assigner.size)
            assigner = GlobalWindows.create()
        return TriggerWindowOperator(key, assigner, spec, name, trigger or default_trigger(assigner), evictor,
                                     convert, self._lateness)

    def reduce(self, reduce_function: Any, window_function: Any = None, output_type: Any = None) -> DataStream:
        out_type = output_type if window_function is not None else self._stream.get_type()
        return self._window(WindowFunctionSpec("reduce", reduce_function, window_function, self.keyed), out_type)

    def aggregate(self, aggregate_function: Any, window_function: Any = None, accumulator_type: Any = None,
                  output_type: Any = None) -> DataStream:
        return self._window(WindowFunctionSpec("aggregate", aggregate_function, window_function, self.keyed),
                            output_type)

    def process(self, process_window_function: Any, output_type: Any = None) -> DataStream:
        return self._window(WindowFunctionSpec("process", process_window_function, None, self.keyed), output_type)

    def apply(self, window_function: Any, output_type: Any = None) -> DataStream:
        return self._window(WindowFunctionSpec("apply", window_function, None, self.keyed), output_type)

    def sum(self, position_to_sum: int = 0) -> DataStream:
        return self.reduce(SumReducer(position_to_sum))


class AllWindowedStream(WindowedStream):
    """`DataStream.window_all(assigner)`: the functions take no key (`process(context, elements)`)."""

    keyed = False


def _unkeyed(stream: DataStream) -> DataStream:
    """The stream a KeyedStream partitions (its records are re-keyed after tagging)."""
    if isinstance(stream, KeyedStream):
        return DataStream(stream._env, stream._env._registry._known[stream._t.inputs[0]])
    return stream


class ConnectedStreams:
    """`a.connect(b)`: `map`/`flat_map`/`process` with functions of two inputs; `key_by(k1, k2)` (or two keyed
    streams) makes it keyed: both inputs partitioned by key, `process(KeyedCoProcessFunction)` with state and
    timers."""

    def __init__(self, stream1: DataStream, stream2: DataStream, key: TaggedKey | None = None) -> None:
        self.stream1 = stream1
        self.stream2 = stream2
        if key is None and isinstance(stream1, KeyedStream) and isinstance(stream2, KeyedStream):
            key = TaggedKey(stream1._key_selector, stream2._key_selector)
        self._key = key

    def key_by(self, key_selector1: Any, key_selector2: Any, key_type: Any = None) -> ConnectedStreams:
        return ConnectedStreams(self.stream1, self.stream2, TaggedKey(key_selector1, key_selector2))

    def _input(self) -> Transformation:
        """The union of both tagged inputs, each partitioned by the key when keyed."""
        env = self.stream1._env
        ids = []
        for index, stream in enumerate((self.stream1, self.stream2)):
            tagged = (_unkeyed(stream) if self._key is not None else stream)._tagged(index)
            if self._key is not None:
                tagged = env._registry.add(name="Partition", inputs=[tagged.id], partitioner=HASH,
                                           key_selector=self._key)
            ids.append(tagged.id)
        return env._registry.add(name="Union", inputs=ids, is_union=True)

    def _then(self, operator: Operator, name: str, output_type: Any) -> DataStream:
        env = self.stream1._env
        t = env._registry.add(name=name, inputs=[self._input().id], operator=operator, output_type=output_type)
        return DataStream(env, t)

    def map(self, func: Any, output_type: Any = None) -> DataStream:
        return self._then(CoMapOperator(func, "Co-Map", _convert(output_type)), "Co-Map", output_type)

    def flat_map(self, func: Any, output_type: Any = None) -> DataStream:
        return self._then(CoFlatMapOperator(func, "Co-Flat Map", _convert(output_type)), "Co-Flat Map",
                          output_type)

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        if self._key is not None:
            return self._then(KeyedCoProcessOperator(self._key, func, "Co-Keyed-Process", _convert(output_type)),
                              "Co-Keyed-Process", output_type)
        return self._then(CoProcessOperator(func, "Co-Process", _convert(output_type)), "Co-Process", output_type)


class BroadcastStream:
    """`stream.broadcast(descriptor, ...)`: to be connected to another stream, whose operator holds the
    broadcast state of these descriptors."""

    def __init__(self, stream: DataStream, descriptors: list[Any]) -> None:
        self.stream = stream
        self.descriptors = descriptors


class BroadcastConnectedStream:
    """`stream.connect(broadcast_stream)`: `process(BroadcastProcessFunction)`, or on a keyed stream
    `process(KeyedBroadcastProcessFunction)`."""

    def __init__(self, stream: DataStream, broadcast: BroadcastStream) -> None:
        self.stream = stream
        self.broadcast_stream = broadcast

    def process(self, func: Any, output_type: Any = None) -> DataStream:
        env = self.stream._env
        registry = env._registry
        descriptors = self.broadcast_stream.descriptors
        if isinstance(self.stream, KeyedStream):
            key = self.stream._key_selector
            first = registry.add(name="Partition", inputs=[_unkeyed(self.stream)._tagged(0).id], partitioner=HASH,
                                 key_selector=TaggedKey(key, key))
            name = "Co-Process-Broadcast-Keyed"
            op: Operator = KeyedBroadcastProcessOperator(key, func, descriptors, name, _convert(output_type))
        else:
            first = self.stream._tagged(0)
            name = "Co-Process-Broadcast"
            op = BroadcastProcessOperator(func, descriptors, name, _convert(output_type))
        copies = registry.add(name="Broadcast", inputs=[self.broadcast_stream.stream._t.id],
                              operator=BroadcastOperator())
        second = registry.add(name="Partition", inputs=[copies.id], partitioner=HASH,
                              key_selector=BroadcastRouteKey())
        union = registry.add(name="Union", inputs=[first.id, second.id], is_union=True)
        t = registry.add(name=name, inputs=[union.id], operator=op, output_type=output_type)
        return DataStream(env, t)
