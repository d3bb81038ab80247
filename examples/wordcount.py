"""StreamWordCount, the seed's example: words from a socket (`nc -lk 7777`), a file, or a built-in text.

    python examples/wordcount.py                                  # built-in text, local mini cluster
    python examples/wordcount.py --hostname localhost --port 7777 # socket source, as in the seed
    miniflink run -m localhost:8081 -p 2 -py examples/wordcount.py --hostname localhost --port 7777
    miniflink run -m localhost:8081 -py examples/wordcount.py --input words.txt --output /tmp/out

Porting to PyFlink is a rename of the imports (flink_on_yarn → pyflink).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from flink_on_yarn.common import Encoder, Types, WatermarkStrategy
from flink_on_yarn.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import (
    FileSink,
    FileSource,
    OutputFileConfig,
    RollingPolicy,
    StreamFormat,
)

WORDS = [
    "To be, or not to be,--that is the question:--",
    "Whether 'tis nobler in the mind to suffer",
    "The slings and arrows of outrageous fortune",
    "Or to take arms against a sea of troubles,",
    "And by opposing end them?--To die,--to sleep,--",
    "No more; and by a sleep to say we end",
    "The heartache, and the thousand natural shocks",
    "That flesh is heir to,--'tis a consummation",
    "Devoutly to be wish'd. To die,--to sleep;--",
]


def split(line: str) -> Iterator[tuple[str, int]]:
    for word in line.lower().split():
        yield word, 1


def word_count(hostname: str | None, port: int | None, input_path: str | None, output_path: str | None,
               batch: bool) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    if batch:
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    if hostname is not None and port is not None:
        text = env.socket_text_stream(hostname, port)
    elif input_path is not None:
        source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), input_path) \
            .process_static_file_set().build()
        text = env.from_source(source, WatermarkStrategy.for_monotonous_timestamps(), "file_source")
    else:
        text = env.from_collection(WORDS)

    counts = text.flat_map(split, output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .key_by(lambda pair: pair[0]) \
        .sum(1)

    if output_path is not None:
        counts.sink_to(
            FileSink.for_row_format(output_path, Encoder.simple_string_encoder())
            .with_output_file_config(OutputFileConfig.builder().with_part_prefix("prefix").with_part_suffix(".ext")
                                     .build())
            .with_rolling_policy(RollingPolicy.default_rolling_policy())
            .build())
    else:
        counts.print()
    env.execute("StreamWordCount")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="StreamWordCount")
    parser.add_argument("--hostname", default=None, help="socket source host (with --port)")
    parser.add_argument("--port", type=int, default=None, help="socket source port")
    parser.add_argument("--input", default=None, help="a text file to count instead")
    parser.add_argument("--output", default=None, help="a directory for the counts instead of stdout")
    parser.add_argument("--batch", action="store_true", help="BATCH runtime mode: only the final counts")
    known, _ = parser.parse_known_args()
    word_count(known.hostname, known.port, known.input, known.output, known.batch)
