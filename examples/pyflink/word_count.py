"""Word count as PyFlink's `word_count` example does it: a collection, (word, 1) typed as a Tuple2, a keyed
reduce, in BATCH mode so only each word's final count prints (Java's Tuple2 text: `(flink,2)`).

    python examples/pyflink/word_count.py
"""

from __future__ import annotations

from collections.abc import Iterator

from flink_on_yarn.common import Types
from flink_on_yarn.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

TEXT = [
    "flink is a framework and distributed processing engine",
    "for stateful computations over unbounded and bounded data streams",
    "flink runs in all common cluster environments",
    "and performs computations at in memory speed and at any scale",
]


def split(line: str) -> Iterator[str]:
    yield from line.split()


def word_count() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_parallelism(1)
    env.from_collection(TEXT) \
        .flat_map(split) \
        .map(lambda w: (w, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .key_by(lambda pair: pair[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])) \
        .print()
    env.execute("word_count")


if __name__ == "__main__":
    word_count()
