"""SocketWindowWordCount, Flink's classic: words from a socket (`nc -lk 9999`), counted per 5-second tumbling
processing-time window, one `(word,count)` line per word and window.

    nc -lk 9999 &
    python examples/pyflink/socket_window_word_count.py --hostname localhost --port 9999
    miniflink run -m localhost:8081 -py examples/pyflink/socket_window_word_count.py --port 9999

As in Flink, a window that has not ended when the input does is not emitted (processing time does not jump
to the end of a socket's input as event time does).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from flink_on_yarn.common import Time, Types
from flink_on_yarn.datastream import StreamExecutionEnvironment, TumblingProcessingTimeWindows


def split(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def socket_window_word_count(hostname: str, port: int) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.socket_text_stream(hostname, port) \
        .flat_map(split, output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \
        .key_by(lambda pair: pair[0]) \
        .window(TumblingProcessingTimeWindows.of(Time.seconds(5))) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])) \
        .print().set_parallelism(1)
    env.execute("Socket Window WordCount")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="SocketWindowWordCount")
    parser.add_argument("--hostname", default="localhost")
    parser.add_argument("--port", type=int, required=True)
    known, _ = parser.parse_known_args()
    socket_window_word_count(known.hostname, known.port)
