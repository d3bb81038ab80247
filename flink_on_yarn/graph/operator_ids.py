"""Operator ids, pure: the stable name under which an operator's state goes into a savepoint, so that another
version of the job finds it again (Flink's OperatorID, from StreamGraphHasherV2).

An operator with `.uid("...")` gets the hash of its uid; `set_uid_hash` gives the id itself. One without is
hashed from its place in the graph as Flink does: its position in a breadth-first walk from the sources, how
many chainable outputs it has, and its inputs' ids. Adding an operator upstream of one without a uid changes
that one's id (as in Flink: give stateful operators uids), while a uid survives any change around it.

>>> a = uid_hash("counter")
>>> a == uid_hash("counter") != uid_hash("other"), len(a)
(True, 32)
>>> g1 = generated_ids([1, 2, 3], {2: [1], 3: [2]}, {1: 1, 2: 1, 3: 0})
>>> g2 = generated_ids([1, 2, 3], {2: [1], 3: [2]}, {1: 1, 2: 1, 3: 0})
>>> g1 == g2 and len(set(g1.values())) == 3
True
>>> g3 = generated_ids([1, 4, 2, 3], {4: [1], 2: [4], 3: [2]}, {1: 1, 4: 1, 2: 1, 3: 0}, {3: uid_hash("sink")})
>>> g3[1] == g1[1], g3[2] == g1[2], g3[3] == uid_hash("sink")  # an operator added: the uid stays
(True, False, True)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

OPERATOR_ID = re.compile(r"[0-9a-f]{32}")


def uid_hash(uid: str) -> str:
    """The id of an operator with `.uid(uid)` (Flink hashes the uid alone: 128 bits, 32 hex digits)."""
    return hashlib.md5(b"uid:" + uid.encode("utf-8"), usedforsecurity=False).hexdigest()


def check_uid_hash(value: str) -> str:
    """`set_uid_hash`: Flink's 32 hex digits."""
    if not OPERATOR_ID.fullmatch(value.lower()):
        raise ValueError(f"Node hash must be a 32 character String that describes a hex code. Found: {value}")
    return value.lower()


def generated_ids(order: Sequence[int], inputs: Mapping[int, Sequence[int]],
                  chainable_outputs: Mapping[int, int], fixed: Mapping[int, str] | None = None) -> dict[int, str]:
    """Every node's id, `order` a topological order (sources first). `fixed` holds the ids users gave (uids);
    the others come from graph position: the node's own hash (its index in the walk and its chainable
    outputs) mixed with its inputs' ids, as Flink mixes them."""
    ids: dict[int, str] = {}
    for position, node in enumerate(order):
        if fixed is not None and node in fixed:
            ids[node] = fixed[node]
            continue
        h = hashlib.md5(usedforsecurity=False)
        h.update(f"{position}".encode())
        for _ in range(chainable_outputs.get(node, 0)):
            h.update(f",{position}".encode())
        own = bytearray(h.digest())
        for source in inputs.get(node, ()):
            other = bytes.fromhex(ids[source])
            for j in range(len(own)):
                own[j] = ((own[j] * 37) ^ other[j]) & 0xFF
        ids[node] = own.hex()
    return ids
