"""Record routing between vertices, over whole batches: forward, rebalance and hash (key groups as Flink's).

A key goes to key group `hash(key) % max_parallelism`, and key group g to subtask `g * parallelism //
max_parallelism`, so every producer sends a key to the same consumer. Python salts `hash(str)` per process,
hence every task process runs with the same PYTHONHASHSEED (the TaskManager sets it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_MAX_PARALLELISM = 128


def key_group_table(parallelism: int, max_parallelism: int = DEFAULT_MAX_PARALLELISM) -> list[int]:
    """Subtask index of each key group."""
    return [g * parallelism // max_parallelism for g in range(max_parallelism)]


def subtask_for_key(key: Any, parallelism: int, max_parallelism: int = DEFAULT_MAX_PARALLELISM) -> int:
    return (hash(key) % max_parallelism) * parallelism // max_parallelism


def hash_partition(batch: list[Any], key_selector: Callable[[Any], Any], table: list[int], n: int) -> list[list[Any]]:
    """Splits a batch into one list per consumer subtask."""
    buckets: list[list[Any]] = [[] for _ in range(n)]
    appends = [b.append for b in buckets]
    groups = len(table)
    for record in batch:
        appends[table[hash(key_selector(record)) % groups]](record)
    return buckets


def rebalance_partition(batch: list[Any], n: int, start: int) -> list[list[Any]]:
    """Round robin: record i goes to consumer (start + i) % n, which spreads even one-record batches."""
    out: list[list[Any]] = [[] for _ in range(n)]
    for j in range(n):
        out[(start + j) % n] = batch[j::n]
    return out


class TimestampedKey:
    """The key selector of a HASH edge whose records travel as (timestamp, value): the key of the value."""

    def __init__(self, key_selector: Any) -> None:
        self.key = getattr(key_selector, "get_key", key_selector)

    def get_key(self, record: Any) -> Any:
        return self.key(record[1])
