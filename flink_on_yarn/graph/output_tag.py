"""PyFlink's `OutputTag`: names a side output. A process function yields `(tag, value)` to send `value` there;
`stream.get_side_output(tag)` reads it. Below the DataStream API, so operators can recognise the pairs."""

from __future__ import annotations

from typing import Any


class OutputTag:
    """>>> OutputTag("late") == OutputTag("late")
    True
    """

    def __init__(self, tag_id: str, type_info: Any = None) -> None:
        if not tag_id:
            raise ValueError("OutputTag id cannot be null or empty.")
        self.tag_id = tag_id
        self.type_info = type_info

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self) -> int:
        return hash(self.tag_id)

    def __repr__(self) -> str:
        return f"OutputTag({self.tag_id!r})"


def split_side_outputs(records: list[Any], timestamped: bool, sides: dict[str, list[Any]]) -> list[Any]:
    """The main records of an operator's output; `(OutputTag, value)` ones go to `sides[tag_id]` instead
    (records keep their timestamp when `timestamped`)."""
    main: list[Any] = []
    for r in records:
        y = r[1] if timestamped else r
        if type(y) is tuple and len(y) == 2 and isinstance(y[0], OutputTag):
            sides.setdefault(y[0].tag_id, []).append((r[0], y[1]) if timestamped else y[1])
        else:
            main.append(r)
    return main
